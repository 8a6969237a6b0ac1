"""The MARS causes MARS_SERVICE, MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES, MARS_PREREQS and MARS_RESTORE_MOUNT in
fix-backup.yml, against simulated hosts through Ansible's real winrm connection: one host per MARS fault, a healthy MARS
host and a host without MARS. fix-backup.yml runs three times (--check, apply, apply again); the simulator logs every
command, so the WinRM executions per host are counted, and the state after each run is looked at."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAY = os.path.join(ROOT, "fix-backup.yml")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import executions, host_log as log, host_state as state, run_play, simulated_hosts  # noqa: E402
import faults  # noqa: E402
import host as hostmod  # noqa: E402

# host -> (faults, the MARS finding each run must show: (ID/check, status at check, status after apply)).
HOSTS = {
    "mars01": (["mars-service-stopped"], ("MARS_SERVICE/service", "found", "fixed")),
    "mars02": (["mars-version-old"], ("MARS_VERSION/version", "found", "found")),
    "mars03": (["mars-scratch-mismatch"], ("MARS_SCRATCH/scratch_location", "found", "fixed")),
    "mars04": (["mars-scratch-missing-kek"], ("MARS_SCRATCH/kek", "found", "found")),
    "mars05": (["mars-scratch-low-space"], ("MARS_SCRATCH/free_space", "found", "found")),
    "mars06": (["mars-temp-files"], ("MARS_TEMP_FILES/temp_files", "found", "fixed")),
    "mars07": (["mars-dotnet-old"], ("MARS_PREREQS/dotnet", "found", "found")),
    "mars08": (["mars-clock-skew"], ("MARS_PREREQS/clock", "found", "found")),
    "mars09": (["mars-iscsi-disabled"], ("MARS_RESTORE_MOUNT/iscsi_initiator", "found", "found")),
    "mars10": (["mars-installed"], None),
    "mars11": ([], None),
    # Windows' own MSiSCSI (Manual, stopped): healthy, never started by the play.
    "mars12": (["mars-iscsi-stopped"], None),
    # mars_agent_restart_service on (HOST_VARS): a running job keeps the engine running; without one it is restarted;
    # a DPM server's engine is not restarted.
    "mars13": (["mars-job-running"], ("MARS_SERVICE/service", "found", "found")),
    "mars14": (["mars-installed"], ("MARS_SERVICE/service", "found", "fixed")),
    "mars15": (["mars-dpm-server"], ("MARS_SERVICE/service", "found", "found")),
    # A scratch mismatch while a job runs: left alone.
    "mars16": (["mars-scratch-mismatch", "mars-job-running"], ("MARS_SCRATCH/scratch_location", "found", "found")),
}
HOST_VARS = {"mars13": {"mars_agent_restart_service": True}, "mars14": {"mars_agent_restart_service": True},
             "mars15": {"mars_agent_restart_service": True}}
# Hosts whose fix restarts the engine on every run (mars_agent_restart_service).
EVERY_RUN = {"mars14"}
MARS_IDS = ("MARS_SERVICE", "MARS_VERSION", "MARS_SCRATCH", "MARS_TEMP_FILES", "MARS_PREREQS", "MARS_RESTORE_MOUNT")
SCRATCH = hostmod.MARS_DIR + "\\Scratch"


def findings(result):
    return {"%s/%s" % (f["id"], f["check"]): f for f in result["findings"]}


def mars_findings(result):
    return {k: f for k, f in findings(result).items() if k.split("/")[0] in MARS_IDS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-mars")
    with simulated_hosts(tmp, {n: ("en", f) for n, (f, _e) in HOSTS.items()}) as inv:
        for name, values in HOST_VARS.items():
            inv["all"]["children"]["vms"]["children"]["windows"]["hosts"][name].update(values)
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        out = {"tmp": tmp, "results": {}, "logs": {}, "states": {"before": {n: state(tmp, n) for n in HOSTS}}}
        for step, args in (("check", ["--check"]), ("apply", []), ("again", [])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            out["results"][step] = playbook(tmp, *args)[1]
            out["logs"][step] = {n: log(tmp, n)[seen[n]:] for n in HOSTS}
            out["states"][step] = {n: state(tmp, n) for n in HOSTS}
        yield out


def test_check_mode_finds_each_fault_in_the_one_host_read_and_changes_nothing(runs):
    for host, (_faults, expected) in HOSTS.items():
        result = runs["results"]["check"][host]
        assert executions(runs["logs"]["check"][host]) == ["host.read"], host
        assert runs["states"]["check"][host] == runs["states"]["before"][host], host
        mars = mars_findings(result)
        if expected is None:
            assert {f["status"] for f in mars.values()} <= {"ok"}, (host, mars)
            continue
        check, at_check, _after = expected
        assert mars[check]["status"] == at_check, (host, mars[check])
        # The fault's own finding only: every other MARS check of the host is ok.
        assert {k for k, f in mars.items() if f["status"] != "ok"} == {check}, (host, mars)


def test_a_healthy_mars_host_is_ok_and_a_host_without_mars_has_no_mars_finding(runs):
    for step in ("check", "apply", "again"):
        healthy = mars_findings(runs["results"][step]["mars10"])
        assert {k.split("/")[0] for k in healthy} == set(MARS_IDS)
        assert {f["status"] for f in healthy.values()} == {"ok"}, healthy
        assert mars_findings(runs["results"][step]["mars11"]) == {}
        # One execution per run, with MARS and without: the MARS reads ride in the host read.
        assert executions(runs["logs"][step]["mars10"]) == ["host.read"]
        assert executions(runs["logs"][step]["mars11"]) == ["host.read"]


def test_the_host_read_carries_the_mars_reads_and_runs_them_only_where_the_agent_is(runs):
    for host, installed in (("mars10", True), ("mars11", False)):
        causes = runs["results"]["check"][host]["causes"]
        assert [bool(causes[c].get("skipped")) for c in MARS_IDS] == [not installed] * len(MARS_IDS), host
        if not installed:
            assert all(causes[c]["msg"].startswith("the MARS agent is not installed on mars11") for c in MARS_IDS)


def test_apply_fixes_what_is_fixable_and_reports_the_rest(runs):
    for host, (_faults, expected) in HOSTS.items():
        if expected is None:
            continue
        check, _at_check, after = expected
        assert mars_findings(runs["results"]["apply"][host])[check]["status"] == after, host
    after = runs["states"]["apply"]
    assert after["mars01"]["services"]["obengine"]["state"] == "running"
    provider = hostmod.find_key(after["mars03"]["registry"], hostmod.MARS_PROVIDER_KEY)
    assert after["mars03"]["registry"][provider]["ScratchLocation"]["data"] == SCRATCH
    assert [(e["suffix"], e["count"]) for e in after["mars06"]["bulk_files"]] == [(".tmp", 25), (".tmpl", 300)]
    assert all("C:\\Windows\\Temp\\" + n in after["mars06"]["files"] for n in ("x.tmpl", "y.log", "z.tmp.bak"))
    # What is only reported is left as it was: a disabled MSiSCSI (no mars_agent_enable_iscsi), Windows' own stopped one.
    for host in ("mars02", "mars04", "mars05", "mars07", "mars08", "mars09", "mars12", "mars15"):
        assert after[host] == runs["states"]["before"][host], host
    fixed = findings(runs["results"]["apply"]["mars06"])["MARS_TEMP_FILES/temp_files"]
    assert (fixed["detail"]["removed"], fixed["detail"]["kept"]) == (60975, 25)
    assert "the engine is running a job" in findings(runs["results"]["apply"]["mars13"])["MARS_SERVICE/service"]["summary"]
    assert "the engine is running a job" in findings(runs["results"]["apply"]["mars16"])["MARS_SCRATCH/scratch_location"]["summary"]
    for host in ("mars13", "mars16"):  # the engine kept running, the same process; no value changed (the run lock's folder stays)
        for part in ("services", "processes", "registry"):
            assert after[host][part] == runs["states"]["before"][host][part], (host, part)
    assert "this is a DPM or MABS server" in findings(runs["results"]["apply"]["mars15"])["MARS_SERVICE/service"]["summary"]

    def engine(host_state):
        return [p["pid"] for p in host_state["processes"] if p.get("service") == "obengine"]
    assert after["mars14"]["services"]["obengine"]["state"] == "running"
    assert engine(after["mars14"]) and engine(after["mars14"]) != engine(runs["states"]["before"]["mars14"])  # a new engine process


def test_apply_sends_only_what_each_fix_needs_under_the_run_lock(runs):
    sent = {h: executions(runs["logs"]["apply"][h]) for h in HOSTS}
    service, regedit = "ansible.windows.win_service", "ansible.windows.win_regedit"
    assert sent["mars01"] == ["host.read", "host.lock", service, "host.unlock"]
    # The scratch fix: one script (job check, stop, both values, start), then the values read back; no win_regedit or
    # win_service restarted.
    assert sent["mars03"] == ["host.read", "host.lock", "mars_scratch.set", "mars_scratch.read", "host.unlock"]
    assert sent["mars06"] == ["host.read", "host.lock", "mars_temp_files.delete", "host.unlock"]
    assert sent["mars14"] == ["host.read", "host.lock", "mars_service.restart", "host.unlock"]
    assert sent["mars13"] == ["host.read", "host.lock", "mars_service.restart", "host.unlock"]
    assert sent["mars16"] == ["host.read", "host.lock", "mars_scratch.set", "host.unlock"]
    assert regedit not in sum(sent.values(), [])
    for host in ("mars02", "mars04", "mars05", "mars07", "mars08", "mars09", "mars10", "mars11", "mars12", "mars15"):
        assert sent[host] == ["host.read"], host


def test_the_second_apply_changes_nothing(runs):
    for host in set(HOSTS) - EVERY_RUN:
        # A job still running: the change script asks again and changes nothing.
        tried = {"mars13": ["host.lock", "mars_service.restart", "host.unlock"], "mars16": ["host.lock", "mars_scratch.set", "host.unlock"]}
        assert executions(runs["logs"]["again"][host]) == ["host.read"] + tried.get(host, []), host
        assert not runs["results"]["again"][host]["changed"], host
        assert runs["states"]["again"][host] == runs["states"]["apply"][host], host


def test_every_fault_of_these_causes_has_its_host():
    mine = {"mars-service-stopped", "mars-version-old", "mars-scratch-mismatch", "mars-scratch-missing-kek", "mars-scratch-low-space",
            "mars-temp-files", "mars-dotnet-old", "mars-clock-skew", "mars-iscsi-stopped", "mars-iscsi-disabled", "mars-job-running",
            "mars-dpm-server"}
    assert mine <= set(faults.FAULTS)
    assert {f for fl, _e in HOSTS.values() for f in fl} == mine | {"mars-installed"}


def playbook(tmp, *args):
    return run_play(ROOT, tmp, PLAY, *args, expect=HOSTS)
