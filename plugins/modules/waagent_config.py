#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: waagent_config
short_description: Check and set Azure Linux agent settings in /etc/waagent.conf (causes LINUX_AGENT, NETWORK)
version_added: 0.1.0
description:
  - Reads C(/etc/waagent.conf) the way the agent does (a line is a comment only when C(#) is its first
    character, a value ends at the first C(#), the last of duplicated lines wins) and reports every
    requested setting that differs.
  - Edits the file in place, changing only the lines of the settings. Comments, order, blank lines and
    line endings (LF or CRLF) stay. A setting that is commented out (C(# Logs.Verbose=n)) is uncommented
    where it stands; an absent one is appended; duplicated lines all get the value.
  - Values are validated before anything is written (C(y)/C(n) for switches, a port number, a host name).
  - A file that is missing, not text, or would not read back as intended is an error and is left as it is.
  - The agent reads its configuration at start; restart it after a change (O(restart_agent), or the C(linux_agent) role).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  path:
    description: The agent configuration file.
    type: path
    default: /etc/waagent.conf
  settings:
    description:
      - Settings to enforce, named as in the file, each with its value (see the examples).
      - C(HttpProxy.Host) and C(HttpProxy.Port) are reported under the cause NETWORK, all others under LINUX_AGENT.
      - The file is written once for all of them, with compare-and-swap (a file changed since it was read is read and
        decided again once). When it cannot be written (immutable, read-only file system) the first differing setting is
        one C(failed) finding naming the reason and the remedy, and no backup or temporary file is left.
    type: dict
    required: true
  report:
    description: Settings to report with their effective value without changing them, for example C(AutoUpdate.Enabled).
    type: list
    elements: str
    default: []
  restart_agent:
    description:
      - Restart the agent (whichever of C(walinuxagent.service) and C(waagent.service) is active, or its init script
        through C(service) on hosts without systemd) after the file changed, because the agent reads it only at start.
        Nothing is restarted when nothing changed, when the agent is not running, or in check mode.
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
seealso:
  - name: Snapshot VM sub task timed out (verbose agent logs)
    description: Microsoft's article asking for Logs.Verbose=y and Extensions.Enabled=y.
    link: https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout
"""

EXAMPLES = r"""
- name: Extensions on, verbose logs on, auto-update reported
  azure_backup.remediation.waagent_config:
    settings:
      Extensions.Enabled: "y"
      Logs.Verbose: "y"
    report: [AutoUpdate.Enabled]
  register: agent_conf

- name: Point the agent at the proxy the VMs must use
  azure_backup.remediation.waagent_config:
    settings:
      HttpProxy.Host: proxy.corp.example
      HttpProxy.Port: "3128"
"""

RETURN = r"""
findings:
  description:
    - One finding per setting in O(settings) (check C(config_<setting>); C(detail.backup_file) names the copy made before a
      change), one C(config_report) for O(report), C(config_unparsed) for lines the agent ignores, C(config_file) for a file
      that is missing, not text or given bad values, and C(agent_restart) when the agent was restarted (O(restart_agent)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: LINUX_AGENT
      check: config_extensions_enabled
      status: fixed
      summary: "Extensions.Enabled is n in /etc/waagent.conf; did set Extensions.Enabled=y in /etc/waagent.conf"
      detail: {setting: Extensions.Enabled, before: "n", after: "y", path: /etc/waagent.conf}
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.agent_config import WaagentConfig
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main


def main() -> None:
    module_main(WaagentConfig)


if __name__ == "__main__":
    main()
