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

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import disk_limits as limits
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding


def inspect() -> dict:
    disks = {}
    for name in limits.whole_disks(os.listdir("/sys/block") if os.path.isdir("/sys/block") else []):
        with open("/sys/block/%s/size" % name) as handle:
            disks[name] = int(handle.read().strip() or 0) * 512  # the kernel counts 512-byte sectors
    luns = {os.path.basename(os.path.realpath(link)): int(link.rsplit("lun", 1)[1])
            for link in glob.glob("/dev/disk/azure/scsi1/lun*") if link.rsplit("lun", 1)[1].isdigit()}
    with open("/proc/mounts") as handle:
        data = limits.data_disks(disks, handle.read(), luns)
    return finding("DISK_LIMITS", "data_disks", *limits.judge(data))


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.exit_json(changed=False, findings=[inspect()])


if __name__ == "__main__":
    main()
