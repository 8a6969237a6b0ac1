# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""BitLocker (cause BITLOCKER): a volume BitLocker keeps locked fails VSS, so the snapshot fails.

Volumes come from Win32_EncryptableVolume (numbers, not localised words, Microsoft Learn "Win32_EncryptableVolume
class"): ProtectionStatus 0 off, 1 on, 2 unknown; GetLockStatus() 0 unlocked, 1 locked; VolumeType 0 the
operating system volume, 1 fixed data, 2 portable data; GetConversionStatus() 0 fully decrypted, 1 fully
encrypted, 2 encrypting, 3 decrypting, 4 encryption paused, 5 decryption paused. DeviceID is the volume path
(\\\\?\\Volume{GUID}\\), which every volume has, with or without a drive letter.

Turning BitLocker off is the Decrypt method: it refuses the running OS volume while keys that unlock data
volumes automatically are stored on it (FVE_E_AUTOUNLOCK_ENABLED, 0x80310029: "Use ClearAllAutoUnlockKeys to
remove these keys"; Disable-BitLocker says the same: "If the volume that hosts the operating system contains any
automatic unlocking keys, the cmdlet does not proceed", use Clear-BitLockerAutoUnlock). Decrypting a volume turns
its protection off at once (Decrypt: "protection status ... changes to 0"), so a data volume that is decrypting
no longer needs its auto-unlock key; one that stays protected does, and clearing the keys would leave it locked
after the next restart.

Azure Disk Encryption (extension Microsoft.Azure.Security.AzureDiskEncryption) manages BitLocker from the
platform: turn it off there (Disable-AzVMDiskEncryption / az vm encryption disable), never in the guest.
"""

from __future__ import annotations

PROTECTION = {0: "off", 1: "on", 2: "unknown"}
LOCK = {0: "unlocked", 1: "locked"}
CONVERSION = {0: "fully decrypted", 1: "fully encrypted", 2: "encrypting", 3: "decrypting", 4: "encryption paused",
              5: "decryption paused"}
OS_VOLUME = 0
FVE_E_AUTOUNLOCK_ENABLED = 0x80310029
# What the return codes mean, as the Decrypt and ClearAllAutoUnlockKeys method pages describe them.
RETURN_CODES = {
    0x80310000: "FVE_E_LOCKED_VOLUME: the volume is locked",
    0x80310008: "FVE_E_NOT_ACTIVATED: BitLocker is not enabled on the volume",
    0x80310028: "FVE_E_NOT_OS_VOLUME: only for the running operating system volume",
    FVE_E_AUTOUNLOCK_ENABLED: "FVE_E_AUTOUNLOCK_ENABLED: keys used to automatically unlock data volumes are available",
}
ADE_EXTENSION = "Microsoft.Azure.Security.AzureDiskEncryption"
# The label of the volume Azure Disk Encryption keeps its BitLocker key file (BEK) on (Microsoft Learn, "Azure Disk
# Encryption for Windows VMs FAQ" and the ADE troubleshooting guide: do not delete or change the "Bek Volume").
BEK_LABEL = "Bek Volume"
ADE_ROUTE = ("turn encryption off from the platform, not in the guest: Disable-AzVMDiskEncryption -ResourceGroupName <rg> -VMName <vm> "
             "-VolumeType All, or az vm encryption disable --resource-group <rg> --name <vm> --volume-type ALL")


def name(volume: dict) -> str:
    """C: for a volume with a letter, its volume path otherwise."""
    return volume.get("mount") or volume.get("device_id") or "(a volume without a drive letter)"


def describe(volume: dict) -> dict:
    out = {
        "volume": name(volume),
        "protection": PROTECTION.get(volume.get("protection_status"), "unknown"),
        "lock": LOCK.get(volume.get("lock_status"), "unknown"),
    }
    if volume.get("device_id"):
        out.update(device_id=volume["device_id"], os_volume=volume.get("volume_type") == OS_VOLUME,
                   conversion=CONVERSION.get(volume.get("conversion_status"), "unknown"))
    if volume.get("auto_unlock"):
        out["auto_unlock"] = True
    if volume.get("auto_unlock_keys_stored"):
        out["auto_unlock_keys_stored"] = True
    return out


def locked(volumes: list[dict]) -> list[dict]:
    return [describe(v) for v in volumes if v.get("lock_status") == 1]


def protected(volumes: list[dict]) -> list[dict]:
    """Unlocked volumes with protection on: what turning BitLocker off (on request) would decrypt."""
    return [describe(v) for v in volumes if v.get("protection_status") == 1 and v.get("lock_status") != 1]


def unseen_auto_unlock(volumes: list[dict], stored_entries, offline_disks=()) -> str | None:
    """Why clearing the OS volume's auto-unlock keys could lock a volume this read cannot see; None when it cannot.

    ClearAllAutoUnlockKeys also removes the keys of "data volumes that are not currently connected" (Microsoft Learn,
    ClearAllAutoUnlockKeys, Remarks), and IsAutoUnlockKeyStored can be true "even if automatic unlocking is disabled for
    all data volumes currently connected" (IsAutoUnlockKeyStored, Remarks). Where the keys are kept is not documented
    beyond "the registry of the running OS volume"; ``stored_entries`` counts the entries of FVEAutoUnlock, where they
    are seen (None: not readable). Any stored key that no listed volume accounts for is treated as another volume's.
    """
    os_volume = next((v for v in volumes if v.get("volume_type") == OS_VOLUME), None)
    if not os_volume or not os_volume.get("auto_unlock_keys_stored"):
        return None
    reasons = []
    if offline_disks:
        reasons.append("disk%s %s %s offline, so BitLocker cannot list %s volumes" % (
            "s" if len(offline_disks) > 1 else "", ", ".join(offline_disks), "are" if len(offline_disks) > 1 else "is",
            "their" if len(offline_disks) > 1 else "its"))
    listed = len([v for v in volumes if v.get("volume_type") != OS_VOLUME and v.get("auto_unlock")])
    if stored_entries is None and not listed:
        reasons.append("auto-unlock keys are stored on %s but no listed volume unlocks with one" % name(os_volume))
    elif stored_entries is not None and int(stored_entries) > listed:
        reasons.append("%d auto-unlock key%s stored on %s, but only %d listed volume%s unlock%s with one" % (
            int(stored_entries), "s are" if int(stored_entries) != 1 else " is", name(os_volume), listed, "s" if listed != 1 else "",
            "" if listed != 1 else "s"))
    if not reasons:
        return None
    return ("%s: clearing them would also remove the keys of volumes not attached or not visible now, which would then stay locked. "
            "Attach and bring those disks online, or turn auto-unlock off for them (manage-bde -autounlock -disable), then run again"
            % "; ".join(reasons))


def plan(volumes: list[dict], stored_entries=None, offline_disks=()) -> dict:
    """What turning BitLocker off does, in order: {data: [...], os: volume | None, clear_auto_unlock: bool,
    keep_os: reason the OS volume stays on | None}. Data volumes go first, so that the OS volume's
    auto-unlock keys are cleared only once no protected data volume still needs them."""
    todo = [v for v in volumes if v.get("protection_status") == 1 and v.get("lock_status") != 1]
    data = [v for v in todo if v.get("volume_type") != OS_VOLUME]
    os_volume = next((v for v in todo if v.get("volume_type") == OS_VOLUME), None)
    out = {"data": data, "os": os_volume, "clear_auto_unlock": False, "keep_os": None}
    if os_volume and os_volume.get("auto_unlock_keys_stored"):
        out["clear_auto_unlock"] = True
        staying = [v for v in volumes if v.get("volume_type") != OS_VOLUME and v not in data
                   and (v.get("auto_unlock") or v.get("lock_status") == 1) and v.get("protection_status") != 0]
        if staying:
            out["keep_os"] = ("%s stay%s protected and may unlock with a key stored on %s; clearing the auto-unlock keys would leave "
                              "%s locked after the next restart" % (", ".join(name(v) for v in staying), "s" if len(staying) == 1 else "",
                                                                    name(os_volume), "it" if len(staying) == 1 else "them"))
        else:
            out["keep_os"] = unseen_auto_unlock(volumes, stored_entries, offline_disks)
    return out


def still_needs_auto_unlock(volumes: list[dict], results: list[dict]) -> list[str]:
    """Data volumes that unlock automatically and did not start decrypting: the OS volume's keys must stay."""
    started = {r["device_id"] for r in results if r.get("status") == "started"}
    return [name(v) for v in volumes if v.get("volume_type") != OS_VOLUME and v.get("auto_unlock") and v.get("device_id") not in started]


def outcome(result: dict) -> str:
    """One volume's line, e.g. "E: decryption started (decrypting)" or "C: failed: Decrypt refused (0x80310029)"."""
    if result.get("status") == "started":
        return "%s decryption started (%s)" % (result["volume"], CONVERSION.get(result.get("conversion_status"), "unknown"))
    code = result.get("return_value")
    if code in (None, ""):
        return "%s failed: %s" % (result["volume"], result.get("error") or "no reason given")
    code = int(code) & 0xFFFFFFFF
    meaning = RETURN_CODES.get(code)
    return "%s failed: %s (0x%08X%s)" % (result["volume"], result.get("error") or "no reason given", code, ", " + meaning if meaning else "")
