"""bench/fleet-bench and its callback: CPU seconds per host, controller-only tasks per host,
and which playbooks and modes a run measures. Nothing here boots a VM."""

import importlib.machinery
import importlib.util
import json
import os
import types

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench")


def load(name, path):
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def bench():
    return load("fleet_bench", os.path.join(BENCH, "fleet-bench"))


@pytest.fixture
def task_times():
    return load("bench_task_times", os.path.join(BENCH, "callback", "task_times.py"))


def result(host, action, **args):
    return types.SimpleNamespace(_task=types.SimpleNamespace(action=action, args=args),
                                 _host=types.SimpleNamespace(get_name=lambda: host))


def test_callback_counts_controller_only_tasks_per_host(task_times, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOST_TASKS", str(tmp_path / "hosts.json"))
    monkeypatch.delenv("BENCH_TASK_TIMES", raising=False)
    cb = task_times.CallbackModule()
    for host in ("vm01", "vm02"):
        cb.v2_runner_on_ok(result(host, "ansible.builtin.group_by"))
        cb.v2_runner_on_ok(result(host, "ansible.builtin.include_role"))
        cb.v2_runner_on_ok(result(host, "ansible.builtin.validate_argument_spec"))
        cb.v2_runner_on_ok(result(host, "azure_backup.remediation.linux_agent"))
        cb.v2_runner_on_failed(result(host, "set_fact"))
        # fix_backup.yml: the settings check runs on the controller, the remediate task on the VM.
        cb.v2_runner_on_ok(result(host, "azure_backup.remediation.remediate", validate_only=True, log_bundle=True))
        cb.v2_runner_on_ok(result(host, "azure_backup.remediation.remediate", causes=["linux_agent"]))
    cb.v2_runner_on_ok(result("vm01", "azure_backup.remediation.fleet_stats"))
    cb.v2_runner_on_skipped(result("vm01", "ansible.builtin.fail"))
    cb.v2_playbook_on_stats(None)
    counts = json.loads((tmp_path / "hosts.json").read_text())
    assert counts == {"controller": {"vm01": 6, "vm02": 5}, "module": {"vm01": 2, "vm02": 2}, "skipped": {"vm01": 1}}


def row(n, playbook, wall, cpu, **extra):
    return dict(n=n, variant="pipelining", fleet="healthy", mode="check", playbook=playbook, run=0, rc=0, forks=25,
                wall_s=wall, cpu_s=cpu, peak_mem_mib=500.0, modules_per_host=5.0, ssh_per_host=5.0, **extra)


def test_summary_reports_cpu_seconds_and_controller_tasks_per_host(bench, tmp_path, capsys):
    rows = [row(100, "fix-backup", 300.0, 180.0, cpu_s_per_host=1.8, controller_tasks_per_host=12.0),
            row(25, "fix-backup", 30.0, 40.0, cpu_s_per_host=1.6, controller_tasks_per_host=12.0),
            row(25, "baseline", 200.0, 75.0, cpu_s_per_host=3.0, controller_tasks_per_host=3.0),
            # a row of an older run, without the new fields: CPU per host from cpu_s / N
            row(50, "baseline", 540.0, 225.0)]
    summary = bench.summarise(rows)
    by = {(s["n"], s["playbook"]): s for s in summary}
    assert by[(100, "fix-backup")]["cpu_s_per_host"] == 1.8
    assert by[(100, "fix-backup")]["controller_tasks_per_host"] == 12.0
    assert by[(100, "fix-backup")]["ratio_to_baseline"] is None
    assert by[(50, "baseline")]["cpu_s_per_host"] == 4.5
    assert by[(50, "baseline")]["controller_tasks_per_host"] is None
    assert by[(25, "fix-backup")]["ratio_to_baseline"] == 0.15
    bench.write_summary(str(tmp_path), summary)
    out = capsys.readouterr().out
    assert "cpu s/h" in out and "ctl/host" in out
    assert "N=25 pipelining healthy check: 0.15" in out
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    assert "cpu_s_per_host" in header and "controller_tasks_per_host" in header


def run_main(bench, monkeypatch, tmp_path, argv):
    """main() with the fleet and ansible-playbook replaced by recorders."""
    calls = []

    def fake_run(args, label, playbook, inventory, extra, out, env_extra):
        calls.append((label, playbook, extra))
        return {"rc": 0, "wall_s": 10.0, "cpu_s": 20.0, "peak_mem_mib": 1.0, "modules_per_host": 5.0, "modules_max": 5,
                "ssh_per_host": 5.0, "controller_tasks_per_host": 3.0, "controller_tasks_max": 3, "top_tasks": [],
                "output": ""}

    monkeypatch.setattr(bench, "run_playbook", fake_run)
    monkeypatch.setattr(bench, "boot", lambda n, out: "inventory-%d.yml" % n)
    monkeypatch.setattr(bench, "break_all", lambda n: None)
    monkeypatch.setattr(bench, "fleet", lambda *a, **kw: "")
    monkeypatch.setattr(bench, "chart", lambda out, summary: None)
    monkeypatch.setattr("sys.argv", ["fleet-bench", "--out", str(tmp_path / "out")] + argv)
    bench.main()
    return calls


def test_ours_only_at_100_runs_one_check_of_fix_backup_and_nothing_else(bench, monkeypatch, tmp_path):
    calls = run_main(bench, monkeypatch, tmp_path, ["--sizes", "100", "--runs", "1", "--fleets", "healthy",
                                                    "--modes", "check", "--variants", "", "--ours-only", "--no-prepare"])
    assert calls == [("pipelining-100-fresh-check-fix-backup-0", bench.OURS, ["--check"])]
    [line] = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert json.loads(line)["cpu_s_per_host"] == 0.2


def test_the_broken_apply_case_runs_both_playbooks_once(bench, monkeypatch, tmp_path):
    calls = run_main(bench, monkeypatch, tmp_path, ["--sizes", "10", "--runs", "1", "--fleets", "broken",
                                                    "--modes", "apply", "--variants", "", "--no-equivalence"])
    assert [(label, extra) for label, _playbook, extra in calls] == [("pipelining-10-broken-apply-fix-backup-0", []),
                                                                     ("pipelining-10-broken-apply-baseline-0", [])]


def test_descendants_finds_children_and_grandchildren(bench):
    import subprocess
    import time
    outer = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        for _attempt in range(50):
            found = bench.descendants(outer.pid)
            if len(found) == 3:
                break
            time.sleep(0.05)
        assert found[0] == outer.pid and len(found) == 3
    finally:
        for pid in bench.descendants(outer.pid)[1:]:
            os.kill(pid, 9)
        outer.kill()
        outer.wait()
