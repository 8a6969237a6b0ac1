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
import faults
import host as hostmod
import plugin_reads
import render
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import win_capture
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture as cap

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
    """A capture of a simulated host as capture.yml takes it: every read the action plugins send in check mode,
    with the parameters they send and the answers they got (tests/unit/winsim/plugin_reads.py)."""
    entries = [cap.read_entry("X", s, "", p, answer) for s, p, answer in plugin_reads.all_reads(h)]
    env = cap.read_entry("CAPTURE", win_capture.ENVIRONMENT, "", {}, capture.run_read(h, win_capture.ENVIRONMENT, {}))
    return json.loads(json.dumps(cap.document(h.name, "test", "now", env, entries)))


# Faults a capture cannot carry, and why. Every other fault of faults.FAULTS must make the same host again.
NOT_REPRESENTABLE = {
    "powershell-4": "the fault is the PowerShell version, which Ansible's module wrapper refuses before any read runs: "
                    "a capture of such a host has no reads, and no read answers the version",
}


def _fields_without_importer(doc):
    return ["%s.%s" % (e["tag"], field) for e in doc["reads"] for field in e["result"] or {} if field not in capture.IMPORTED.get(e["tag"], {})]


@pytest.mark.parametrize("fault", sorted(faults.FAULTS))
def test_a_capture_of_a_simulated_host_with_each_fault_makes_the_same_host_again(fault):
    h = hostmod.SimHost.create("sim01", "en", [fault])
    doc = _simulated_capture(h)
    if fault in NOT_REPRESENTABLE:
        # Listed, not skipped: the host made from the capture really lacks the fault.
        assert capture.state_from_capture(doc).get("powershell_version") != h.state.get("powershell_version"), NOT_REPRESENTABLE[fault]
        return
    assert _fields_without_importer(doc) == [], "capture.py imports no such field: add it to the importer and to capture.IMPORTED"
    assert capture.check(doc, TEXTS) == []


def test_every_read_has_an_importer_and_says_what_it_imports():
    reads = {scripts.SCRIPT_TAG.search(s).group(1) for s, _p, _a in plugin_reads.all_reads(hostmod.SimHost.create("sim01", "en", []))}
    assert reads == set(capture.IMPORTED) == set(capture.TO_STATE)


def test_a_field_without_an_importer_is_named():
    doc = _simulated_capture(hostmod.SimHost.create("sim01", "en", []))
    next(e for e in doc["reads"] if e["tag"] == "com_msdtc.read")["result"]["new_field"] = 1
    assert _fields_without_importer(doc) == ["com_msdtc.read.new_field"]


@pytest.mark.parametrize("locale,faults_on", [("en", []), ("de", ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert"])])
def test_a_capture_keeps_its_language(locale, faults_on):
    doc = _simulated_capture(hostmod.SimHost.create("sim01", locale, faults_on))
    assert capture.locale_of(doc) == locale
    assert capture.check(doc, TEXTS) == []


def test_a_twin_field_the_importer_drops_is_caught(monkeypatch):
    # The round trip sees a field whose importer is missing: here the importer of the ADE folders is taken away.
    doc = _simulated_capture(hostmod.SimHost.create("sim01", "en", ["ade-installed"]))
    real = capture.TO_STATE["bitlocker.read"]
    monkeypatch.setitem(capture.TO_STATE, "bitlocker.read", lambda state, p, r: real(state, dict(p, AdeDir=""), r))
    differences = capture.check(doc, TEXTS)
    assert len(differences) == 1 and differences[0].startswith("bitlocker.read.ade_versions: Windows answered 1 items, the twin 0")


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
        # fix_backup.yml runs both operating systems in one play, the lists in its vars.
        by_os = [p for p in plays if "azure_backup_causes_by_os" in p.get("vars", {})]
        if by_os:
            return by_os[0]["vars"]["azure_backup_causes_by_os"]["windows"]
        play = next(p for p in plays if "azure_backup_windows" in p["hosts"])
        tasks = [t for b in play["tasks"] for t in b.get("block", [b])]
        return next(t["azure_backup.remediation.remediate"]["causes"] for t in tasks if "azure_backup.remediation.remediate" in t)
    assert windows_causes("capture.yml") == windows_causes("fix_backup.yml")


def test_the_parser_reads_the_german_layout_the_simulator_prints():
    writers = [{"name": "System Writer", "id": "{a}", "instance_id": "{b}", "state": 8, "last_error": "timeout"}]
    assert capture.parse_vssadmin(render.vssadmin_list_writers(writers, "de")) == ("de", writers)
