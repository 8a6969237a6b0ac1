# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SHADOW_STORAGE: every volume's shadow copy storage has room (article 004, "Increase shadow copy storage"; the
VM backup's VSS snapshots use the same storage). Checked on every Windows VM, not only where MARS is installed."""

from __future__ import annotations

import re

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import shadow_storage as shadow
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction, text_diff
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.scripts import INVOKE_NATIVE

# Put after a script's param block: the associations with their numbers, as strings so uint64 stays exact.
# Win32_ShadowStorage's Volume and DiffVolume are references to Win32_Volume, which carry its key, DeviceID
# (learn.microsoft.com, Win32_ShadowStorage class); MaxSpace, UsedSpace and AllocatedSpace are uint64 bytes.
# PowerShell unrolls the array a function returns: callers wrap it in @(...) so one association stays a list.
GET_SHADOW_STORAGE = r"""
function Get-ShadowStorage {
    @(Get-CimInstance -ClassName Win32_ShadowStorage | ForEach-Object {
            @{
                for = $_.Volume.DeviceID; on = $_.DiffVolume.DeviceID
                used = [string]$_.UsedSpace; allocated = [string]$_.AllocatedSpace; max = [string]$_.MaxSpace
            }
        })
}
"""

# Put after GET_SHADOW_STORAGE: whether a backup runs now. The VM backup's extension process (as win_agent looks for it);
# where the MARS agent is installed, its running operations: Get-OBJob without -Previous (MSOnlineBackup module,
# learn.microsoft.com "Get-OBJob"; -Previous asks for past ones), the module imported from the agent's Bin\Modules so a
# broken PSModulePath (MARS_POWERSHELL) does not hide a job. Run only when a shrink is allowed: importing the module costs.
GET_BACKUP_ACTIVITY = r"""
function Get-BackupActivity {
    param([string[]]$Names)
    $activity = @{ processes = @(Get-Process -Name $Names -ErrorAction SilentlyContinue | ForEach-Object { $_.Name }); mars_jobs = 0; mars_error = $null }
    # Any failure here (WMI, the module, the engine) leaves it unknown, and unknown stops a shrink.
    try {
        $agent = Get-MarsAgent
        if ($agent.installed) {
            Import-Module -Name (Join-Path -Path $agent.install_path -ChildPath 'Bin\Modules\MSOnlineBackup') -ErrorAction Stop
            # Only OBJob objects count, as mars.py's Get-MarsJob counts them: a text the cmdlet may write is no job.
            $activity.mars_jobs = @(Get-OBJob -ErrorAction Stop | Where-Object { $null -ne $_ -and $_ -isnot [string] }).Count
        }
    }
    catch {
        $activity.mars_error = $_.Exception.Message
    }
    $activity
}
"""

READ = r"""#azure_backup.remediation/shadow_storage.read
# Every shadow copy storage association (Win32_ShadowStorage), the local fixed volumes (Win32_Volume DriveType 3:
# DeviceID, letter, capacity, free space), when each shadow copy was made (Win32_ShadowCopy), and volsnap's events 25
# and 36 of the last EventDays days (a storage area too small for a snapshot). Numbers only, decided on the controller.
# Where Win32_ShadowStorage cannot be read (a broken WMI provider), vssadmin's list instead, which the controller reads
# by structure. With CheckBackup, whether a backup runs now. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [int]$EventDays,
    [bool]$CheckBackup,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + INVOKE_NATIVE + GET_SHADOW_STORAGE + mars.GET_MARS_AGENT + GET_BACKUP_ACTIVITY + r"""
$volumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType = 3' | ForEach-Object {
        @{ device_id = $_.DeviceID; letter = $_.DriveLetter; capacity = [string]$_.Capacity; free = [string]$_.FreeSpace }
    })
$result = @{ source = 'cim'; volumes = $volumes; associations = @(); copies = @(); cim_error = $null; vssadmin = $null
    events = @(); events_error = $null; backup = $null }
try {
    $result.associations = @(Get-ShadowStorage)
}
catch {
    $result.source = 'vssadmin'
    $result.cim_error = $_.Exception.Message
    $result.vssadmin = Invoke-Native -FilePath 'vssadmin.exe' -ArgumentList 'list', 'shadowstorage'
}
# Only counted and dated, for the finding: which copies a shrink would take.
$result.copies = @(Get-CimInstance -ClassName Win32_ShadowCopy -ErrorAction SilentlyContinue | ForEach-Object {
        @{ volume = $_.VolumeName; created = if ($_.InstallDate) { $_.InstallDate.ToUniversalTime().ToString('o') } else { $null } }
    })
# The volume is the event's second data item (%2 of its message), the same in every language; the message goes along
# only for an event without it. The provider is compared here, not in the query: its registered name's case varies
# (volsnap, Volsnap) and -eq ignores case.
if ($EventDays -gt 0) {
    try {
        $query = @{ LogName = 'System'; Id = 25, 36; StartTime = (Get-Date).AddDays(-$EventDays) }
        $result.events = @(Get-WinEvent -FilterHashtable $query -ErrorAction Stop | Where-Object { $_.ProviderName -eq 'volsnap' } |
                ForEach-Object {
                    $volume = if ($_.Properties.Count -gt 1) { [string]$_.Properties[1].Value } else { $null }
                    @{ id = $_.Id; time = $_.TimeCreated.ToUniversalTime().ToString('o'); volume = $volume
                        message = if ($volume) { $null } else { $_.Message } }
                })
    }
    catch {
        # Get-WinEvent throws NoMatchingEventsFound where nothing matches: no event, not an error.
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
            $result.events_error = $_.Exception.Message
        }
    }
}
if ($CheckBackup) {
    $result.backup = Get-BackupActivity -Names $BackupProcesses
}
$Ansible.Result = $result
"""

RESIZE = r"""#azure_backup.remediation/shadow_storage.resize
# vssadmin resize shadowstorage for one association, then the associations read again through Win32_ShadowStorage
# until the maximum is the one asked for or WaitSeconds passed: "changes to the maximum size may not have an immediate
# effect" (IVssDifferentialSoftwareSnapshotMgmt::ChangeDiffAreaMaximumSize, learn.microsoft.com). Its exit code and
# output come back as they are. A shrink is not sent while a backup runs (Shrink: checked again here, the read may be
# minutes old). Shrinking below the space in use makes Windows delete the oldest shadow copies. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$For,
    [string]$On,
    [string]$MaxSize,
    [string]$ForId,
    [string]$OnId,
    [string]$Expected,
    [int]$WaitSeconds,
    [bool]$Shrink,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
""" + INVOKE_NATIVE + GET_SHADOW_STORAGE + mars.GET_MARS_AGENT + GET_BACKUP_ACTIVITY + r"""
$result = @{ exit_code = $null; output = $null; associations = $null; read_error = $null; vssadmin = $null; backup = $null; reads = 0 }
if ($Shrink) {
    $result.backup = Get-BackupActivity -Names $BackupProcesses
    if ($result.backup.processes.Count -gt 0 -or $result.backup.mars_jobs -gt 0 -or $result.backup.mars_error) {
        # Changed as below: only where vssadmin ran and succeeded; here it did not run.
        $Ansible.Changed = $result.exit_code -eq 0
        $Ansible.Result = $result
        return
    }
}
$run = Invoke-Native -FilePath 'vssadmin.exe' -ArgumentList 'resize', 'shadowstorage', "/For=$For", "/On=$On", "/MaxSize=$MaxSize"
$Ansible.Changed = $run.exit_code -eq 0
$result.exit_code = $run.exit_code
$result.output = $run.output
try {
    $deadline = (Get-Date).AddSeconds($WaitSeconds)
    do {
        $result.associations = @(Get-ShadowStorage)
        $result.reads += 1
        $now = @($result.associations | Where-Object { $_.for -eq $ForId -and $_.on -eq $OnId })
        # Expected empty: UNBOUNDED, which MaxSpace (uint64) reads as 2^64-1. Else within a megabyte.
        $done = $run.exit_code -ne 0 -or ($now.Count -eq 1 -and $(if ($Expected) { [Math]::Abs([decimal]$now[0].max - [decimal]$Expected) -le 1048576 }
                else { [decimal]$now[0].max -ge 9223372036854775808 }))
        if (-not $done -and (Get-Date) -lt $deadline) {
            Start-Sleep -Seconds 2
        }
    } while (-not $done -and (Get-Date) -lt $deadline)
}
catch {
    # As the read does: vssadmin's list where Win32_ShadowStorage cannot be read.
    $result.read_error = $_.Exception.Message
    $result.vssadmin = Invoke-Native -FilePath 'vssadmin.exe' -ArgumentList 'list', 'shadowstorage'
}
$Ansible.Result = $result
"""
# How long the resize script waits for the new maximum to show (the API's "may not have an immediate effect").
RESIZE_WAIT_SECONDS = 10


class ActionModule(WinCauseAction):
    CAUSE = "MARS_SHADOW_STORAGE"
    ARGUMENT_SPEC = {
        "volumes": {"type": "list", "elements": "str", "default": []},
        "max_size": {"type": "str", "default": "10%"},
        "min_free": {"type": "str", "default": "0"},
        "shrink": {"type": "str", "default": "never", "choices": list(shadow.SHRINK)},
        "grow": {"type": "str", "default": "evidence", "choices": list(shadow.GROW)},
        "event_days": {"type": "int", "default": 30},
    }

    def first_read(self) -> tuple | None:
        return (READ, "the shadow copy storage", self.read_parameters()) if self.settings() else None

    def read_parameters(self) -> dict:
        """The read's parameters: the event window only where evidence decides, the backup check only where a shrink may run."""
        return {"EventDays": self.args["event_days"] if self.args["grow"] == "evidence" else 0,
                "CheckBackup": self.args["shrink"] != "never", "BackupProcesses": list(agent.BACKUP_PROCESSES)}

    def settings(self) -> tuple | None:
        """(volumes, wanted, min free) from the arguments; None when one is refused (steps() says which)."""
        try:
            return self._settings()
        except RemediationError:
            return None

    def _settings(self) -> tuple:
        try:
            wanted = shadow.parse_size(self.args["max_size"])
        except ValueError as exc:
            raise self._refused("shadow_storage_max_size", self.args["max_size"], exc) from None
        try:
            room = shadow.parse_size(self.args["min_free"], unbounded=False, zero=True)
        except ValueError as exc:
            raise self._refused("shadow_storage_min_free", self.args["min_free"], exc) from None
        volumes = []
        for volume in self.args["volumes"]:
            if not re.fullmatch(r"\s*[A-Za-z]:?\\?\s*", str(volume)):
                raise self._refused("shadow_storage_volumes", volume, ValueError("not a drive letter such as C:"))
            volumes.append(shadow.letter(volume))
        if not 1 <= self.args["event_days"] <= 365:
            raise self._refused("shadow_storage_event_days", self.args["event_days"], ValueError("out of range"))
        return volumes, wanted, room

    def _refused(self, variable: str, value, exc: ValueError) -> RemediationError:
        # Each variable's own allowed form (the rule the play checks it against), not one for all of them.
        return RemediationError("%s on %s: %s = '%s' is not allowed (%s): set %s. Nothing was read or changed."
                                % (self.CAUSE, self.host, variable, value, exc, settings.RULES[variable].allowed), check="arguments")

    def steps(self):
        volumes, wanted, room = self._settings()
        state = self.read(READ, "the shadow copy storage", **self.read_parameters())
        entries, exact = self.associations(state)
        if not exact:
            # WMI's provider is broken: worth repairing, and the sizes below are only as good as vssadmin's text.
            yield Step("source", "found", "Win32_ShadowStorage could not be read (%s): the sizes are vssadmin's, rounded to three decimals; "
                       "repair WMI (winmgmt /verifyrepository)" % state.get("cim_error"),
                       {"cim_error": state.get("cim_error"), "vssadmin": (state.get("vssadmin") or {}).get("output")}, severity="warning")
        chosen = [e for e in entries if not volumes or shadow.name(e["for"]) in volumes]
        for missing in [v for v in volumes if v not in [shadow.name(e["for"]) for e in entries]]:
            yield self.no_association(missing, state)
        if not volumes and not entries:
            yield Step("associations", "ok", "%s: no volume has an association yet: Windows creates one on the volume itself with its "
                       "first shadow copy" % WHAT, {"volumes": [v.get("letter") or v["device_id"] for v in shadow.items(state.get("volumes"))]})
        for entry in chosen:
            yield self.volume_step(entry, wanted, room, exact, state)

    def associations(self, state: dict) -> tuple[list[dict], bool]:
        try:
            return shadow.associations(state)
        except ValueError as exc:
            raise RemediationError("%s on %s: Win32_ShadowStorage could not be read (%s), and %s. Is the Volume Shadow Copy service (VSS) "
                                   "disabled? Nothing was changed." % (self.CAUSE, self.host, state.get("cim_error"), exc),
                                   check="read", detail={"vssadmin": (state.get("vssadmin") or {}).get("output")}) from None

    def no_association(self, volume: str, state: dict) -> Step:
        """A volume named in shadow_storage_volumes without an association: reported, not added. Windows makes one on the
        volume itself with its first shadow copy; where else it should live (another volume) is the admin's choice."""
        known = [v.get("letter") for v in shadow.items(state.get("volumes"))]
        if volume not in known:
            return Step(self.check(volume), "found", "%s is not a local fixed volume of this VM (it has %s): check shadow_storage_volumes"
                        % (volume, ", ".join(v for v in known if v) or "none"), {"volume": volume})
        # "vssadmin add shadowstorage" exists on Windows Server only (learn.microsoft.com, vssadmin add shadowstorage).
        return Step(self.check(volume), "found", "%s has no shadow copy storage association yet (the storage VSS snapshots need, VM backup "
                    "and MARS alike): Windows makes one on %s with its first shadow copy; to put it elsewhere run vssadmin add shadowstorage "
                    "/For=%s /On=<volume> /MaxSize=<size> (Windows Server editions only)" % (volume, volume, volume), {"volume": volume},
                    severity="warning")

    @staticmethod
    def check(volume: str) -> str:
        return "volume_" + volume.rstrip(":").lower()

    def volume_step(self, entry: dict, wanted: shadow.Size, room: shadow.Size, exact: bool, state: dict) -> Step:
        evidence = None if state.get("events_error") else shadow.evidence(state.get("events"), entry["for"])
        decided = shadow.plan(entry, wanted, room, self.args["shrink"], exact, grow=self.args["grow"], events=evidence,
                              event_days=self.args["event_days"], events_error=state.get("events_error"))
        words = "%s of %s" % (WHAT, shadow.describe(entry))
        detail = {"for": entry["for"], "on": entry["on"], "used": entry["used"], "allocated": entry["allocated"], "max": entry["max"],
                  "max_before": shadow.human(entry["max"]), "shadow_copies": entry["copies"], "oldest_copy": entry["oldest"], "exact": exact,
                  "wanted": wanted.text, "min_free": room.text, "shrink": self.args["shrink"], "grow": self.args["grow"],
                  "volsnap_events": evidence, "events_error": state.get("events_error")}
        check = self.check(shadow.name(entry["for"]))
        severity = "warning" if decided["warning"] or decided.get("room_short") else None
        notes = [n for n in (decided["warning"], decided.get("room_short")) if n]
        if decided["action"] == "report":
            return Step(check, "found", "%s: %s" % (words, decided["why"]), detail)
        if decided["action"] == "ok":
            summary = "%s%s" % (words, ": " + decided["why"] if decided["why"] else "")
            return Step(check, "found" if decided.get("room_short") else "ok", "; ".join([summary] + notes), detail, severity=severity)
        target = decided["target"]
        detail.update(max_after=shadow.human(target), target=target)
        if decided["action"] == "shrink":
            busy = backup_busy(state.get("backup"))
            if busy:
                # A shrink while a snapshot lives could take the storage its copy-on-write needs: not now.
                detail["backup"] = state.get("backup")
                return Step(check, "found", "%s: %s; not shrunk while %s: run again when it is done" % (words, decided["why"], busy), detail,
                            severity="warning")
        action = "resize it to %s (vssadmin resize shadowstorage /For=%s /On=%s /MaxSize=%s)" % (
            shadow.human(target), shadow.spec(entry["for"]), shadow.spec(entry["on"]), shadow.max_size_arg(target))
        if decided["deletes_copies"]:
            # Say it where it is decided: shrinking below the space in use deletes the oldest shadow copies.
            action += ", which deletes the oldest shadow copies (%d on %s, the oldest from %s) until the rest fit in %s" % (
                entry["copies"], shadow.name(entry["for"]), entry["oldest"] or "an unknown time", shadow.human(target))
        header = "shadow storage of %s on %s" % (shadow.name(entry["for"]), shadow.name(entry["on"]))
        diff = text_diff(header, _maximum(entry["max"]), _maximum(target))
        summary = "; ".join(["%s: %s" % (words, decided["why"])] + notes)
        shrinking = decided["action"] == "shrink"
        return Step(check, "found", summary, detail, severity=severity,
                    change=Change(action, lambda: self.resize(entry, target, check, summary, detail, shrinking), diff))

    def resize(self, entry: dict, target: int | None, check: str, summary: str, detail: dict, shrinking: bool = False) -> Step:
        """vssadmin resize, its exit code checked and its output kept; fixed only when the maximum read back is the one asked."""
        answer = self.apply("win_powershell", "resizing the shadow storage of %s" % shadow.name(entry["for"]), script=RESIZE,
                            parameters={"For": shadow.spec(entry["for"]), "On": shadow.spec(entry["on"]), "MaxSize": shadow.max_size_arg(target),
                                        "ForId": entry["for"]["device_id"], "OnId": entry["on"]["device_id"],
                                        "Expected": "" if target is None else str(int(target)), "WaitSeconds": RESIZE_WAIT_SECONDS,
                                        "Shrink": shrinking, "BackupProcesses": list(agent.BACKUP_PROCESSES)})
        result = answer.get("result") or {}
        if result.get("exit_code") is None and result.get("backup"):
            detail = dict(detail, backup=result["backup"])
            return Step(check, "found", "%s; not shrunk: %s by the time of the change; run again when it is done"
                        % (summary, backup_busy(result["backup"]) or "a backup runs"), detail, severity="warning")
        detail = dict(detail, vssadmin=result.get("output"), exit_code=result.get("exit_code"), read_back_tries=result.get("reads"))
        if result.get("exit_code") != 0:
            return Step(check, "failed", "%s; vssadmin resize shadowstorage failed (exit code %s): %s. Nothing was changed"
                        % (summary, result.get("exit_code"), shadow.said(result.get("output")).rstrip(".")), detail)
        try:
            after, exact = shadow.read_back(result, entry)
        except ValueError as exc:
            return Step(check, "failed", "%s; vssadmin said it resized it, but reading it back failed: Win32_ShadowStorage: %s; %s"
                        % (summary, result.get("read_error"), exc), detail)
        if after is None:
            return Step(check, "failed", "%s; vssadmin said it resized it, but reading it back found no such association" % summary, detail)
        now = after["max"]
        detail.update(max_read_back=shadow.human(now), used_after=after["used"], read_back_exact=exact)
        if not exact:
            detail["read_back_from"] = "vssadmin list shadowstorage (Win32_ShadowStorage: %s)" % result.get("read_error")
        if not shadow.reached(now, target, exact):
            return Step(check, "failed", "%s; vssadmin said it resized it, but its maximum still reads %s, not %s, after %d reads over %d s"
                        % (summary, shadow.human(now), shadow.human(target), result.get("reads") or 1, RESIZE_WAIT_SECONDS), detail)
        gone = ""
        if target is not None and target < entry["used"]:
            gone = "; Windows deleted the oldest shadow copies to fit (%s in use now)" % shadow.human(detail["used_after"])
        return Step(check, "fixed", "%s; resized it to %s (read back: %s)%s" % (summary, shadow.human(target), shadow.human(now), gone), detail)


# Every finding says what this is: the storage VSS snapshots need, on every Windows VM (the cause's ID names MARS, the
# article it comes from; the VM backup's snapshots need the same storage).
WHAT = "shadow copy storage (the storage VSS snapshots need, VM backup and MARS alike)"


def backup_busy(activity: dict | None) -> str | None:
    """Words for a backup that runs now (the backup extension's process, a MARS job, or a MARS agent whose jobs could not be
    asked for), or None."""
    if not activity:
        return None
    if shadow.items(activity.get("processes")):
        return "the VM backup's %s runs" % ", ".join("%s.exe" % p for p in shadow.items(activity["processes"]))
    if activity.get("mars_jobs"):
        return "a MARS backup job runs (Get-OBJob lists %d)" % activity["mars_jobs"]
    if activity.get("mars_error"):
        return "whether a MARS backup job runs could not be told (Get-OBJob: %s)" % activity["mars_error"]
    return None


def _maximum(count: int | None) -> str:
    """One side of the diff: "max 12.7 GB (13636521164 bytes)" or "max UNBOUNDED"."""
    return "max %s\n" % (shadow.human(count) if count is None else "%s (%d bytes)" % (shadow.human(count), count))
