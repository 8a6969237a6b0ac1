# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BITLOCKER: a volume BitLocker keeps locked fails the VSS snapshot. Reported; turning BitLocker
off (article 000's advice) only on request, only where the volume is unlocked, never under Azure Disk
Encryption, data volumes before the OS volume (see plugin_utils/windows/bitlocker.py for why)."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import bitlocker
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction, text_diff

READ = r"""#azure_backup.remediation/bitlocker.read
# Every volume BitLocker knows, by volume path (DeviceID) and drive letter, with its protection, lock,
# conversion status and auto-unlock state as numbers, and whether Azure Disk Encryption's extension is
# installed. Reads only. Without the BitLocker feature the namespace does not exist: no volume is
# encrypted then; any other error (access denied) is an error.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$AdeDir,
    [string]$BekLabel
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

try {
    $encryptable = @(Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume)
}
catch [Microsoft.Management.Infrastructure.CimException] {
    if ($_.Exception.NativeErrorCode -ne 'InvalidNamespace') {
        throw
    }
    $encryptable = @()
}
$volumes = @(foreach ($volume in $encryptable) {
        # In check mode the script runs with -WhatIf, which Invoke-CimMethod would honour by not asking.
        $lock = Invoke-CimMethod -InputObject $volume -MethodName GetLockStatus -WhatIf:$false
        $entry = @{
            mount = $volume.DriveLetter
            device_id = $volume.DeviceID
            volume_type = $volume.VolumeType
            protection_status = [int]$volume.ProtectionStatus
            lock_status = if ($lock) { [int]$lock.LockStatus } else { $null }
        }
        if ($entry.lock_status -eq 0) {
            $entry.conversion_status = [int](Invoke-CimMethod -InputObject $volume -MethodName GetConversionStatus -WhatIf:$false).ConversionStatus
            if ($volume.VolumeType -eq 0) {
                $stored = Invoke-CimMethod -InputObject $volume -MethodName IsAutoUnlockKeyStored -WhatIf:$false
                $entry.auto_unlock_keys_stored = ($stored.ReturnValue -eq 0 -and $stored.IsAutoUnlockKeyStored)
            }
            else {
                $enabled = Invoke-CimMethod -InputObject $volume -MethodName IsAutoUnlockEnabled -WhatIf:$false
                $entry.auto_unlock = ($enabled.ReturnValue -eq 0 -and $enabled.IsAutoUnlockEnabled)
            }
        }
        $entry
    })

# Where Windows keeps the auto-unlock keys is not documented beyond "the registry of the running OS volume"
# (IsAutoUnlockKeyStored); FVEAutoUnlock is where they are seen. Its entries are counted, subkeys or values,
# whichever it holds, and compared on the controller with the volumes listed above.
$autoUnlockKey = 'HKLM:\SYSTEM\CurrentControlSet\Control\FVEAutoUnlock'
$autoUnlockEntries = $null
if (Test-Path -LiteralPath $autoUnlockKey) {
    $key = Get-Item -LiteralPath $autoUnlockKey
    $autoUnlockEntries = [Math]::Max($key.SubKeyCount, $key.ValueCount)
}

$Ansible.Result = @{
    volumes = $volumes
    ade_versions = @(Get-ChildItem -LiteralPath $AdeDir -Directory -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
    # Azure Disk Encryption keeps its key file on a volume labelled "Bek Volume", also after the extension is removed.
    bek_volumes = @(Get-Volume | Where-Object { $_.FileSystemLabel -eq $BekLabel } | ForEach-Object {
            if ([char]::IsLetter([char]$_.DriveLetter)) { '{0}:' -f $_.DriveLetter } else { $_.Path } })
    # Volumes on an offline disk are not listed by Win32_EncryptableVolume, but their auto-unlock keys are stored.
    offline_disks = @(Get-Disk | Where-Object { $_.IsOffline } | ForEach-Object { [string]$_.Number })
    auto_unlock_entries = $autoUnlockEntries
}
"""

DISABLE = r"""#azure_backup.remediation/bitlocker.disable
# Turns BitLocker off (Win32_EncryptableVolume.Decrypt) on the given volumes, found by volume path, so
# volumes without a drive letter are reached too; Windows decrypts in the background. With
# -ClearAutoUnlock, the OS volume's auto-unlock keys are removed first (ClearAllAutoUnlockKeys), which
# Decrypt requires of the OS volume. Each volume is tried and reported on its own, a WMI error too. Changes the VM: sent
# only on request, never in check mode.
[CmdletBinding()]
param(
    [string[]]$DeviceIds,
    [bool]$ClearAutoUnlock
)
$ErrorActionPreference = 'Stop'

$all = @(Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume)
$Ansible.Result = @{
    volumes = @(foreach ($id in $DeviceIds) {
            $volume = $all | Where-Object { $_.DeviceID -eq $id } | Select-Object -First 1
            $entry = @{ device_id = $id; volume = if ($volume -and $volume.DriveLetter) { $volume.DriveLetter } else { $id } }
            # One volume's WMI error is that volume's outcome: the others are still tried and reported.
            try {
                if (-not $volume) {
                    $entry.status = 'failed'
                    $entry.error = 'no such volume'
                }
                else {
                    $cleared = 0
                    if ($ClearAutoUnlock -and $volume.VolumeType -eq 0) {
                        $cleared = (Invoke-CimMethod -InputObject $volume -MethodName ClearAllAutoUnlockKeys).ReturnValue
                        $entry.auto_unlock_cleared = ($cleared -eq 0)
                    }
                    if ($cleared -ne 0) {
                        $entry.status = 'failed'
                        $entry.return_value = $cleared
                        $entry.error = 'ClearAllAutoUnlockKeys failed: the auto-unlock keys stay and BitLocker stays on'
                    }
                    else {
                        $code = (Invoke-CimMethod -InputObject $volume -MethodName Decrypt).ReturnValue
                        if ($code -eq 0) {
                            $entry.status = 'started'
                            $entry.conversion_status = [int](Invoke-CimMethod -InputObject $volume -MethodName GetConversionStatus).ConversionStatus
                        }
                        else {
                            $entry.status = 'failed'
                            $entry.return_value = $code
                            $entry.error = 'Decrypt refused'
                        }
                    }
                }
            }
            catch {
                $entry.status = 'failed'
                $entry.error = 'WMI error: {0}' -f $_.Exception.Message
            }
            $entry
        })
}
"""

ADE_DIR = r"C:\Packages\Plugins" + "\\" + bitlocker.ADE_EXTENSION


class ActionModule(WinCauseAction):
    CAUSE = "BITLOCKER"
    ARGUMENT_SPEC = {
        "disable": {"type": "bool", "default": False},
    }

    def first_read(self) -> tuple:
        return READ, "BitLocker's volumes", {"AdeDir": ADE_DIR, "BekLabel": bitlocker.BEK_LABEL}

    def steps(self):
        state = self.read(READ, "BitLocker's volumes", AdeDir=ADE_DIR, BekLabel=bitlocker.BEK_LABEL)
        volumes = state.get("volumes") or []
        locked, protected = bitlocker.locked(volumes), bitlocker.protected(volumes)
        detail = {"volumes": [bitlocker.describe(v) for v in volumes], "ade_versions": state.get("ade_versions") or [],
                  "bek_volumes": state.get("bek_volumes") or [], "offline_disks": state.get("offline_disks") or [],
                  "auto_unlock_entries": state.get("auto_unlock_entries")}
        if locked:
            yield Step("locked", "found", "locked by BitLocker: %s. VSS cannot snapshot a locked volume: unlock it with its "
                       "recovery key (manage-bde -unlock), then run again" % ", ".join(v["volume"] for v in locked), detail)
        else:
            yield Step("locked", "ok", "no volume is locked by BitLocker (%d known to BitLocker)" % len(volumes), detail)
        if not protected:
            return
        names = [v["volume"] for v in protected]
        if not self.args["disable"]:
            yield Step("protection", "found", "BitLocker is on for %s; if snapshots fail with a BitLocker VSS error, set "
                       "bitlocker_disable to turn it off (article 000)" % ", ".join(names), detail, severity="info")
            return
        if detail["ade_versions"]:
            yield Step("protection", "failed", "BitLocker is on for %s under Azure Disk Encryption (extension %s %s installed): not turned off "
                       "in the guest; %s" % (", ".join(names), bitlocker.ADE_EXTENSION, ", ".join(detail["ade_versions"]), bitlocker.ADE_ROUTE),
                       detail)
            return
        if detail["bek_volumes"]:
            yield Step("protection", "failed", "BitLocker is on for %s and Azure Disk Encryption's key volume '%s' is present (%s), so ADE "
                       "manages it even without its extension installed: not turned off in the guest; %s"
                       % (", ".join(names), bitlocker.BEK_LABEL, ", ".join(detail["bek_volumes"]), bitlocker.ADE_ROUTE), detail)
            return
        todo = bitlocker.plan(volumes, state.get("auto_unlock_entries"), detail["offline_disks"])
        if todo["keep_os"]:
            yield Step("os_volume", "found", "%s: BitLocker stays on: %s" % (bitlocker.name(todo["os"]), todo["keep_os"]), detail)
            todo["os"] = None
        targets = todo["data"] + ([todo["os"]] if todo["os"] else [])
        if not targets:
            return
        target_names = [bitlocker.name(v) for v in targets]
        clear = ("clear the auto-unlock keys on %s (those of data volumes not attached now go too), then " % bitlocker.name(todo["os"])
                 if todo["os"] and todo["clear_auto_unlock"] else "")
        diff = text_diff("BitLocker", "".join("%s on\n" % n for n in target_names), "".join("%s off (decrypting)\n" % n for n in target_names))
        yield Step("protection", "found", "BitLocker is on for %s" % ", ".join(target_names), detail,
                   change=Change("%sturn it off" % clear, lambda: self.turn_off(volumes, todo, detail), diff))

    def turn_off(self, volumes: list[dict], todo: dict, detail: dict) -> Step:
        """Data volumes first, then the OS volume once none of them still unlocks with a key it stores."""
        results = []
        if todo["data"]:
            results += self._disable([v["device_id"] for v in todo["data"]], False)
        if todo["os"]:
            waiting = bitlocker.still_needs_auto_unlock(volumes, results) if todo["clear_auto_unlock"] else []
            if waiting:
                results.append({"device_id": todo["os"]["device_id"], "volume": bitlocker.name(todo["os"]), "status": "refused",
                                "error": "not tried: %s did not start decrypting and still unlock%s with a key stored here"
                                % (", ".join(waiting), "s" if len(waiting) == 1 else "")})
            else:
                results += self._disable([todo["os"]["device_id"]], todo["clear_auto_unlock"])
        detail = dict(detail, after=results)
        lines = [bitlocker.outcome(r) if r["status"] != "refused" else "%s %s" % (r["volume"], r["error"]) for r in results]
        started = [r for r in results if r["status"] == "started"]
        status = "fixed" if len(started) == len(results) else "failed"
        return Step("protection", status, "turning BitLocker off: %s%s" % ("; ".join(lines), "; Windows decrypts in the background" if started else ""),
                    detail)

    def _disable(self, device_ids: list[str], clear_auto_unlock: bool) -> list[dict]:
        answer = self.apply("win_powershell", "turning BitLocker off on %s" % ", ".join(device_ids), script=DISABLE,
                            parameters={"DeviceIds": device_ids, "ClearAutoUnlock": clear_auto_unlock})
        return (answer.get("result") or {}).get("volumes") or []
