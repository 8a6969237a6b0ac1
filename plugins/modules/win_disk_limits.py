#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_disk_limits
short_description: Report data disks beyond what Azure VM backup supports, on Windows (cause DISK_LIMITS)
version_added: 0.2.0
description:
  - Counts the data disks (every disk but the boot and system disk and Azure's C(Temporary Storage) disk) and their
    sizes. VM backup supports at most 16 data disks and no disk over 4095 GB. Changes nothing.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report data disks against the backup limits
  azure_backup.remediation.win_disk_limits:
"""

RETURN = r"""
findings:
  description: The check C(data_disks).
  returned: always
  type: list
  elements: dict
"""
