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
  - Reports, without changing anything, whether the Python in the unit's C(ExecStart) can import C(azurelinuxagent),
    whether C(/var/lib/waagent) is mounted C(noexec), and the errors of C(/var/log/waagent.log) in the last O(log_hours).
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
      - The oldest supported agent. The daemon version from C(waagent --version) is compared with it;
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
    description: How many hours back C(/var/log/waagent.log) is summarised (errors, warnings, the latest errors).
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
unit:
  description: The agent unit that was checked, or null when the VM has none.
  returned: always
  type: str
  sample: walinuxagent.service
findings:
  description:
    - The checks C(agent_python), C(agent_dir_noexec), C(agent_log), C(agent_auto_restart) (with O(auto_restart)),
      C(agent_version) and C(agent_service), in the collection's finding shape.
  returned: always
  type: list
  elements: dict
  sample:
    - id: LINUX_AGENT
      check: agent_service
      host: null
      status: fixed
      severity: critical
      summary: "walinuxagent.service was inactive (dead), unit file disabled; ran: enable, start; now active (running), unit file enabled"
      detail:
        unit: walinuxagent.service
        actions: [enable, start]
        before: {ActiveState: inactive, SubState: dead, UnitFileState: disabled}
        after: {ActiveState: active, SubState: running, UnitFileState: enabled}
      doc: https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout
"""

import datetime
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.agent_config import AgentConfig
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.files import replace_file
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent_health as _agent_health
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent_version as _agent_version
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import systemd as _systemd

CHECK = "agent_service"


class AgentService:
    """Reads the agent unit from systemd, decides with _systemd, applies the plan."""

    MOUNTINFO = "/proc/self/mountinfo"
    LOG = "/var/log/waagent.log"
    SYSTEMD_RUNTIME = "/run/systemd/system"
    INIT_D = "/etc/init.d"

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.systemctl = module.get_bin_path("systemctl")
        self.systemd = bool(self.systemctl) and os.path.isdir(self.SYSTEMD_RUNTIME)

    def show(self, names: list[str]) -> list[dict]:
        cmd = [self.systemctl, "show", "--property=" + ",".join(_systemd.SHOW_PROPERTIES), "--"] + names
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            raise RemediationError("systemctl show failed (rc=%d): %s" % (rc, err.strip() or out.strip()))
        return _systemd.parse_show(out)

    def run(self, verb: str, unit: str | None) -> None:
        args = ["unmask", "--runtime"] if verb == "unmask-runtime" else [verb]
        target = ["--", unit] if unit else []
        rc, out, err = self.module.run_command([self.systemctl] + args + target)
        if rc != 0:
            raise RemediationError("systemctl %s failed (rc=%d): %s" % (" ".join(args + target[1:]), rc, err.strip() or out.strip()))

    def settle(self, unit: str, timeout: float) -> dict:
        """Watch the unit for the settle window: a Type=simple agent is
        'active' at once, so only staying up for a while proves the start."""
        deadline = time.monotonic() + timeout
        while True:
            props = self.show([unit])[0]
            if props.get("ActiveState") in ("failed", "inactive") or time.monotonic() >= deadline:
                return props
            time.sleep(0.5)

    def ensure(self, requested: str, settle_timeout: float, auto_restart: bool) -> dict:
        min_version = self.module.params["min_version"]
        try:
            _agent_version.version_tuple(min_version)
        except ValueError as exc:
            raise RemediationError("min_version: %s. Nothing was changed." % exc)
        findings: list = []
        diffs: list = []
        config_error = self.config(findings, diffs)
        try:
            if self.systemd:
                unit = self.with_systemd(requested, settle_timeout, auto_restart, min_version, findings, diffs)
            else:
                unit = self.without_systemd(requested, min_version, findings, diffs)
        except RemediationError as exc:
            # Keep what was learnt before the failure; changed if anything was (or would be) changed.
            raise RemediationError(exc.msg, findings + exc.findings, changed=bool(diffs) or exc.changed)
        if config_error:
            raise RemediationError(config_error.msg, findings, changed=bool(diffs) or config_error.changed)
        result = {"changed": bool(diffs), "unit": unit, "findings": findings}
        if diffs and self.module._diff:
            result["diff"] = diffs
        return result

    def config(self, findings: list, diffs: list) -> RemediationError | None:
        """waagent.conf first: a running agent is restarted once it changed, a stopped one reads it when started.
        A file that cannot be read or edited does not stop the service checks; the error is returned."""
        params = self.module.params
        if not params["config"] and not params["config_report"]:
            return None
        try:
            result = AgentConfig(self.module, params["config_path"], params["backup"], params["unit"]).run(
                params["config"], params["config_report"], restart_agent=True)
        except RemediationError as exc:
            findings += exc.findings
            findings.append(finding("LINUX_AGENT", "config_file", "failed", exc.msg, {"path": params["config_path"]}))
            return exc
        findings += result["findings"]
        if result["changed"]:
            diffs.append(result["diff"])
        return None

    def with_systemd(self, requested: str, settle_timeout: float, auto_restart: bool, min_version: str,
                     findings: list, diffs: list) -> str | None:
        names = _systemd.candidate_units(requested)
        props = _systemd.select_agent_unit(self.show(names))
        if props is None:
            findings.append(finding(
                "LINUX_AGENT", CHECK, "found",
                "No Azure Linux agent unit (%s) on this VM: install the distribution's agent package "
                "(waagent on Debian, walinuxagent on Ubuntu, WALinuxAgent on RHEL and SUSE)." % " or ".join(names),
                {"units_looked_for": names},
            ))
            return None
        self.health(props, findings)
        if auto_restart:
            props = self.auto_restart(props, findings, diffs)
        props = self.version(props, min_version, findings, diffs)
        self.service(props, settle_timeout, findings, diffs)
        return props["Id"]

    def auto_restart(self, props: dict, findings: list, diffs: list) -> dict:
        """Make the agent come back after a crash; return the unit's props as they are now."""
        unit = props["Id"]
        path = _systemd.restart_dropin_path(unit)
        detail = {"unit": unit, "before": {"Restart": props.get("Restart")}, "dropin": path, "drop_ins": props.get("DropInPaths", "").split()}
        if _systemd.restarts_itself(props):
            findings.append(finding("LINUX_AGENT", "agent_auto_restart", "ok", "%s restarts itself after a crash (Restart=always)" % unit, detail))
            return props
        current = ""
        if os.path.exists(path):
            with open(path) as handle:
                current = handle.read()
        if current == _systemd.RESTART_DROPIN:
            raise RemediationError(
                "%s is in place but %s still has Restart=%s: a drop-in that sorts after it wins (%s). "
                "Remove the Restart= line from that drop-in." % (path, unit, props.get("Restart"), " ".join(detail["drop_ins"])),
                [finding("LINUX_AGENT", "agent_auto_restart", "failed", "%s has Restart=%s despite %s" % (unit, props.get("Restart"), path), detail)])
        was = "%s has Restart=%s: the agent stays down after a crash" % (unit, props.get("Restart"))
        diffs.append({"before": current, "after": _systemd.RESTART_DROPIN, "before_header": path, "after_header": path})
        if self.module.check_mode:
            findings.append(finding("LINUX_AGENT", "agent_auto_restart", "found", "%s; would add %s" % (was, path), detail))
            return props
        saved = replace_file(self.module, path, _systemd.RESTART_DROPIN.encode(), self.module.params["backup"])
        if saved:
            detail["backup_file"] = saved
        self.run("daemon-reload", None)
        props = self.show([unit])[0]
        detail["after"] = {"Restart": props.get("Restart")}
        if not _systemd.restarts_itself(props):
            raise RemediationError(
                "wrote %s but %s still has Restart=%s: a drop-in that sorts after it wins (%s)."
                % (path, unit, props.get("Restart"), props.get("DropInPaths", "")),
                [finding("LINUX_AGENT", "agent_auto_restart", "failed", "%s; %s written but overridden" % (was, path), detail)], changed=True)
        findings.append(finding("LINUX_AGENT", "agent_auto_restart", "fixed", "%s; added %s, now Restart=always" % (was, path), detail))
        return props

    def without_systemd(self, requested: str, min_version: str, findings: list, diffs: list) -> str:
        """Hosts without systemd: the init script through service(8), and the version.
        Auto-restart and the unit's ExecStart are systemd's, so those checks are skipped."""
        service = self.module.get_bin_path("service")
        names = [n[:-len(".service")] for n in _systemd.candidate_units(requested)]
        name = next((n for n in names if os.path.exists(os.path.join(self.INIT_D, n))), None)
        if not service or not name:
            raise RemediationError(
                "systemd is not running on this VM and no agent init script (%s in %s) or service command was found: "
                "install the distribution's agent package." % (" or ".join(names), self.INIT_D))
        script = os.path.join(self.INIT_D, name)
        for check in ("agent_auto_restart", "agent_python"):
            findings.append(finding("LINUX_AGENT", check, "skipped", "no systemd on this VM: not checked", {"init_script": script}))
        self.version({"Id": name}, min_version, findings, diffs)
        running = self.module.run_command([service, name, "status"])[0] == 0
        detail = {"init_script": script, "manager": "service", "before": {"running": running}}
        if running:
            findings.append(finding("LINUX_AGENT", CHECK, "ok", "%s runs (no systemd: checked with service %s status)" % (name, name), detail))
            return name
        diffs.append({"before": "%s: stopped\n" % name, "after": "%s: running\n" % name})
        if self.module.check_mode:
            findings.append(finding("LINUX_AGENT", CHECK, "found", "%s is stopped (no systemd); would run: service %s start" % (name, name), detail))
            return name
        rc, out, err = self.module.run_command([service, name, "start"])
        detail["after"] = {"running": self.module.run_command([service, name, "status"])[0] == 0}
        if rc != 0 or not detail["after"]["running"]:
            raise RemediationError(
                "service %s start did not leave the agent running (rc=%d): %s. Read /var/log/waagent.log on the VM."
                % (name, rc, (err or out).strip()[-300:]),
                [finding("LINUX_AGENT", CHECK, "failed", "%s is stopped (no systemd); service %s start failed" % (name, name), detail)],
                changed=True)
        summary = "%s was stopped (no systemd); ran: service %s start; now running" % (name, name)
        findings.append(finding("LINUX_AGENT", CHECK, "fixed", summary, detail))
        return name

    def health(self, props: dict, findings: list) -> None:
        """Report-only signs of a sick agent; read before anything is changed."""
        argv = _agent_health.execstart_argv(props.get("ExecStart", ""))
        shebang = None
        if argv and os.path.isfile(argv[0]):
            with open(argv[0], "rb") as handle:
                shebang = handle.readline(200).decode("utf-8", "replace").strip()
        python = _agent_health.interpreter(argv, shebang)
        python_path = self.module.get_bin_path(python) if python and not python.startswith("/") else python
        detail = {"exec_start": argv, "interpreter": python}
        if not argv and _systemd.is_masked(props):
            findings.append(finding("LINUX_AGENT", "agent_python", "skipped",
                                    "%s is masked, which hides its ExecStart; the next run checks its Python" % props["Id"], detail))
        elif not python_path:
            findings.append(finding("LINUX_AGENT", "agent_python", "found",
                                    "cannot tell which Python runs %s from ExecStart %s" % (props["Id"], " ".join(argv)), detail, severity="warning"))
        else:
            rc, out, err = self.module.run_command([python_path, "-c", "import azurelinuxagent"])
            if rc == 0:
                findings.append(finding("LINUX_AGENT", "agent_python", "ok", "%s imports azurelinuxagent" % python_path, detail))
            else:
                detail["error"] = (err or out).strip().splitlines()[-1:]
                findings.append(finding("LINUX_AGENT", "agent_python", "found",
                                        "%s, the Python in %s's ExecStart, cannot import azurelinuxagent (%s): "
                                        "reinstall the distribution's agent package" % (python_path, props["Id"], " ".join(detail["error"])), detail))
        with open(self.MOUNTINFO) as handle:
            mount = _agent_health.mount_of("/var/lib/waagent", handle.read())
        if mount and "noexec" in mount["options"]:
            findings.append(finding("LINUX_AGENT", "agent_dir_noexec", "found",
                                    "/var/lib/waagent is on %s mounted noexec: extensions, the backup extension too, cannot run; "
                                    "remove noexec from that mount (/etc/fstab) and remount" % mount["mount_point"], mount))
        else:
            findings.append(finding("LINUX_AGENT", "agent_dir_noexec", "ok", "/var/lib/waagent allows execution", mount or {}))
        self.log_summary(findings)

    def log_summary(self, findings: list) -> None:
        path, hours = self.LOG, self.module.params["log_hours"]
        if not os.path.isfile(path):
            findings.append(finding("LINUX_AGENT", "agent_log", "skipped", "%s does not exist" % path, {"path": path}))
            return
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 1024 * 1024))  # the last MiB is plenty for a day
            text = handle.read().decode("utf-8", "replace")
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        summary = dict(_agent_health.summarize_log(text, now, hours), path=path)
        counts = "%d errors, %d warnings in the last %g h of %s" % (summary["errors"], summary["warnings"], hours, path)
        if summary["errors"]:
            findings.append(finding("LINUX_AGENT", "agent_log", "found", "%s; latest: %s" % (counts, summary["last_errors"][-1]), summary, severity="warning"))
        else:
            findings.append(finding("LINUX_AGENT", "agent_log", "ok", counts, summary))

    def read_version(self, waagent: str) -> dict:
        rc, out, err = self.module.run_command([waagent, "--version"])
        try:
            return _agent_version.parse_waagent_version(out)
        except ValueError:
            raise RemediationError(
                "'waagent --version' failed (rc=%d): %s. The agent's Python package may be broken: "
                "reinstall the distribution's agent package." % (rc, (err or out).strip()[-500:]))

    @staticmethod
    def os_release() -> dict:
        with open("/etc/os-release") as handle:
            return _agent_version.parse_os_release(handle.read())

    def package_manager(self) -> tuple:
        for name in ("apt-get", "dnf", "yum", "zypper"):
            path = self.module.get_bin_path(name)
            if path:
                return name, path
        return None, None

    def upgrade_commands(self, manager: str, path: str, package: str) -> list:
        if manager == "apt-get":
            # Bounded waits: a held lock or a dead mirror fails in seconds instead of hanging the play.
            bounded = ["-o", "DPkg::Lock::Timeout=%d" % self.module.params["lock_timeout"], "-o", "Acquire::http::Timeout=20", "-o", "Acquire::Retries=0"]
            # --force-confold keeps the waagent.conf this collection edited.
            return [[path, "update"] + bounded,
                    [path, "install", "--only-upgrade", "-y", "-o", "Dpkg::Options::=--force-confdef",
                     "-o", "Dpkg::Options::=--force-confold"] + bounded + [package]]
        if manager == "zypper":
            return [[path, "--non-interactive", "update", package]]
        return [[path, "-y", "upgrade" if manager == "dnf" else "update", package]]

    def version(self, props: dict, min_version: str, findings: list, diffs: list) -> dict:
        """Report the agent's version; upgrade it from the distribution's repositories when too old."""
        waagent = self.module.get_bin_path("waagent", opt_dirs=["/usr/sbin"])
        if not waagent:
            findings.append(finding("LINUX_AGENT", "agent_version", "found",
                                    "the waagent command is missing although %s exists: reinstall the agent package" % props["Id"],
                                    {"unit": props["Id"], "looked_in": "PATH and /usr/sbin"}))
            return props
        before = self.read_version(waagent)
        os_release = self.os_release()
        package = _agent_version.agent_package(os_release)
        manager, manager_path = self.package_manager()
        detail = {"before": before, "min_version": min_version, "package": package, "package_manager": manager,
                  "os": os_release.get("PRETTY_NAME", os_release.get("ID"))}
        seen = "agent %s (goal state %s)" % (before["daemon"], before["goal_state"] or "unknown")
        if not _agent_version.older(before["daemon"], min_version):
            findings.append(finding("LINUX_AGENT", "agent_version", "ok", "%s, minimum %s" % (seen, min_version), detail))
            return props
        old = "%s is older than the supported minimum %s" % (seen, min_version)
        if not package or not manager or not self.module.params["upgrade"]:
            why = ("upgrade the distribution's agent package" if self.module.params["upgrade"] is False
                   else "no known agent package for %s" % detail["os"] if not package else "no package manager found")
            findings.append(finding("LINUX_AGENT", "agent_version", "found", "%s; %s" % (old, why), detail))
            return props
        diffs.append({"before": "%s %s\n" % (package, before["daemon"]), "after": "%s >= %s\n" % (package, min_version),
                      "before_header": "package " + package, "after_header": "package " + package})
        if self.module.check_mode:
            findings.append(finding("LINUX_AGENT", "agent_version", "found",
                                    "%s; would upgrade %s with %s from the distribution's repositories" % (old, package, manager), detail))
            return props
        outputs = []
        for cmd in self.upgrade_commands(manager, manager_path, package):
            rc, out, err = self.module.run_command(cmd, environ_update={"DEBIAN_FRONTEND": "noninteractive"})
            outputs.append("%s: rc=%d %s" % (" ".join(cmd[:2]), rc, (err or out).strip()[-300:]))
        after = self.read_version(waagent)
        detail.update(after=after, package_output=outputs)
        if _agent_version.older(after["daemon"], min_version):
            raise RemediationError(
                "%s and upgrading %s with %s did not help (now %s): the configured repositories offer no newer agent, "
                "or the package manager failed or was locked. Output: %s"
                % (old, package, manager, after["daemon"], " | ".join(outputs)),
                [finding("LINUX_AGENT", "agent_version", "failed", "%s; upgrade left %s" % (old, after["daemon"]), detail)],
                changed=after != before)
        findings.append(finding("LINUX_AGENT", "agent_version", "fixed",
                                "%s; upgraded %s with %s to %s" % (old, package, manager, after["daemon"]), detail))
        return self.show([props["Id"]])[0] if self.systemd else props

    def service(self, before: dict, settle_timeout: float, findings: list, diffs: list) -> None:
        unit = before["Id"]
        verbs = _systemd.plan_running_enabled(before)
        detail = {"unit": unit, "actions": verbs, "before": _systemd.state_summary(before)}
        if not verbs:
            findings.append(finding("LINUX_AGENT", CHECK, "ok", "%s is %s" % (unit, _systemd.describe(before)), detail))
            return
        diffs.append(self.diff(before, verbs))
        if self.module.check_mode:
            summary = "%s is %s; would run: %s" % (unit, _systemd.describe(before), ", ".join(verbs))
            findings.append(finding("LINUX_AGENT", CHECK, "found", summary, detail))
            return
        was = "%s was %s" % (unit, _systemd.describe(before))
        done = []
        try:
            for verb in verbs:
                self.run(verb, unit)
                done.append(verb)
        except RemediationError as exc:
            detail["error"] = exc.msg
            detail["done"] = done
            raise RemediationError(exc.msg, [finding("LINUX_AGENT", CHECK, "failed", "%s; fix failed: %s" % (was, exc.msg), detail)], changed=bool(done))
        after = self.settle(unit, settle_timeout)
        detail["after"] = _systemd.state_summary(after)
        summary = "%s; ran: %s; now %s" % (was, ", ".join(verbs), _systemd.describe(after))
        if _systemd.plan_running_enabled(after):
            raise RemediationError(
                "%s did not stay running after %s. Read 'journalctl -u %s' and /var/log/waagent.log on the VM."
                % (unit, ", ".join(verbs), unit),
                [finding("LINUX_AGENT", CHECK, "failed", summary, detail)],
                changed=True,
            )
        findings.append(finding("LINUX_AGENT", CHECK, "fixed", summary, detail))

    @staticmethod
    def diff(before: dict, verbs: list[str]) -> dict:
        def render(running: bool, enabled: str) -> str:
            return "unit: %s\nrunning: %s\nunit file: %s\n" % (before["Id"], "yes" if running else "no", enabled)

        enabled_after = "enabled" if "enable" in verbs else before.get("UnitFileState", "")
        return {
            "before": render(_systemd.is_running(before), before.get("UnitFileState", "")),
            "after": render(True, enabled_after),
            "before_header": "systemd: " + before["Id"],
            "after_header": "systemd: " + before["Id"],
        }


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="dict", default={}),
            config_report=dict(type="list", elements="str", default=[]),
            config_path=dict(type="path", default="/etc/waagent.conf"),
            unit=dict(type="str", default="auto"),
            settle_timeout=dict(type="float", default=3),
            auto_restart=dict(type="bool", default=True),
            min_version=dict(type="str", default=_agent_version.MIN_SUPPORTED),
            upgrade=dict(type="bool", default=True),
            lock_timeout=dict(type="int", default=60),
            log_hours=dict(type="float", default=24),
            backup=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = AgentService(module).ensure(module.params["unit"], module.params["settle_timeout"], module.params["auto_restart"])
    except RemediationError as exc:
        module.fail_json(msg=exc.msg, findings=exc.findings, changed=exc.changed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
