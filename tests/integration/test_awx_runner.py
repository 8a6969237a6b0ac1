"""fix-backup.yml as AWX runs it: ansible-runner over the private data directory AWX lays out (project/ as a project
sync leaves it, inventory/hosts, env/extravars with AWX's awx_* variables, env/envvars, env/settings), against real
fleet VMs and simulated Windows hosts. Checked: rc, status, and the artifact_data of the playbook_on_stats event
(what AWX stores as the job's artifacts and hands to the next workflow node). Then four slices of one sliced job
in parallel, each its own job id in one (inner) workflow job, cut as AWX cuts them, and the merge node of the outer
workflow: the slices' artifacts merged in the order they finished, extra vars written as AWX writes them (only the
job template's own extra vars may hold a template; everything else is !unsafe).
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
# A sliced job of four slices. AWX cuts the inventory by host name, every Nth host (Inventory.get_script_data:
# hosts ordered by name, [slice_number - 1::slice_count]): vm01 win05 | vm02 win14 | vm03 win99 | win01. The fourth holds a
# Windows host only, so its one-time statistics task lands on win01, whose WinRM executions are counted.
SLICE_COUNT = 4
# The slices belong to the sliced job's own workflow job; the merge node to the outer workflow around it.
SLICED_WORKFLOW, OUTER_WORKFLOW = 300, 299
# The job templates' own extra vars: AWX writes these plain, every other extra var !unsafe.
JT_VARS = {"network_timeout": 2}


def fleet(*args, check=True):
    return subprocess.run([FLEET, *args], check=check, capture_output=True, text=True).stdout


def project_copy(dest):
    """The project as AWX's sync leaves it: what git tracks (a sync checks out the commit, so no untracked file), the
    self-link of .collections included (tracked too)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=ROOT, check=True,
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


class _Unsafe(yaml.SafeDumper):
    """AWX's dumper of extra vars that are not the job template's own (awx/main/utils/safe_yaml.py): every string
    !unsafe, so Ansible never templates it."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def awx_extravars(extravars: dict, template_vars: dict) -> str:
    """env/extravars as AWX writes it: key by key, plain where the job template's extra vars hold the same value."""
    return "".join(yaml.dump_all([{k: v}], None, Dumper=yaml.SafeDumper if template_vars.get(k, object()) == v else _Unsafe,
                                 default_flow_style=False) for k, v in extravars.items())


def slice_of(inventory: dict, number: int, count: int) -> dict:
    """The inventory AWX hands slice ``number`` (1-based) of ``count``: every count-th host by name, groups kept."""
    groups = inventory["all"]["children"]["vms"]["children"]
    names = sorted(h for group in groups.values() for h in group["hosts"])[number - 1::count]
    return inventory_of(inventory, {group: [h for h in names if h in groups[group]["hosts"]] for group in groups})


def private_data_dir(base, name: str, project, inventory: dict, extravars: dict, reports, cmdline: str = "-l vms",
                     template_vars: dict | None = None) -> str:
    """A private data directory as AWX writes it before it hands it to ansible-runner in the EE. ``cmdline``: the job
    template's limit (vms) and job type (--check)."""
    pdd = base / name
    (pdd / "inventory").mkdir(parents=True)
    (pdd / "env").mkdir()
    if cmdline:
        (pdd / "env" / "cmdline").write_text(cmdline)
    os.symlink(project, pdd / "project")
    (pdd / "inventory" / "hosts").write_text(yaml.safe_dump(inventory))
    (pdd / "env" / "extravars").write_text(awx_extravars(extravars, JT_VARS if template_vars is None else template_vars))
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
    return {"rc": rc, "status": status, "stdout": out, "artifacts": stats["event_data"].get("artifact_data") or {}, "finished": stats["created"],
            "recap": {k: stats["event_data"].get(k) or {} for k in ("failures", "dark", "ok", "rescued", "ignored")}}


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
            pdd = private_data_dir(tmp, "job100", project, inv, dict(awx_vars(100), **JT_VARS), reports, cmdline="-l vms --check")
            out["check"] = finish(start(pdd, "100"), pdd, "100")
            out["check_vm01_agent"] = fleet("exec", "vm01", "--", "systemctl", "is-active", "walinuxagent", check=False).strip()
            # One job, as a job template without slicing runs it (not in a workflow).
            pdd = private_data_dir(tmp, "job101", project, inv, dict(awx_vars(101), **JT_VARS), reports)
            seen = len(host_log(tmp, "win05"))
            out["single"] = finish(start(pdd, "101"), pdd, "101")
            out["single_win05"] = executions(host_log(tmp, "win05")[seen:])
            # A sliced job: its slice jobs at once, one workflow job around them. Job 101 fixed win01: one read is all
            # its slice may cost it.
            seen = len(host_log(tmp, "win01"))
            procs = []
            for number in range(1, SLICE_COUNT + 1):
                job = 200 + number
                pdd = private_data_dir(tmp, "job%d" % job, project, slice_of(inv, number, SLICE_COUNT),
                                       dict(awx_vars(job, SLICED_WORKFLOW), **JT_VARS), reports)
                procs.append((start(pdd, str(job)), pdd, str(job)))
            out["slices"] = [finish(*p) for p in procs]
            out["slices_win01"] = executions(host_log(tmp, "win01")[seen:])
            yield out
    finally:
        fleet("down")


def test_a_job_fails_as_before_and_its_artifacts_say_each_hosts_status(awx):
    job = awx["single"]
    # win14's failed task still fails the host (failures, not only rescued); unreachable win99 stays in the play until
    # the outcome is published (ignored), then fails too, so the job fails with rc 2.
    assert (job["rc"], job["status"]) == (2, "failed"), job["stdout"][-3000:]
    assert job["recap"]["failures"].get("win14") == 1
    assert job["recap"]["failures"].get("win99") == 1 and job["recap"]["ignored"].get("win99") == 1
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
    assert (job["rc"], job["status"]) == (2, "failed"), job["stdout"][-3000:]
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
    # win05 is healthy: one read per run; win01, fixed by then, also in the slice whose one-time task ran on it.
    assert awx["single_win05"] == ["host.read"]
    assert awx["slices_win01"] == ["host.read"]


def test_each_slice_publishes_its_own_key_and_writes_its_own_report(awx):
    parts = [["vm01", "win05"], ["vm02", "win14"], ["vm03", "win99"], ["win01"]]
    for i, (job, part) in enumerate(zip(awx["slices"], parts)):
        key = "azure_backup_job_%d" % (201 + i)
        mine = job["artifacts"][key]
        assert set(mine["hosts"]) == set(part), job["stdout"][-3000:]
        assert mine["report"] == "azure-backup-report-job%d" % (201 + i)
        assert set(report(awx["reports"], mine["report"])["hosts"]) == set(mine["hosts"])
    assert [(j["rc"], j["status"]) for j in awx["slices"]] == [(0, "successful"), (2, "failed"), (2, "failed"), (0, "successful")]


def test_the_merge_node_makes_one_fleet_report_of_the_slices_and_publishes_its_outcome(awx):
    tmp, reports = awx["tmp"], awx["reports"]
    # AWX hands the next node the slices' artifacts merged key by key in the order the slices finished
    # (WorkflowJob.get_effective_artifacts): the unprefixed keys are the last-finished slice's, the per-job keys survive.
    artifacts = {}
    for job in sorted(awx["slices"], key=lambda j: j["finished"]):
        artifacts.update(job["artifacts"])
    slices = [artifacts["azure_backup_job_%d" % (201 + i)] for i in range(SLICE_COUNT)]
    before = set(os.listdir(reports))
    # The merge node's job template (docs/awx.md has the same): its own extra vars, the only ones AWX lets hold a template.
    merge_vars = {"azure_backup_merge_src": "{{ query('ansible.builtin.vars', *query('ansible.builtin.varnames', '^azure_backup_job_[0-9]+$'))"
                                            " | map(attribute='report') | map('regex_replace', '^(.*)$', '%s/\\1.json') }}" % reports,
                  "azure_backup_merge_dest": str(reports)}
    pdd = private_data_dir(tmp, "job210", tmp / "project", {"all": {"hosts": {}}},
                           dict(merge_vars, **artifacts, **awx_vars(210, OUTER_WORKFLOW)), reports, cmdline="", template_vars=merge_vars)
    with open(os.path.join(pdd, "env", "extravars")) as handle:
        written = handle.read()
    assert "azure_backup_merge_src: '{{" in written and "!unsafe 'azure-backup-report-job201'" in written, written
    merged_job = finish(start(pdd, "210", "merge-reports.yml"), pdd, "210")
    assert (merged_job["rc"], merged_job["status"]) == (0, "successful"), merged_job["stdout"][-3000:]
    # The default name: the outer workflow's job ID, which the merge node has (the slices have the inner one).
    name = "azure-backup-fleet-workflow%d" % OUTER_WORKFLOW
    assert {name + ext for ext in (".json", ".html", ".xml")} <= set(os.listdir(reports)) - before
    fleet_report = report(reports, name)
    union = {h: s for part in slices for h, s in part["hosts"].items()}
    assert {name: entry["status"] for name, entry in fleet_report["hosts"].items()} == union
    assert fleet_report["totals"] == {s: list(union.values()).count(s) for s in fleet_report["totals"]}
    assert sum(fleet_report["totals"].values()) == len(union)
    # What the node after the merge decides on: the merge's own statistics over every slice, not the last slice's.
    art = merged_job["artifacts"]
    assert art["azure_backup_hosts"] == union
    assert art["azure_backup_broken_hosts"] == sorted(h for h, s in union.items() if s not in ("ok", "fixed", "skipped"))
    assert {"win14", "win99"} <= set(art["azure_backup_broken_hosts"]) and art["azure_backup_broken"] is True
    assert art["azure_backup_totals"] == fleet_report["totals"]
