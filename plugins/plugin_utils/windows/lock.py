# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of a Windows VM: two runs (a scheduled AWX job and an admin by hand) take turns changing it.

Over WinRM every module run is its own PowerShell process, so nothing held in one process can span a
host's changes. The lock is a file instead, C:\\ProgramData\\azure-backup\\lock\\run.lock, created with
FileMode.CreateNew: the file system lets exactly one creator win, whatever process or session it runs in
(CreateFile with CREATE_NEW fails with ERROR_FILE_EXISTS when the file is there). It holds who holds it
(since when on the VM's clock, controller, pid, user, a token) and is removed, by its holder only, after
the host's last change.

It is taken lazily, right before the first module run that can change the VM, in apply mode only: a host
with nothing to change (and check mode) pays nothing. Taking it costs one execution (it cannot be folded
into the first change: that is any ansible.windows module, win_service or win_regedit as often as one of
our scripts); removing it one more. A run that finds it held waits up to ``lock_wait`` seconds on the VM,
inside that one execution, then every change of that host run is refused with a failed finding naming
the holder. A lock older than STALE_SECONDS belongs to a run that ended without removing it (a killed
controller): it is taken over, and the finding of the change that took it says so.

The lock runs as an administrator, so where it writes must be out of any other user's reach: its folder is
made for SYSTEM and Administrators only or refused (protected.py, as the detached runner's), an existing
lock that is a link or is owned by anyone else is refused, and a stale lock is deleted, never rewritten in
place (a rewrite through a planted link would truncate whatever file it points to). A refusal is a failed
HOST/lock finding, and nothing is written.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import protected

ROOT = protected.ROOT
# Its own folder, made for SYSTEM and Administrators only (protected.py): C:\ProgramData lets any user create there.
DIRECTORY = ROOT + r"\lock"
PATH = DIRECTORY + r"\run.lock"
DEFAULT_WAIT = 120
# Longer than the longest hold a run can have: the agent install's own bound (win_agent.install_timeout, at most
# about 80 minutes) plus every other cause's changes. A lock this old is a run that died holding it.
STALE_SECONDS = 3 * 3600

ACQUIRE = r"""#azure_backup.remediation/host.lock
# Takes the run lock: the file is created with FileMode CreateNew, so only one creator wins. Held by another
# run: read who, wait and try again until WaitSeconds have passed. Older than StaleSeconds (by the time it
# holds, or its last write when it holds nothing readable): its holder is gone; it is deleted (never written
# in place) and CreateNew is tried again, so that again only one run wins.
# The lock's folder is made for SYSTEM and Administrators only, or refused (Assert-WorkFolder): nothing is
# written in a folder anyone else may have made or may write to, and an existing lock file is opened only
# when it is no link (reparse point) and owned by SYSTEM or Administrators.
[CmdletBinding()]
param(
    [string]$Root,
    [string]$Directory,
    [string]$Path,
    [System.Collections.IDictionary]$Holder,
    [int]$WaitSeconds,
    [int]$StaleSeconds
)
$ErrorActionPreference = 'Stop'
$deadline = [DateTime]::UtcNow.AddSeconds($WaitSeconds)
""" + protected.WORK_FOLDER + r"""
$null = Assert-WorkFolder -Root $Root -Directory $Directory

function Get-HolderText {
    $mine = @{}
    foreach ($key in $Holder.Keys) { $mine[$key] = $Holder[$key] }
    $mine.since = [DateTime]::UtcNow.ToString('o')
    $mine.winrm_user = [System.Security.Principal.WindowsIdentity]::GetCurrent().Name
    ConvertTo-Json -InputObject $mine -Compress
}

function Test-Busy {
    # Whether an error means another run is at the lock right now (there, open, being deleted): then wait and try
    # again. Anything else (access denied, the folder gone) is this run's own problem and fails at once. A file
    # being deleted answers access denied too (STATUS_DELETE_PENDING), so access denied is waited out a few times.
    param([System.Management.Automation.ErrorRecord]$Record)
    $exception = $Record.Exception
    if ($exception -is [System.Management.Automation.MethodInvocationException] -and $exception.InnerException) { $exception = $exception.InnerException }
    if ($exception -is [System.IO.FileNotFoundException]) { return $true }
    if ($exception -is [System.IO.DirectoryNotFoundException]) { return $false }
    if ($exception -is [System.UnauthorizedAccessException]) { $tries.denied++; return $tries.denied -le 3 }
    # ERROR_SHARING_VIOLATION 32, ERROR_LOCK_VIOLATION 33, ERROR_FILE_EXISTS 80, ERROR_ALREADY_EXISTS 183.
    ($exception -is [System.IO.IOException]) -and (@(32, 33, 80, 183) -contains ($exception.HResult -band 0xFFFF))
}

function Assert-LockFile {
    # A link would send the open (and the delete) elsewhere; a file someone else owns was not made by a run.
    # $false: gone in between (or being deleted), then CreateNew is tried again.
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if (-not $item) { return $false }
    if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) { throw "refusing to use the run lock $Path`: it is a link (reparse point)" }
    $owner = $item.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Owner).GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($trusted -notcontains $owner) { throw "refusing to use the run lock $Path`: it is owned by $owner, not by SYSTEM or Administrators" }
    $true
}

# The holder in the file, and since when it holds (its write time when the text is not readable).
function Read-Holder {
    param([System.IO.FileStream]$Stream)
    $reader = [System.IO.StreamReader]::new($Stream, [System.Text.Encoding]::UTF8, $false, 4096, $true)
    $text = $reader.ReadToEnd()
    $reader.Dispose()
    $seen = $null
    try { $seen = ConvertFrom-Json -InputObject $text } catch { $null = $_ }
    $since = $null
    if ($seen -and $seen.since) {
        try {
            $since = if ($seen.since -is [DateTime]) { $seen.since.ToUniversalTime() } else {
                [DateTime]::Parse([string]$seen.since, [System.Globalization.CultureInfo]::InvariantCulture,
                    [System.Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal') }
        }
        catch { $null = $_ }
    }
    # A time more than 5 minutes ahead of this clock is not to be trusted (a wrong clock, a made-up file): the
    # file's own write time then. A [double]: any age fits, however far off a date is.
    if (-not $since -or ($since - [DateTime]::UtcNow).TotalSeconds -gt 300) { $since = [System.IO.File]::GetLastWriteTimeUtc($Path) }
    @{ holder = $seen; text = $text; since = $since.ToString('o'); age_seconds = [double]([DateTime]::UtcNow - $since).TotalSeconds }
}

$result = @{ acquired = $false; took_over = $null; holder = $null; mine = $false; waited_seconds = 0 }
$started = [DateTime]::UtcNow
$stale = $null
$tries = @{ denied = 0 }
while ($true) {
    try {
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
        try {
            $bytes = [System.Text.Encoding]::UTF8.GetBytes((Get-HolderText))
            $stream.Write($bytes, 0, $bytes.Length)
        }
        finally { $stream.Dispose() }
        $result.acquired = $true
        $result.took_over = $stale
        break
    }
    catch {
        # There already (or being deleted by its holder): see who holds it.
        if (-not (Test-Busy -Record $_)) { throw }
    }
    $stale = $null
    try {
        if (-not (Assert-LockFile)) { throw [System.IO.FileNotFoundException]::new('gone in between', $Path) }
        # FileShare Delete only: nobody writes or takes it while it is read, and it can be deleted through this name.
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Delete)
        try {
            $seen = Read-Holder -Stream $stream
            $result.holder = $seen
            if ($seen.holder -and $seen.holder.token -and $seen.holder.token -eq $Holder['token']) {
                # This run's own lock: taken by an earlier try whose answer was lost.
                $result.acquired = $true
                $result.mine = $true
            }
            elseif ($seen.age_seconds -ge $StaleSeconds) {
                # Still the text just read (no one can write it while this handle is open): delete it, and
                # CreateNew decides again who takes it.
                $null = $stream.Seek(0, [System.IO.SeekOrigin]::Begin)
                $again = (Read-Holder -Stream $stream).text
                if ($again -ceq $seen.text) {
                    [System.IO.File]::Delete($Path)
                    $stale = $seen
                }
            }
        }
        finally { $stream.Dispose() }
        if ($result.acquired) { break }
        if ($stale) { continue }
    }
    catch {
        # Gone in between, or open in another run right now: try again.
        if (-not (Test-Busy -Record $_)) { throw }
    }
    if ([DateTime]::UtcNow -ge $deadline) { break }
    Start-Sleep -Seconds 1
}
$result.waited_seconds = [int]([DateTime]::UtcNow - $started).TotalSeconds
$Ansible.Changed = $result.acquired
$Ansible.Result = $result
"""

RELEASE = r"""#azure_backup.remediation/host.unlock
# Removes the run lock if this run holds it (its token is in it); another run's lock is left alone. Opened with
# FileShare Delete only: nobody reads or takes it between the check and the delete.
[CmdletBinding()]
param(
    [string]$Path,
    [string]$Token
)
$ErrorActionPreference = 'Stop'
$result = @{ released = $false; held_by = $null }
if (Test-Path -LiteralPath $Path -PathType Leaf) {
    $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Delete)
    try {
        $reader = [System.IO.StreamReader]::new($stream, [System.Text.Encoding]::UTF8, $false, 4096, $true)
        $text = $reader.ReadToEnd()
        $reader.Dispose()
        $seen = $null
        try { $seen = ConvertFrom-Json -InputObject $text } catch { $null = $_ }
        if ($seen -and $seen.token -eq $Token) {
            [System.IO.File]::Delete($Path)
            $result.released = $true
        }
        else { $result.held_by = $text }
    }
    finally { $stream.Dispose() }
}
$Ansible.Changed = $result.released
$Ansible.Result = $result
"""


def connection_errors() -> tuple:
    """The errors a lost connection surfaces as (detached.CONNECTION_ERRORS; imported late: detached imports the driver)."""
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.detached import CONNECTION_ERRORS
    return CONNECTION_ERRORS


def reset(action) -> None:
    """Drop the WinRM shell that died with the connection; the next call opens a new one."""
    try:
        action._connection.reset()  # pylint: disable=protected-access  # as ansible's own reboot action does
    except connection_errors():
        pass


class LockBusy(RemediationError):
    """Another run holds this VM's lock: this run's changes on it are refused."""


class ReadAgain(Exception):
    """The lock was taken only after another run let it go: what this run read before may be what that run has
    changed since. Raised instead of the first change; the cause starts again from a fresh read (run_cause)."""


def describe(holder: dict | None) -> str:
    """'2026-05-01T10:00:00Z (pid 4242 on awx-1, user awx)' from what the lock file holds."""
    seen = (holder or {}).get("holder") or {}
    since = (holder or {}).get("since") or "an unknown time"
    who = ", ".join(part for part in (
        "pid %s on %s" % (seen.get("pid"), seen.get("controller")) if seen.get("pid") else "",
        "user %s" % seen["user"] if seen.get("user") else "",
        "WinRM user %s" % seen["winrm_user"] if seen.get("winrm_user") else "") if part)
    return "%s (%s)" % (since, who or "holder unreadable: %r" % (holder or {}).get("text"))


class HostLock:
    """This run's lock on one VM. ``hold(action)`` before a change; ``release(action)`` once the host is done.

    ``action`` is the WinCauseAction about to change the VM: its connection carries the lock scripts. Taking
    the lock is tried once per host run: when another run kept it past ``wait`` seconds, every later change
    is refused at once with the same message (the host's changes wait for the next run, not for each cause)."""

    def __init__(self, host: str, wait: float = DEFAULT_WAIT, stale: int = STALE_SECONDS) -> None:
        self.host, self.wait, self.stale = host, wait, stale
        self.token = uuid.uuid4().hex
        self.held = False
        # An ACQUIRE whose answer was lost: the lock may hold this run's token (the removal checks it).
        self.tried = False
        self.refused: str | None = None
        # Why the lock script itself failed (its folder or file refused, an error): said once as a HOST/lock finding.
        self.problem: str | None = None
        self.took_over: dict | None = None
        # Taken after another run held it: every read made before may be stale.
        self.waited = False
        self.executions = 0  # what the lock cost this host run, in module executions

    def holder(self) -> dict:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container): the pid still says which run
            user = str(os.getuid())
        return {"controller": socket.gethostname(), "pid": os.getpid(), "user": user, "token": self.token}

    def hold(self, action) -> None:
        """Take the lock unless held; LockBusy when another run holds it (now or when it was first tried)."""
        if self.held:
            return
        if self.refused:
            raise LockBusy(self.refused)
        parameters = {"Root": ROOT, "Directory": DIRECTORY, "Path": PATH, "Holder": self.holder(),
                      "WaitSeconds": int(self.wait), "StaleSeconds": int(self.stale)}
        for attempt in range(2):
            self.executions += 1
            try:
                answer = action.run_script(ACQUIRE, parameters)
                break
            except connection_errors():
                # The lock may have been taken all the same: it is released at the end whatever comes, and the
                # try again finds this run's token in it (ACQUIRE takes its own lock as acquired).
                self.tried = True
                reset(action)
                if attempt:
                    raise
        result = answer.get("result") or {}
        if answer.get("failed") or not isinstance(result, dict):
            from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import _why  # driver imports us
            self.refused = ("could not take the run lock %s on %s: %s. Nothing was changed on this host; the lock keeps two runs "
                            "from changing a VM at once" % (PATH, self.host, _why(answer)))
            self.problem = self.refused
            raise LockBusy(self.refused)
        if not result.get("acquired"):
            self.refused = ("another run holds the lock since %s; waited %s s (lock_wait). Nothing was changed on %s by this run. "
                            "Run again when it has finished; a lock older than %d hours is taken over, or delete %s if no run is "
                            "active" % (describe(result.get("holder")), result.get("waited_seconds", int(self.wait)), self.host,
                                        self.stale // 3600, PATH))
            raise LockBusy(self.refused)
        self.held = True
        self.took_over = result.get("took_over")
        if result.get("holder") and not self.took_over and not result.get("mine"):
            self.waited = True
            raise ReadAgain()

    def release(self, action) -> str | None:
        """Remove the lock if this run holds it; what went wrong, or None."""
        if not (self.held or self.tried):
            return None
        maybe, self.held, self.tried = not self.held, False, False
        answer, lost = None, None
        for _attempt in range(2):  # a connection lost once is reset and the removal sent again
            self.executions += 1
            try:
                answer = action.run_script(RELEASE, {"Path": PATH, "Token": self.token})
                break
            except connection_errors() as exc:
                lost = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                reset(action)
        if answer is None:
            return ("could not remove the run lock %s on %s: the connection failed (%s); delete it by hand if no run is active, "
                    "or it is taken over after %d hours" % (PATH, self.host, lost, self.stale // 3600))
        if answer.get("failed"):
            from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import _why
            return "could not remove the run lock %s on %s: %s; delete it by hand if no run is active" % (PATH, self.host, _why(answer))
        if not (answer.get("result") or {}).get("released"):
            if maybe:  # never taken after all
                return None
            return "the run lock %s on %s was no longer this run's (it was taken over as stale?); left as it is" % (PATH, self.host)
        return None

    def took_over_words(self) -> str:
        return "took over a stale run lock held since %s" % describe(self.took_over) if self.took_over else ""
