from __future__ import annotations

import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import files as _files


class FakeModule:
    """backup_local and atomic_move as AnsibleModule does them, minus SELinux."""

    def backup_local(self, path):
        dest = path + ".1.2026~"
        with open(path, "rb") as src, open(dest, "wb") as out:
            out.write(src.read())
        return dest

    def atomic_move(self, src, dest):
        os.replace(src, dest)


def test_replaces_the_file_and_keeps_a_copy_beside_it(tmp_path):
    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    saved = _files.replace_file(FakeModule(), str(path), b"new\n", backup=True)
    assert path.read_text() == "new\n" and open(saved).read() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["waagent.conf", "waagent.conf.1.2026~"]


def test_a_new_file_has_nothing_to_back_up(tmp_path):
    path = tmp_path / "sub" / "90-restart.conf"
    assert _files.replace_file(FakeModule(), str(path), b"x", backup=True) is None
    assert path.read_bytes() == b"x"


def test_apart_keeps_the_copy_out_of_the_folder_a_service_reads(tmp_path, monkeypatch):
    folder = tmp_path / "etc/network/interfaces.d"
    folder.mkdir(parents=True)
    (folder / "50-cloud").write_text("iface eth0 inet static\n")
    monkeypatch.setattr(_files, "BACKUP_DIR", str(tmp_path / "backups"))
    saved = _files.replace_file(FakeModule(), str(folder / "50-cloud"), b"iface eth0 inet dhcp\n", backup=True, apart=True)
    assert os.listdir(folder) == ["50-cloud"]
    assert saved.startswith(str(tmp_path / "backups") + str(folder / "50-cloud."))
    assert open(saved).read() == "iface eth0 inet static\n"


def test_an_immutable_file_is_refused_before_any_copy(tmp_path):
    """AnsibleModule.backup_local copies the attributes too: a copy of an immutable file could not be removed again."""
    import errno
    import subprocess

    import pytest

    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i does not work here")
    try:
        with pytest.raises(OSError) as caught:
            _files.replace_file(FakeModule(), str(path), b"new\n", backup=True, expected=b"old\n")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert caught.value.errno == errno.EPERM and caught.value.filename == str(path)
    assert os.listdir(tmp_path) == ["waagent.conf"] and path.read_text() == "old\n"
