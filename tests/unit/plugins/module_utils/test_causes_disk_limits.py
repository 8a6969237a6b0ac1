from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import disk_limits as d

GIB = 2**30
MOUNTS = "/dev/sda1 / ext4 rw 0 0\n/dev/sda15 /boot/efi vfat rw 0 0\n/dev/sdb1 /mnt ext4 rw 0 0\n/dev/sdc /data xfs rw 0 0\n"


def test_whole_disks_leaves_out_what_is_not_a_disk():
    assert d.whole_disks(["sda", "loop0", "sr0", "dm-0", "nvme0n1", "nvme0c0n1", "zram0", "sdb"]) == ["nvme0n1", "sda", "sdb"]


def test_parent_disk():
    assert d.parent_disk("/dev/sda1", ["sda", "sdb"]) == "sda"
    assert d.parent_disk("/dev/nvme0n1p2", ["nvme0n1"]) == "nvme0n1"
    assert d.parent_disk("overlay", ["sda"]) is None


def test_data_disks_without_azure_links_skip_os_and_resource_disks():
    disks = {"sda": 30 * GIB, "sdb": 8 * GIB, "sdc": 4096 * GIB, "sdd": 100 * GIB}
    assert [x["disk"] for x in d.data_disks(disks, MOUNTS)] == ["sdc", "sdd"]


def test_azure_lun_links_are_authoritative():
    disks = {"sda": 30 * GIB, "sdb": 8 * GIB, "sdc": 10 * GIB}
    assert d.data_disks(disks, MOUNTS, {"sdc": 0}) == [{"disk": "sdc", "lun": 0, "size_bytes": 10 * GIB}]


def test_limits():
    ok = [{"disk": "sd%s" % c, "lun": i, "size_bytes": 4095 * GIB} for i, c in enumerate("cdefghijklmnopqr")]
    assert d.limits(ok) == {"count": 16, "too_many": False, "too_big": []}
    over = ok + [{"disk": "sds", "lun": 16, "size_bytes": 4096 * GIB}]
    result = d.limits(over)
    assert result["too_many"] is True and [x["disk"] for x in result["too_big"]] == ["sds"]


def windows_disk(number, *volumes, boot=False, size_gb=128):
    return {"disk": str(number), "location": "LUN %d" % number, "size_bytes": size_gb * GIB, "boot": boot, "system": boot,
            "volumes": [dict(zip(("letter", "label", "dataloss_warning"), v)) for v in volumes]}


def test_the_windows_temporary_disk_is_known_by_azures_warning_file_in_any_language():
    disks = [windows_disk(0, ("C", "Windows", False), boot=True),
             windows_disk(1, ("D", "Temporärer Speicher", True), size_gb=16),  # a label in another language
             windows_disk(2, ("F", "Temporary Storage copy", False))]
    data, left_out = d.windows_data_disks(disks)
    assert [x["disk"] for x in data] == ["2"]
    assert [(x["disk"], x["why"]) for x in left_out] == [("0", "boot or system disk"), ("1", "D:\\DATALOSS_WARNING_README.txt")]


def test_the_english_label_is_a_second_hint_where_the_file_was_deleted():
    data, left_out = d.windows_data_disks([windows_disk(1, ("D", "Temporary Storage", False)), windows_disk(2)])
    assert [x["disk"] for x in data] == ["2"] and left_out[0]["why"] == "label 'Temporary Storage'"
