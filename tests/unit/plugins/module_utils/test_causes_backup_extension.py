from __future__ import annotations

import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import backup_extension as ext

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")


def reference(name):
    with open(os.path.join(REFERENCE, name)) as handle:
        return handle.read()


def test_latest_extension_compares_versions_numerically():
    names = ["Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.91.0", "WALinuxAgent-2.7.3.0",
             "Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9188.0", "Microsoft.Azure.RecoveryServices.VMSnapshotLinux__1.0.9200.0.zip",
             "Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9150.0"]
    assert ext.latest_extension(names) == ("Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9188.0", "1.0.9188.0")
    assert ext.latest_extension(["WALinuxAgent-2.7.3.0", "provisioned"]) is None


def test_latest_status_file_by_sequence_number():
    assert ext.latest_status_file(["2.status", "10.status", "9.status", "heartbeat.log"]) == "10.status"
    assert ext.latest_status_file([]) is None


def test_parse_the_real_status_sample():
    status = ext.parse_status(reference("vmsnapshotlinux-status-sample.json"))
    assert status["status"] == "success" and status["code"] == 1 and status["operation"] == "Enable"
    assert status["timestamp"] == "2019-06-06T23:52:59Z"
    assert status["message"].startswith("Aenean semper")


def test_parse_an_error_status():
    text = '[{"status": {"status": "error", "code": 400, "operation": "Enable", "formattedMessage": {"message": " no space "}}, "timestampUTC": "x"}]'
    assert ext.parse_status(text)["status"] == "error" and ext.parse_status(text)["message"] == "no space"


@pytest.mark.parametrize("bad", ["", "{}", "[]", "[{\"version\": 1}]", "not json"])
def test_malformed_status_says_so(bad):
    with pytest.raises(ValueError, match="not an extension status file"):
        ext.parse_status(bad)


@pytest.mark.parametrize("name, expected", [
    ("vmbackup-conf-linux-doc-sample.conf", {"fsfreeze": "True", "MountsToSkip": "/mnt/resource", "SafeFreezeWaitInSeconds": "600"}),
    ("vmbackup-conf-linux-repo-default.conf", {"fsfreeze": "True"}),
    ("etc-azure-vmbackup-conf-sample-from-source.conf", {"seqsnapshot": "1", "isanysnapshotfailed": "False", "UploadStatusAndLog": "True",
                                                         "WriteLog": "True", "onlyLocalFilesystems": "True"}),
])
def test_parse_real_vmbackup_confs(name, expected):
    assert ext.parse_vmbackup_conf(reference(name)) == {"SnapshotThread": expected}


@pytest.mark.parametrize("bad", ["fsfreeze: True\n", "[SnapshotThread]\nfsfreeze: True\nfsfreeze: False\n", "[SnapshotThread\n"])
def test_malformed_vmbackup_conf(bad):
    with pytest.raises(ValueError):
        ext.parse_vmbackup_conf(bad)
