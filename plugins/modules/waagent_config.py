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
  - The agent reads its configuration at start; restart it after a change (the C(linux_agent) role does).
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
  description: One finding per setting in O(settings) (check C(config_<setting>)), plus one C(config_report) for O(report).
  returned: always
  type: list
  elements: dict
  sample:
    - id: LINUX_AGENT
      check: config_extensions_enabled
      status: fixed
      summary: "Extensions.Enabled was n in /etc/waagent.conf; set to y"
      detail: {setting: Extensions.Enabled, before: "n", after: "y", path: /etc/waagent.conf}
effective:
  description: Every setting in force after the run, as the agent reads them (null for C(None)).
  returned: success
  type: dict
  sample: {"Extensions.Enabled": "y", "Logs.Verbose": "y", "AutoUpdate.Enabled": "y"}
restarted:
  description: The agent unit restarted after the change (O(restart_agent)), or null when none was running.
  returned: changed and O(restart_agent=true), outside check mode
  type: str
  sample: walinuxagent.service
backup_file:
  description: The copy made before the change.
  returned: changed and O(backup=true), outside check mode
  type: str
  sample: /etc/waagent.conf.12345.2026-11-21@23:59:59~
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils._files import replace_file
from ansible_collections.azure_backup.remediation.plugins.module_utils._findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils import _systemd
from ansible_collections.azure_backup.remediation.plugins.module_utils import _waagent_conf as conf


def check_name(key: str) -> str:
    return "config_" + key.lower().replace(".", "_")


class AgentConfig:
    """Reads the file, decides with _waagent_conf, writes only when something differs."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.path = module.params["path"]

    def read(self) -> str:
        if not os.path.isfile(self.path):
            raise RemediationError(
                "%s does not exist: the agent has no configuration. Reinstall the distribution's agent package "
                "(waagent, walinuxagent or WALinuxAgent) to restore it." % self.path)
        with open(self.path, "rb") as handle:
            data = handle.read()
        bad = data.find(b"\0")
        if bad < 0:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = exc.start
        raise RemediationError(
            "%s is not a text file (byte %d is not UTF-8 text): it is corrupt and was left unchanged. Restore it from a "
            "backup or from the agent package (for example: apt-get install --reinstall -o Dpkg::Options::=--force-confask waagent)."
            % (self.path, bad))

    def desired(self) -> dict:
        wanted = {}
        for key, value in self.module.params["settings"].items():
            if isinstance(value, bool):
                value = "y" if value else "n"
            try:
                wanted[key] = conf.validate(key, str(value))
            except ValueError as exc:
                raise RemediationError("settings: %s. Nothing was changed in %s." % (exc, self.path))
        return wanted

    def run(self) -> dict:
        wanted = self.desired()
        before = self.read()
        after = conf.set_values(before, wanted)
        now = conf.effective(before)
        result_values = conf.effective(after)
        # Never write a file the agent would read differently from what was asked.
        wrong = {k: result_values.get(k) for k, v in wanted.items() if result_values.get(k) != v}
        if wrong:
            raise RemediationError("editing %s would leave %s; the file was left unchanged" % (self.path, wrong))

        changed = after != before
        findings = []
        for key, value in wanted.items():
            detail = {"setting": key, "before": now.get(key), "after": value, "path": self.path}
            if now.get(key) == value:
                findings.append(finding(conf.CAUSE_OF.get(key, "LINUX_AGENT"), check_name(key), "ok", "%s=%s in %s" % (key, value, self.path), detail))
                continue
            status = "found" if self.module.check_mode else "fixed"
            verb = "would set" if self.module.check_mode else "set"
            summary = "%s is %s in %s; %s to %s" % (key, "unset" if now.get(key) is None else now[key], self.path, verb, value)
            findings.append(finding(conf.CAUSE_OF.get(key, "LINUX_AGENT"), check_name(key), status, summary, detail))
        if self.module.params["report"]:
            reported = {key: now.get(key) for key in self.module.params["report"]}
            text = ", ".join("%s=%s" % kv for kv in reported.items())
            findings.append(finding("LINUX_AGENT", "config_report", "ok", "%s in %s" % (text, self.path), {"values": reported, "path": self.path}))
        ignored = conf.not_settings(before)
        if ignored:
            findings.append(finding("LINUX_AGENT", "config_unparsed", "found",
                                    "%d line(s) of %s are neither settings nor comments; the agent ignores them" % (len(ignored), self.path),
                                    {"lines": ignored[:20], "path": self.path}, severity="warning"))

        result = {"changed": changed, "findings": findings, "effective": result_values if not self.module.check_mode else now}
        if changed and self.module._diff:
            result["diff"] = {"before": before, "after": after, "before_header": self.path, "after_header": self.path}
        if changed and not self.module.check_mode:
            backup = replace_file(self.module, self.path, after.encode("utf-8"), self.module.params["backup"])
            if backup:
                result["backup_file"] = backup
            if self.module.params["restart_agent"]:
                try:
                    result["restarted"] = self.restart_agent()
                except RemediationError as exc:
                    raise RemediationError(exc.msg, findings, changed=True)
        return result

    def restart_agent(self) -> str | None:
        """Restart the running agent (systemd unit, or init script without systemd); None when none runs."""
        systemctl = self.module.get_bin_path("systemctl")
        if systemctl and os.path.isdir("/run/systemd/system"):
            rc, out, err = self.module.run_command([systemctl, "show", "--property=Id,LoadState,ActiveState", "--"] + list(_systemd.AGENT_UNITS))
            running = [u["Id"] for u in _systemd.parse_show(out) if _systemd.is_running(u)] if rc == 0 else []
            restart = [[systemctl, "restart", "--", unit] for unit in running]
        else:
            service = self.module.get_bin_path("service")
            names = [u[:-len(".service")] for u in _systemd.AGENT_UNITS]
            running = [n for n in names if service and self.module.run_command([service, n, "status"])[0] == 0]
            restart = [[service, name, "restart"] for name in running]
        if not running:
            return None
        rc, out, err = self.module.run_command(restart[0])
        if rc != 0:
            raise RemediationError("%s was changed but restarting %s failed: %s" % (self.path, running[0], (err or out).strip()), changed=True)
        return running[0]


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/waagent.conf"),
            settings=dict(type="dict", required=True),
            report=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=True),
            restart_agent=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    try:
        result = AgentConfig(module).run()
    except RemediationError as exc:
        module.fail_json(msg=exc.msg, findings=exc.findings, changed=exc.changed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
