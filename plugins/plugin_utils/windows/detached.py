# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running one collection script on a Windows VM detached from the WinRM session.

A step that may cut the connection it is sent over (the DHCP switch), or that must not be killed
half-way when the connection drops (ansible's winrm plugin terminates the remote shell when a
receive fails), runs in a one-shot scheduled task as SYSTEM instead. The task writes a marker
(JSON, written whole and then renamed) that the controller reads back, reconnecting as often as
it must, as ansible-core's reboot action does.

Use from an action plugin::

    class ActionModule(WinDetachedAction):
        ...
        outcome = self.run_detached(tag, script, parameters, purpose, timeout)

``script`` is a PowerShell script whose first line is ``#azure_backup.remediation/<tag>``, with a
param() block, that ends by emitting ONE hashtable. ``outcome`` is ``{"state": "done", "result":
<that hashtable>, "marker": path}``, ``{"state": "failed", "error": message, "marker": path}`` when
the script threw, or ``{"state": "unknown", "marker": path, "registered": bool}`` when no marker
came within ``timeout`` seconds (plus ``task``, ``task_state``, ``last_result``, ``started``,
``last_error``, ``register_answer_lost`` to say what was seen). A failed registration raises
RemediationError: nothing ran then.

How the script gets to run, and why:
- No script file is executed. The task runs ``powershell.exe -EncodedCommand <bootstrap>``. An
  execution policy applies to script files (.ps1) and configuration files, not to commands
  (Microsoft Learn, about_Execution_Policies), so a Group Policy AllSigned, which overrides
  ``-ExecutionPolicy`` (the Process scope: MachinePolicy and UserPolicy take precedence, same
  page), cannot stop it. The bootstrap reads the job (script and parameters, serialized) from the
  working folder and refuses it unless its SHA-256 is the one written into the task's command
  line, so a swapped file is never run.
- Only the small bootstrap is encoded: a command line is at most 32,767 characters
  (CreateProcessW, lpCommandLine, Microsoft Learn), and an encoded script doubles (UTF-16) and
  grows by a third (Base64); COMMAND_LINE_LIMIT is checked on the VM before registering.
- The working folder C:\\ProgramData\\azure-backup\\tasks is created with a protected ACL (SYSTEM
  and Administrators, owner Administrators) in one call (Directory.CreateDirectory with a
  DirectorySecurity, .NET Framework). An existing folder owned by anyone else, or one that lets
  anyone else write to it (or, for its parent, delete or re-permission it), is refused: ordinary
  users may create folders under C:\\ProgramData and own what they create.
- Principal by SID, S-1-5-18 (LocalSystem, "Well-known SIDs", Microsoft Learn), not by a name.
- The task is started with Start-ScheduledTask right after registering. A one-time trigger a few
  seconds ahead would never fire if registering took longer; StartWhenAvailable alone starts a
  missed task only after a delay, 10 minutes by default (TaskSettings.StartWhenAvailable,
  Microsoft Learn). The trigger (with StartWhenAvailable) stays as a fallback and gives the task an
  end boundary, after which DeleteExpiredTaskAfter removes it; a lock file makes a second start
  leave at once. The bootstrap waits ``delay`` seconds first, so the registering call can answer.
"""

from __future__ import annotations

import json
import time

from ansible.errors import AnsibleError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import protected
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction, _why

try:  # pywinrm raises its own errors for a shell that died with the address it ran over
    from winrm.exceptions import WinRMError, WinRMTransportError
    _WINRM_ERRORS: tuple = (WinRMError, WinRMTransportError)
except ImportError:  # not installed: then the winrm connection is not used either
    _WINRM_ERRORS = ()

# Every error a lost or reset connection surfaces as: ansible's connection errors (AnsibleConnectionFailure
# is an AnsibleError, and the winrm plugin raises plain AnsibleError for "send_input failed"), pywinrm's,
# and OSError (requests' ConnectionError is one).
CONNECTION_ERRORS: tuple = (AnsibleError, OSError) + _WINRM_ERRORS

ROOT = protected.ROOT
WORK_DIR = ROOT + r"\tasks"
# CreateProcessW: "The maximum length of this string is 32,767 characters" (lpCommandLine, Microsoft Learn).
COMMAND_LINE_LIMIT = 32767
# Seconds the bootstrap waits before it runs the script, and between two read-backs.
START_DELAY = 5
POLL_SECONDS = 3
# Seconds the task may run past the controller's timeout before Task Scheduler stops it.
TIME_LIMIT_MARGIN = 300
# Shared by REGISTER and PREPARE (and the run lock, lock.py).
WORK_FOLDER = protected.WORK_FOLDER


PREPARE = r"""#azure_backup.remediation/detached.prepare
# Makes sure the working folder is safe (created protected, or refused), for a file that something run as
# SYSTEM will use (the agent MSI msiexec installs). Changes the VM: never sent in check mode.
[CmdletBinding()]
param(
    [string]$Root,
    [string]$Directory
)
$ErrorActionPreference = 'Stop'
""" + WORK_FOLDER + r"""
$Ansible.Changed = Assert-WorkFolder -Root $Root -Directory $Directory
$Ansible.Result = @{ directory = $Directory }
"""

REGISTER = r"""#azure_backup.remediation/detached.register
# Makes sure the working folder is safe (created protected, or refused), writes the job (script and
# parameters) into it, and registers and starts a one-shot task that runs the bootstrap as SYSTEM
# by -EncodedCommand. Changes the VM: never sent in check mode.
[CmdletBinding()]
param(
    [string]$Root,
    [string]$Directory,
    [string]$TaskName,
    [string]$Script,
    [System.Collections.IDictionary]$Parameters,
    [string]$Bootstrap,
    [int]$DelaySeconds,
    [int]$TimeLimitSeconds,
    [int]$CommandLimit
)
$ErrorActionPreference = 'Stop'

""" + WORK_FOLDER + r"""
$null = Assert-WorkFolder -Root $Root -Directory $Directory

$job = Join-Path -Path $Directory -ChildPath "$TaskName.job"
$marker = Join-Path -Path $Directory -ChildPath "$TaskName.json"
$serialized = [System.Management.Automation.PSSerializer]::Serialize(@{ script = $Script; parameters = $Parameters }, 6)
$bytes = [System.Text.Encoding]::UTF8.GetBytes($serialized)
# CreateNew: a file of that name that is already there (whoever made it) is an error, never reused.
$stream = New-Object -TypeName System.IO.FileStream -ArgumentList $job, ([System.IO.FileMode]::CreateNew), ([System.IO.FileAccess]::Write)
try { $stream.Write($bytes, 0, $bytes.Length) } finally { $stream.Dispose() }
$sha = [System.Security.Cryptography.SHA256]::Create()
$hash = -join ($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') })

# Concatenated, not -f: the bootstrap's own braces would be taken for format items.
$command = "& {`n" + $Bootstrap + "`n} -JobPath '" + $job.Replace("'", "''") + "' -Sha256 '" + $hash + "' -MarkerPath '" + `
    $marker.Replace("'", "''") + "' -DelaySeconds " + $DelaySeconds
$arguments = '-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand ' + [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($command))
$execute = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
if ($execute.Length + 3 + $arguments.Length -gt $CommandLimit) {
    Remove-Item -LiteralPath $job -Force
    throw "the task's command line would be $($execute.Length + 3 + $arguments.Length) characters, more than $CommandLimit"
}

$action = New-ScheduledTaskAction -Execute $execute -Argument $arguments
$start = (Get-Date).AddSeconds($DelaySeconds)
$trigger = New-ScheduledTaskTrigger -Once -At $start
# A task expires after the EndBoundary of its trigger; DeleteExpiredTaskAfter then removes it.
$trigger.EndBoundary = $start.AddSeconds($TimeLimitSeconds + 600).ToString('s')
$settings = New-ScheduledTaskSettingsSet -DeleteExpiredTaskAfter (New-TimeSpan -Seconds 0) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -StartWhenAvailable -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Seconds $TimeLimitSeconds)
$principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -Principal $principal -Force | Out-Null
Start-ScheduledTask -TaskName $TaskName

$Ansible.Result = @{ task = $TaskName; job = $job; sha256 = $hash; marker = $marker; command_line_length = $execute.Length + 3 + $arguments.Length }
"""

BOOTSTRAP = r"""#azure_backup.remediation/detached.bootstrap
# What the one-shot task runs, by -EncodedCommand: once only (a lock file), after a short wait, runs the
# job's script if the job file is the one registered (its SHA-256), and writes what came of it to the
# marker: {state: done, result} or {state: failed, error}, written whole, then renamed.
[CmdletBinding()]
param(
    [string]$JobPath,
    [string]$Sha256,
    [string]$MarkerPath,
    [int]$DelaySeconds
)
$ErrorActionPreference = 'Stop'
try {
    $lock = New-Object -TypeName System.IO.FileStream -ArgumentList "$MarkerPath.lock", ([System.IO.FileMode]::CreateNew)
    $lock.Dispose()
}
catch {
    return  # started before: that run writes the marker
}
$outcome = @{ state = 'failed'; started = (Get-Date).ToUniversalTime().ToString('o') }
try {
    Start-Sleep -Seconds $DelaySeconds
    $bytes = [System.IO.File]::ReadAllBytes($JobPath)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $actual = -join ($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') })
    if ($actual -ne $Sha256) {
        throw "the job file $JobPath is not the one registered (SHA-256 $actual, not $Sha256); nothing was run"
    }
    $job = [System.Management.Automation.PSSerializer]::Deserialize([System.Text.Encoding]::UTF8.GetString($bytes))
    [System.IO.File]::Delete($JobPath)
    $parameters = @{}
    foreach ($key in $job.parameters.Keys) { $parameters[$key] = $job.parameters[$key] }
    $output = @(& ([scriptblock]::Create($job.script)) @parameters)
    $result = $output | Where-Object { $_ -is [System.Collections.IDictionary] } | Select-Object -Last 1
    if ($null -eq $result) { throw 'the script gave no result' }
    $outcome.result = $result
    $outcome.state = 'done'
}
catch {
    $outcome.error = $_.Exception.Message
}
$outcome.finished = (Get-Date).ToUniversalTime().ToString('o')
[System.IO.File]::WriteAllText("$MarkerPath.tmp", (ConvertTo-Json -InputObject $outcome -Depth 10))
Move-Item -LiteralPath "$MarkerPath.tmp" -Destination $MarkerPath -Force
"""

READ = r"""#azure_backup.remediation/detached.read
# The marker of a detached run (null until it finished), whether it started (its lock file), and its task's
# state and last result. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$MarkerPath,
    [string]$TaskName
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$text = $null
if (Test-Path -LiteralPath $MarkerPath) {
    $text = Get-Content -LiteralPath $MarkerPath -Raw
}
$task = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
$info = if ($task) { $task | Get-ScheduledTaskInfo -ErrorAction SilentlyContinue } else { $null }
$Ansible.Result = @{
    marker = $text
    started = Test-Path -LiteralPath "$MarkerPath.lock"
    task_state = if ($task) { [string]$task.State } else { $null }
    last_result = if ($info) { [long]$info.LastTaskResult } else { $null }
}
"""


def run_names(tag: str, stamp: str) -> dict:
    """Task name, job and marker of one run (stamp: UTC time, no separators; tag dots become dashes)."""
    task = "azure-backup-%s-%s" % (tag.replace(".", "-").replace("_", "-"), stamp)
    return {"task": task, "marker": "%s\\%s.json" % (WORK_DIR, task), "job": "%s\\%s.job" % (WORK_DIR, task)}


def outcome_of(text: str, marker: str) -> dict:
    """The run's outcome from the marker's text (Get-Content -Raw; a BOM is dropped)."""
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError as exc:
        return {"state": "failed", "error": "the marker %s is not JSON (%s)" % (marker, exc), "marker": marker}
    if not isinstance(data, dict):
        return {"state": "failed", "error": "the marker %s holds no outcome" % marker, "marker": marker}
    times = {"started": data.get("started"), "finished": data.get("finished")}
    if data.get("state") == "done" and isinstance(data.get("result"), dict):
        return dict(times, state="done", result=data["result"], marker=marker)
    return dict(times, state="failed", error=data.get("error") or "the script gave no result", marker=marker)


def said(exc: BaseException) -> str:
    """The last line of an error: the part that names the reason."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


class WinDetachedAction(WinCauseAction):
    """A WinCauseAction that can run a script detached from the WinRM session (run_detached)."""

    # Test seams: the clock, the pause between read-backs, and the time stamp of a run's names.
    _now = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)
    _stamp = staticmethod(lambda: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))

    def run_detached(self, tag: str, script: str, parameters: dict, purpose: str, timeout: int) -> dict:
        """Run ``script`` as SYSTEM in a one-shot scheduled task and wait up to ``timeout`` seconds for its outcome."""
        if self.check_mode:
            raise RuntimeError("%s: %s was about to be run in check mode" % (self.CAUSE, tag))
        if not script.startswith("#azure_backup.remediation/%s\n" % tag):
            raise ValueError("the script for %s does not start with its tag line" % tag)
        names = run_names(tag, self._stamp())
        args = {"Root": ROOT, "Directory": WORK_DIR, "TaskName": names["task"], "Script": script, "Parameters": dict(parameters),
                "Bootstrap": BOOTSTRAP, "DelaySeconds": START_DELAY, "TimeLimitSeconds": int(timeout) + TIME_LIMIT_MARGIN,
                "CommandLimit": COMMAND_LINE_LIMIT}
        answer_lost = None
        try:
            answer = self._execute_module(module_name="ansible.windows.win_powershell", task_vars=self.task_vars,
                                          module_args={"script": REGISTER, "parameters": args})
        except CONNECTION_ERRORS as exc:  # the task may be registered all the same: the read-back says
            answer, answer_lost = {}, said(exc)
            self.reset_connection()
        if answer.get("failed"):
            raise RemediationError("%s: registering the task that runs %s on %s failed: %s. Nothing was run."
                                   % (self.CAUSE, purpose, self.host, _why(answer)), changed=self.changed)
        self.changed = True  # a task and its job file are on the VM now
        seen = {"task": names["task"], "register_answer_lost": answer_lost, "task_state": None, "last_result": None,
                "started": None, "last_error": None, "registered": answer_lost is None}
        deadline = self._now() + timeout
        while True:
            self._sleep(POLL_SECONDS)
            text = self.read_marker(names, seen)
            if text:
                return dict(outcome_of(text, names["marker"]), task=names["task"], register_answer_lost=answer_lost)
            if self._now() >= deadline:
                return dict(seen, state="unknown", marker=names["marker"])

    def prepare_work_folder(self, purpose: str) -> str:
        """The working folder, made safe, for a file a detached script will use; RemediationError when refused."""
        self.apply("win_powershell", "preparing %s for %s" % (WORK_DIR, purpose), script=PREPARE,
                   parameters={"Root": ROOT, "Directory": WORK_DIR})
        return WORK_DIR

    def read_marker(self, names: dict, seen: dict) -> str | None:
        """One read-back: the marker's text or None; what the task looked like goes into ``seen``."""
        try:
            answer = self._execute_module(module_name="ansible.windows.win_powershell", task_vars=self.task_vars,
                                          module_args={"script": READ, "parameters": {"MarkerPath": names["marker"], "TaskName": names["task"]}})
        except CONNECTION_ERRORS as exc:
            seen["last_error"] = said(exc)
            self.reset_connection()
            return None
        if answer.get("failed"):
            seen["last_error"] = _why(answer)
            return None
        result = answer.get("result") or {}
        seen.update(task_state=result.get("task_state"), last_result=result.get("last_result"), started=result.get("started"))
        seen["registered"] = seen["registered"] or result.get("task_state") is not None or bool(result.get("started"))
        return result.get("marker")

    def reset_connection(self) -> None:
        """Drop the WinRM shell that died with the connection; the next call opens a new one."""
        try:
            self._connection.reset()
        except CONNECTION_ERRORS:
            pass
