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
    @{ installed = $true; install_path = $path; version = $version; service = [bool]$service }
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

    def not_installed_step(self) -> Step:
        """The one Step of a MARS cause on a host without the agent (seen only when the host read did not run)."""
        return Step("installed", "skipped", not_installed(self.host), {"installed": False})
