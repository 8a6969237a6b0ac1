# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""LINUX_AGENT on the VM: waagent.conf, the agent's unit, auto-restart, version and health.

Reads once (one `systemctl show` for both unit names, one run of the agent's Python with ExecStart's
interpreter and flags, the log, the mounts, the file), decides with causes/linux_agent,
causes/linux_agent_version and linux/systemd, and yields one Step per check. A change that fails (an
immutable waagent.conf, a read-only /etc) is one failed finding; the other checks still run."""

from __future__ import annotations

import datetime
import os
import time

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent as _agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent_version as _version
from ansible_collections.azure_backup.remediation.plugins.module_utils.core import files
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import agent_config as _config
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import systemd as _systemd
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause

CHECK = "agent_service"


class LinuxAgent(LinuxCause):
    """The Azure Linux agent runs, restarts after a crash, is current, reads the settings asked for, and looks healthy."""

    ID = "LINUX_AGENT"
    ARGUMENT_SPEC = {
        "config": {"type": "dict", "default": {}},
        "config_report": {"type": "list", "elements": "str", "default": []},
        "config_path": {"type": "path", "default": "/etc/waagent.conf"},
        "unit": {"type": "str", "default": "auto"},
        "settle_timeout": {"type": "float", "default": 3},
        "auto_restart": {"type": "bool", "default": True},
        "min_version": {"type": "str", "default": _version.MIN_SUPPORTED},
        "upgrade": {"type": "bool", "default": True},
        "lock_timeout": {"type": "int", "default": 60},
        "log_hours": {"type": "float", "default": 24},
        "backup": {"type": "bool", "default": True},
    }

    MOUNTINFO = "/proc/self/mountinfo"
    LOG = "/var/log/waagent.log"
    SYSTEMD_RUNTIME = "/run/systemd/system"
    INIT_D = "/etc/init.d"
    OS_RELEASE = "/etc/os-release"

    def __init__(self, module, params: dict) -> None:
        super().__init__(module, params)
        self.systemctl = module.get_bin_path("systemctl")
        self.systemd = bool(self.systemctl) and os.path.isdir(self.SYSTEMD_RUNTIME)
        self.props: dict | None = None  # the unit as systemd shows it now
        self.python: tuple = (None, [])  # the agent's interpreter and its flags
        self.probe: dict = {}
        self.env: dict = {}  # the unit's Environment=, which the agent's Python runs with
        self.python_problem: str | None = None  # why ExecStart does not tell which Python runs the agent

    # --- reading -------------------------------------------------------------------------------------

    def show(self, names: list[str]) -> list[dict]:
        cmd = [self.systemctl, "show", "--property=" + ",".join(_systemd.SHOW_PROPERTIES), "--"] + names
        rc, out, err = self.module.run_command(cmd, handle_exceptions=False)
        if rc != 0:
            raise RemediationError("systemctl show failed (rc=%d): %s" % (rc, err.strip() or out.strip()), check=CHECK)
        return _systemd.parse_show(out)

    def read_agent(self) -> None:
        """The agent's Python, started once: as ExecStart starts it (interpreter and flags, the unit's
        environment), else as the waagent script's #! line says."""
        argv = _agent.execstart_argv((self.props or {}).get("ExecStart", ""))
        self.env = _agent.unit_environment((self.props or {}).get("Environment", ""))
        self.env.update(_agent.env_assignments(argv))  # `env NAME=VALUE python3 ...` in ExecStart
        if argv:
            try:
                self.python = _agent.agent_python(argv, _config.shebang_of(argv[0]), self.env)
            except ValueError as exc:  # a $VARIABLE the unit does not set: say so rather than guess
                self.python_problem = str(exc)
        if self.python[0]:
            self.probe = _config.probe_agent(self.module, self.params["config_path"], self.python[0], self.python[1], self.env)
        else:
            self.probe = _config.probe_agent(self.module, self.params["config_path"])

    def waagent_version(self, waagent: str) -> tuple[dict | None, str]:
        """`waagent --version`: the fallback when the agent's Python did not import it as its unit starts it,
        and the read-back after an upgrade. (version, None) or (None, what went wrong)."""
        try:
            rc, out, err = self.module.run_command([waagent, "--version"], handle_exceptions=False)
        except OSError as exc:  # its #! interpreter is gone
            return None, "'waagent --version' cannot be started: %s; reinstall the distribution's agent package" % (exc.strerror or exc)
        try:
            return _version.parse_waagent_version(out), ""
        except ValueError:
            return None, "'waagent --version' failed (rc=%d): %s" % (rc, (err or out).strip()[-500:])

    def os_release(self) -> dict:
        with open(self.OS_RELEASE) as handle:
            return _version.parse_os_release(handle.read())

    # --- the steps -----------------------------------------------------------------------------------

    def steps(self):
        p = self.params
        try:
            _version.version_tuple(p["min_version"])
        except ValueError as exc:
            raise RemediationError("min_version: %s. Nothing was changed." % exc, check="agent_version")
        names = _systemd.candidate_units(p["unit"])
        if self.systemd:
            self.props = _systemd.select_agent_unit(self.show(names))
        self.read_agent()
        written = None
        if p["config"] or p["config_report"]:
            # waagent.conf first: a running agent is restarted once it changed, a stopped one reads it when started.
            verify = (lambda: _config.agent_view(_config.probe_agent(self.module, p["config_path"], *self.python, env=self.env))) \
                if self.probe.get("imports") and self.python[0] else None
            written = yield from _config.AgentConfig(self.module, p["config_path"], p["backup"]).steps(
                p["config"], p["config_report"], _config.agent_view(self.probe), verify)
        if not self.systemd:
            yield from self.without_systemd(names, written)
            return
        if self.props is None:
            yield Step(CHECK, "found",
                       "No Azure Linux agent unit (%s) on this VM: install the distribution's agent package "
                       "(waagent on Debian, walinuxagent on Ubuntu, WALinuxAgent on RHEL and SUSE)." % " or ".join(names),
                       {"units_looked_for": names, "unit": None})
            return
        unit = self.props["Id"]
        if written is not None and (written.done or self.module.check_mode) and _systemd.is_running(self.props):
            # In check mode the write is only predicted, and so is the restart it would cause.
            yield _config.restart_step(self.module, p["config_path"], unit, [self.systemctl, "restart", "--", unit], self.read_back)
        yield self.python_step()
        yield self.noexec_step()
        yield self.log_step()
        if p["auto_restart"]:
            yield self.auto_restart_step()
        yield self.version_step()
        yield self.service_step()

    def python_step(self) -> Step:
        """Whether the agent's Python, started as ExecStart starts it, imports the agent (report only)."""
        props = self.props
        argv = _agent.execstart_argv(props.get("ExecStart", ""))
        python, flags = self.python
        detail = {"exec_start": argv, "interpreter": python, "flags": flags}
        if not argv and _systemd.is_masked(props):
            return Step("agent_python", "skipped", "%s is masked, which hides its ExecStart; the next run checks its Python" % props["Id"], detail)
        if not python:
            why = ": " + self.python_problem if self.python_problem else ""
            return Step("agent_python", "found", "cannot tell which Python runs %s from ExecStart %s%s" % (props["Id"], " ".join(argv), why),
                        detail, severity="warning")
        started = " ".join(self.probe.get("command") or [python] + flags)
        if self.probe.get("imports"):
            return Step("agent_python", "ok", "%s imports azurelinuxagent (as %s's ExecStart starts it)" % (started, props["Id"]), detail)
        detail["error"] = [self.probe.get("error")]
        remedy = "reinstall the distribution's agent package"
        if flags:
            remedy += ", or take the interpreter flags %s out of ExecStart (systemctl cat %s shows where they are set)" % (" ".join(flags), props["Id"])
        return Step("agent_python", "found", "%s, the Python in %s's ExecStart, cannot import azurelinuxagent (%s): %s"
                    % (started, props["Id"], self.probe.get("error"), remedy), detail)

    def noexec_step(self) -> Step:
        with open(self.MOUNTINFO) as handle:
            mount = _agent.mount_of("/var/lib/waagent", handle.read())
        if mount and "noexec" in mount["options"]:
            return Step("agent_dir_noexec", "found", "/var/lib/waagent is on %s mounted noexec: extensions, the backup extension too, "
                        "cannot run; remove noexec from that mount (/etc/fstab) and remount" % mount["mount_point"], mount)
        return Step("agent_dir_noexec", "ok", "/var/lib/waagent allows execution", mount or {})

    def log_step(self) -> Step:
        path, hours = self.LOG, self.params["log_hours"]
        if not os.path.isfile(path):
            return Step("agent_log", "skipped", "%s does not exist" % path, {"path": path})
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 1024 * 1024))  # the last MiB is plenty for a day
            text = handle.read().decode("utf-8", "replace")
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        summary = dict(_agent.summarize_log(text, now, hours), path=path)
        # A line of known meaning is a finding even when the agent logged it as INFO ("WireServer is not responding"),
        # unless the agent logged working again after it.
        status = _agent.log_status(summary)
        return Step("agent_log", status, _agent.describe_log(summary, path), summary, severity="warning" if status == "found" else None)

    def auto_restart_step(self) -> Step:
        """Make the agent come back after a crash: a drop-in, then daemon-reload, read back."""
        unit, props = self.props["Id"], self.props
        path = _systemd.restart_dropin_path(unit)
        detail = {"unit": unit, "before": {"Restart": props.get("Restart")}, "dropin": path, "drop_ins": props.get("DropInPaths", "").split()}
        if _systemd.restarts_itself(props):
            return Step("agent_auto_restart", "ok", "%s restarts itself after a crash (Restart=always)" % unit, detail)
        current = files.read_bytes(path)
        if current == _systemd.RESTART_DROPIN.encode():
            return Step("agent_auto_restart", "failed",
                        "%s is in place but %s still has Restart=%s: a drop-in that sorts after it wins (%s). "
                        "Remove the Restart= line from that drop-in." % (path, unit, props.get("Restart"), " ".join(detail["drop_ins"])), detail)

        def add_dropin() -> None:
            try:
                saved = files.replace_file(self.module, path, _systemd.RESTART_DROPIN.encode(), self.params["backup"], expected=current)
            except files.Changed:
                # Another run wrote it meanwhile: ours is in place, or someone else's content is replaced once more.
                again = files.read_bytes(path)
                saved = None if again == _systemd.RESTART_DROPIN.encode() else files.replace_file(
                    self.module, path, _systemd.RESTART_DROPIN.encode(), self.params["backup"], expected=again)
            if saved:
                step.detail["backup_file"] = saved
            rc, out, err = self.module.run_command([self.systemctl, "daemon-reload"], handle_exceptions=False)
            if rc != 0:
                raise RemediationError("wrote %s but systemctl daemon-reload failed (rc=%d): %s" % (path, rc, (err or out).strip()), changed=True)
            self.props = self.show([unit])[0]
            step.detail["after"] = {"Restart": self.props.get("Restart")}
            if not _systemd.restarts_itself(self.props):
                raise RemediationError("wrote %s but %s still has Restart=%s: a drop-in that sorts after it wins (%s)"
                                       % (path, unit, self.props.get("Restart"), self.props.get("DropInPaths", "")), changed=True)

        diff = {"before": (current or b"").decode("utf-8", "replace"), "after": _systemd.RESTART_DROPIN, "before_header": path, "after_header": path}
        # The closures write what they learn into the step's own detail, which the runner reports.
        step = Step("agent_auto_restart", "found", "%s has Restart=%s: the agent stays down after a crash" % (unit, props.get("Restart")),
                    detail, change=Change("add %s" % path, add_dropin, diff, path))
        return step

    def package_manager(self) -> tuple:
        for name in ("apt-get", "dnf", "yum", "zypper"):
            path = self.module.get_bin_path(name)
            if path:
                return name, path
        return None, None

    def upgrade_commands(self, manager: str, path: str, package: str) -> list:
        if manager == "apt-get":
            # Bounded waits: a held lock or a dead mirror fails in seconds instead of hanging the play.
            bounded = ["-o", "DPkg::Lock::Timeout=%d" % self.params["lock_timeout"], "-o", "Acquire::http::Timeout=20", "-o", "Acquire::Retries=0"]
            # --force-confold keeps the waagent.conf this collection edited.
            return [[path, "update"] + bounded,
                    [path, "install", "--only-upgrade", "-y", "-o", "Dpkg::Options::=--force-confdef",
                     "-o", "Dpkg::Options::=--force-confold"] + bounded + [package]]
        if manager == "zypper":
            return [[path, "--non-interactive", "update", package]]
        return [[path, "-y", "upgrade" if manager == "dnf" else "update", package]]

    def version_step(self) -> Step:
        """The agent's version, from the one run of its Python; upgraded from the distribution's repositories when too old."""
        min_version, unit = self.params["min_version"], (self.props or {}).get("Id")
        waagent = _config.waagent_path(self.module)
        if not waagent:
            return Step("agent_version", "found", "the waagent command is missing although %s exists: reinstall the agent package" % unit,
                        {"unit": unit, "looked_in": "PATH and /usr/sbin"})
        before, source = None, "the agent's Python"
        if self.probe.get("version"):
            try:
                before = _version.parse_waagent_version(self.probe["version"])
            except ValueError:
                before = None
        if before is None:
            # The agent's Python did not import it as the unit starts it: ask waagent itself, as a shell would.
            before, error = self.waagent_version(waagent)
            source = "waagent --version"
            if before is None:
                return Step("agent_version", "failed",
                            "cannot read the agent's version: its Python cannot import azurelinuxagent (%s) and %s. Reinstall the "
                            "distribution's agent package." % (self.probe.get("error"), error), {"unit": unit, "probe_error": self.probe.get("error")})
        os_release = self.os_release()
        package = _version.agent_package(os_release)
        manager, manager_path = self.package_manager()
        detail = {"before": before, "min_version": min_version, "package": package, "package_manager": manager, "read_with": source,
                  "os": os_release.get("PRETTY_NAME", os_release.get("ID"))}
        seen = "agent %s (goal state %s)" % (before["daemon"], before["goal_state"] or "unknown")
        if not _version.older(before["daemon"], min_version):
            return Step("agent_version", "ok", "%s, minimum %s" % (seen, min_version), detail)
        old = "%s is older than the supported minimum %s" % (seen, min_version)
        if not package or not manager or not self.params["upgrade"]:
            why = ("upgrade the distribution's agent package" if self.params["upgrade"] is False
                   else "no known agent package for %s" % detail["os"] if not package else "no package manager found")
            return Step("agent_version", "found", "%s; %s" % (old, why), detail)

        def upgrade() -> None:
            outputs = []
            for cmd in self.upgrade_commands(manager, manager_path, package):
                rc, out, err = self.module.run_command(cmd, environ_update={"DEBIAN_FRONTEND": "noninteractive"}, handle_exceptions=False)
                outputs.append("%s: rc=%d %s" % (" ".join(cmd[:2]), rc, (err or out).strip()[-300:]))
            after, error = self.waagent_version(waagent)
            step.detail.update(after=after, package_output=outputs)
            if after is None or _version.older(after["daemon"], min_version):
                raise RemediationError(
                    "upgrading left %s: the configured repositories offer no newer agent, or the package manager failed or "
                    "was locked. Output: %s" % (after["daemon"] if after else error, " | ".join(outputs)), changed=after != before)
            if self.systemd:
                self.props = self.show([unit])[0]  # the package's scripts may have restarted it

        diff = {"before": "%s %s\n" % (package, before["daemon"]), "after": "%s >= %s\n" % (package, min_version),
                "before_header": "package " + package, "after_header": "package " + package}
        step = Step("agent_version", "found", old, detail,
                    change=Change("upgrade %s with %s from the distribution's repositories" % (package, manager), upgrade, diff))
        return step

    def service_step(self) -> Step:
        before = self.props
        unit = before["Id"]
        verbs = _systemd.plan_running_enabled(before)
        detail = {"unit": unit, "actions": verbs, "before": _systemd.state_summary(before)}
        if not verbs:
            return Step(CHECK, "ok", "%s is %s" % (unit, _systemd.describe(before)), detail)

        def run_verbs() -> None:
            done = step.detail.setdefault("done", [])
            for verb in verbs:
                args = ["unmask", "--runtime"] if verb == "unmask-runtime" else [verb]
                rc, out, err = self.module.run_command([self.systemctl] + args + ["--", unit], handle_exceptions=False)
                if rc != 0:
                    raise RemediationError("systemctl %s %s failed (rc=%d): %s" % (" ".join(args), unit, rc, err.strip() or out.strip()),
                                           changed=bool(done))
                done.append(verb)
            after = self.settle(unit, self.params["settle_timeout"])
            step.detail["after"] = _systemd.state_summary(after)
            if _systemd.plan_running_enabled(after):
                raise RemediationError("%s did not stay running after %s (now %s). Read 'journalctl -u %s' and /var/log/waagent.log on the VM."
                                       % (unit, ", ".join(verbs), _systemd.describe(after), unit), changed=True)

        step = Step(CHECK, "found", "%s is %s" % (unit, _systemd.describe(before)), detail,
                    change=Change("run: %s" % ", ".join(verbs), run_verbs, self.diff(before, verbs)))
        return step

    def read_back(self, unit: str) -> dict:
        """The unit after a restart, watched for the settle window; later steps report this state, not the one before."""
        self.props = self.settle(unit, self.params["settle_timeout"])
        state = _systemd.state_summary(self.props)
        if not _systemd.is_running(self.props):
            raise RemediationError("%s did not stay running after the restart (now %s). Read 'journalctl -u %s' and /var/log/waagent.log on the VM."
                                   % (unit, _systemd.describe(self.props), unit), changed=True, detail={"state_after": state})
        return state

    def settle(self, unit: str, timeout: float) -> dict:
        """Watch the unit for the settle window: a Type=simple agent is 'active' at once, so only staying up for a while proves the start."""
        deadline = time.monotonic() + timeout
        while True:
            props = self.show([unit])[0]
            if props.get("ActiveState") in ("failed", "inactive") or time.monotonic() >= deadline:
                return props
            time.sleep(0.5)

    @staticmethod
    def diff(before: dict, verbs: list[str]) -> dict:
        def render(running: bool, enabled: str) -> str:
            return "unit: %s\nrunning: %s\nunit file: %s\n" % (before["Id"], "yes" if running else "no", enabled)

        enabled_after = "enabled" if "enable" in verbs else before.get("UnitFileState", "")
        return {"before": render(_systemd.is_running(before), before.get("UnitFileState", "")), "after": render(True, enabled_after),
                "before_header": "systemd: " + before["Id"], "after_header": "systemd: " + before["Id"]}

    def without_systemd(self, names: list[str], written):
        """Hosts without systemd: the init script through service(8), and the version.
        Auto-restart and the unit's ExecStart are systemd's, so those checks are skipped."""
        service = self.module.get_bin_path("service")
        scripts = [n[:-len(".service")] for n in names]
        name = next((n for n in scripts if os.path.exists(os.path.join(self.INIT_D, n))), None)
        if not service or not name:
            raise RemediationError(
                "systemd is not running on this VM and no agent init script (%s in %s) or service command was found: "
                "install the distribution's agent package." % (" or ".join(scripts), self.INIT_D), check=CHECK)
        script = os.path.join(self.INIT_D, name)
        running = self.module.run_command([service, name, "status"], handle_exceptions=False)[0] == 0
        if written is not None and (written.done or self.module.check_mode) and running:
            yield _config.restart_step(self.module, self.params["config_path"], name, [service, name, "restart"])
        for check in ("agent_auto_restart", "agent_python"):
            yield Step(check, "skipped", "no systemd on this VM: not checked", {"init_script": script})
        yield self.version_step()
        detail = {"init_script": script, "manager": "service", "before": {"running": running}, "unit": name}
        if running:
            yield Step(CHECK, "ok", "%s runs (no systemd: checked with service %s status)" % (name, name), detail)
            return

        def start() -> None:
            rc, out, err = self.module.run_command([service, name, "start"], handle_exceptions=False)
            step.detail["after"] = {"running": self.module.run_command([service, name, "status"], handle_exceptions=False)[0] == 0}
            if rc != 0 or not step.detail["after"]["running"]:
                raise RemediationError("service %s start did not leave the agent running (rc=%d): %s. Read /var/log/waagent.log on the VM."
                                       % (name, rc, (err or out).strip()[-300:]), changed=True)

        step = Step(CHECK, "found", "%s is stopped (no systemd)" % name, detail,
                    change=Change("run: service %s start" % name, start, {"before": "%s: stopped\n" % name, "after": "%s: running\n" % name}))
        yield step
