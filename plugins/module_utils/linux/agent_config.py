# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The backend that reads and edits /etc/waagent.conf on the VM, shared by the modules that
need it (waagent_config, linux_agent for LINUX_AGENT, network for the proxy), so each cause
stays one module execution. Decisions are _waagent_conf's; this does the I/O."""

from __future__ import annotations

import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.files import replace_file
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import systemd as _systemd
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import waagent_conf as conf


def check_name(key: str) -> str:
    return "config_" + key.lower().replace(".", "_")


class AgentConfig:
    """Reads the file, decides with _waagent_conf, writes only when something differs."""

    def __init__(self, module, path: str, backup: bool = True, unit: str = "auto") -> None:
        self.module = module
        self.path = path
        self.backup = backup
        self.units = _systemd.candidate_units(unit)  # the agent unit(s) a restart may concern

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

    def desired(self, settings: dict) -> dict:
        wanted = {}
        for key, value in settings.items():
            if isinstance(value, bool):
                value = "y" if value else "n"
            try:
                wanted[key] = conf.validate(key, str(value))
            except ValueError as exc:
                raise RemediationError("settings: %s. Nothing was changed in %s." % (exc, self.path))
        return wanted

    def run(self, settings: dict, report: list | None = None, restart_agent: bool = False) -> dict:
        """Enforce `settings`, report `report`; restart a running agent after a change when asked."""
        wanted = self.desired(settings)
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
        if report:
            # As the agent reads them, its defaults included, where the agent can say so.
            view = self.agent_view()
            reported = {key: view[key] if view and key in view else now.get(key) for key in report}
            source = "waagent -show-configuration" if view else self.path
            text = ", ".join("%s=%s" % kv for kv in reported.items())
            findings.append(finding("LINUX_AGENT", "config_report", "ok", "%s (read with %s)" % (text, source),
                                    {"values": reported, "path": self.path, "source": source}))
        ignored = conf.not_settings(before)
        if ignored:
            findings.append(finding("LINUX_AGENT", "config_unparsed", "found",
                                    "%d line(s) of %s are neither settings nor comments; the agent ignores them" % (len(ignored), self.path),
                                    {"lines": ignored[:20], "path": self.path}, severity="warning"))

        result = {"changed": changed, "findings": findings, "effective": result_values if not self.module.check_mode else now}
        if changed:  # the caller shows it in diff mode
            result["diff"] = {"before": before, "after": after, "before_header": self.path, "after_header": self.path}
        if changed and not self.module.check_mode:
            backup = replace_file(self.module, self.path, after.encode("utf-8"), self.backup)
            if backup:
                result["backup_file"] = backup
            view = self.agent_view()
            differ = {k: view[k] for k, v in wanted.items() if view and k in view and view[k] != v}
            if differ:
                raise RemediationError("%s now says %s, but the agent reads %s (waagent -show-configuration); the backup is %s"
                                       % (self.path, wanted, differ, backup), findings, changed=True)
            if restart_agent:
                try:
                    result["restarted"] = self.restart_agent()
                except RemediationError as exc:
                    raise RemediationError(exc.msg, findings, changed=True)
                # Said where the change is reported: the agent reads the file only when it starts.
                for entry in findings:
                    if entry["status"] == "fixed":
                        entry["detail"]["agent_restarted"] = result["restarted"]
        return result

    def agent_view(self) -> dict | None:
        """The settings as the agent itself reads this file; None where it cannot say
        (no waagent, an agent too old for -show-configuration, a broken agent Python)."""
        waagent = self.module.get_bin_path("waagent", opt_dirs=["/usr/sbin"])
        if not waagent:
            return None
        rc, out, _err = self.module.run_command([waagent, "-configuration-path:" + self.path, "-show-configuration"])
        return (conf.parse_show_configuration(out) or None) if rc == 0 else None

    def restart_agent(self) -> str | None:
        """Restart the running agent (systemd unit, or init script without systemd); None when none runs."""
        systemctl = self.module.get_bin_path("systemctl")
        if systemctl and os.path.isdir("/run/systemd/system"):
            rc, out, err = self.module.run_command([systemctl, "show", "--property=Id,LoadState,ActiveState", "--"] + self.units)
            running = [u["Id"] for u in _systemd.parse_show(out) if _systemd.is_running(u)] if rc == 0 else []
            restart = [[systemctl, "restart", "--", unit] for unit in running]
        else:
            service = self.module.get_bin_path("service")
            names = [u[:-len(".service")] for u in self.units]
            running = [n for n in names if service and self.module.run_command([service, n, "status"])[0] == 0]
            restart = [[service, name, "restart"] for name in running]
        if not running:
            return None
        rc, out, err = self.module.run_command(restart[0])
        if rc != 0:
            raise RemediationError("%s was changed but restarting %s failed: %s" % (self.path, running[0], (err or out).strip()), changed=True)
        return running[0]
