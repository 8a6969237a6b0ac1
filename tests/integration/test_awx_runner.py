"""fix-backup.yml as AWX runs it: ansible-runner over the private data directory AWX lays out (project/ as a project
sync leaves it, inventory/hosts, env/extravars with AWX's awx_* variables, env/envvars, env/settings), against real
fleet VMs and simulated Windows hosts. Checked: rc, status, and the artifact_data of the playbook_on_stats event
(what AWX stores as the job's artifacts and hands to the next workflow node). Then three slices of one sliced job
in parallel, each its own job id in one workflow, and the merge of their reports into one fleet report.
Needs root and the fleet images (tests/fleet/fleet build), as tests/run's integration stage has them."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLEET = os.path.join(ROOT, "tests", "fleet", "fleet")
RUNNER = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import executions, free_port, host_log, simulated_hosts  # noqa: E402

WINDOWS = {"win01": ("en", ["agent-stopped", "msdtc-stopped"]), "win05": ("en", []), "win14": ("en", ["powershell-4"])}
# Three slices of one sliced job: each a part of the inventory, as AWX hands each slice job its part. The third
# holds Windows hosts only, so its last play's one-time task lands on win05, whose WinRM executions are counted.
SLICES = ({"linux": ["vm01", "vm02"], "windows": ["win01"]}, {"linux": ["vm03"], "windows": ["win14"]},
          {"linux": [], "windows": ["win05", "win99"]})
WORKFLOW = 300


def fleet(*args, check=True):
    return subprocess.run([FLEET, *args], check=check, capture_output=True, text=True).stdout


def project_copy(dest):
    """The project as AWX's sync leaves it: what git tracks (and new files), the self-link of .collections included."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src, target = os.path.join(ROOT, rel), os.path.join(dest, rel)
        if not os.path.lexists(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)


def awx_vars(job_id: int, workflow_id: int | None = None) -> dict:
    """The extra variables AWX sets for a job (models awx_meta_vars), under both prefixes it uses."""
    out = {}
    for prefix in ("awx", "tower"):
        out.update({prefix + "_job_id": job_id, prefix + "_job_launch_type": "scheduled", prefix + "_job_template_id": 7,
                    prefix + "_job_template_name": "Fix Azure backups", prefix + "_project_revision": "0" * 40,
                    prefix + "_project_scm_branch": "main", prefix + "_inventory_id": 3, prefix + "_inventory_name": "Azure VMs",
                    prefix + "_execution_node": "awx-node-1"})
        if workflow_id is not None:
            out.update({prefix + "_workflow_job_id": workflow_id, prefix + "_workflow_job_name": "Fix Azure backups (sliced)",
                        prefix + "_workflow_job_launch_type": "scheduled"})
    return out


def private_data_dir(base, name: str, project, inventory: dict, extravars: dict, reports, cmdline: str = "") -> str:
    """A private data directory as AWX writes it before it hands it to ansible-runner in the EE."""
    pdd = base / name
    (pdd / "inventory").mkdir(parents=True)
    (pdd / "env").mkdir()
    if cmdline:  # a job template's job type "check" is --check
        (pdd / "env" / "cmdline").write_text(cmdline)
    os.symlink(project, pdd / "project")
    (pdd / "inventory" / "hosts").write_text(yaml.safe_dump(inventory))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 900, "idle_timeout": 600}))
    # AWX puts the project's installed requirements first and keeps the project's ansible.cfg path after them;
    # report_dir is a folder exposed to isolated jobs, shared by the slices.
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": "%s:.collections:~/.ansible/collections:/usr/share/ansible/collections" % (base / "requirements_collections"),
        "AZURE_BACKUP_REPORT_DIR": str(reports)}))
    return str(pdd)


def start(pdd: str, ident: str, playbook: str = "fix-backup.yml"):
    # Nothing of the test run's own Ansible settings: the job sees the project's ansible.cfg, as under AWX.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.Popen([RUNNER, "run", pdd, "-p", playbook, "--ident", ident], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc, pdd: str, ident: str) -> dict:
    out = proc.communicate(timeout=900)[0]
    art = os.path.join(pdd, "artifacts", ident)
    with open(os.path.join(art, "rc")) as handle:
        rc = int(handle.read())
    with open(os.path.join(art, "status")) as handle:
        status = handle.read().strip()
    events = []
    for path in glob.glob(os.path.join(art, "job_events", "*.json")):
        with open(path) as handle:
            events.append(json.load(handle))
    [stats] = [e for e in events if e.get("event") == "playbook_on_stats"]
    return {"rc": rc, "status": status, "stdout": out, "artifacts": stats["event_data"].get("artifact_data") or {},
            "recap": {k: stats["event_data"].get(k) or {} for k in ("failures", "dark", "ok", "rescued")}}


def inventory_of(full: dict, part: dict) -> dict:
    inv = json.loads(json.dumps(full))
    for group, keep in part.items():
        hosts = inv["all"]["children"]["vms"]["children"][group]["hosts"]
        inv["all"]["children"]["vms"]["children"][group]["hosts"] = {h: v for h, v in hosts.items() if h in keep}
    return inv


def report(reports, basename: str) -> dict:
    with open(os.path.join(str(reports), basename + ".json")) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def awx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("awx-runner")
    project = tmp / "project"
    project_copy(project)
    # What AWX's project sync installs from collections/requirements.yml, offline: ansible.windows of the checkout.
    shutil.copytree(os.path.join(ROOT, ".collections", "ansible_collections", "ansible", "windows"),
                    tmp / "requirements_collections" / "ansible_collections" / "ansible" / "windows")
    reports = tmp / "reports"
    # vm01 with a stopped agent, vm02 and vm03 healthy.
    fleet("up", "3", "--variant=debian12")
    try:
        fleet("break", "vm01", "agent-stopped")
        with simulated_hosts(tmp, WINDOWS) as winsim:
            inv = yaml.safe_load(fleet("inventory"))
            windows = winsim["all"]["children"]["vms"]["children"]["windows"]
            windows["hosts"]["win99"] = {"ansible_host": "127.0.0.1", "ansible_port": free_port()}  # no server: unreachable
            inv["all"]["children"]["vms"]["children"]["windows"] = windows
            out = {"tmp": tmp, "reports": reports, "inventory": inv}
            # A check job first (job type "check"): vm01's stopped agent is found, nothing changes.
            pdd = private_data_dir(tmp, "job100", project, inv, dict(awx_vars(100), network_timeout=2), reports, cmdline="--check")
            out["check"] = finish(start(pdd, "100"), pdd, "100")
            out["check_vm01_agent"] = fleet("exec", "vm01", "--", "systemctl", "is-active", "walinuxagent", check=False).strip()
            # One job, as a job template without slicing runs it (not in a workflow).
            pdd = private_data_dir(tmp, "job101", project, inv, dict(awx_vars(101), network_timeout=2), reports)
            seen = len(host_log(tmp, "win05"))
            out["single"] = finish(start(pdd, "101"), pdd, "101")
            out["single_win05"] = executions(host_log(tmp, "win05")[seen:])
            # A sliced job: three slice jobs at once, one workflow job around them.
            seen = len(host_log(tmp, "win05"))
            procs = []
            for i, part in enumerate(SLICES):
                job = 201 + i
                pdd = private_data_dir(tmp, "job%d" % job, project, inventory_of(inv, part),
                                       dict(awx_vars(job, WORKFLOW), network_timeout=2), reports)
                procs.append((start(pdd, str(job)), pdd, str(job)))
            out["slices"] = [finish(*p) for p in procs]
            out["slices_win05"] = executions(host_log(tmp, "win05")[seen:])
            yield out
    finally:
        fleet("down")


def test_a_job_fails_as_before_and_its_artifacts_say_each_hosts_status(awx):
    job = awx["single"]
    # win99 unreachable: ansible-playbook's rc 4; win14's failed task still fails the host (failures, not only rescued).
    assert (job["rc"], job["status"]) == (4, "failed"), job["stdout"][-3000:]
    assert job["recap"]["failures"].get("win14") == 1 and job["recap"]["dark"].get("win99") == 1
    art = job["artifacts"]
    assert art["azure_backup_hosts"]["win14"] == "failed"
    assert art["azure_backup_hosts"]["win99"] == "unreachable"
    # The stopped agent was started (a report-only warning of the VM image may leave it "found").
    assert art["azure_backup_hosts"]["vm01"] in ("fixed", "found"), art
    assert art["azure_backup_hosts"]["win05"] == "ok", art
    assert set(art["azure_backup_hosts"]) == {"vm01", "vm02", "vm03", "win01", "win05", "win14", "win99"}
    assert art["azure_backup_broken"] is True and {"win14", "win99"} <= set(art["azure_backup_broken_hosts"])
    assert art["azure_backup_totals"] == {s: list(art["azure_backup_hosts"].values()).count(s) for s in art["azure_backup_totals"]}
    assert art["azure_backup_job_101"]["hosts"] == art["azure_backup_hosts"]
    assert art["azure_backup_job_101"]["report"] == "azure-backup-report-job101"


def test_a_check_job_publishes_what_is_broken_and_says_it_was_check_mode(awx):
    job = awx["check"]
    art = job["artifacts"]
    assert (job["rc"], job["status"]) == (4, "failed"), job["stdout"][-3000:]
    assert art["azure_backup_check_mode"] is True and art["azure_backup_job_100"]["check_mode"] is True
    assert art["azure_backup_hosts"]["vm01"] == "found" and art["azure_backup_hosts"]["win01"] == "found"
    assert art["azure_backup_broken"] is True and {"vm01", "win01", "win14", "win99"} <= set(art["azure_backup_broken_hosts"])
    assert awx["check_vm01_agent"] != "active"
    assert awx["single"]["artifacts"]["azure_backup_check_mode"] is False


def test_the_artifacts_judge_every_host_as_the_jobs_report_does(awx):
    art = awx["single"]["artifacts"]
    hosts = report(awx["reports"], art["azure_backup_job_101"]["report"])["hosts"]
    assert {name: entry["status"] for name, entry in hosts.items()} == art["azure_backup_hosts"]


def test_the_statistics_cost_no_round_trip_to_a_vm(awx):
    # win05 is healthy: one read per run, also in the slice whose last play ran its one-time task on win05.
    assert awx["single_win05"] == ["host.read"]
    assert awx["slices_win05"] == ["host.read"]


def test_each_slice_publishes_its_own_key_and_writes_its_own_report(awx):
    for i, (job, part) in enumerate(zip(awx["slices"], SLICES)):
        key = "azure_backup_job_%d" % (201 + i)
        mine = job["artifacts"][key]
        assert set(mine["hosts"]) == set(part["linux"] + part["windows"]), job["stdout"][-3000:]
        assert mine["report"] == "azure-backup-report-job%d" % (201 + i)
        assert set(report(awx["reports"], mine["report"])["hosts"]) == set(mine["hosts"])
    assert [(j["rc"], j["status"]) for j in awx["slices"]] == [(0, "successful"), (2, "failed"), (4, "failed")]


def test_the_merge_node_makes_one_fleet_report_of_the_slices(awx):
    tmp, reports = awx["tmp"], awx["reports"]
    # AWX hands the next node the slices' artifacts merged key by key (later slices overwrite): the per-job keys survive.
    artifacts = {}
    for job in awx["slices"]:
        artifacts.update(job["artifacts"])
    slices = [artifacts["azure_backup_job_%d" % (201 + i)] for i in range(3)]
    before = set(os.listdir(reports))
    # The merge node's job template finds the slices' reports by the per-job keys (docs/awx.md has the same).
    merge_vars = {"azure_backup_merge_src": "{{ query('ansible.builtin.vars', *query('ansible.builtin.varnames', '^azure_backup_job_[0-9]+$'))"
                                            " | map(attribute='report') | map('regex_replace', '^(.*)$', '%s/\\1.json') }}" % reports,
                  "azure_backup_merge_dest": str(reports), "azure_backup_merge_name": "azure-backup-report-workflow%d" % WORKFLOW}
    pdd = private_data_dir(tmp, "job210", tmp / "project", {"all": {"hosts": {}}}, dict(awx_vars(210, WORKFLOW), **artifacts, **merge_vars),
                           reports)
    merged_job = finish(start(pdd, "210", "merge-reports.yml"), pdd, "210")
    assert (merged_job["rc"], merged_job["status"]) == (0, "successful"), merged_job["stdout"][-3000:]
    assert "azure-backup-report-workflow%d.json" % WORKFLOW in set(os.listdir(reports)) - before
    fleet_report = report(reports, "azure-backup-report-workflow%d" % WORKFLOW)
    union = {h: s for part in slices for h, s in part["hosts"].items()}
    assert {name: entry["status"] for name, entry in fleet_report["hosts"].items()} == union
    assert fleet_report["totals"] == {s: list(union.values()).count(s) for s in fleet_report["totals"]}
    assert sum(fleet_report["totals"].values()) == len(union)
    assert {"azure-backup-report-workflow%d%s" % (WORKFLOW, ext) for ext in (".html", ".xml")} <= set(os.listdir(reports))
