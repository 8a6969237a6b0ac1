"""Captures of Windows VMs against the simulator's script twins (tests/winsim/capture.py): each captured read
runs again through its twin, with the captured parameters and the collection's script text, on a host made
from the capture, and must answer what Windows answered. The reference captures in tests/data/captures are
built from published real outputs; the check must fail when a twin answers differently."""

import glob
import json
import os

import pytest
import yaml

import capture
import host as hostmod
import render
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_agent, win_backup_extension, win_bitlocker, win_capture, win_com_msdtc, win_disk_limits, win_machinekeys, win_network,
    win_snapshot_status, win_vss_writers)
from ansible_collections.azure_backup.remediation.plugins.module_utils import _capture as cap
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_snapshot as snap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CAPTURES = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "captures", "*.json")))
TEXTS = capture.collection_scripts()


def reference(name):
    return capture.load(os.path.join(ROOT, "tests", "data", "captures", name))


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_every_capture_in_tests_agrees_with_the_twins(path):
    doc = capture.load(path)
    assert doc["reads"], "a capture without reads checks nothing"
    assert capture.check(doc, TEXTS) == []


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_a_built_capture_says_which_values_are_real(path):
    doc = capture.load(path)
    if doc["source"].startswith("ansible-playbook"):
        return  # a real capture: every value is real
    assert any(why.startswith("real: ") for why in doc["provenance"].values())
    # Every field of every read is accounted for: real, filled in, or not published.
    for entry in doc["reads"]:
        for field in entry["result"]:
            prefix = "reads[%s].result.%s" % (entry["tag"], field)
            assert any(key == prefix or key.startswith(prefix + "[") or key.startswith(prefix + ".") for key in doc["provenance"]), prefix


def test_the_real_vssadmin_output_becomes_writers_and_is_printed_back_the_same():
    doc = reference("reference-vssadmin-writers-en-1.json")
    state = capture.state_from_capture(doc)
    assert [(w["name"], w["state"], w["last_error"]) for w in state["vss_writers"]] == [
        ("System Writer", 1, "none"), ("Registry Writer", 1, "none"), ("IIS Metabase Writer", 1, "none"),
        ("Event Log Writer", 1, "none"), ("Microsoft Exchange Writer", 7, "retryable")]
    assert state["vss_writers"][4]["instance_id"] == "{728c7e4c-d8fa-46cc-999d-e20573e08a08}"


def _vss_twin_printing(monkeypatch, change):
    real = scripts.SCRIPTS["vss_writers.read"]
    monkeypatch.setitem(scripts.SCRIPTS, "vss_writers.read", lambda host, p: change(real(host, p)))


@pytest.mark.parametrize("change", [
    lambda r: dict(r, text=r["text"].replace("Last error:", "Last Error:")),           # a label spelt differently
    lambda r: dict(r, text=r["text"].replace("\r\n\r\n", "\r\n")),                    # no blank line between writers
    lambda r: dict(r, text=r["text"].replace("   State:", "  State:")),                # another indent
    lambda r: dict(r, text=r["text"].replace("'System Writer'", '"System Writer"')),   # other quotes
    lambda r: dict({k: v for k, v in r.items() if k != "text"}, output=r["text"]),      # a renamed field
    lambda r: dict(r, exit_code=1),
], ids=["label", "blank-line", "indent", "quotes", "field-name", "exit-code"])
def test_a_twin_that_answers_differently_fails_the_check(monkeypatch, change):
    doc = reference("reference-vssadmin-writers-en-1.json")
    assert capture.check(doc, TEXTS) == []
    _vss_twin_printing(monkeypatch, change)
    assert capture.check(doc, TEXTS) != []


def test_a_failed_error_text_the_simulator_does_not_know_shows_as_a_difference():
    doc = reference("reference-vssadmin-writers-en-1.json")
    doc["reads"][0]["result"]["text"] = doc["reads"][0]["result"]["text"].replace("Retryable error", "Writer is busy")
    [difference] = capture.check(doc, TEXTS)
    assert "Writer is busy" in difference and "Unexpected error" in difference


def test_a_real_preamble_is_not_compared_but_everything_after_it_is():
    doc = reference("reference-vssadmin-writers-en-1.json")
    text = doc["reads"][0]["result"]["text"]
    doc["reads"][0]["result"]["text"] = "\r\nvssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n" \
                                        "(C) Copyright 2001-2005 Microsoft Corp.\r\n\r\n" + text
    assert capture.check(doc, TEXTS) == []
    doc["reads"][0]["result"]["text"] += "Writer name: 'Extra Writer'\r\n"
    assert capture.check(doc, TEXTS) != []


def _simulated_capture(h):
    """A capture of a simulated host, made of each read the action plugins send (as capture.yml would)."""
    reads = [(win_agent.READ, dict(Services=list(agent.SERVICES), ProductName=agent.PRODUCT_NAME, BackupProcesses=list(agent.BACKUP_PROCESSES))),
             (win_vss_writers.READ, dict(Services=["CryptSvc", "VSS", "Winmgmt", "Schedule", "SQLWriter"], BackupProcesses=[])),
             (win_machinekeys.READ, dict(Path="", AgentService=agent.SERVICES[0], BackupProcesses=list(agent.BACKUP_PROCESSES))),
             (win_snapshot_status.READ, dict(Key=r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", ValueName="USEVSSCOPYBACKUP",
                                             SqlKeys=dict(snap.SQL_INSTANCE_KEYS))),
             (win_backup_extension.READ, dict(Service="IaaSVmProvider", PluginDir=win_backup_extension.PLUGIN_DIR)),
             (win_com_msdtc.READ, dict(Services=list(win_com_msdtc.SERVICES))),
             (win_bitlocker.READ, dict(AdeDir=win_bitlocker.ADE_DIR)),
             (win_disk_limits.READ, dict(MarkerFile="DATALOSS_WARNING_README.txt")),
             (win_network.READ, dict(Names=["management.azure.com", "nowhere.example"], Endpoints=["10.0.0.1:443"], TimeoutMs=500))]
    entries = [cap.read_entry("X", s, "", p, capture.run_read(h, s, p)) for s, p in reads]
    env = cap.read_entry("CAPTURE", win_capture.ENVIRONMENT, "", {}, capture.run_read(h, win_capture.ENVIRONMENT, {}))
    return json.loads(json.dumps(cap.document(h.name, "test", "now", env, entries)))


@pytest.mark.parametrize("locale,faults", [
    ("en", []),
    ("de", ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert", "sql-no-copy-backup", "no-dhcp", "high-cpu",
            "bitlocker-locked", "too-many-disks", "iaasvmprovider-disabled", "msdtc-stopped", "dns-broken"]),
    ("en", ["agent-missing", "iaasvmprovider-missing", "dotnet-old", "backup-running", "low-memory", "sql-32bit", "admin-dns"]),
])
def test_a_capture_of_a_simulated_host_makes_the_same_host_again(locale, faults):
    # Every tag's capture -> state mapping: a host made from a capture answers every read as the captured one did.
    doc = _simulated_capture(hostmod.SimHost.create("sim01", locale, faults))
    assert capture.locale_of(doc) == locale
    assert capture.check(doc, TEXTS) == []


def test_when_the_script_is_the_captured_one_a_field_only_the_twin_has_counts(monkeypatch):
    doc = _simulated_capture(hostmod.SimHost.create("sim01", "en", []))
    real = scripts.SCRIPTS["snapshot_status.read"]
    monkeypatch.setitem(scripts.SCRIPTS, "snapshot_status.read", lambda host, p: dict(real(host, p), new_field=1))
    assert capture.check(doc, TEXTS) == ["snapshot_status.read.new_field: the twin answers 1, Windows had no such field"]
    # From another script version (a newer script may add fields), only what Windows answered is compared.
    for entry in doc["reads"]:
        entry["script_sha256"] = "0" * 64
    assert capture.check(doc, TEXTS) == []


def test_a_read_that_failed_on_windows_must_fail_in_the_twin():
    doc = _simulated_capture(hostmod.SimHost.create("sim01", "en", []))
    entry = next(e for e in doc["reads"] if e["tag"] == "machinekeys.read")
    entry.update(failed=True, result=None, error=["Attempted to perform an unauthorized operation."])
    assert capture.check(doc, TEXTS) == ["machinekeys.read: Windows failed, the twin answered (['Attempted to perform an unauthorized operation.'])"]


def test_the_state_cli_writes_a_state_simhost_loads(tmp_path):
    path = os.path.join(ROOT, "tests", "data", "captures", "reference-machinekeys-ws2012r2.json")
    assert capture.main(["state", path, "--dir", str(tmp_path)]) == 0
    loaded = hostmod.SimHost.load(str(tmp_path / "reference-machinekeys-ws2012r2.json"))
    assert loaded.state["acls"][hostmod.MACHINEKEYS] == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
    assert loaded.state["os"] == "Windows Server 2012 R2"
    assert capture.main(["check", path]) == 0


def test_the_capture_playbook_runs_the_causes_fix_backup_runs_on_windows():
    def windows_causes(name):
        with open(os.path.join(ROOT, "playbooks", name), encoding="utf-8") as handle:
            plays = yaml.safe_load(handle)
        play = next(p for p in plays if p["hosts"] == "azure_backup_windows")
        return next(t["loop"] for t in play["tasks"] if t.get("ansible.builtin.include_tasks") == "tasks/cause.yml")
    assert windows_causes("capture.yml") == windows_causes("fix_backup.yml")


def test_the_parser_reads_the_german_layout_the_simulator_prints():
    writers = [{"name": "System Writer", "id": "{a}", "instance_id": "{b}", "state": 8, "last_error": "timeout"}]
    assert capture.parse_vssadmin(render.vssadmin_list_writers(writers, "de")) == ("de", writers)
