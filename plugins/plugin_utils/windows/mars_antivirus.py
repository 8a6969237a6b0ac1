# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_ANTIVIRUS's decisions: which Microsoft Defender exclusions the MARS agent needs and which are missing.

Article 004 ("Antivirus software blocking the registration", ID 100050, and the cache section) asks to exclude
the scratch (cache) folder, the agent's Bin folder, CBengine.exe and CSC.exe, "for every .NET Framework version
installed". Defender's process exclusions by name cover that: "if you specify a process name without a path, the
exclusion applies to every process of that name, wherever it runs" (learn.microsoft.com, "Configure exclusions for
files opened by processes"), so csc.exe is excluded once, not per .NET folder. A folder exclusion also covers what
is under it (learn.microsoft.com, "Configure custom exclusions ... based on file name, extension, and folder
location").
"""

from __future__ import annotations

PROCESSES = ("cbengine.exe", "csc.exe")


def _norm(path: str) -> str:
    return str(path or "").strip().strip('"').rstrip("\\").lower()


def needed_paths(install_path: str, scratch: str | None) -> list[str]:
    """The scratch folder (ScratchLocation, else <install>\\Scratch) and <install>\\Bin."""
    install = install_path.rstrip("\\")
    return [(scratch or install + "\\Scratch").rstrip("\\"), install + "\\Bin"]


def path_covered(path: str, exclusions: list[str]) -> bool:
    """Whether a folder exclusion is the folder or one above it."""
    target = _norm(path)
    return any(target == _norm(e) or target.startswith(_norm(e) + "\\") for e in exclusions if _norm(e))


def process_covered(name: str, exclusions: list[str], install_path: str) -> bool:
    """By name (every process of that name); cbengine.exe also by its full path under <install>\\Bin."""
    names = {_norm(e) for e in exclusions}
    return name in names or (name == "cbengine.exe" and _norm(install_path + "\\Bin\\" + name) in names)


def missing(install_path: str, scratch: str | None, defender: dict) -> dict:
    """{"paths": [...], "processes": [...]}: what Defender does not exclude yet."""
    paths = [p for p in needed_paths(install_path, scratch) if not path_covered(p, defender.get("exclusion_path") or [])]
    processes = [p for p in PROCESSES if not process_covered(p, defender.get("exclusion_process") or [], install_path)]
    return {"paths": paths, "processes": processes}


def running(defender: dict) -> bool:
    """Defender Antivirus scans here: its service runs and Get-MpComputerStatus says the antivirus is enabled."""
    service = defender.get("service") or {}
    return bool(service.get("exists") and service.get("state") == "Running" and defender.get("antivirus_enabled"))
