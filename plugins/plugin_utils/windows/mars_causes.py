# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the MARS causes MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES and MARS_PREREQS (article 004), as pure
functions over what their read scripts answer. The action plugins (plugins/action/win_mars_*.py) read and change."""

from __future__ import annotations

import datetime
import re

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes.linux_agent_version import older, version_tuple

# Where Microsoft hands out the current agent (article 004, error 34506: "neueste Version").
DOWNLOAD = "https://aka.ms/azurebackup_agent"
# The version the article's section on vault credentials (ID 34513) asks for (shared/reference/platform, section 7).
MIN_VERSION = "2.0.9249.0"


def version_problem(version: str | None, minimum: str) -> str | None:
    """Why the agent's version is a finding, or None. ``version`` is Bin\\cbengine.exe's FileVersion."""
    match = re.match(r"^\s*(\d+(?:\.\d+){1,3})", version or "")
    if not match:
        return "the version of Bin\\cbengine.exe could not be read (%s)" % (version or "no file version")
    if older(match.group(1), minimum):
        return "MARS agent %s is older than %s" % (match.group(1), minimum)
    return None


def validate_version(minimum: str) -> None:
    try:
        version_tuple(minimum)
    except ValueError:
        raise ValueError("mars_agent_min_version %r is not a version like %s" % (minimum, MIN_VERSION)) from None


# -- MARS_SCRATCH ---------------------------------------------------------------------------------------------

# The two registry values that name the scratch (cache) folder; both must name the same folder (MARS FAQ, "How to
# check if scratch folder is valid and accessible", and article 004, error 34506).
CONFIG_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows Azure Backup\Config"
PROVIDER_KEY = CONFIG_KEY + r"\CloudBackupProvider"
VALUE = "ScratchLocation"
KEK = "OnlineBackup.KEK"

# The FAQ ("Are there any attributes of the cache folder that aren't supported?"): encrypted, de-duplicated,
# compressed, sparse, reparse point. System.IO.FileAttributes values (learn.microsoft.com, FileAttributes Enum);
# de-duplication is a volume's, read apart.
UNSUPPORTED_ATTRIBUTES = (("Encrypted", 0x4000), ("Compressed", 0x800), ("SparseFile", 0x200), ("ReparsePoint", 0x400))
# Win32_Volume.DriveType (learn.microsoft.com, Win32_Volume class): 3 is a local disk. The FAQ ("Where should the
# cache folder be located?"): not a network share or removable media.
DRIVE_TYPES = {0: "unknown", 1: "no root directory", 2: "removable disk", 3: "local disk", 4: "network drive", 5: "compact disc",
               6: "RAM disk"}


# mars_agent_scratch_min_free_percent: above 0 and at most 50 (the role's rule, settings.RULES; a volume asked to keep
# more than half of it free is a typo more likely than a wish).
MIN_FREE_LOW, MIN_FREE_HIGH = 0, 50


def same_path(a: str | None, b: str | None) -> bool:
    """NTFS paths compare without case; a trailing backslash names the same folder."""
    if a is None or b is None:
        return a is b
    return a.rstrip("\\").lower() == b.rstrip("\\").lower()


def folder_of(state: dict, path: str | None) -> dict:
    """The read's facts about the folder ``path`` names ({} when the read has none)."""
    for folder in state.get("folders") or []:
        if same_path(folder.get("path"), path):
            return folder
    return {}


def qualifies(folder: dict) -> bool:
    """A folder a ScratchLocation value may be set to: it exists and holds OnlineBackup.KEK (so no data must move)."""
    return bool(folder.get("exists") and folder.get("kek"))


def location_decision(state: dict) -> dict:
    """What the two ScratchLocation values say: {"status": "agree"|"fix"|"report"|"missing", "folder": the scratch
    folder to check (or None), "target": the value to write, "change": [(key, old value)] to set to target, "why": text}."""
    config, provider = state.get("config"), state.get("provider")
    values = {CONFIG_KEY: config, PROVIDER_KEY: provider}
    if not config and not provider:
        return {"status": "missing", "folder": None, "change": [], "why": "neither %s value is set" % VALUE}
    if same_path(config, provider):
        return {"status": "agree", "folder": config, "change": [], "why": ""}
    good = [key for key, value in values.items() if value and qualifies(folder_of(state, value))]
    described = "; ".join("%s\\%s = %s (%s)" % (key, VALUE, value if value else "not set", describe_folder(folder_of(state, value), value))
                          for key, value in values.items())
    if len(good) == 1:
        target = values[good[0]]
        return {"status": "fix", "folder": target, "target": target, "why": described,
                "change": [(key, value) for key, value in values.items() if key != good[0]]}
    which = "neither names" if not good else "both name"
    return {"status": "report", "folder": None, "change": [], "why": "%s; %s a folder that exists and holds %s" % (described, which, KEK)}


def describe_folder(folder: dict, value: str | None) -> str:
    if not value:
        return "no folder"
    if not folder.get("exists"):
        return "no such folder"
    return "holds %s" % KEK if folder.get("kek") else "exists, without %s" % KEK


def bad_attributes(attributes) -> list[str]:
    """The unsupported attributes of the cache folder among ``attributes`` (an int, FileAttributes)."""
    try:
        value = int(attributes or 0)
    except (TypeError, ValueError):
        return []
    return [name for name, bit in UNSUPPORTED_ATTRIBUTES if value & bit]


def volume_problems(volume: dict) -> list[str]:
    """What makes the folder's volume unfit: not a local disk (FAQ), de-duplicated (FAQ). ReFS and NTFS are taken;
    another file system is said, unverified (the FAQ names none; the agent "relies on NTFS")."""
    if not volume or volume.get("drive_type") is None:
        return ["the folder is not on a volume of this server (a network path?)"]
    problems = []
    kind = volume.get("drive_type")
    if kind != 3:
        problems.append("it is on a %s, not a local disk" % DRIVE_TYPES.get(kind, "drive of type %s" % kind))
    if volume.get("dedup"):
        problems.append("its volume %s is de-duplicated" % volume.get("name"))
    file_system = volume.get("file_system") or "?"
    if file_system.upper() not in ("NTFS", "REFS"):
        problems.append("its volume's file system is %s, not NTFS or ReFS" % file_system)
    return problems


def free_percent(volume: dict) -> float | None:
    """Free space of the folder's volume as a percentage of the volume's size (None when not known)."""
    try:
        capacity, free = int(volume.get("capacity") or 0), int(volume.get("free") or 0)
    except (TypeError, ValueError):
        return None
    return 100.0 * free / capacity if capacity > 0 else None


def gib(size) -> str:
    return "%.1f GB" % (int(size or 0) / 2**30)


# -- MARS_TEMP_FILES --------------------------------------------------------------------------------------------

# Article 004 ("Weitere Empfehlungen"): more than 60,000 or 65,000 files with the extension TMP in C:\Windows\Temp.
TEMP_LIMIT = 60000
TEMP_EXTENSION = ".tmp"
# Only files last written longer ago than this are deleted (mars_agent_temp_files_min_age_hours): a younger one may be
# a setup's or a job's that runs now. Made up, as the article gives no age; at most a year.
TEMP_MIN_AGE = 24
TEMP_MAX_AGE = 8760


def temp_summary(result: dict, min_age_hours: int = TEMP_MIN_AGE) -> tuple[str, str]:
    """(status, summary) of the delete script's answer: fixed, or found when files it could not remove are still above
    the limit; failed when it could not list the folder."""
    if result.get("error"):
        return "failed", "deleting the %s files in %s stopped: %s" % (TEMP_EXTENSION, result.get("folder"), result["error"])
    removed, kept = int(result.get("removed") or 0), int(result.get("kept") or 0)
    young, gone = int(result.get("young") or 0), int(result.get("gone") or 0)
    words = "removed %d %s file(s) from %s (%s freed)" % (removed, TEMP_EXTENSION, result.get("folder"), mib(result.get("bytes_freed")))
    if kept and not young:
        words += "; %d kept (in use or access denied)" % kept
    elif kept:
        busy = "; %d in use or access denied" % (kept - young) if kept > young else ""
        words += "; %d kept (%d written in the last %d h%s)" % (kept, young, min_age_hours, busy)
    if gone:
        words += "; %d already gone (removed by someone else meanwhile)" % gone
    return "fixed", words


def mib(size) -> str:
    return "%.1f MB" % (int(size or 0) / 2**20)


# -- MARS_PREREQS -----------------------------------------------------------------------------------------------

# Release of HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full for .NET Framework 4.5.2 (learn.microsoft.com,
# "How to: Determine which .NET Framework versions are installed"); article 004 asks for 4.5.2 or later.
DOTNET_452 = 379893
CLOCK_SKEW = 300


def dotnet_problem(release) -> str | None:
    if release is None or not str(release).isdigit():
        return ".NET Framework 4.5 or later is not installed (no Release value under NDP\\v4\\Full)"
    if int(release) < DOTNET_452:
        return ".NET Framework Release %s is below %d (4.5.2)" % (release, DOTNET_452)
    return None


def parse_utc(text: str) -> datetime.datetime:
    """An ISO 8601 time as [datetime]::ToString('o') writes it (7 fraction digits), as UTC."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", str(text or "").strip())
    if not match:
        raise ValueError("not an ISO 8601 time: %r" % text)
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    moment = moment.replace(microsecond=int(fraction))
    zone = match.group(3) or "Z"
    offset = datetime.timedelta(0) if zone == "Z" else datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * (
        1 if zone[0] == "+" else -1)
    return (moment - offset).replace(tzinfo=datetime.timezone.utc)


def skew_range(vm_utc: str, sent: datetime.datetime, received: datetime.datetime) -> tuple[float, float]:
    """The VM clock's offset from the controller's, in seconds, as the range it must lie in: the VM read its clock
    after the controller sent its time and before the answer came back."""
    vm = parse_utc(vm_utc)
    return (vm - received).total_seconds(), (vm - sent).total_seconds()


def clock_problem(low: float, high: float, limit: float) -> str | None:
    """A finding only when the whole range is beyond the limit: the round trip's time is never counted as skew."""
    if low > limit:
        return "the VM's clock is at least %d s ahead of the controller's (more than %d s)" % (low, limit)
    if high < -limit:
        return "the VM's clock is at least %d s behind the controller's (more than %d s)" % (-high, limit)
    return None
