"""Every Windows cause of a host in ONE task (run_windows_causes, as the remediate action runs them), against
simulated hosts through Ansible's real winrm connection: the host read, the host check and the run lock.

fix-backup.yml runs them, one remediate task per host. Per host the simulator
logs every command, so what a run costs the VM is counted, not estimated."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import threading

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WINSIM = os.path.join(ROOT, "tests", "winsim", "winsim")
PLAY = os.path.join(ROOT, "fix-backup.yml")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import host_log as log, host_state as state, executions, simulated_hosts, tree_env  # noqa: E402

HOSTS = {
    "win01": ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert", "sql-no-copy-backup", "msdtc-stopped"],
    "win05": [],
    "win14": ["powershell-4"],
    "win20": ["winrm-user-not-admin", "msdtc-stopped"],
    "win21": ["winrm-user-uac-filtered"],
    "win22": ["run-lock-held", "msdtc-stopped"],
    "win23": ["run-lock-stale", "msdtc-stopped"],
    # Two runs at once on one VM (test_two_applies_at_once_take_turns).
    "win24": ["agent-stopped", "msdtc-stopped", "comsysapp-stopped"],
}
LOCK = "C:\\ProgramData\\azure-backup\\lock\\run.lock"


def playbook(tmp, *args, limit="vms:!win24", tree_name=None):
    """(process, {"hosts": {name: {"findings": [...], ...the remediate task's result}}})."""
    # Two runs at once name their folders themselves: counting the folders would give both the same one.
    tree = tmp / (tree_name or "tree-%d" % len(list(tmp.glob("tree-*"))))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", **tree_env(tree))
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), PLAY, "-l", limit, "-e", "network_timeout=2", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    hosts = {}
    for path in glob.glob(str(tree / "*")):
        with open(path) as handle:
            hosts[os.path.basename(path)] = json.load(handle)
    assert hosts, proc.stdout + proc.stderr
    return proc, {"hosts": hosts}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-one-pass")
    with simulated_hosts(tmp, {n: ("en", f) for n, f in HOSTS.items()}) as inv:
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        (tmp / "host_vars").mkdir()
        (tmp / "host_vars" / "win22.yml").write_text("azure_backup_lock_wait: 2\n")
        out = {"tmp": tmp, "results": {}, "logs": {}, "states": {"before": {n: state(tmp, n) for n in HOSTS}}}
        for step, args in (("check", ["--check"]), ("apply", []), ("again", [])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            out["results"][step] = playbook(tmp, *args)
            out["logs"][step] = {n: log(tmp, n)[seen[n]:] for n in HOSTS}
            out["states"][step] = {n: state(tmp, n) for n in HOSTS}
        yield out


def findings(report, host):
    return {"%s/%s" % (f["id"], f["check"]): f for f in report["hosts"][host]["findings"]}


def test_a_healthy_host_in_check_mode_costs_one_powershell_execution(runs):
    assert executions(runs["logs"]["check"]["win05"]) == ["host.read"]
    assert {f["status"] for f in runs["results"]["check"][1]["hosts"]["win05"]["findings"]} == {"ok"}


def test_a_broken_host_in_check_mode_is_read_once_finds_its_faults_and_changes_nothing(runs):
    # And one more: its critical problems are still found at the end (check mode), so its logs are collected.
    assert executions(runs["logs"]["check"]["win01"]) == ["host.read", "log_bundle.read"]
    seen = findings(runs["results"]["check"][1], "win01")
    for check in ("WIN_AGENT/service_windowsazureguestagent", "MACHINEKEYS/acl", "COM_MSDTC/service_msdtc", "SNAPSHOT_STATUS/vss_copy_backup"):
        assert seen[check]["status"] == "found", check
    assert runs["states"]["check"]["win01"] == runs["states"]["before"]["win01"]


def test_apply_fixes_under_the_run_lock_and_a_second_apply_changes_nothing(runs):
    sent = executions(runs["logs"]["apply"]["win01"])
    assert sent[0] == "host.read" and sent[1] == "host.lock" and sent[-1] == "host.unlock", sent
    assert sent.count("host.lock") == 1
    assert {f["status"] for k, f in findings(runs["results"]["apply"][1], "win01").items() if k.startswith("COM_MSDTC/")} == {"fixed", "ok"}
    assert not any(f.endswith(LOCK) for f in runs["states"]["apply"]["win01"]["files"])
    assert executions(runs["logs"]["again"]["win01"]) == ["host.read"]
    assert {f["status"] for f in runs["results"]["again"][1]["hosts"]["win01"]["findings"]} <= {"ok", "skipped"}


def test_powershell_below_5_1_is_one_host_finding_and_two_executions(runs):
    for step in ("check", "apply", "again"):
        [entry] = runs["results"][step][1]["hosts"]["win14"]["findings"]
        assert (entry["id"], entry["check"], entry["status"]) == ("HOST", "powershell", "failed")
        # The host read, refused by Ansible's wrapper before it runs, and the raw version read.
        assert executions(runs["logs"][step]["win14"]) == ["host.read", "host.powershell_version"]


@pytest.mark.parametrize("host", ["win20", "win21"])
def test_a_winrm_user_who_is_no_administrator_is_one_host_finding_and_nothing_else_runs(runs, host):
    for step in ("check", "apply"):
        [entry] = runs["results"][step][1]["hosts"][host]["findings"]
        assert (entry["id"], entry["check"], entry["status"]) == ("HOST", "privileges", "failed")
        assert entry["summary"].startswith("%s\\azureadmin is not a member of the local Administrators group (or UAC filtered its token"
                                           % host.upper())
        assert executions(runs["logs"][step][host]) == ["host.read"]
    assert runs["states"]["apply"]["win20"]["services"] == runs["states"]["before"]["win20"]["services"]


def test_a_lock_another_run_holds_fails_the_change_with_its_holder(runs):
    seen = findings(runs["results"]["apply"][1], "win22")
    # The change that needed the lock is the failed finding, and it names whom it waited for.
    entry = seen["COM_MSDTC/service_msdtc"]
    assert entry["status"] == "failed"
    assert "could not start MSDTC: another run holds the lock since " in entry["summary"]
    assert "(pid 4242 on awx-node-1, user awx" in entry["summary"]
    assert runs["states"]["apply"]["win22"]["services"] == runs["states"]["before"]["win22"]["services"]
    # The change failed, so the cause persists: the log bundle follows.
    assert executions(runs["logs"]["apply"]["win22"]) == ["host.read", "host.lock", "log_bundle.read"]


def test_a_stale_lock_is_taken_over_and_said_so(runs):
    seen = findings(runs["results"]["apply"][1], "win23")
    assert seen["HOST/lock"]["summary"].startswith("took over a stale run lock held since ")
    assert seen["COM_MSDTC/service_msdtc"]["status"] == "fixed"
    assert not any(f.endswith(LOCK) for f in runs["states"]["apply"]["win23"]["files"])


def test_two_applies_at_once_take_turns_and_both_reports_are_kept(runs):
    tmp = runs["tmp"]
    outcomes = {}

    def apply(name):
        outcomes[name] = playbook(tmp, limit="win24", tree_name="tree-at-once-%s" % name)

    threads = [threading.Thread(target=apply, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports = [report["hosts"]["win24"]["findings"] for _proc, report in outcomes.values()]
    fixed = [f for report in reports for f in report if f["status"] == "fixed"]
    # Each fault was fixed once, by one run or the other; the run that waited found it fixed.
    assert sorted(f["check"] for f in fixed if f["id"] == "COM_MSDTC") == ["service_comsysapp", "service_msdtc"]
    assert not [f for report in reports for f in report if f["status"] == "failed"]
    final = state(tmp, "win24")
    assert all(final["services"][s]["state"] == "running" for s in ("WindowsAzureGuestAgent", "RdAgent", "MSDTC", "COMSysApp"))
    assert not any(f.endswith(LOCK) for f in final["files"])
