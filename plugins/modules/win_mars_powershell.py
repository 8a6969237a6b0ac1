#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_powershell
short_description: Put the MSOnlineBackup module on PSModulePath and lift a Restricted execution policy (cause MARS_POWERSHELL)
version_added: 0.2.0
description:
  - Only where the MARS agent (Microsoft Azure Recovery Services agent) is installed; elsewhere the cause is skipped.
  - The agent's backup task runs PowerShell with its MSOnlineBackup module (article 004, "Backups don't run according to schedule").
  - The machine's C(PSModulePath) (REG_EXPAND_SZ under C(HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment), read
    unexpanded) must hold C(<install>\Bin\Modules), the folder where PowerShell finds the module; it is added with
    M(ansible.windows.win_path), which keeps the value unexpanded. Article 004 writes the path with the module's own folder,
    C(...\bin\Modules\MSOnlineBackup); PowerShell looks for a module in the subfolders of each entry (about_PSModulePath), so its
    parent is what lets the module load.
  - The LocalMachine execution policy must not be Restricted, nor Undefined on a Windows client (Undefined means Restricted there,
    RemoteSigned on Windows Server; about_Execution_Policies). It is set to RemoteSigned under
    C(HKLM\SOFTWARE\Microsoft\PowerShell\1\ShellIds\Microsoft.PowerShell) with M(ansible.windows.win_regedit), as
    Set-ExecutionPolicy -Scope LocalMachine does; the old value is in the finding and the diff. A Group Policy (MachinePolicy)
    wins over it, so a restricting one is reported, not changed. With O(set_execution_policy) false the policy is only reported.
  - On a DPM or MABS server, which schedules its jobs itself, there is no MARS backup task and the check is skipped.
  - A missing C(MSOnlineBackup.psd1) is reported. PowerShell 3.0 or later, which the article asks for, is given (Ansible needs 5.1).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  set_execution_policy:
    description:
      - Set a Restricted LocalMachine execution policy to RemoteSigned. Lowering it changes the machine's security posture;
        false reports it only.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Let the MARS backup task load its PowerShell module
  azure_backup.remediation.win_mars_powershell:

- name: Report the execution policy but leave it as the security baseline sets it
  azure_backup.remediation.win_mars_powershell:
    set_execution_policy: false
"""

RETURN = r"""
findings:
  description: The checks C(module_path), C(execution_policy) and C(module_files).
  returned: always
  type: list
  elements: dict
"""
