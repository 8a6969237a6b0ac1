# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Windows cause's action plugin shares.

A Windows cause runs on the controller: one PowerShell script (through ansible.windows.win_powershell)
reads everything the cause needs in one round trip, pure functions in module_utils decide, and only
what differs is changed, through the ansible.windows module made for it. In check mode nothing is
sent that could change the VM: the read-only scripts declare SupportsShouldProcess, so
win_powershell runs them in check mode too, and fixes are reported as ``found`` instead of run.
"""

from __future__ import annotations

import json
import os
import re

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import lock as vmlock
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import service as svc
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, CauseRun, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_atomically

# A PowerShell function read scripts put right after their param block: one service as
# _win_service decides on it. Win32_Service's State and StartMode are not localised.
GET_SERVICE_STATE = r"""
function Get-ServiceState {
    param([string]$Name)
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'"
    if (-not $service) {
        return @{ name = $Name; exists = $false }
    }
    @{
        name = $Name; exists = $true; state = $service.State; start_mode = $service.StartMode
        delayed = [bool]$service.DelayedAutoStart; path = $service.PathName
    }
}
"""

# Nested results deeper than win_powershell's depth come back as type names; ours are at most 4 deep.
_RESULT_DEPTH = 6
# The tag on the first line of every collection script.
_TAG = re.compile(r"#\s*azure_backup\.remediation/([\w.-]+)")

# ansible-core's bootstrap_wrapper.ps1 answers every module with this on PowerShell below 5.1
# (ansible/executor/powershell/bootstrap_wrapper.ps1), before any of our scripts could run.
_OLD_POWERSHELL = "Ansible requires PowerShell"
# Sent as a raw command, without Ansible's module wrapper, so that it answers on any PowerShell
# (2.0 on): the version, and the OS build to say which Windows it is.
POWERSHELL_VERSION = r"""#azure_backup.remediation/host.powershell_version
'{0}|{1}' -f $PSVersionTable.PSVersion, [Environment]::OSVersion.Version
"""


class UnsupportedHost(RemediationError):
    """No cause can be checked on this host; the finding says why and what to do."""

    def __init__(self, entry: dict) -> None:
        super().__init__(entry["summary"], findings=[entry])


class WinCauseRun(CauseRun):
    """core/runner.py's CauseRun, where a change's apply may also return what it read back as a Step.

    A Windows fix often learns its outcome only from the answer of the script that made it: a restart
    the VM refused because a backup started meanwhile (``found``), a reset that stopped half-way
    (``failed``), or one that worked and says what it did (``fixed``). That Step's status, summary and
    detail then make the finding, instead of "did <action>"; check mode, diffs and errors stay the runner's.
    """

    def record(self, step: Step) -> dict:
        change = step.change
        if change is None or self.check_mode:
            return super().record(step)
        apply, told, changed = change.apply, [], self.changed

        def applied():
            try:
                answer = apply()
            except UnsupportedHost as exc:  # not this change's failure: no cause can be checked on this host
                raise HostRefused(exc) from None
            if isinstance(answer, Step):
                told.append(answer)
                return None
            return answer
        change.apply = applied
        try:
            entry = super().record(step)
        finally:
            change.apply = apply
        if not (told and change.done):
            return entry
        outcome = told[0]
        change.done = outcome.status == "fixed"
        if not change.done:  # nothing (or not all) was changed: no "changed" or diff of its own
            self.changed = changed
            if change.diff in self.diffs:
                self.diffs.remove(change.diff)
        self.findings.pop()  # entry, the runner's "did <action>": the outcome says more
        if outcome.status == "failed":
            self.errors.append(outcome.summary)
        return self.add(step.check, outcome.status, outcome.summary, dict(step.detail, **outcome.detail), outcome.severity or step.severity)


class HostRefused(Exception):
    """An UnsupportedHost met while applying a change, carried past the runner, which would make it the change's finding."""


def text_diff(header: str, before: str, after: str) -> dict:
    """One --diff entry: ``before`` and ``after`` as text under one header."""
    return {"before_header": header, "after_header": header, "before": before, "after": after}


class WinCauseAction(ActionBase):
    """Subclasses set CAUSE and ARGUMENT_SPEC and implement steps(): a generator of Steps (core/runner.py)
    whose Changes apply through self.apply(); WinCauseRun reports them."""

    CAUSE = ""
    ARGUMENT_SPEC: dict = {}
    # Only where the MARS agent is installed (mars.py): the host read skips the cause elsewhere.
    NEEDS_MARS = False
    _supports_check_mode = True

    # Set for one cause run by run_cause: its first read, already done by the host read (run_windows_causes),
    # and the VM's run lock, taken before the first change.
    prefetched: dict | None = None
    # When the answer of the last read() arrived, by the controller's clock, where the host read served it; None otherwise.
    read_received = None
    host_lock: vmlock.HostLock | None = None
    lock_refused: str | None = None

    def run(self, tmp=None, task_vars=None):
        """Findings learnt before a RemediationError are kept in the failed result."""
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return self.run_cause(result, args, task_vars)

    def start(self, args: dict, task_vars: dict | None) -> None:
        """The cause's inputs, before first_read() or steps() use them."""
        self.args = args
        self.task_vars = task_vars or {}
        self.check_mode = bool(self._task.check_mode)
        # Set by self.apply() and the detached runner: the VM was changed, also by a change that then failed.
        self.changed = False

    def run_cause(self, result: dict, args: dict, task_vars: dict | None, prefetched: dict | None = None,
                  host_lock: vmlock.HostLock | None = None) -> dict:
        """The cause with validated ``args``. ``prefetched`` serves its first read (see read()); ``host_lock`` is
        taken before its first change (see _execute_module())."""
        self.start(args, task_vars)
        self.prefetched, self.host_lock = prefetched, host_lock
        # The capture switch (playbooks/capture.yml): every read is also kept on the controller.
        self.capture_dir, self.captured = self.capture_folder(), []
        if self.capture_dir and not self.check_mode:
            return dict(result, failed=True, msg="%s on %s: azure_backup_capture is on but the task is not in check mode; a capture "
                        "only reads. Nothing was read or changed." % (self.CAUSE, self.host))
        self.lock_refused = None
        try:
            outcome = self.check_and_report(dict(result))
        except vmlock.ReadAgain:
            # The lock came after another run's changes: nothing was changed by this one yet, so the cause
            # starts again from what is there now (the lock is held from here on).
            self.start(args, task_vars)
            self.prefetched = None
            outcome = self.check_and_report(dict(result))
        if self.lock_refused and not any(f["status"] == "failed" for f in outcome.get("findings") or []):
            # The change the lock was refused for ended the cause: it is said as a failed finding.
            summary = "%s: %s" % (self.CAUSE, self.lock_refused)
            outcome.setdefault("findings", []).append(finding(self.CAUSE, "lock", "failed", summary, {"lock": vmlock.PATH}))
            outcome.update(failed=True, msg=outcome.get("msg") or summary)
        if self.capture_dir:
            try:
                self.keep_capture()
            except OSError as exc:
                outcome.update(failed=True, msg="%s: cannot keep the capture of %s in %s: %s" % (self.CAUSE, self.host, self.capture_dir, exc))
        return outcome

    def first_read(self) -> tuple | None:
        """(script, purpose, parameters) of the read steps() starts with, from self.args; None when it has
        none or the arguments are refused (steps() says why). run_windows_causes runs it in the host read."""
        return None

    def check_and_report(self, result: dict) -> dict:
        self.unsupported: UnsupportedHost | None = None
        try:
            report = WinCauseRun(self.CAUSE, self.check_mode).run(self._steps_watching_host).result()
        except HostRefused as exc:
            self.unsupported, report = exc.args[0], {}
        if self.unsupported is not None:
            # The play skips this host's other causes when it sees unsupported_host.
            return dict(result, failed=True, changed=False, msg=self.unsupported.msg, findings=self.unsupported.findings, unsupported_host=True)
        report["changed"] = report["changed"] or self.changed
        if not self._task.diff:
            report.pop("diff", None)
        result.update(report)
        return result

    def _steps_watching_host(self):
        try:
            yield from self.steps()
        except UnsupportedHost as exc:
            self.unsupported = exc
            raise

    def steps(self):
        """The cause's Steps, one per check; reads through self.read(), changes through Changes."""
        raise NotImplementedError

    @property
    def host(self) -> str:
        return self.task_vars.get("inventory_hostname", "this host")

    def change(self, action: str, module: str, purpose: str, diff: dict | None = None, **args) -> Change:
        """A Change that runs one ansible.windows module; ``action`` says what it does, ``purpose`` names it in an error."""
        def apply() -> None:
            self.apply(module, purpose, **args)
        return Change(action, apply, diff)

    def service_step(self, check: str, service: dict, missing: str, automatic: bool = False, restart: bool = False) -> Step:
        """A service that must run (and start automatically): ok, or a Change that starts/sets it through win_service.
        ``missing`` says what to do when it is not installed (that is reported, never guessed at)."""
        detail = {"service": service["name"], "before": svc.describe(service)}
        if not service.get("exists"):
            return Step(check, "found", "%s is not installed: %s" % (service["name"], missing), detail)
        args = svc.changes(service, automatic=automatic, restart=restart)
        if not args:
            return Step(check, "ok", detail["before"], detail)
        action = svc.would(service, args)
        detail["after"] = svc.describe(svc.after(service, args))
        diff = text_diff("service %s" % service["name"], detail["before"] + "\n", detail["after"] + "\n")
        change = self.change(action, "win_service", action, diff, name=service["name"], **args)
        return Step(check, "found", detail["before"], detail, change=change)

    def read(self, script: str, purpose: str, **parameters) -> dict:
        """Run a read-only script; its $Ansible.Result. ``purpose`` says what it reads, for the error.
        The cause's first read is served from the host read when it is the same script with the same
        parameters and nothing was changed before it; any other read runs now."""
        answer = self.take_prefetched(script, parameters)
        if answer is None:
            answer = self._module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": _RESULT_DEPTH})
        if self.capture_dir:
            self.captured.append(capture.read_entry(self.CAUSE, script, purpose, parameters, answer))
        if answer.get("failed") or answer.get("skipped"):
            raise RemediationError("%s: reading %s on %s failed: %s. %sThe WinRM user must be an administrator."
                                   % (self.CAUSE, purpose, self.host, _why(answer), "" if self.changed else "Nothing was changed. "),
                                   changed=self.changed)
        return answer.get("result") or {}

    def take_prefetched(self, script: str, parameters: dict) -> dict | None:
        """The host read's answer for the cause's first read, or None: another script or parameters than it
        declared, or anything changed before it (then it reads what is there now)."""
        prefetched, self.prefetched = self.prefetched, None
        self.read_received = None
        if not prefetched or self.changed or (self.host_lock is not None and self.host_lock.waited):
            return None
        if script_tag(script) != prefetched["tag"] or same_parameters(parameters) != same_parameters(prefetched["parameters"]):
            return None
        self.read_received = prefetched.get("received")
        return prefetched["answer"]

    def run_script(self, script: str, parameters: dict) -> dict:
        """One of the driver's own scripts (the host read, the run lock): win_powershell's whole answer."""
        return self._module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": _RESULT_DEPTH + 3})

    def capture_folder(self) -> str | None:
        """Where captured reads go (azure_backup_capture_dir, default ``captures``), or None when not capturing."""
        if not boolean(self._templar.template(self.task_vars.get("azure_backup_capture", False)), strict=False):
            return None
        return str(self._templar.template(self.task_vars.get("azure_backup_capture_dir") or "captures"))

    def capture_parts(self) -> str:
        """This host's folder of captured reads, one file per cause, until win_capture joins them."""
        return os.path.join(self.capture_dir, "." + capture.host_file_name(self.host) + ".parts")

    def keep_capture(self) -> None:
        """This task's reads, also when it failed: a failing read is worth capturing too."""
        folder = self.capture_parts()
        sequence = len(os.listdir(folder)) if os.path.isdir(folder) else 0
        data = json.dumps(self.captured, indent=1, sort_keys=True, default=str).encode("utf-8")
        write_atomically(os.path.join(folder, capture.part_name(sequence, self.CAUSE)), data)

    def apply(self, module: str, purpose: str, **args) -> dict:
        """Run an ansible.windows module that changes the VM. Never in check mode: callers report instead."""
        if self.check_mode:
            raise RuntimeError("%s: %s was about to be sent in check mode" % (self.CAUSE, module))
        answer = self._module("ansible.windows." + module, args)
        if answer.get("failed"):
            raise RemediationError("%s: %s on %s failed: %s" % (self.CAUSE, purpose, self.host, _why(answer)), changed=self.changed)
        self.changed = self.changed or bool(answer.get("changed"))
        return answer

    def _module(self, name: str, args: dict) -> dict:
        answer = self._execute_module(module_name=name, module_args=args, task_vars=self.task_vars)
        if str(answer.get("msg") or "").startswith(_OLD_POWERSHELL):
            raise UnsupportedHost(self.old_powershell(answer["msg"]))
        return answer

    def _execute_module(self, module_name=None, module_args=None, *args, **kwargs):
        """Every module run of a cause goes through here: in apply mode, the VM's run lock is taken before the first
        one that can change it (anything but our read scripts)."""
        if not self.check_mode and may_change(module_name, module_args):
            self.prefetched = None  # what the host read saw may be gone now
            if self.host_lock is not None:
                try:
                    self.host_lock.hold(self)
                except vmlock.LockBusy as exc:
                    self.lock_refused = exc.msg
                    raise
        return super()._execute_module(module_name, module_args, *args, **kwargs)

    def old_powershell(self, refusal: str) -> dict:
        """The one finding for a host whose PowerShell Ansible cannot use: its version, read raw."""
        version, build = "below 5.1", None
        try:
            raw = self._low_level_execute_command(POWERSHELL_VERSION)
            if raw.get("rc") == 0 and "|" in raw.get("stdout", ""):
                version, build = [part.strip() for part in raw["stdout"].strip().split("|", 1)]
        except AnsibleError:
            pass  # the refusal alone says enough
        return finding("HOST", "powershell", "failed",
                       "PowerShell %s on %s%s; Ansible's Windows modules need PowerShell 5.1. Install Windows Management "
                       "Framework 5.1, or upgrade the VM to Windows Server 2016 or later, which comes with it. No cause was checked on this host."
                       % (version, self.host, " (Windows %s)" % build if build else ""),
                       {"powershell_version": version, "os_build": build, "ansible_said": refusal})


def script_tag(script: str) -> str | None:
    match = _TAG.search(script or "")
    return match.group(1) if match else None


def same_parameters(parameters: dict) -> str:
    """Parameters as JSON compares them: a tuple and a list with the same items are the same argument."""
    return json.dumps(parameters, sort_keys=True, default=str)


# The driver's own scripts that never change anything the lock protects.
_LOCK_SCRIPTS = ("host.lock", "host.unlock")


def may_change(module: str | None, args: dict | None) -> bool:
    """Whether a module run can change the VM: every module but win_powershell with one of our read scripts."""
    if module != "ansible.windows.win_powershell":
        return True
    tag = script_tag(str((args or {}).get("script") or ""))
    return not (tag and (tag.endswith(".read") or tag in _LOCK_SCRIPTS))


def _why(answer: dict) -> str:
    """The reason a module gave: win_powershell's error records carry it in error_details.message (when the
    script set one) or exception.message (ansible.windows win_powershell.ps1); other modules say ``msg``."""
    errors = [_error_message(e) for e in answer.get("error") or []]
    return "; ".join(e for e in errors if e) or answer.get("msg") or "no reason given"


def _error_message(record) -> str:
    if not isinstance(record, dict):
        return str(record)
    details, exception = record.get("error_details") or {}, record.get("exception") or {}
    message = (details.get("message") or exception.get("message") or "").strip()
    if not message:  # Out-String of the record: its first line is the message
        message = next(iter(str(record.get("output") or "").strip().splitlines()), "")
    return message
