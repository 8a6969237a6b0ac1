# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""BitLocker (cause BITLOCKER): a volume BitLocker keeps locked fails VSS, so the snapshot fails.

Volumes come from Win32_EncryptableVolume (numbers, not localised words):
ProtectionStatus 0 off, 1 on, 2 unknown; GetLockStatus() 0 unlocked, 1 locked.
"""

from __future__ import annotations

PROTECTION = {0: "off", 1: "on", 2: "unknown"}
LOCK = {0: "unlocked", 1: "locked"}


def describe(volume: dict) -> dict:
    return {
        "volume": volume.get("mount") or "(a volume without a drive letter)",
        "protection": PROTECTION.get(volume.get("protection_status"), "unknown"),
        "lock": LOCK.get(volume.get("lock_status"), "unknown"),
    }


def locked(volumes: list[dict]) -> list[dict]:
    return [describe(v) for v in volumes if v.get("lock_status") == 1]


def protected(volumes: list[dict]) -> list[dict]:
    """Unlocked volumes with protection on: what turning BitLocker off (on request) would decrypt."""
    return [describe(v) for v in volumes if v.get("protection_status") == 1 and v.get("lock_status") != 1]
