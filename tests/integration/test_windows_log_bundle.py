"""The Windows log bundle through fix-backup.yml, against simulated hosts over Ansible's real winrm connection.

winlb1 has a VSS writer that stays failed after its service restarts (a cause that persists), the event log
entries of failed snapshots and the MARS agent; winlb2 is healthy. A check run and an apply run: winlb1 gets one
bundle per run, read in ONE extra WinRM execution after the causes, with the agent's and the backup extension's
logs, the exported events, the MARS agent's Temp logs and a manifest; the report links it. winlb2 gets none and
costs nothing extra. A third host shows the size cap: its 20 MB of logs come back in one answer, timed."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAY = os.path.join(ROOT, "fix-backup.yml")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import host_log as log, executions, simulated_hosts  # noqa: E402

HOSTS = {
    "winlb1": ["vss-writer-stuck", "vss-errors-logged", "mars-installed"],
    "winlb2": [],
}


def playbook(tmp, name, *args, limit="winlb1,winlb2"):
    """(process, the fleet report, the bundles written): each run reports into a folder of its own."""
    reports = tmp / ("reports-" + name)
    env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(reports), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), PLAY, "-l", limit, "-e", "network_timeout=2", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    found = glob.glob(str(reports / "*.json"))
    assert found, proc.stdout + proc.stderr
    with open(found[0]) as handle:
        report = json.load(handle)
    return proc, report, sorted(glob.glob(str(reports / "log-bundles" / "*.tar.gz")))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-log-bundle")
    with simulated_hosts(tmp, {n: ("en", f) for n, f in HOSTS.items()}) as inv:
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        out = {"tmp": tmp, "runs": {}, "logs": {}}
        for step, args in (("check", ["--check"]), ("apply", [])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            out["runs"][step] = playbook(tmp, step, *args)
            out["logs"][step] = {n: log(tmp, n)[seen[n]:] for n in HOSTS}
        yield out


def members(path):
    with tarfile.open(path) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        texts = {n: tar.extractfile(n).read().decode("utf-8", "replace") for n in names if n != "MANIFEST.json"}
    return names, manifest, texts


@pytest.mark.parametrize("step", ["check", "apply"])
def test_a_host_where_a_cause_persists_gets_one_bundle_read_in_one_extra_execution(runs, step):
    _proc, report, bundles = runs["runs"][step]
    assert [os.path.basename(b).split("-")[0] for b in bundles] == ["winlb1"]
    sent = executions(runs["logs"][step]["winlb1"])
    # After every cause (and after the run lock is given back in apply mode), one read: the bundle's.
    assert sent[-1] == "log_bundle.read" and sent.count("log_bundle.read") == 1, sent
    assert report["hosts"]["winlb1"]["log_bundle"] == bundles[0]


@pytest.mark.parametrize("step", ["check", "apply"])
def test_a_healthy_host_gets_no_bundle_and_no_extra_execution(runs, step):
    _proc, report, _bundles = runs["runs"][step]
    assert "log_bundle.read" not in executions(runs["logs"][step]["winlb2"])
    assert not report["hosts"]["winlb2"].get("log_bundle")
    assert executions(runs["logs"][step]["winlb2"]) == ["host.read"]


def test_the_bundle_holds_the_agent_and_extension_logs_the_exported_events_the_mars_logs_and_a_manifest(runs):
    names, manifest, texts = members(runs["runs"]["apply"][2][0])
    for name in ("C/WindowsAzure/Logs/WaAppAgent.log", "C/WindowsAzure/Logs/TransparentInstaller.log",
                 "C/WindowsAzure/Logs/Plugins/Microsoft.Azure.RecoveryServices.VMSnapshot/1.0.75.0/IaaSBcdrExtension.log",
                 "C/Packages/Plugins/Microsoft.Azure.RecoveryServices.VMSnapshot/1.0.75.0/Status/0.status",
                 "C/Packages/Plugins/Microsoft.Azure.RecoveryServices.VMSnapshot/1.0.75.0/RuntimeSettings/0.settings",
                 "C/Program Files/Microsoft Azure Recovery Services Agent/Temp/CBEngineCurr.errlog",
                 "events/Application.txt", "events/System.txt", "MANIFEST.json"):
        assert name in names, name
    # The events are exported, each with its time, level, provider, id and message; not only counted.
    application = texts["events/Application.txt"]
    assert "Error (2)  VSS  id 8193  record" in application and "Error (2)  VSS  id 12289  record" in application
    assert "Application Error  id 1000" in application and "IaaSBcdrExtension.exe" in application
    assert "notepad.exe" not in application
    assert "Error (2)  volsnap  id 25" in texts["events/System.txt"]
    assert "Service Control Manager" not in texts["events/System.txt"]
    # The extension's protected settings never leave the VM.
    settings = json.loads(texts["C/Packages/Plugins/Microsoft.Azure.RecoveryServices.VMSnapshot/1.0.75.0/RuntimeSettings/0.settings"])
    handler = settings["runtimeSettings"][0]["handlerSettings"]
    assert handler["protectedSettings"] == "redacted by azure_backup.remediation" and handler["publicSettings"]["taskId"]
    assert "SECRET" not in json.dumps(texts)
    # The manifest: the Linux bundle's keys, why, and every file with what was taken of it.
    assert {"reasons", "collected", "max_bytes", "files"} <= set(manifest)
    assert any(r.startswith("VSS_WRITERS/") for r in manifest["reasons"]), manifest["reasons"]
    assert manifest["max_bytes"] == 20 * 1024 ** 2 and manifest["events"]["hours"] == 72
    listed = {f["path"]: f for f in manifest["files"]}
    assert listed["events\\Application.txt"]["events"] == 4 and listed["events\\System.txt"]["events"] == 1
    settings_entry = next(f for p, f in listed.items() if p.endswith("0.settings"))
    assert settings_entry["redacted"] == "protectedSettings, objectStr"
    assert not any(f["truncated"] or f["left_out"] for f in manifest["files"])


def test_the_report_names_the_bundle(runs):
    proc, report, bundles = runs["runs"]["apply"]
    assert report["hosts"]["winlb1"]["log_bundle"] == bundles[0]
    assert "logs    %s" % bundles[0] in proc.stdout


def test_a_20_mb_bundle_comes_back_in_one_answer_and_its_time_is_measured(tmp_path):
    """The cap's worst case over WinRM: 32 MB of agent logs, the newest 20M taken, in one execution."""
    with simulated_hosts(tmp_path, {"winlb3": ("en", ["vss-writer-stuck", "agent-logs-big"])}) as inv:
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inv))
        started = time.monotonic()
        playbook(tmp_path, "without", "--check", "-e", "log_bundle_when=never", limit="winlb3")
        without = time.monotonic() - started
        seen = len(log(tmp_path, "winlb3"))
        started = time.monotonic()
        proc, report, bundles = playbook(tmp_path, "big", "--check", limit="winlb3")
        seconds = time.monotonic() - started
        sent = executions(log(tmp_path, "winlb3")[seen:])
    assert sent == ["host.read", "log_bundle.read"], proc.stdout
    [bundle] = bundles
    _names, manifest, _texts = members(bundle)
    assert sum(f["length"] for f in manifest["files"]) == 20 * 1024 ** 2
    # Newest first: Big1 and Big2 whole, Big3 its newest part, Big4 left out and named.
    by_name = {f["path"].rsplit("\\", 1)[-1]: f for f in manifest["files"]}
    assert not by_name["Big1.log"]["truncated"] and not by_name["Big2.log"]["truncated"]
    assert by_name["Big3.log"]["truncated"] and by_name["Big3.log"]["offset"] == by_name["Big3.log"]["size"] - by_name["Big3.log"]["length"]
    assert by_name["Big4.log"]["left_out"] and by_name["Big4.log"]["skipped"] == "cap reached"
    print("\n20 MB Windows log bundle over the simulated WinRM: the check run took %.1f s, %.1f s without the bundle"
          % (seconds, without))
    assert seconds < 300
    assert report["hosts"]["winlb3"]["log_bundle"] == bundle


def test_win_log_bundle_collects_on_its_own_in_one_execution(runs):
    tmp = runs["tmp"]
    seen = len(log(tmp, "winlb2"))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    # Three hours: the healthy machine's VSS entry of two hours ago, nothing of the System log.
    args = {"dest": str(tmp / "solo"), "when": "always", "event_hours": 3, "paths": ["C:\\WindowsAzure\\Logs\\*.log"]}
    proc = subprocess.run(["ansible", "-i", str(tmp / "inventory.yml"), "winlb2", "-m", "azure_backup.remediation.win_log_bundle",
                           "-a", json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert executions(log(tmp, "winlb2")[seen:]) == ["log_bundle.read"]
    [bundle] = glob.glob(str(tmp / "solo" / "winlb2-*.tar.gz"))
    names, manifest, _texts = members(bundle)
    assert manifest["reasons"] == ["log_bundle_when=always"] and manifest["events"]["hours"] == 3
    # An export without entries is listed, with none, and has no member (as on Linux, an empty file has none).
    assert [(f["path"], f["events"]) for f in manifest["files"] if "events" in f] == [("events\\Application.txt", 1), ("events\\System.txt", 0)]
    assert names == ["events/Application.txt", "C/WindowsAzure/Logs/WaAppAgent.log", "C/WindowsAzure/Logs/TransparentInstaller.log",
                     "MANIFEST.json"]
