# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""DISK_LIMITS: the VM's data disks against what VM backup supports (finding Linux's disks; judge serves Windows too)."""

from __future__ import annotations

import re

MAX_DATA_DISKS = 16
MAX_DISK_GB = 4095  # UserErrorUnsupportedDiskSize; the article counts in GB of 2^30 bytes

# Block devices that are not disks a backup would copy.
_NOT_DISKS = re.compile(r"^(loop|ram|zram|sr|fd|md|dm-|nbd|nvme\d+c)")


def whole_disks(names: list[str]) -> list[str]:
    return sorted(n for n in names if not _NOT_DISKS.match(n))


def parent_disk(device: str, disks: list[str]) -> str | None:
    """/dev/sda1 -> sda, /dev/nvme0n1p2 -> nvme0n1: the disk a mounted partition lives on."""
    name = device.rsplit("/", 1)[-1]
    return next((d for d in sorted(disks, key=len, reverse=True) if name == d or name.startswith(d)), None)


def data_disks(disks: dict, mounts: str, azure_luns: dict | None = None) -> list[dict]:
    """The data disks among {name: size_bytes}.

    Azure's udev rules link data disks under /dev/disk/azure/scsi1/lun<N> (azure_luns:
    {disk: lun}); where they exist they are authoritative. Without them, every disk but
    the ones holding /, /boot and the resource disk's /mnt is counted.
    """
    if azure_luns:
        return [{"disk": d, "lun": azure_luns[d], "size_bytes": disks[d]} for d in sorted(azure_luns) if d in disks]
    system = set()
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) > 1 and (fields[1] in ("/", "/boot", "/boot/efi", "/mnt", "/mnt/resource")):
            parent = parent_disk(fields[0], list(disks))
            if parent:
                system.add(parent)
    return [{"disk": d, "lun": None, "size_bytes": disks[d]} for d in sorted(disks) if d not in system]


# Azure writes this file to the root of a Windows VM's temporary (resource) disk, whatever the VM's
# language (cloud-init's Azure data source and WALinuxAgent's resource disk code look for the same
# name); the volume label "Temporary Storage" is the English image's and is only a second hint.
DATALOSS_WARNING = "DATALOSS_WARNING_README.txt"
TEMP_LABEL = "Temporary Storage"


def temporary(disk: dict) -> str | None:
    """Why a Windows disk (the READ script's shape) is Azure's temporary disk, or None when it is not."""
    for volume in disk.get("volumes") or []:
        if volume.get("dataloss_warning"):
            return "%s:\\%s" % (volume.get("letter") or "?", DATALOSS_WARNING)
    for volume in disk.get("volumes") or []:
        if volume.get("label") == TEMP_LABEL:
            return "label '%s'" % TEMP_LABEL
    return None


def windows_data_disks(disks: list[dict]) -> tuple[list[dict], list[dict]]:
    """(data disks, left out): the boot/system disk and the temporary disk are not data disks."""
    data, left_out = [], []
    for disk in disks:
        why = "boot or system disk" if disk.get("boot") or disk.get("system") else temporary(disk)
        entry = {"disk": disk["disk"], "location": disk.get("location"), "size_bytes": disk["size_bytes"]}
        if why:
            left_out.append(dict(entry, why=why))
        else:
            data.append(entry)
    return data, left_out


def limits(data: list[dict]) -> dict:
    """Which limits the data disks break."""
    too_big = [d for d in data if d["size_bytes"] > MAX_DISK_GB * 2**30]
    return {"count": len(data), "too_many": len(data) > MAX_DATA_DISKS, "too_big": too_big}


def judge(data: list[dict]) -> tuple:
    """(status, summary, detail) of the DISK_LIMITS finding for these data disks, on Linux and Windows alike."""
    verdict = limits(data)
    detail = dict(verdict, disks=data, max_disks=MAX_DATA_DISKS, max_disk_gb=MAX_DISK_GB)
    problems = []
    if verdict["too_many"]:
        problems.append("%d data disks, more than the %d VM backup supports" % (verdict["count"], MAX_DATA_DISKS))
    if verdict["too_big"]:
        problems.append("over %d GB: %s" % (MAX_DISK_GB, ", ".join("%s (%d GB)" % (d["disk"], d["size_bytes"] // 2**30) for d in verdict["too_big"])))
    if problems:
        return "found", "; ".join(problems) + ": back these disks up another way or resize", detail
    return "ok", "%d data disk(s), none over %d GB" % (verdict["count"], MAX_DISK_GB), detail
