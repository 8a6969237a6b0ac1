#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: linux_agent
short_description: Check and fix the Azure Linux agent service (cause LINUX_AGENT)
version_added: 0.1.0
description:
  - First makes C(/etc/waagent.conf) hold O(config) (for example C(Extensions.Enabled=y)), editing only those lines,
    as the M(azure_backup.remediation.waagent_config) module does, and restarts a running agent when the file changed.
    A corrupt or missing file is a C(failed) finding; the other checks still run and the task fails at the end.
  - Finds the Azure Linux agent's systemd unit on the VM, C(walinuxagent.service) on Debian and Ubuntu or
    C(waagent.service) elsewhere, by asking systemd which one exists rather than guessing from the distribution.
  - Makes sure the unit is not masked, is enabled, and is running. A unit left C(failed), for example by a
    start-limit hit, is reset before it is started, because systemd refuses a plain start then.
  - Makes systemd restart the agent after a crash, through a drop-in (see O(auto_restart)).
  - Reports, without changing anything, whether the Python in the unit's C(ExecStart), started with the interpreter flags
    and environment of C(ExecStart) (for example C(python3 -S -u /usr/sbin/waagent -daemon)), can import C(azurelinuxagent),
    whether C(/var/lib/waagent) is mounted C(noexec), and the errors of C(/var/log/waagent.log) in the last O(log_hours).
  - C(agent_log) says what the log's lines mean for extensions (the backup extension C(VMSnapshotLinux) among them). The
    kinds are the agent's requests to 168.63.129.16 (WireServer or HostGAPlugin) failing, with no answer or an error answer
    (its HTTP status quoted), the goal state not fetched, the agent's extension handler process failing, extension
    processing stopped, an earlier goal state's extensions not completed, or an extension's handler failing (named with
    its operation). Each kind found is in C(detail.meanings) with its count, the latest line and C(recovered), the time
    of the agent's later success line (the goal state fetched again, a run of the extension handlers that started after the
    problem and completed), else null. A line of such meaning makes the check C(found) even at level INFO, unless the agent
    recovered from it; other lines are only counted, their errors make the check C(found).
  - The agent's Python is started once per run, as the unit starts it; that one run imports the agent, reads its version
    (as C(waagent --version)) and reads O(config_path) as the agent does (as C(waagent -show-configuration)). When it cannot
    import the agent, the version is read with C(waagent --version) instead and C(agent_python) says why.
  - A change that cannot be made (an immutable C(waagent.conf), a read-only C(/etc), a failing C(systemctl)) is one C(failed)
    finding naming the reason and the remedy; the other checks still run and are reported, and no backup or temporary file
    is left beside the file. The agent is restarted for a changed C(waagent.conf) only once the change was written
    (check C(agent_restart)).
  - Reads the agent's version and upgrades it from the distribution's repositories when it is older than the
    supported minimum (see O(upgrade)).
  - After a fix the unit is read back; the finding is C(fixed) only when systemd reports it running.
  - All state is read with one C(systemctl show) call for both possible unit names.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  config:
    description:
      - Settings to enforce in O(config_path), named as in the file, each with its value (C(Extensions.Enabled), C(Logs.Verbose), ...).
        Reported as checks C(config_<setting>). Nothing is edited when empty.
    type: dict
    default: {}
  config_report:
    description: Settings of O(config_path) reported with their effective value, unchanged (check C(config_report)).
    type: list
    elements: str
    default: []
  config_path:
    description: The agent's configuration file.
    type: path
    default: /etc/waagent.conf
  unit:
    description:
      - The agent unit to manage. V(auto) picks whichever of C(walinuxagent.service) and C(waagent.service)
        exists; if both do, the running or enabled one.
    type: str
    default: auto
  auto_restart:
    description:
      - Make systemd restart the agent after a crash (C(Restart=always), C(RestartSec=5)) when the unit does not
        already. Done with a drop-in in C(/etc/systemd/system/<unit>.d/), never by editing the vendor unit, followed
        by C(systemctl daemon-reload) only when the drop-in was written.
      - Debian's C(walinuxagent.service) ships C(Restart=no); upstream units already restart.
    type: bool
    default: true
  min_version:
    description:
      - The oldest supported agent. The daemon version (what C(waagent --version) says) is compared with it;
        the goal-state version is reported beside it.
    type: str
    default: 2.2.53.1
  upgrade:
    description:
      - Upgrade an agent older than O(min_version) through the distribution's package manager (C(apt-get), C(dnf),
        C(yum) or C(zypper)), with the distribution's package name (C(waagent) on Debian, C(walinuxagent) on Ubuntu,
        C(WALinuxAgent) on the RHEL family, SUSE and Azure Linux). Never from anywhere else.
      - The upgrade keeps the existing C(/etc/waagent.conf). Afterwards the version is read again; if it is still too
        old (no newer package in the repositories, a locked or failing package manager) the task fails for that host.
      - With V(false), an old agent is only reported.
    type: bool
    default: true
  lock_timeout:
    description: Seconds C(apt-get) waits for the package manager's lock before failing.
    type: int
    default: 60
  log_hours:
    description: How many hours back C(/var/log/waagent.log) is summarised (errors, warnings, the latest errors, what the lines mean).
    type: float
    default: 24
  backup:
    description: Keep a copy of O(config_path) before editing it, and of a drop-in of the same name that this module replaces.
    type: bool
    default: true
  settle_timeout:
    description:
      - Seconds to watch the unit after a start. An agent that dies within this time is reported
        as C(failed), not C(fixed). Only spent when something was started.
    type: float
    default: 3
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
notes:
  - On a host without systemd the agent's init script is used through C(service) (status, start) and the findings
    say so; the auto-restart and ExecStart checks need systemd and are skipped there, and start at boot is not checked.
seealso:
  - name: Troubleshoot Azure VM backup failures (agent and extension)
    description: Microsoft's article behind the cause LINUX_AGENT.
    link: https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout
"""

EXAMPLES = r"""
- name: Make sure the Azure Linux agent runs and starts at boot
  azure_backup.remediation.linux_agent:
  register: agent

- name: Only report, change nothing
  azure_backup.remediation.linux_agent:
  check_mode: true

- name: Enable extensions and verbose logs in waagent.conf, then check the agent
  azure_backup.remediation.linux_agent:
    config:
      Extensions.Enabled: "y"
      Logs.Verbose: "y"
    config_report: [AutoUpdate.Enabled]

- name: Manage a unit with a non-standard name
  azure_backup.remediation.linux_agent:
    unit: waagent
"""

RETURN = r"""
findings:
  description:
    - The checks C(config_<setting>), C(config_report), C(config_file) (a waagent.conf that cannot be read) and C(agent_restart)
      (with O(config)), C(agent_python), C(agent_dir_noexec), C(agent_log), C(agent_auto_restart) (with O(auto_restart)),
      C(agent_version) and C(agent_service), in the collection's finding shape. The agent's unit is C(detail.unit) of
      C(agent_service) (null when the VM has none).
  returned: always
  type: list
  elements: dict
  sample:
    - id: LINUX_AGENT
      check: agent_service
      host: null
      status: fixed
      severity: critical
      summary: "walinuxagent.service is inactive (dead), unit file disabled; did run: enable, start"
      detail:
        unit: walinuxagent.service
        actions: [enable, start]
        before: {ActiveState: inactive, SubState: dead, UnitFileState: disabled}
        after: {ActiveState: active, SubState: running, UnitFileState: enabled}
      doc: https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.linux_agent import LinuxAgent


def main() -> None:
    module_main(LinuxAgent)


if __name__ == "__main__":
    main()
