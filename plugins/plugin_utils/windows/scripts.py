# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell pieces more than one Windows cause sends, and the bounded service restart they share.

Services are restarted by one script (RESTART_SERVICES), not by win_service state=restarted: that is
Restart-Service (ansible.windows win_service.ps1, Set-ServiceState), which without force_dependent_services
refuses a service with running dependants and with it waits without end for a service that never leaves
StopPending (PowerShell Service.cs, DoWaitForStatus loops while the status is the pending one). The script
bounds every stop and start, checks for a backup snapshot right before each stop, and says per service
what happened. A WinRM connection lost on the way is reported from a fresh read, not as a stack trace.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError

try:
    from winrm.exceptions import WinRMError, WinRMTransportError
    _WINRM_ERRORS: tuple = (WinRMError, WinRMTransportError)
except ImportError:  # pywinrm is only there where the winrm connection is used
    _WINRM_ERRORS = ()

# What a lost WinRM connection raises out of _execute_module: ansible's winrm.py wraps most of it in
# AnsibleConnectionFailure or AnsibleError ("send_input failed"); pywinrm's own errors and requests'
# ConnectionError (an OSError) can come through as they are.
CONNECTION_ERRORS = (AnsibleError, OSError) + _WINRM_ERRORS

# A function scripts put right after their param block to run a native command (vssadmin, icacls, takeown).
# In win_powershell's runspace (ansible.windows win_powershell.ps1 runs the script in [PowerShell]::Create()
# with its own host, not the console) a native command's stderr lines become error records (NativeCommandError),
# and under ErrorActionPreference Stop the first one ends the script before its exit code is seen (Windows
# PowerShell 5.1; PowerShell issue #3996, changed only in PowerShell 7.1 by PR #13361). Here the preference is
# Continue for the call alone, stderr is merged (2>&1) and kept as text, and the exit code is returned.
INVOKE_NATIVE = r"""
function Invoke-Native {
    param([string]$FilePath, [string[]]$ArgumentList)
    $ErrorActionPreference = 'Continue'
    $lines = @(& $FilePath @ArgumentList 2>&1 | ForEach-Object { [string]$_ })
    @{ output = ($lines -join "`r`n"); exit_code = $LASTEXITCODE }
}
"""

DEPENDANTS = r"""
# Every running dependant of a service, dependants of dependants too, in the order to stop them: a
# service only after everything that depends on it. ServiceController.DependentServices is
# EnumDependentServices (dotnet/runtime ServiceController.cs); walking it again costs nothing if it
# already lists indirect dependants.
function Get-RunningDependent {
    param([string]$Name)
    $seen = @{}
    $order = [System.Collections.Generic.List[string]]::new()
    $visit = {
        param($Service)
        foreach ($dependant in $Service.DependentServices) {
            if ($seen.ContainsKey($dependant.ServiceName)) { continue }
            $seen[$dependant.ServiceName] = $true
            & $visit $dependant
            if ($dependant.Status -ne 'Stopped') { $order.Add($dependant.ServiceName) }
        }
    }
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($service) { & $visit $service }
    $order
}
"""

RESTART_SERVICES = r"""#azure_backup.remediation/vss_writers.restart
# Restarts each service: its running dependants stop first (deepest first), then the service; the
# service starts again, then the dependants that ran. Every wait is bounded by TimeoutSeconds
# (ServiceController.WaitForStatus with a TimeSpan throws when it passes), so a service stuck in
# StopPending is reported instead of hanging the play. Right before each stop the backup extension's
# process is looked for: a snapshot that started since the read stops the restart there, and what was
# stopped is started again. One service failing does not stop the others.
[CmdletBinding()]
param(
    [string[]]$Services,
    [int]$TimeoutSeconds,
    [string[]]$BackupProcesses = @()
)
$ErrorActionPreference = 'Stop'
$timeout = [TimeSpan]::FromSeconds($TimeoutSeconds)
$changed = $false
""" + DEPENDANTS + r"""
function Wait-ServiceStatus {
    param($Service, [string]$Status)
    try {
        $Service.WaitForStatus($Status, $timeout)
    }
    catch {
        # System.ServiceProcess.TimeoutException: the status is read again below.
        $null = $_
    }
    $Service.Refresh()
    $Service.Status -eq $Status
}

function Get-Reason {
    param($ErrorRecord)
    $ErrorRecord.Exception.GetBaseException().Message
}

function Get-BackupProcess {
    if (-not $BackupProcesses) { return @() }
    @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}

$results = foreach ($name in $Services) {
    $entry = @{ name = $name; status = 'restarted'; stuck = $null; error = ''; dependants = @(); restarted = @(); not_restarted = @()
        backup = @() }
    $service = Get-Service -Name $name -ErrorAction SilentlyContinue
    if (-not $service) {
        $entry.status = 'missing'
        $entry
        continue
    }
    if ($service.Status -eq 'StopPending') {
        # Stuck before we came: not touched.
        $entry.status = 'stuck'
        $entry.stuck = $name
        $entry
        continue
    }
    $dependants = @(Get-RunningDependent -Name $name | ForEach-Object { Get-Service -Name $_ })
    $entry.dependants = @($dependants | ForEach-Object { $_.ServiceName })
    $stopped = [System.Collections.Generic.List[object]]::new()
    foreach ($one in @($dependants) + @($service)) {
        $backup = @(Get-BackupProcess)
        if ($backup) {
            $entry.status = 'backup_running'
            $entry.backup = $backup
            $entry.stuck = $one.ServiceName
            break
        }
        try {
            if ($one.Status -ne 'Stopped') {
                $one.Stop()
                $changed = $true
            }
        }
        catch {
            $entry.status = 'stop_failed'
            $entry.error = "$($one.ServiceName): $(Get-Reason $_)"
            break
        }
        if (-not (Wait-ServiceStatus -Service $one -Status 'Stopped')) {
            $entry.status = 'stuck'
            $entry.stuck = $one.ServiceName
            break
        }
        $stopped.Add($one)
    }
    # What was stopped runs again: the service first, then its dependants in start order.
    $stopped.Reverse()
    foreach ($one in $stopped) {
        try {
            $one.Start()
            $changed = $true
            $null = Wait-ServiceStatus -Service $one -Status 'Running'
        }
        catch {
            if (-not $entry.error) { $entry.error = "$($one.ServiceName): $(Get-Reason $_)" }
        }
    }
    $service.Refresh()
    if ($entry.status -eq 'restarted' -and $service.Status -ne 'Running') {
        $entry.status = 'start_failed'
    }
    foreach ($dependant in $dependants) {
        $dependant.Refresh()
        if ($dependant.Status -ne 'Running') {
            $entry.not_restarted += $dependant.ServiceName
        }
        elseif ($stopped -contains $dependant) {
            $entry.restarted += $dependant.ServiceName
        }
    }
    if ($entry.status -eq 'restarted' -and $entry.not_restarted) {
        $entry.status = 'dependants_failed'
    }
    $entry
}

$Ansible.Changed = $changed
$Ansible.Result = @{ services = @($results) }
"""


def restart_services(action, services: list[str], timeout: int, backup_processes, purpose: str) -> dict:
    """Every service restarted in one script run: service -> outcome (see _vss_writers.read_restart).
    When the script fails, every service gets that failure; when the WinRM connection is lost on the way
    (ansible's winrm.py then ends the script: its cleanup command), the connection is reset and every
    service is ``connection_lost``: the caller reads the services again to say what state they are in."""
    try:
        answer = action.apply("win_powershell", purpose, script=RESTART_SERVICES,
                              parameters={"Services": services, "TimeoutSeconds": timeout, "BackupProcesses": list(backup_processes)},
                              depth=6)
        return vss.read_restart(answer.get("result") or {}, services)
    except (RemediationError, ValueError) as exc:
        action.changed = True  # the script may have stopped something before it failed
        error = exc.msg if isinstance(exc, RemediationError) else str(exc)
        return {s: vss.failed_outcome(s, "script_failed", error) for s in services}
    except CONNECTION_ERRORS as exc:
        action.changed = True
        error = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        try:
            action._connection.reset()  # pylint: disable=protected-access  # as ansible's reboot action does
        except CONNECTION_ERRORS:
            pass  # the read after this says whether the host answers again
        return {s: vss.failed_outcome(s, "connection_lost", error) for s in services}
