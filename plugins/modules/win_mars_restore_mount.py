#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_restore_mount
short_description: Check that the Microsoft iSCSI Initiator service can start for MARS restores (cause MARS_RESTORE_MOUNT)
version_added: 0.2.0
description:
  - A MARS restore mounts the recovery volume through the Microsoft iSCSI Initiator (article 004, restore problems).
    Windows installs its service C(MSiSCSI) as Manual and stopped; it starts when something uses the initiator. A stopped
    service set to Manual or Automatic is healthy. A Disabled one cannot be started by a restore and is reported (it may
    be hardening).
  - Only with O(enable_iscsi) is it changed. A Disabled service is set to Manual (never Automatic), and a stopped one started.
  - Where the service is missing, reports the article's driver steps (Device Manager, an unknown device with hardware ID
    C(ROOT\ISCSIPRT), update its driver).
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  enable_iscsi:
    description: Start C(MSiSCSI) where it is stopped, and set it to Manual where it is Disabled.
    type: bool
    default: false
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check that the iSCSI initiator can start for restores
  azure_backup.remediation.win_mars_restore_mount:

- name: Start it, and set it to Manual where it is disabled
  azure_backup.remediation.win_mars_restore_mount:
    enable_iscsi: true
"""

RETURN = r"""
findings:
  description: The check C(iscsi_initiator).
  returned: always
  type: list
  elements: dict
"""
