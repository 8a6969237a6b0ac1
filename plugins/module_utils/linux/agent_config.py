# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""/etc/waagent.conf and the agent's own Python on the VM, for every cause that needs them (LINUX_AGENT's
linux_agent and waagent_config, NETWORK's proxy): read once, decide with waagent_conf, yield Steps.

The file is written by one Change, carried by the first setting that differs, with compare-and-swap
against the bytes the decision was made on; a file changed meanwhile is read and decided again once.
The agent's Python is started once per run (``probe_agent``): it imports the agent, says its version and
reads the file as the agent does."""

from __future__ import annotations

import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent as _agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.core import files
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import systemd as _systemd
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import waagent_conf as conf
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause

SYSTEMD_RUNTIME = "/run/systemd/system"


def check_name(key: str) -> str:
    return "config_" + key.lower().replace(".", "_")


def waagent_path(module) -> str | None:
    return module.get_bin_path("waagent", opt_dirs=["/usr/sbin"])


def shebang_of(path: str | None) -> str | None:
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.readline(200).decode("utf-8", "replace").strip()


# The probe starts as systemd starts the agent: a clean environment (systemd's default PATH plus the unit's
# Environment=), not Ansible's (its PYTHONPATH, its working directory), bounded so a hanging import cannot
# hold the VM's lock.
PROBE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TIMEOUT = 60


def probe_command(module, python: str, flags: list, conf_path: str, env: dict | None = None) -> list:
    """`timeout 60 env -i PATH=... LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 <unit env> python flags -c PROBE conf`."""
    assignments = ["PATH=" + PROBE_PATH, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"]
    # After the defaults: the unit's own values win, as they do under systemd.
    assignments += ["%s=%s" % kv for kv in (env or {}).items() if kv[0] and "=" not in kv[0] and not kv[0].startswith("-")]
    cmd = [module.get_bin_path("env") or "/usr/bin/env", "-i"] + assignments + [python] + list(flags or []) + ["-c", _agent.PROBE, conf_path]
    timeout = module.get_bin_path("timeout")
    return [timeout, str(PROBE_TIMEOUT)] + cmd if timeout else cmd


def probe_agent(module, conf_path: str, python: str | None = None, flags: list | None = None, env: dict | None = None) -> dict:
    """One run of the agent's Python (causes/linux_agent.PROBE): whether it imports the agent, the text of
    `waagent --version` and the settings of `conf_path` as `waagent -show-configuration` prints them.
    Without `python`, the interpreter of the waagent script's shebang is used, with the shebang's flags."""
    if not python:
        python, flags = _agent.agent_python([waagent_path(module) or "waagent"], shebang_of(waagent_path(module)))
    if python and not python.startswith("/"):
        python = module.get_bin_path(python)
    if not python:
        return {"imports": False, "error": "no Python found for the agent (no waagent script with a #! line)",
                "version": None, "configuration": None, "command": None}
    command = [python] + list(flags or [])
    cmd = probe_command(module, python, flags or [], conf_path, env)
    try:
        # handle_exceptions=False: a missing interpreter (a distribution upgrade removed the one ExecStart names)
        # is this check's finding, not a fail_json that would end every cause of the run. cwd "/": not the
        # become user's folder, where a json.py or azurelinuxagent/ would be imported as root.
        rc, out, err = module.run_command(cmd, cwd="/", handle_exceptions=False)
    except OSError as exc:
        return {"imports": False, "error": "the agent's interpreter %s cannot be started: %s; reinstall the distribution's agent "
                "package, or fix the ExecStart of its unit" % (python, exc.strerror or exc), "version": None, "configuration": None,
                "command": command}
    if rc == 124 and os.path.basename(cmd[0]) == "timeout" and not out:
        return {"imports": False, "error": "the agent's Python did not answer within %d s (a hanging import); it was stopped"
                % PROBE_TIMEOUT, "version": None, "configuration": None, "command": command}
    if rc == 127 and "No such file" in (err or ""):
        return {"imports": False, "error": "the agent's interpreter %s cannot be started: %s; reinstall the distribution's agent "
                "package, or fix the ExecStart of its unit" % (python, err.strip()), "version": None, "configuration": None,
                "command": command}
    return dict(_agent.parse_probe(rc, out, err), command=command)


def agent_view(probe: dict | None) -> dict | None:
    """The settings as the agent reads them, from a probe; None where it could not say."""
    if not probe or not probe.get("configuration"):
        return None
    return conf.parse_show_configuration(probe["configuration"]) or None


def read(path: str) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, text, None), or (bytes or None, None, the reason the file cannot be used)."""
    data = files.read_bytes(path)
    if data is None:
        return None, None, ("%s does not exist: the agent has no configuration. Reinstall the distribution's agent package "
                            "(waagent, walinuxagent or WALinuxAgent) to restore it." % path)
    bad = data.find(b"\0")
    if bad < 0:
        try:
            return data, data.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            bad = exc.start
    return data, None, ("%s is not a text file (byte %d is not UTF-8 text): it is corrupt and was left unchanged. Restore it from a "
                        "backup or from the agent package (for example: apt-get install --reinstall -o Dpkg::Options::=--force-confask waagent)."
                        % (path, bad))


def wanted_settings(settings: dict) -> dict:
    """The settings to write, validated; ValueError says what is wrong."""
    wanted = {}
    for key, value in settings.items():
        if isinstance(value, bool):
            value = "y" if value else "n"
        wanted[key] = conf.validate(key, str(value))
    return wanted


def decide(text: str, wanted: dict, path: str) -> str:
    """The new text; RemediationError when the agent would read it otherwise than asked."""
    after = conf.set_values(text, wanted)
    values = conf.effective(after)
    wrong = {k: values.get(k) for k, v in wanted.items() if values.get(k) != v}
    if wrong:
        raise RemediationError("editing %s would leave %s; the file was left unchanged" % (path, wrong), check="config_file")
    return after


class AgentConfig:
    """The Steps for waagent.conf: one per enforced setting, the report, lines the agent ignores."""

    def __init__(self, module, path: str, backup: bool = True, cause: str = "LINUX_AGENT") -> None:
        self.module, self.path, self.backup, self.cause = module, path, backup, cause
        self.written: str | None = None  # the text written, when it was written
        self.verified: dict | None = None  # the agent's view read back after the write

    def _cause(self, key: str) -> str | None:
        """The cause a setting's finding belongs to, when not this run's (the proxy is NETWORK's)."""
        owner = conf.CAUSE_OF.get(key, "LINUX_AGENT")
        return owner if owner != self.cause else None

    def steps(self, settings: dict, report: list | None = None, view: dict | None = None, verify=None):
        """Yield the Steps; return the Change that writes the file (None when nothing to write), so the caller
        restarts the agent only once it is done. ``view``: the settings as the agent read them before (for the
        report); ``verify()``: the agent's view after a write, or None where it cannot say."""
        try:
            wanted = wanted_settings(settings)
        except ValueError as exc:
            yield Step("config_file", "failed", "settings: %s. Nothing was changed in %s." % (exc, self.path), {"path": self.path})
            return None
        data, text, problem = read(self.path)
        if problem:
            yield Step("config_file", "failed", problem, {"path": self.path})
            return None
        try:
            after = decide(text, wanted, self.path)
        except RemediationError as exc:
            yield Step("config_file", "failed", exc.msg, {"path": self.path})
            return None
        now = conf.effective(text)
        differ = [k for k, v in wanted.items() if now.get(k) != v]
        change = None
        if differ:
            target = ", ".join("%s=%s" % (k, wanted[k]) for k in differ)
            change = Change("set %s in %s" % (target, self.path), None,
                            diff={"before": text, "after": after, "before_header": self.path, "after_header": self.path}, path=self.path)
        for key, value in wanted.items():
            detail = {"setting": key, "before": now.get(key), "after": value, "path": self.path}
            if key not in differ:
                yield Step(check_name(key), "ok", "%s=%s in %s" % (key, value, self.path), detail, cause=self._cause(key))
                continue
            was = "%s is %s in %s" % (key, "unset" if now.get(key) is None else now[key], self.path)
            if key == differ[0]:
                step = Step(check_name(key), "found", was, detail, change=change, cause=self._cause(key))
                change.apply = lambda step=step: self._write(data, after, wanted, step.detail, verify)
                yield step
            elif self.module.check_mode:
                yield Step(check_name(key), "found", "%s; would set it to %s" % (was, value), detail, cause=self._cause(key))
            elif change.done:
                yield Step(check_name(key), "fixed", "%s; set it to %s" % (was, value), detail, cause=self._cause(key))
            else:
                yield Step(check_name(key), "found", "%s; not set: writing %s failed (finding %s)" % (was, self.path, check_name(differ[0])),
                           detail, cause=self._cause(key))
        if report:
            if change is not None and change.done:
                # Written: the values now, as the agent read them back after the write where it could say so.
                now = conf.effective(self.written or after)
                if view or self.verified:
                    # Later sources win: what was read before, what was written, what the agent read back.
                    view = dict(view or {})
                    view.update({k: now[k] for k in differ if k in now})
                    view.update(self.verified or {})
            # As the agent reads them, its defaults included, where the agent can say so.
            reported = {key: view[key] if view and key in view else now.get(key) for key in report}
            source = "the agent's own configuration reader" if view else self.path
            yield Step("config_report", "ok", "%s (read with %s)" % (", ".join("%s=%s" % kv for kv in reported.items()), source),
                       {"values": reported, "path": self.path, "source": source})
        ignored = conf.not_settings(text)
        if ignored:
            yield Step("config_unparsed", "found", "%d line(s) of %s are neither settings nor comments; the agent ignores them"
                       % (len(ignored), self.path), {"lines": ignored[:20], "path": self.path}, severity="warning")
        return change

    def _write(self, data: bytes, after: str, wanted: dict, detail: dict, verify) -> None:
        """Compare-and-swap against the bytes decided on; a file changed meanwhile is read and decided again, once."""
        try:
            saved = files.replace_file(self.module, self.path, after.encode("utf-8"), self.backup, expected=data)
        except files.Changed:
            data, text, problem = read(self.path)
            if problem:
                raise RemediationError("%s changed while this run decided on it, and now: %s" % (self.path, problem))
            after = decide(text, wanted, self.path)
            if after == text:
                detail["note"] = "%s already said so when written: another run set it" % self.path
                self.written = text
                return None
            saved = files.replace_file(self.module, self.path, after.encode("utf-8"), self.backup, expected=data)
        self.written = after
        if saved:
            detail["backup_file"] = saved  # the runner copies the detail into the finding after apply
        view = self.verified = verify() if verify else None
        differ = {k: view[k] for k, v in wanted.items() if view and k in view and view[k] != v}
        if differ:
            raise RemediationError("%s now says %s, but the agent reads %s; the backup is %s" % (self.path, wanted, differ, saved),
                                   changed=True)
        return None


def running_agent(module, unit: str = "auto") -> tuple[str, list] | None:
    """The running agent (systemd unit, or init script without systemd) and the command that restarts it; None when none runs."""
    units = _systemd.candidate_units(unit)
    systemctl = module.get_bin_path("systemctl")
    if systemctl and os.path.isdir(SYSTEMD_RUNTIME):
        rc, out, _err = module.run_command([systemctl, "show", "--property=Id,LoadState,ActiveState", "--"] + units, handle_exceptions=False)
        running = [u["Id"] for u in _systemd.parse_show(out) if _systemd.is_running(u)] if rc == 0 else []
        return (running[0], [systemctl, "restart", "--", running[0]]) if running else None
    service = module.get_bin_path("service")
    for name in (u[:-len(".service")] for u in units):
        if service and module.run_command([service, name, "status"], handle_exceptions=False)[0] == 0:
            return name, [service, name, "restart"]
    return None


def restart_step(module, path: str, name: str, command: list, read_back=None) -> Step:
    """Restart the agent so it reads the changed file (it reads it only when it starts). ``read_back(name)``:
    the agent's state after the restart, reported in the finding (raises when it did not stay up)."""
    def restart() -> str:
        rc, out, err = module.run_command(command, handle_exceptions=False)
        if rc != 0:
            raise RemediationError("%s (rc=%d)" % ((err or out).strip() or "no output", rc), changed=False)
        if read_back:
            state = step.detail["state_after"] = read_back(name)
            return "restarted %s; it is %s" % (name, _systemd.describe(state))
        return "restarted %s" % name

    step = Step("agent_restart", "found", "%s changed; the agent reads it only when it starts" % path,
                {"unit": name, "path": path}, change=Change("restart %s" % name, restart))
    return step


class WaagentConfig(LinuxCause):
    """The waagent_config module: settings of waagent.conf alone, the agent restarted on request after a change."""

    ID = "LINUX_AGENT"
    ARGUMENT_SPEC = {
        "path": {"type": "path", "default": "/etc/waagent.conf"},
        "settings": {"type": "dict", "required": True},
        "report": {"type": "list", "elements": "str", "default": []},
        "backup": {"type": "bool", "default": True},
        "restart_agent": {"type": "bool", "default": False},
    }

    def steps(self):
        p = self.params
        probe = probe_agent(self.module, p["path"]) if p["report"] else None  # the agent's view, only when a report needs it

        def verify():
            return agent_view(probe_agent(self.module, p["path"]))

        written = yield from AgentConfig(self.module, p["path"], p["backup"]).steps(
            p["settings"], p["report"], agent_view(probe), verify if waagent_path(self.module) else None)
        if p["restart_agent"] and written is not None and (written.done or self.module.check_mode):
            running = running_agent(self.module)
            if running:
                yield restart_step(self.module, p["path"], *running)
