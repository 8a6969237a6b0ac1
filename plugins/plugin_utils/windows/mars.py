# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the MARS_* causes share: where the Microsoft Azure Recovery Services agent is installed, and when its
causes apply at all (article 004).

The host read (causes.py) looks for the agent once per host, in the same execution as every first read: on a
host without it the MARS causes' reads are not run and the causes are skipped, at no extra round trip. Each
MARS read script also starts with Get-MarsAgent, so a cause that reads on its own (the host read failed) still
knows whether the agent is there.
"""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction

# The agent's setup key: InstallPath names its folder. Microsoft's DPM/MARS support scripts and the agent's own
# CBEngine constants read it there (code index: find_string "Windows Azure Backup\Setup"); without it the agent
# assumes %ProgramFiles%\Microsoft Azure Recovery Services Agent.
SETUP_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows Azure Backup\Setup"
# The engine service (article 004: "net stop obengine"); display name "Microsoft Azure Recovery Services Agent".
SERVICE = "obengine"
DEFAULT_INSTALL_PATH = r"C:\Program Files\Microsoft Azure Recovery Services Agent"
# Present on a DPM or MABS server (learn.microsoft.com, "Troubleshoot Azure Backup Server": reg query of this key gives
# the install folder; Microsoft's DPM support scripts test for it): such a server runs obengine too, but DPM schedules
# and runs its jobs, so the MARS causes report there instead of restarting it. Unsure: DPM's protection agent on a
# protected server may write the same key; there the causes report too, which is the safe side.
DPM_KEY = r"HKLM:\SOFTWARE\Microsoft\Microsoft Data Protection Manager\Setup"
# How long the engine may take to stop, and to start, before it is said to be stuck (ServiceController.WaitForStatus).
ENGINE_TIMEOUT = 120

# A PowerShell function MARS read scripts put right after their param block, like GET_SERVICE_STATE:
# whether the agent is installed, its folder, and its version (the FileVersion of Bin\cbengine.exe, as
# Microsoft's DPM support module reads it).
GET_MARS_AGENT = r"""
function Get-MarsAgent {
    $setup = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows Azure Backup\Setup' -ErrorAction SilentlyContinue
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='obengine'"
    $path = if ($setup -and $setup.InstallPath) { ([string]$setup.InstallPath).TrimEnd('\') } else { $null }
    if (-not $path -and -not $service) {
        return @{ installed = $false }
    }
    if (-not $path) {
        $path = Join-Path -Path $env:ProgramFiles -ChildPath 'Microsoft Azure Recovery Services Agent'
    }
    $engine = Join-Path -Path $path -ChildPath 'Bin\cbengine.exe'
    $version = if (Test-Path -LiteralPath $engine -PathType Leaf) { (Get-Item -LiteralPath $engine).VersionInfo.FileVersion } else { $null }
    $dpm = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Microsoft Data Protection Manager\Setup'
    @{ installed = $true; install_path = $path; version = $version; service = [bool]$service; dpm = $dpm }
}
"""

# PowerShell functions of the change scripts that restart the engine (MARS_SERVICE, MARS_SCRATCH), put right after
# their param block. Get-MarsJob: Get-OBJob without -Previous lists the operations running now (learn.microsoft.com,
# Get-OBJob; the agent's module from <install>\Bin\Modules\MSOnlineBackup); running is $null (unknown) where the
# module cannot load or answer. Stop-Engine and Start-Engine bound every wait, as the VSS writers' restart script
# does (plugin_utils/windows/scripts.py): ServiceController.WaitForStatus with a TimeSpan throws when it passes, and
# a service left in StopPending is said, not waited on.
ENGINE_FUNCTIONS = r"""
function Get-MarsJob {
    param([string]$InstallPath)
    try {
        Import-Module -Name (Join-Path -Path $InstallPath -ChildPath 'Bin\Modules\MSOnlineBackup') -ErrorAction Stop
        # Only OBJob objects count: a text the cmdlet may write is no job.
        $jobs = @(Get-OBJob -ErrorAction Stop | Where-Object { $null -ne $_ -and $_ -isnot [string] })
        @{ running = ($jobs.Count -gt 0); count = $jobs.Count; error = $null }
    }
    catch {
        @{ running = $null; count = $null; error = $_.Exception.Message }
    }
}

function Wait-EngineStatus {
    param($Engine, [string]$Status, [int]$TimeoutSeconds)
    try {
        $Engine.WaitForStatus($Status, [TimeSpan]::FromSeconds($TimeoutSeconds))
    }
    catch {
        # System.ServiceProcess.TimeoutException: the status is read again below.
        $null = $_
    }
    $Engine.Refresh()
    [string]$Engine.Status
}

function Stop-Engine {
    param($Engine, [int]$TimeoutSeconds)
    try {
        $Engine.Stop()
    }
    catch {
        return @{ status = 'stop_failed'; state = [string]$Engine.Status; error = $_.Exception.GetBaseException().Message }
    }
    $state = Wait-EngineStatus -Engine $Engine -Status 'Stopped' -TimeoutSeconds $TimeoutSeconds
    @{ status = $(if ($state -eq 'Stopped') { 'stopped' } else { 'stuck' }); state = $state; error = $null }
}

function Start-Engine {
    param($Engine, [int]$TimeoutSeconds)
    try {
        $Engine.Start()
    }
    catch {
        return @{ status = 'start_failed'; state = [string]$Engine.Status; error = $_.Exception.GetBaseException().Message }
    }
    $state = Wait-EngineStatus -Engine $Engine -Status 'Running' -TimeoutSeconds $TimeoutSeconds
    @{ status = $(if ($state -eq 'Running') { 'running' } else { 'start_failed' }); state = $state; error = $null }
}
"""


def not_installed(host: str) -> str:
    return "the MARS agent is not installed on %s (no %s InstallPath, no %s service): its causes do not apply" % (host, SETUP_KEY, SERVICE)


class MarsCauseAction(WinCauseAction):
    """A MARS_* cause: its first read is skipped by the host read where the agent is not installed (NEEDS_MARS),
    and its read script's result carries ``agent`` (Get-MarsAgent) for installed()."""

    NEEDS_MARS = True

    def installed(self, state: dict) -> bool:
        """Whether the read found the agent; ``state["agent"]`` is Get-MarsAgent's answer."""
        return bool((state.get("agent") or {}).get("installed"))

    @staticmethod
    def dpm(state: dict) -> bool:
        """Whether the read found a DPM or MABS server (Get-MarsAgent's ``dpm``): DPM runs the engine's jobs there."""
        return bool((state.get("agent") or {}).get("dpm"))

    def not_installed_step(self) -> Step:
        """The one Step of a MARS cause on a host without the agent (seen only when the host read did not run)."""
        return Step("installed", "skipped", not_installed(self.host), {"installed": False})


def dpm_words(what: str) -> str:
    """The finding's reason where a fix is not done on a DPM or MABS server."""
    return ("this is a DPM or MABS server (%s exists): DPM schedules and runs the engine's jobs, so %s is left to DPM's "
            "administrator" % (DPM_KEY, what))


def engine_problem(answer: dict) -> tuple | None:
    """Why an engine change script changed nothing or stopped half-way, as (status, words); None when its job check and
    stop went well. ``answer`` is the script's result: job (Get-MarsJob), stop and start (Stop-/Start-Engine)."""
    job = answer.get("job") or {}
    if job.get("running"):
        return "found", "the engine is running a job (%s by Get-OBJob); run again later" % (job.get("count") or "one or more")
    if job and job.get("running") is None:
        return "found", ("whether a MARS job runs is unknown (the MSOnlineBackup module or Get-OBJob failed: %s), so the running engine "
                         "was not restarted; restart %s by hand when no backup or restore runs" % (job.get("error"), SERVICE))
    stop = answer.get("stop") or {}
    if stop.get("status") == "stuck":
        return "failed", ("%s did not stop within %d s and is %s: nothing else was done. End its process (cbengine.exe) or restart "
                          "the server when no job runs" % (SERVICE, ENGINE_TIMEOUT, stop.get("state")))
    if stop.get("status") == "stop_failed":
        return "failed", "stopping %s failed: %s; nothing else was done" % (SERVICE, stop.get("error"))
    return None


def start_problem(answer: dict) -> str | None:
    """Why the engine did not run again after the script's start, or None."""
    start = answer.get("start") or {}
    if start and start.get("status") != "running":
        return "%s did not start again within %d s (%s%s): start it in services.msc and see the System event log" % (
            SERVICE, ENGINE_TIMEOUT, start.get("state"), ": " + start["error"] if start.get("error") else "")
    return None
