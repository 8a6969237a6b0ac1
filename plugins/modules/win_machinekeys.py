#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_machinekeys
short_description: Reset the MachineKeys folder's permissions and the extensions' certificate (cause MACHINEKEYS)
version_added: 0.2.0
description:
  - Compares the DACL of C(%SystemDrive%\ProgramData\Microsoft\Crypto\RSA\MachineKeys) with Windows' default by SID
    and access mask (SDDL), never by account names, which Windows localises. Owner and group are not compared.
  - Where it differs, saves the old security descriptor to O(backup_dir) on the VM, resets the DACL, returns the old
    SDDL, and deletes the certificates issued to C(Windows Azure Service Management for Extensions) or by
    C(Windows Azure CRP Certificate Generator) from C(LocalMachine\My); the agent makes a new one. Then retry the backup.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  path:
    description: The folder. Empty means C(%SystemDrive%\ProgramData\Microsoft\Crypto\RSA\MachineKeys).
    type: str
    default: ""
  default_sddl:
    description: The security descriptor whose DACL is the default (captured on Windows Server 2012 R2).
    type: str
    default: O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)
  backup_dir:
    description: Folder on the VM where the old security descriptor is saved before a reset.
    type: str
    default: C:\ProgramData\azure-backup\backups
  delete_certificates:
    description: After a reset, delete the extensions' certificate as article 000 says.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Reset the MachineKeys permissions where they differ from the default
  azure_backup.remediation.win_machinekeys:
"""

RETURN = r"""
findings:
  description:
    - C(acl), with C(sddl), C(icacls), C(missing), C(extra), and after a reset C(before_sddl) and C(backup).
    - One C(certificate) per certificate deleted.
  returned: always
  type: list
  elements: dict
"""
