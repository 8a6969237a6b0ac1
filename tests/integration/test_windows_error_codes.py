"""Diagnosis by error code through fix-backup.yml against simulated Windows hosts, through Ansible's real winrm connection:
-e azure_backup_error=<a VSS code> runs only that code's causes on each host, and the fleet report holds only their
findings; an unknown code fails the run with one message before any host runs a single PowerShell command."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import host_log as log, executions, simulated_hosts, tree_env  # noqa: E402

HOSTS = {
    "win01": ("en", ["agent-stopped", "vss-writer-failed", "msdtc-stopped"]),
    "win02": ("de", ["vss-writer-failed", "comsysapp-stopped"]),
}
VSS = "ExtensionFailedVssWriterInBadState"


def playbook(tmp, *args):
    """(process, {host: the remediate task's result}, the fleet report) of fix-backup.yml on the simulated hosts."""
    tree = tmp / ("tree-%d" % len(list(tmp.glob("tree-*"))))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", **tree_env(tree))
    # The remediate results and the fleet report of the same run.
    env["ANSIBLE_CALLBACKS_ENABLED"] += ",azure_backup.remediation.report"
    before = set(glob.glob(str(tmp / "reports" / "*.json")))
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), "fix-backup.yml", "-l", "vms", "-e", "network_timeout=2",
                           "-e", "log_bundle_when=never", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    hosts = {}
    for path in tree.glob("*") if tree.exists() else ():
        with open(path, encoding="utf-8") as handle:
            hosts[path.name] = json.load(handle)
    written = sorted(set(glob.glob(str(tmp / "reports" / "*.json"))) - before)
    report = None
    if written:
        with open(written[-1], encoding="utf-8") as handle:
            report = json.load(handle)
    return proc, hosts, report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-error-codes")
    with simulated_hosts(tmp, HOSTS) as inv:
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        out = {}
        for step, args in (("vss", ["--check", "-e", "azure_backup_error=%s" % VSS]),
                           ("unknown", ["-e", "azure_backup_error=ExtensionFailedVssWritersInBadState"]),
                           ("german", ["--check", "-e", 'azure_backup_error="Fehler beim Momentaufnahmevorgang aufgrund eines ungültigen Status"']),
                           # a number, as AWX extra vars, -e @vars.yml or JSON give it: no string, no length of its own
                           ("integer", ["--check", "-e", '{"azure_backup_error": 380008}'])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            proc, hosts, report = playbook(tmp, *args)
            out[step] = {"proc": proc, "hosts": hosts, "report": report, "logs": {n: log(tmp, n)[seen[n]:] for n in HOSTS}}
        yield out


def test_a_vss_code_runs_only_its_causes_and_the_report_shows_only_those(runs):
    run = runs["vss"]
    assert run["proc"].returncode == 0, run["proc"].stdout[-3000:] + run["proc"].stderr[-2000:]
    # A fleet of Windows VMs only: no warning about an empty azure_backup_linux group.
    assert "Could not match supplied host pattern" not in run["proc"].stdout + run["proc"].stderr
    for host in HOSTS:
        result = run["hosts"][host]
        # The 2023 article's order: resources (CPU, memory; shadow storage) first, then the writers; its registry step by hand.
        assert result["diagnosis"] == {"codes": [VSS], "causes": ["SNAPSHOT_STATUS", "MARS_SHADOW_STORAGE", "VSS_WRITERS"], "not_here": [],
                                       "control_plane": [], "by_hand": [VSS]}
        ids = {f["id"] for f in run["report"]["hosts"][host]["findings"]}
        assert ids and ids <= {"SNAPSHOT_STATUS", "VSS_WRITERS", "MARS_SHADOW_STORAGE", "ERROR_CODE"}, ids
        assert [f["status"] for f in run["report"]["hosts"][host]["findings"] if f["id"] == "ERROR_CODE"] == ["skipped"]
        # The faults of the other causes (agent, MSDTC, COM+) are not looked at: no finding of theirs.
        assert any(f["id"] == "VSS_WRITERS" and f["status"] == "found" for f in run["report"]["hosts"][host]["findings"])


def test_an_unknown_code_fails_the_run_once_before_any_host_is_contacted(runs):
    run = runs["unknown"]
    assert run["proc"].returncode != 0
    assert all(executions(run["logs"][host]) == [] and run["logs"][host] == [] for host in HOSTS), run["logs"]
    output = run["proc"].stdout + run["proc"].stderr
    assert "'ExtensionFailedVssWritersInBadState' is no known error code or message; the closest known: ExtensionFailedVssWriterInBadState" in output
    # Said once, for the run (the lookup runs once, on the first host), not once per host.
    assert output.count("fatal: [") == 1 and "win02: azure_backup_error" not in output, output[-3000:]
    assert "TASK [Check every host's settings" not in output


def test_the_german_message_cut_short_diagnoses_the_same_code(runs):
    run = runs["german"]
    assert run["proc"].returncode == 0, run["proc"].stdout[-3000:]
    assert {h: r["diagnosis"]["codes"] for h, r in run["hosts"].items()} == {h: [VSS] for h in HOSTS}


def test_an_error_code_given_as_a_number_runs_like_its_name(runs):
    run = runs["integer"]
    assert run["proc"].returncode == 0, run["proc"].stdout[-3000:] + run["proc"].stderr[-2000:]
    assert "has no len()" not in run["proc"].stdout + run["proc"].stderr
    for host in HOSTS:
        assert run["hosts"][host]["diagnosis"]["codes"] == ["AzureVmOffline"]
        assert run["hosts"][host]["diagnosis"]["causes"] == ["WIN_AGENT"]
