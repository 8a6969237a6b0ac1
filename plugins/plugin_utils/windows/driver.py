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

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import service as svc
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
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


class WinCauseAction(ActionBase):
    """Subclasses set CAUSE and ARGUMENT_SPEC and implement check_and_fix()."""

    CAUSE = ""
    ARGUMENT_SPEC: dict = {}
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        """Findings learnt before a RemediationError are kept in the failed result."""
        result = super().run(tmp, task_vars)
        _validated, self.args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        self.task_vars = task_vars or {}
        self.check_mode = bool(self._task.check_mode)
        self.findings, self.diffs, self.changed = [], [], False
        # The capture switch (playbooks/capture.yml): every read is also kept on the controller.
        self.capture_dir, self.captured = self.capture_folder(), []
        if self.capture_dir and not self.check_mode:
            return dict(result, failed=True, msg="%s on %s: azure_backup_capture is on but the task is not in check mode; a capture "
                        "only reads. Nothing was read or changed." % (self.CAUSE, self.host))
        outcome = self.check_and_report(result)
        if self.capture_dir:
            try:
                self.keep_capture()
            except OSError as exc:
                outcome.update(failed=True, msg="%s: cannot keep the capture of %s in %s: %s" % (self.CAUSE, self.host, self.capture_dir, exc))
        return outcome

    def check_and_report(self, result: dict) -> dict:
        try:
            self.check_and_fix()
        except UnsupportedHost as exc:
            # The play skips this host's other causes when it sees unsupported_host.
            return dict(result, failed=True, changed=False, msg=exc.msg, findings=exc.findings, unsupported_host=True)
        except RemediationError as exc:
            return dict(result, failed=True, changed=self.changed or exc.changed, msg=exc.msg, findings=self.findings + exc.findings)
        result.update(changed=self.changed, findings=self.findings)
        if self.diffs and self._task.diff:
            result["diff"] = self.diffs
        failed = [f for f in self.findings if f["status"] == "failed"]
        if failed:
            result.update(failed=True, msg="; ".join(f["summary"] for f in failed))
        return result

    def check_and_fix(self) -> None:
        raise NotImplementedError

    @property
    def host(self) -> str:
        return self.task_vars.get("inventory_hostname", "this host")

    def add(self, check: str, status: str, summary: str, detail: dict | None = None, severity: str | None = None) -> dict:
        entry = finding(self.CAUSE, check, status, summary, detail, severity)
        self.findings.append(entry)
        return entry

    def diff(self, header: str, before: str, after: str) -> None:
        self.diffs.append({"before_header": header, "after_header": header, "before": before, "after": after})

    def fixed_or_found(self) -> str:
        """The status of a problem this run repairs: ``found`` in check mode (where the task reports
        changed for what it would change), ``fixed`` otherwise (changed is what the modules said)."""
        if self.check_mode:
            self.changed = True
            return "found"
        return "fixed"

    def ensure_service(self, check: str, service: dict, missing: str, automatic: bool = False, restart: bool = False) -> None:
        """A service that must run (and start automatically): ok, or started/set through win_service.
        ``missing`` says what to do when it is not installed (that is reported, never guessed at)."""
        detail = {"service": service["name"], "before": svc.describe(service)}
        if not service.get("exists"):
            self.add(check, "found", "%s is not installed: %s" % (service["name"], missing), detail)
            return
        change = svc.changes(service, automatic=automatic, restart=restart)
        if not change:
            self.add(check, "ok", detail["before"], detail)
            return
        action = svc.would(service, change)
        if not self.check_mode:
            self.apply("win_service", action, name=service["name"], **change)
        detail["after"] = svc.describe(svc.after(service, change))
        self.diff("service %s" % service["name"], detail["before"] + "\n", detail["after"] + "\n")
        self.add(check, self.fixed_or_found(), "%s: %s%s" % (detail["before"], "would " if self.check_mode else "", action), detail)

    def read(self, script: str, purpose: str, **parameters) -> dict:
        """Run a read-only script; its $Ansible.Result. ``purpose`` says what it reads, for the error."""
        answer = self._module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": _RESULT_DEPTH})
        if self.capture_dir:
            self.captured.append(capture.read_entry(self.CAUSE, script, purpose, parameters, answer))
        if answer.get("failed") or answer.get("skipped"):
            raise RemediationError("%s: reading %s on %s failed: %s. %sThe WinRM user must be an administrator."
                                   % (self.CAUSE, purpose, self.host, _why(answer), "" if self.changed else "Nothing was changed. "),
                                   changed=self.changed)
        return answer.get("result") or {}

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
