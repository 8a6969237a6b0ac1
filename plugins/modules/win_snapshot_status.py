#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_snapshot_status
short_description: Check what keeps a Windows VM's snapshot from being taken (cause SNAPSHOT_STATUS)
version_added: 0.2.0
description:
  - Sets C(HKLM\SOFTWARE\Microsoft\BCDRAGENT) C(USEVSSCOPYBACKUP) to C(TRUE) (REG_SZ) where SQL Server is installed
    (instances registered in the 64-bit or the 32-bit registry view, C(WOW6432Node)), or on request
    (O(use_vss_copy_backup)), as article 001 says for VMs with SQL Server backups.
  - Reports a primary network interface with a static IPv4 address (Azure gives the address by DHCP); switches it to
    DHCP only with O(fix_dhcp).
  - Reports CPU load and memory use above the thresholds, with the figures.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  use_vss_copy_backup:
    description: Set C(USEVSSCOPYBACKUP) even where no SQL Server is installed.
    type: bool
    default: false
  fix_dhcp:
    description:
      - Switch a static primary interface to DHCP. Refused (reported as C(found), nothing changed) when the interface has
        more than one IPv4 address, because C(netsh ... source=dhcp) removes every static address and Azure's DHCP gives
        back only the primary one.
      - The switch takes away the address WinRM runs over, so it runs detached, in a one-shot scheduled task as SYSTEM
        (S-1-5-18) started at once and deleted once expired. The task runs C(powershell.exe -EncodedCommand), so no
        script file is run and an AllSigned execution policy set by Group Policy does not stop it; its job and result
        are kept in C(C:\ProgramData\azure-backup\tasks), created for SYSTEM and Administrators only (a folder of that
        name owned by anyone else, or that others may write to, is refused).
      - The task calls C(netsh interface ipv4 set address name=<index> source=dhcp), waits up to 60 s for a DHCP
        address, and puts the static configuration back if none came or if DHCP handed out another address than the
        static one; it keeps the DNS servers. The action reads the result back, reconnecting when the connection drops.
    type: bool
    default: false
  dhcp_timeout:
    description: Seconds to wait for the marker of the DHCP switch (at least 75); past it the state is reported as unknown.
    type: int
    default: 180
  cpu_threshold:
    description: Processor load in percent above which the VM is reported as busy.
    type: float
    default: 90
  memory_threshold:
    description: Memory use in percent above which the VM is reported.
    type: float
    default: 90
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the snapshot settings
  azure_backup.remediation.win_snapshot_status:
"""

RETURN = r"""
findings:
  description: The checks C(vss_copy_backup), C(guest_dhcp) (the same name as on Linux), C(cpu_load) and C(memory_pressure).
  returned: always
  type: list
  elements: dict
"""
