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
  - Accounts are compared as SIDs; an alias without a fixed SID (a domain group such as C(DA), or one this module does
    not know) is compared and shown as it is, never an error.
  - When the DACL gives this session no WRITE_DAC, it first takes ownership of the folder as Administrators
    (C(takeown /A), the take-ownership privilege an administrator has), since the owner may always write the DACL. The new
    owner stays (the fixed finding's summary names it); the old one is in the saved security descriptor.
  - Key files whose DACL is not protected and holds ACEs inherited from the folder would lose them when the folder's DACL
    is replaced (a file with nothing else would be readable by no one). The reset script finds them itself, right before
    it sets the folder's DACL (so a key file made since the read is kept too), and protects their DACL first, keeping the
    inherited ACEs as explicit ones (taking ownership of a file it cannot write); their old SDDL is saved beside the
    folder's. The read and the reset answer with counts and the protected paths, not each file's SDDL.
  - C(icacls) and C(takeown) run with stderr kept as text and their exit code reported.
  - After deleting the certificates, restarts C(WindowsAzureGuestAgent) so it makes a new one, unless a backup snapshot
    runs (C(IaaSBcdrExtension)), looked for again right before the stop. The restart is the bounded one of
    M(azure_backup.remediation.win_vss_writers); a stop or start that takes longer than O(service_timeout) is reported,
    not waited for; a WinRM connection lost on the way is reset and the agent's state read again.
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
  restart_agent:
    description: After deleting the certificates, restart C(WindowsAzureGuestAgent) so it makes a new one.
    type: bool
    default: true
  service_timeout:
    description:
      - Seconds the agent restart waits for C(WindowsAzureGuestAgent) to stop, and again to start. Must be above 0.
      - An agent still stopping after that is reported as stuck in StopPending.
    type: int
    default: 60
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
    - C(acl), with C(sddl), C(icacls), C(missing), C(extra), C(owner), C(take_ownership), C(key_files) (the counts C(total),
      C(inheriting), C(only_inherited), C(unreadable)), and after a reset C(before_sddl), C(after_sddl), C(owner_after),
      C(backup), C(files_backup), C(protected), C(only_inherited), C(done).
    - C(key_files) (failed) when a key file is no longer readable by SYSTEM after the reset.
    - One C(certificate) per certificate deleted, then C(agent_restart) with C(restart) (the restart script's outcome).
  returned: always
  type: list
  elements: dict
"""
