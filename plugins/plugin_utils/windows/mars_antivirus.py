# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_ANTIVIRUS's decisions: which Microsoft Defender exclusions the MARS agent needs and which are missing.

Article 004 ("Antivirus software blocking the registration", ID 100050, and the cache section) asks to exclude
the scratch (cache) folder, the agent's Bin folder, and the FILES CBEngine.exe and CSC.exe, "for every .NET
Framework version installed" (German seed: "schließen Sie die folgenden Dateien vom Virenscan aus"). So they are
path exclusions (Defender's ExclusionPath takes files and folders), one per csc.exe under
%windir%\\Microsoft.NET\\Framework{,64}\\v*\\; cbengine.exe lies in <install>\\Bin, whose folder exclusion covers it.
A process exclusion by name is not used: "if you specify a process name without a path, the exclusion applies to
every process of that name, wherever it runs" (learn.microsoft.com, "Configure exclusions for files opened by
processes"), so every file any csc.exe opens would go unscanned (csc.exe is a known living-off-the-land binary).
A folder exclusion also covers what is under it (learn.microsoft.com, "Configure custom exclusions ... based on
file name, extension, and folder location").

With HideExclusionsFromLocalAdmins, Get-MpPreference shows the text "N/A: Must be an administrator to view
exclusions" in place of each list (learn.microsoft.com, "Configure local administrator merge ... and exclusion
visibility"; the exact text as the review quotes it, not checked against a live Defender here): the exclusions
are then unknown.
"""

from __future__ import annotations

PROCESSES = ("cbengine.exe", "csc.exe")
HIDDEN = "N/A"


def _norm(path: str) -> str:
    return str(path or "").strip().strip('"').rstrip("\\").lower()


def needed_paths(install_path: str, scratch: str | None, csc: list | None = None) -> list[str]:
    """The scratch folder (ScratchLocation, else <install>\\Scratch), <install>\\Bin (cbengine.exe in it), and each
    csc.exe of the .NET Framework folders as read."""
    install = install_path.rstrip("\\")
    return [(scratch or install + "\\Scratch").rstrip("\\"), install + "\\Bin"] + [str(c) for c in csc or []]


def path_covered(path: str, exclusions: list[str]) -> bool:
    """Whether an exclusion is the path itself or a folder above it."""
    target = _norm(path)
    return any(target == _norm(e) or target.startswith(_norm(e) + "\\") for e in exclusions if _norm(e))


def hidden(defender: dict) -> bool:
    """Whether Get-MpPreference hid the lists (HideExclusionsFromLocalAdmins) instead of listing them."""
    return any(str(e).startswith(HIDDEN + ":") for key in ("exclusion_path", "exclusion_process") for e in defender.get(key) or [])


def missing(install_path: str, scratch: str | None, defender: dict, csc: list | None = None) -> list[str]:
    """The paths Defender does not exclude yet."""
    return [p for p in needed_paths(install_path, scratch, csc) if not path_covered(p, defender.get("exclusion_path") or [])]


def broad_processes(defender: dict) -> list[str]:
    """Process exclusions of cbengine.exe or csc.exe by bare name: wider than the article asks (reported, kept)."""
    return [e for e in defender.get("exclusion_process") or [] if _norm(e) in PROCESSES]


def running(defender: dict) -> bool:
    """Defender Antivirus scans here: its service runs and Get-MpComputerStatus says the antivirus is enabled."""
    service = defender.get("service") or {}
    return bool(service.get("exists") and service.get("state") == "Running" and defender.get("antivirus_enabled"))
