# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""DISK_LIMITS on a Linux VM: its data disks against what VM backup supports. Reports only."""

from __future__ import annotations

import glob
import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import disk_limits as limits
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.checks import isolated

# Prefixed to every path read; tests point it at a folder of their own.
ROOT = ""


def block_disks() -> dict:
    """{disk: size in bytes} of the whole disks under /sys/block."""
    sys_block = ROOT + "/sys/block"
    disks = {}
    for name in limits.whole_disks(os.listdir(sys_block) if os.path.isdir(sys_block) else []):
        with open("%s/%s/size" % (sys_block, name)) as handle:
            disks[name] = int(handle.read().strip() or 0) * 512  # the kernel counts 512-byte sectors
    return disks


def azure_luns() -> dict:
    """{disk: lun} from the links Azure's udev rules make for data disks."""
    return {os.path.basename(os.path.realpath(link)): int(link.rsplit("lun", 1)[1])
            for link in glob.glob(ROOT + "/dev/disk/azure/scsi1/lun*") if link.rsplit("lun", 1)[1].isdigit()}


class DiskLimits(LinuxCause):
    ID = "DISK_LIMITS"
    ARGUMENT_SPEC: dict = {}

    def steps(self):
        yield isolated("data_disks", self.data_disks_step)

    def data_disks_step(self) -> Step:
        with open(ROOT + "/proc/mounts") as handle:
            data = limits.data_disks(block_disks(), handle.read(), azure_luns())
        return Step("data_disks", *limits.judge(data))
