from __future__ import annotations

import base64
import io
import json
import os
import tarfile

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import CauseRun, Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import log_bundle as linux_bundle
from ansible_collections.azure_backup.remediation.plugins.modules import log_bundle

FAILED = [{"id": "LINUX_AGENT", "check": "agent_service", "status": "failed", "severity": "critical"}]


@pytest.fixture
def vm(tmp_path):
    """A VM's agent files: goal state, the log, an extension log folder, a link and a FIFO to leave out."""
    lib, logs = tmp_path / "var/lib/waagent", tmp_path / "var/log"
    (logs / "azure/Microsoft.Azure.RecoveryServices.VMSnapshotLinux").mkdir(parents=True)
    lib.mkdir(parents=True)
    (lib / "GoalState.1.xml").write_text("<GoalState/>")
    (lib / "HostingEnvironmentConfig.xml").write_text("<HostingEnvironmentConfig/>")
    (logs / "waagent.log").write_text("".join("2026-11-22T10:00:%02d.000000Z INFO line %d\n" % (i % 60, i) for i in range(200)))
    (logs / "azure/Microsoft.Azure.RecoveryServices.VMSnapshotLinux/extension.log").write_text("snapshot failed\n")
    os.symlink("/etc/shadow", logs / "azure/shadow-link")
    os.mkfifo(logs / "azure/fifo")
    return tmp_path


def members(result):
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(result["archive"]))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def args(vm, **kw):
    return dict({"dest": "/unused", "findings": FAILED,
                 "paths": [str(vm / "var/lib/waagent/*.xml"), str(vm / "var/log/waagent.log"), str(vm / "var/log/azure/*")]}, **kw)


def test_collects_the_documented_files_and_says_why(run_module, vm):
    result = run_module(log_bundle.main, args(vm))
    files = members(result)
    root = str(vm).lstrip("/")
    assert set(files) == {"MANIFEST.json", root + "/var/lib/waagent/GoalState.1.xml", root + "/var/lib/waagent/HostingEnvironmentConfig.xml",
                          root + "/var/log/waagent.log",
                          root + "/var/log/azure/Microsoft.Azure.RecoveryServices.VMSnapshotLinux/extension.log"}
    manifest = json.loads(files["MANIFEST.json"])
    assert manifest["reasons"] == ["LINUX_AGENT/agent_service: failed"]
    assert not result["changed"] and not result["failed"]


def test_the_cap_keeps_the_newest_part_of_the_log(run_module, vm):
    xml = sum(p.stat().st_size for p in (vm / "var/lib/waagent").iterdir())
    result = run_module(log_bundle.main, args(vm, max_size=str(xml + 100)))
    files = members(result)
    log = files[str(vm).lstrip("/") + "/var/log/waagent.log"]
    assert len(log) == 100 and log.endswith(b"INFO line 199\n")
    manifest = json.loads(files["MANIFEST.json"])
    assert [f["left_out"] for f in manifest["files"] if f["path"].endswith("extension.log")] == [True]


def test_a_healthy_host_reads_nothing(run_module, vm):
    result = run_module(log_bundle.main, args(vm, findings=[]))
    assert result["reasons"] == [] and "archive" not in result


def test_a_wrong_size_fails_and_collects_nothing(run_module, vm):
    result = run_module(log_bundle.main, args(vm, max_size="lots"))
    assert result["failed"] and "max_size" in result["msg"] and "for example 20M" in result["msg"]
    assert "archive" not in result


def test_runs_the_same_in_check_mode(run_module, vm):
    assert "MANIFEST.json" in members(run_module(log_bundle.main, args(vm), check_mode=True))


def test_the_bundle_is_built_in_the_same_execution_as_a_cause_that_persists(vm):
    """As the remediate module does it: a cause's findings straight into LogBundle, no module round trip."""
    def persisting():
        yield Step("wireserver", "found", "10.213.0.1:80 unreachable")

    findings = CauseRun("NETWORK", check_mode=False).run(persisting).result()["findings"]
    answer = linux_bundle.LogBundle(None, {"findings": findings, "paths": args(vm)["paths"]}).collect()
    assert answer["reasons"] == ["NETWORK/wireserver: found"] and not answer["changed"]
    assert json.loads(members(answer)["MANIFEST.json"])["reasons"] == ["NETWORK/wireserver: found"]


def test_no_bundle_reads_no_file_and_a_wrong_size_is_the_one_domain_error(vm, monkeypatch):
    monkeypatch.setattr(linux_bundle, "regular_files", lambda patterns: pytest.fail("read files for a healthy host"))
    assert linux_bundle.LogBundle(None, {"findings": [], "when": "problems"}).collect() == {"changed": False, "reasons": [], "files": []}
    with pytest.raises(RemediationError, match="max_size.*Nothing was collected"):
        linux_bundle.LogBundle(None, {"findings": FAILED, "max_size": "lots"}).collect()
