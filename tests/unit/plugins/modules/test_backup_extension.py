from __future__ import annotations

import errno
import os
import shutil

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import CauseRun
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import backup_extension as linux_ext
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import cause, lock
from ansible_collections.azure_backup.remediation.plugins.modules import backup_extension

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")
NAME = "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"


@pytest.fixture
def vm(tmp_path):
    """/var/lib/waagent and /etc/azure as on a backed-up VM, from the real reference files."""
    folder = tmp_path / "waagent" / (NAME + "-1.0.9188.0")
    (folder / "config").mkdir(parents=True)
    (folder / "status").mkdir()
    (folder / "config" / "HandlerState").write_text("Enabled")
    shutil.copy(os.path.join(REFERENCE, "vmsnapshotlinux-status-sample.json"), folder / "status" / "0.status")
    shutil.copy(os.path.join(REFERENCE, "vmbackup-conf-linux-doc-sample.conf"), tmp_path / "vmbackup.conf")
    return tmp_path, folder


def run(tmp_path, check_mode=True):
    params = {"lib_dir": str(tmp_path / "waagent"), "config_path": str(tmp_path / "vmbackup.conf")}
    return CauseRun("BACKUP_EXTENSION", check_mode).run(linux_ext.BackupExtension(None, params).steps).result()


def checks(tmp_path):
    found = {f["check"]: f for f in run(tmp_path)["findings"]}
    installed = found["extension_installed"]
    if installed["status"] != "ok":
        return None, found
    info = dict(installed["detail"], handler_state=found["extension_state"]["detail"]["handler_state"])
    return info, found


def test_healthy_extension_is_reported_ok(vm):
    tmp_path, folder = vm
    info, found = checks(tmp_path)
    assert info["version"] == "1.0.9188.0" and info["handler_state"] == "Enabled"
    assert {f["status"] for f in found.values()} == {"ok"}
    assert found["vmbackup_conf"]["detail"]["settings"]["SnapshotThread"]["MountsToSkip"] == "/mnt/resource"


def test_failed_upgrade_and_error_status_say_how_to_reload(vm):
    tmp_path, folder = vm
    (folder / "config" / "HandlerState").write_text("FailedUpgrade\n")
    (folder / "status" / "1.status").write_text(
        '[{"status": {"status": "error", "code": 400, "operation": "Enable", "formattedMessage": {"message": "snapshot failed"}}, "timestampUTC": "t"}]')
    _info, found = checks(tmp_path)
    assert found["extension_state"]["status"] == "found" and "FailedUpgrade" in found["extension_state"]["summary"]
    assert found["extension_status"]["status"] == "found"
    assert "error (code 400): snapshot failed" in found["extension_status"]["summary"]
    assert "uninstall the extension from the platform" in found["extension_status"]["summary"]


def test_missing_extension_and_malformed_conf(tmp_path):
    (tmp_path / "waagent").mkdir()
    (tmp_path / "vmbackup.conf").write_text("fsfreeze: True\n")
    info, found = checks(tmp_path)
    assert info is None
    assert found["extension_installed"]["status"] == "found"
    assert found["vmbackup_conf"]["status"] == "found" and "cannot be read" in found["vmbackup_conf"]["summary"]


def test_unreadable_status_file_is_reported(vm):
    tmp_path, folder = vm
    (folder / "status" / "3.status").write_text("{garbage")
    _info, found = checks(tmp_path)
    assert found["extension_status"]["status"] == "found" and "3.status is unreadable" in found["extension_status"]["summary"]


def test_an_unreadable_file_fails_its_check_only(vm, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: become is the remedy
    tmp_path, _folder = vm
    real = linux_ext.read

    def denied(path):
        if path.endswith("HandlerState"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(linux_ext, "read", denied)
    result = run(tmp_path)
    assert [(f["check"], f["status"]) for f in result["findings"]] == [
        ("extension_installed", "ok"), ("extension_state", "failed"), ("extension_status", "ok"), ("vmbackup_conf", "ok")]
    assert "permission denied on" in result["findings"][1]["summary"] and "ansible_become" in result["findings"][1]["summary"]
    assert result["failed"]


def test_the_module_reports_through_the_runner_and_changes_nothing(run_module, vm, monkeypatch):
    tmp_path, _folder = vm
    monkeypatch.setattr(cause, "without_root", lambda: None)
    monkeypatch.setattr(cause, "VmLock", lambda timeout, cause="": lock.VmLock(timeout, path=str(tmp_path / "lock"), cause=cause))
    result = run_module(backup_extension.main, {"lib_dir": str(tmp_path / "waagent"), "config_path": str(tmp_path / "vmbackup.conf")})
    assert not result["failed"] and not result["changed"]
    assert [f["check"] for f in result["findings"]] == ["extension_installed", "extension_state", "extension_status", "vmbackup_conf"]
    assert {f["id"] for f in result["findings"]} == {"BACKUP_EXTENSION"}
