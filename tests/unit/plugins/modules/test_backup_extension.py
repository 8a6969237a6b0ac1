from __future__ import annotations

import os
import shutil

import pytest

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


def checks(tmp_path):
    info, findings = backup_extension.inspect(str(tmp_path / "waagent"), str(tmp_path / "vmbackup.conf"))
    return info, {f["check"]: f for f in findings}


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
