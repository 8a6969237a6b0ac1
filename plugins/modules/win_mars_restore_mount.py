#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_restore_mount
short_description: Keep the Microsoft iSCSI Initiator service running for MARS restores (cause MARS_RESTORE_MOUNT)
version_added: 0.2.0
description:
  - A MARS restore mounts the recovery volume through the Microsoft iSCSI Initiator (article 004, restore problems).
    Starts its service C(MSiSCSI) where it is stopped and leaves its start type alone (Manual on Windows).
  - Where the service is missing, reports the article's driver steps (Device Manager, an unknown device with hardware ID
    C(ROOT\ISCSIPRT), update its driver).
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Start the iSCSI initiator for restores
  azure_backup.remediation.win_mars_restore_mount:
"""

RETURN = r"""
findings:
  description: The check C(iscsi_initiator).
  returned: always
  type: list
  elements: dict
"""
