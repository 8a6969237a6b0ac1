#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_limits
short_description: Report data disks beyond what Azure VM backup supports (cause DISK_LIMITS)
version_added: 0.1.0
description:
  - Counts the VM's data disks and their sizes. VM backup supports at most 16 data disks and no disk over
    4095 GB (C(UserErrorUnsupportedDiskSize)); more disks also make copying from the vault time out.
  - Data disks are the ones Azure's udev rules link under C(/dev/disk/azure/scsi1/lun<N>); without those links,
    every disk but the ones holding C(/), C(/boot) and the resource disk's C(/mnt).
  - Changes nothing.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report data disks against the backup limits
  azure_backup.remediation.disk_limits:
"""

RETURN = r"""
findings:
  description: The check C(data_disks).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.disk_limits import DiskLimits


def main() -> None:
    module_main(DiskLimits)


if __name__ == "__main__":
    main()
