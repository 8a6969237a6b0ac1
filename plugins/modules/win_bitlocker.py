#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_bitlocker
short_description: Report volumes BitLocker keeps locked (cause BITLOCKER)
version_added: 0.2.0
description:
  - A volume locked by BitLocker fails the VSS snapshot. Reports locked volumes (unlocking needs the recovery key,
    so a person does it) and volumes with protection on.
  - With O(disable), turns BitLocker off on unlocked protected volumes, as article 000 advises when snapshots fail
    with BitLocker's VSS error. Windows decrypts them in the background.
  - Volumes are addressed by volume path (C(\\?\Volume{GUID}\)), so volumes without a drive letter are turned off too.
  - Data volumes go first. The OS volume refuses while it stores keys that unlock data volumes automatically
    (FVE_E_AUTOUNLOCK_ENABLED), so those keys are cleared first, but only when every data volume that uses them started
    decrypting; otherwise the OS volume stays on and the finding says which volume still needs them.
  - The keys are not cleared either (the OS volume stays on) when they may belong to volumes not seen now, because
    ClearAllAutoUnlockKeys also removes the keys of data volumes not connected; that is when a disk is offline, or when more
    auto-unlock entries are stored (counted under C(HKLM\SYSTEM\CurrentControlSet\Control\FVEAutoUnlock), where they are
    seen; Microsoft documents only "the registry") than listed volumes use, or when keys are stored and no listed volume
    uses one.
  - Each volume is reported on its own (decryption started, or failed with Windows' return code or the WMI error), so a
    failure part-way says what is already decrypting.
  - With Azure Disk Encryption's extension (C(Microsoft.Azure.Security.AzureDiskEncryption)) installed, or its key volume
    (label C(Bek Volume)) present, nothing is turned off in the guest; the finding names the platform route
    (C(Disable-AzVMDiskEncryption), C(az vm encryption disable)).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  disable:
    description: Turn BitLocker off on the unlocked volumes where it is on.
    type: bool
    default: false
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Report BitLocker-locked volumes
  azure_backup.remediation.win_bitlocker:
"""

RETURN = r"""
findings:
  description:
    - The check C(locked), and C(protection) where BitLocker is on; with O(disable), C(detail.after) lists each volume's outcome.
    - C(os_volume) when the OS volume stays on because a data volume still needs its auto-unlock keys, or keys of volumes
      not seen may be stored.
    - C(detail) also holds C(bek_volumes), C(offline_disks) and C(auto_unlock_entries).
  returned: always
  type: list
  elements: dict
"""
