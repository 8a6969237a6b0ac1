"""DISK_LIMITS on Linux through the fix protocol, on /sys/block, /proc/mounts and Azure's links under a test folder."""

from __future__ import annotations

import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import cause, lock
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import disk_limits as linux_disks
from ansible_collections.azure_backup.remediation.plugins.modules import disk_limits

GIB = 2**30
MOUNTS = "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt ext4 rw 0 0\n/dev/sdc /data xfs rw 0 0\n"


@pytest.fixture
def vm(tmp_path, monkeypatch):
    root = tmp_path / "vm"

    def disk(name, size_bytes):
        (root / "sys/block" / name).mkdir(parents=True)
        (root / "sys/block" / name / "size").write_text("%d\n" % (size_bytes // 512))

    for name, size in (("sda", 30 * GIB), ("sdb", 8 * GIB), ("sdc", 100 * GIB), ("loop0", GIB)):
        disk(name, size)
    (root / "proc").mkdir()
    (root / "proc/mounts").write_text(MOUNTS)
    monkeypatch.setattr(linux_disks, "ROOT", str(root))
    monkeypatch.setattr(cause, "without_root", lambda: None)
    monkeypatch.setattr(cause, "VmLock", lambda timeout, cause="": lock.VmLock(timeout, path=str(tmp_path / "lock"), cause=cause))
    return root, disk


def test_data_disks_within_the_limits_are_ok(run_module, vm):
    result = run_module(disk_limits.main, {})
    [found] = result["findings"]
    assert (found["id"], found["check"], found["status"]) == ("DISK_LIMITS", "data_disks", "ok")
    assert [d["disk"] for d in found["detail"]["disks"]] == ["sdc"] and not result["changed"]


def test_azure_links_are_authoritative_and_a_too_big_disk_is_found(run_module, vm):
    root, disk = vm
    disk("sdd", 4096 * GIB)
    (root / "dev/disk/azure/scsi1").mkdir(parents=True)
    os.symlink("../../../sdd", root / "dev/disk/azure/scsi1/lun3")
    [found] = run_module(disk_limits.main, {}, check_mode=True)["findings"]
    assert found["status"] == "found" and "sdd (4096 GB)" in found["summary"]
    assert found["detail"]["disks"] == [{"disk": "sdd", "lun": 3, "size_bytes": 4096 * GIB}]


def test_an_unreadable_disk_size_is_a_failed_finding_not_a_crash(run_module, vm):
    root, _disk = vm
    (root / "sys/block/sdc/size").unlink()
    (root / "sys/block/sdc/size").mkdir()  # reading it fails with an OSError
    result = run_module(disk_limits.main, {})
    [found] = result["findings"]
    assert (found["check"], found["status"]) == ("data_disks", "failed") and "cannot read what data_disks needs" in found["summary"]
    assert result["failed"]
