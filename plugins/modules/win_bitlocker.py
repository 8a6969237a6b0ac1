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
  description: The check C(locked), and C(protection) where BitLocker is on.
  returned: always
  type: list
  elements: dict
"""
