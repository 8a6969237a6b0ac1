from __future__ import annotations

import os

import pytest

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
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i does not work here")
    try:
        with pytest.raises(OSError) as caught:
            _files.replace_file(FakeModule(), str(path), b"new\n", backup=True, expected=b"old\n")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert caught.value.errno == errno.EPERM and caught.value.filename == str(path)
    assert os.listdir(tmp_path) == ["waagent.conf"] and path.read_text() == "old\n"


class Core217(FakeModule):
    """ansible-core 2.17/2.18: backup_local and atomic_move call fail_json, which ends the process."""

    fail_backup = fail_move = False

    def fail_json(self, msg, **kw):
        raise SystemExit(1)

    def backup_local(self, path):
        if self.fail_backup:
            try:
                raise PermissionError(13, "Permission denied")
            except OSError as exc:
                self.fail_json(msg="Could not make backup of %s: %s" % (path, exc))
        return super().backup_local(path)

    def atomic_move(self, src, dest):
        if self.fail_move:
            try:
                raise OSError(30, "Read-only file system")
            except OSError as exc:
                self.fail_json(msg="Could not replace file: %s to %s: %s" % (src, dest, exc))
        super().atomic_move(src, dest)


def test_a_failing_move_on_core_2_17_is_an_oserror_not_the_end_of_the_process(tmp_path):
    import errno

    import pytest

    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    module = Core217()
    module.fail_move = True
    with pytest.raises(OSError) as caught:
        _files.replace_file(module, str(path), b"new\n", backup=True)
    assert caught.value.errno == errno.EROFS and caught.value.filename == str(path)
    # No temp file, no backup left; fail_json is the module's own again.
    assert os.listdir(tmp_path) == ["waagent.conf"] and path.read_text() == "old\n"
    with pytest.raises(SystemExit):
        module.fail_json(msg="x")


def test_a_failing_backup_on_core_2_17_is_an_oserror_and_leaves_no_temp_file(tmp_path):
    import errno

    import pytest

    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    module = Core217()
    module.fail_backup = True
    with pytest.raises(OSError) as caught:
        _files.replace_file(module, str(path), b"new\n", backup=True)
    assert caught.value.errno == errno.EACCES and os.listdir(tmp_path) == ["waagent.conf"]


def test_a_failing_backup_on_core_2_19_is_an_oserror(tmp_path):
    """2.19's backup_local raises a plain Exception with the OSError as its cause."""
    import errno

    import pytest

    class Core219(FakeModule):
        def backup_local(self, path):
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError as exc:
                raise Exception("Could not make backup of %r." % path) from exc

    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    with pytest.raises(OSError) as caught:
        _files.replace_file(Core219(), str(path), b"new\n", backup=True)
    assert caught.value.errno == errno.ENOSPC and os.listdir(tmp_path) == ["waagent.conf"]


def test_a_symlinked_file_stays_a_symlink_and_its_target_is_replaced(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "waagent.conf"
    target.write_text("old\n")
    link = tmp_path / "waagent.conf"
    link.symlink_to(target)
    saved = _files.replace_file(FakeModule(), str(link), b"new\n", backup=True, expected=b"old\n")
    assert link.is_symlink() and os.readlink(link) == str(target) and target.read_text() == "new\n"
    assert saved == str(target) + ".1.2026~" and open(saved).read() == "old\n"


def test_a_cleanup_that_fails_does_not_hide_the_error_that_stopped_the_write(tmp_path, monkeypatch):
    import errno

    import pytest

    path = tmp_path / "waagent.conf"
    path.write_text("old\n")
    module = Core217()
    module.fail_move = True

    def unlink(p):
        raise OSError(errno.EBUSY, "Device or resource busy", p)

    monkeypatch.setattr(_files.os, "unlink", unlink)
    with pytest.raises(OSError) as caught:
        _files.replace_file(module, str(path), b"new\n", backup=True)
    assert caught.value.errno == errno.EROFS


@pytest.mark.parametrize("on_folder", [False, True])
def test_an_append_only_file_or_folder_is_refused_before_any_copy(tmp_path, on_folder):
    import errno
    import subprocess

    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "waagent.conf"
    path.write_text("old\n")
    where = folder if on_folder else path
    if subprocess.run(["chattr", "+a", str(where)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +a does not work here")
    try:
        with pytest.raises(OSError) as caught:
            _files.replace_file(FakeModule(), str(path), b"new\n", backup=True, expected=b"old\n")
    finally:
        subprocess.run(["chattr", "-a", str(where)], check=True)
    assert caught.value.errno == errno.EPERM and caught.value.filename == str(where)
    assert os.listdir(folder) == ["waagent.conf"] and path.read_text() == "old\n"
