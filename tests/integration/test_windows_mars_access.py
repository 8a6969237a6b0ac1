"""MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL and MARS_ANTIVIRUS against simulated hosts, through Ansible's
real winrm connection and fix-backup.yml: a healthy MARS install, one host per fault (two where one is fixed on
request and reported otherwise), and a host without the agent. --check finds each fault and changes nothing, apply
fixes what is fixable and the simulated state confirms it, a second apply changes nothing. The MARS endpoints are
loopback listeners (the storage stand-ins of tests/winsim/azure.py) under the names the simulated VMs resolve."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
import host as simhost  # noqa: E402  (the simulator, under tests/winsim)
from azure import executions, host_log as log, host_state as state, run_play, simulated_hosts  # noqa: E402

PLAY = os.path.join(ROOT, "fix-backup.yml")
HOSTS = {
    "mars01": ["mars-installed"],
    "mars02": ["mars-endpoint-blocked", "mars-system-proxy"],
    "mars03": ["mars-schedule-disabled", "mars-schedule-parallel"],
    "mars04": ["mars-schedule-user"],  # mars_agent_schedule_fix_principal: true
    "mars05": ["mars-schedule-user"],  # reported only
    "mars06": ["mars-psmodulepath", "mars-execution-policy-restricted"],
    "mars07": ["mars-execution-policy-gpo"],
    "mars08": ["mars-defender-exclusions"],
    "mars09": ["mars-defender-off"],
    "mars10": ["mars-schedule-dc-unreachable"],  # mars_agent_schedule_fix_principal: true; never changed
    "mars11": ["mars-schedule-disabled", "mars-execution-policy-restricted"],  # enable_tasks, set_execution_policy: false
    "mars12": ["mars-defender-hidden"],
    "win00": [],  # no MARS agent
}
PROXY = "oldproxy.corp.invalid:3128"  # SYSTEM's LAN settings on mars02 (faults.mars_system_proxy)
MARS = ("MARS_CONNECTIVITY", "MARS_SCHEDULE", "MARS_POWERSHELL", "MARS_ANTIVIRUS")
MARS_MODULES = simhost.MARS_DIR + "\\Bin\\Modules"
CSC = ["C:\\Windows\\Microsoft.NET\\%s\\v4.0.30319\\csc.exe" % f for f in ("Framework", "Framework64")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-mars-access")
    with simulated_hosts(tmp, {n: ("en", f) for n, f in HOSTS.items()}) as inv:
        group = inv["all"]["children"]["vms"]["children"]["windows"]["vars"]
        # The stand-ins listen on 127.0.0.1; the simulated VMs resolve the MARS names there (host.install_mars).
        first, second = group["network_storage_ports"]
        group.update(mars_agent_endpoints=["www.msftncsi.com:%d" % first, "login.microsoftonline.com:%d" % second], mars_agent_timeout=2)
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        (tmp / "host_vars").mkdir()
        (tmp / "host_vars" / "mars04.yml").write_text("mars_agent_schedule_fix_principal: true\n")
        (tmp / "host_vars" / "mars10.yml").write_text("mars_agent_schedule_fix_principal: true\n")
        (tmp / "host_vars" / "mars11.yml").write_text("mars_agent_enable_tasks: false\nmars_agent_set_execution_policy: false\n")
        out = {"tmp": tmp, "results": {}, "logs": {}, "states": {"before": {n: state(tmp, n) for n in HOSTS}}}
        for step, args in (("check", ["--check", "--diff"]), ("apply", ["--diff"]), ("again", [])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            out["results"][step] = playbook(tmp, *args)
            out["logs"][step] = {n: log(tmp, n)[seen[n]:] for n in HOSTS}
            out["states"][step] = {n: state(tmp, n) for n in HOSTS}
        yield out


def findings(runs, step, host, status=None):
    result = runs["results"][step][1][host]
    return {"%s/%s" % (f["id"], f["check"]): f for f in result.get("findings") or []
            if f["id"] in MARS and status in (None, f["status"])}


# What each host's faults are found as, and whether apply fixes them (True) or they stay reported (False).
EXPECTED = {
    "mars02": {"MARS_CONNECTIVITY/endpoints": False, "MARS_CONNECTIVITY/proxy": False},
    "mars03": {"MARS_SCHEDULE/triggers": True, "MARS_SCHEDULE/instances": True},
    "mars04": {"MARS_SCHEDULE/principal": True},
    "mars05": {"MARS_SCHEDULE/principal": False},
    "mars06": {"MARS_POWERSHELL/module_path": True, "MARS_POWERSHELL/execution_policy": True},
    "mars07": {"MARS_POWERSHELL/execution_policy": False},
    "mars08": {"MARS_ANTIVIRUS/exclusions": True},
    "mars09": {"MARS_ANTIVIRUS/defender": False},
    "mars10": {"MARS_SCHEDULE/principal": False},
    "mars11": {"MARS_SCHEDULE/triggers": False, "MARS_POWERSHELL/execution_policy": False},
    "mars12": {"MARS_ANTIVIRUS/exclusions": False},
}


def test_check_mode_finds_each_fault_and_nothing_on_the_healthy_host(runs):
    for host in HOSTS:
        assert runs["states"]["check"][host] == runs["states"]["before"][host], host
        found = sorted(findings(runs, "check", host, "found"))
        assert found == sorted(EXPECTED.get(host, {})), (host, found)
        assert not findings(runs, "check", host, "failed"), host
    # The healthy install: every check of the four causes ran and is ok.
    healthy = findings(runs, "check", "mars01")
    assert {k for k, f in healthy.items() if f["status"] == "ok"} >= {
        "MARS_CONNECTIVITY/proxy", "MARS_CONNECTIVITY/endpoints", "MARS_SCHEDULE/tasks", "MARS_SCHEDULE/triggers", "MARS_SCHEDULE/instances",
        "MARS_SCHEDULE/principal", "MARS_POWERSHELL/module_path", "MARS_POWERSHELL/execution_policy", "MARS_POWERSHELL/module_files",
        "MARS_ANTIVIRUS/exclusions"}


def test_every_read_is_in_the_one_host_read_and_a_host_without_mars_has_no_finding_of_it(runs):
    for host in ("mars01", "win00", "mars06"):
        assert executions(runs["logs"]["check"][host]) == ["host.read"], host
    assert findings(runs, "check", "win00") == {}
    causes = runs["results"]["check"][1]["win00"]["causes"]
    assert all(causes[c]["skipped"] and "not installed" in causes[c]["msg"] for c in MARS)


def test_check_mode_says_what_it_would_do(runs):
    found = findings(runs, "check", "mars06", "found")
    assert "would add it" in found["MARS_POWERSHELL/module_path"]["summary"]
    assert "Restricted" in found["MARS_POWERSHELL/execution_policy"]["summary"] and "would set it to RemoteSigned" in \
        found["MARS_POWERSHELL/execution_policy"]["summary"]
    proxy = findings(runs, "check", "mars02", "found")["MARS_CONNECTIVITY/proxy"]
    assert "WinHTTP (machine): direct access" in proxy["summary"] and PROXY in proxy["summary"] and "the two differ" in proxy["summary"]
    blocked = findings(runs, "check", "mars02", "found")["MARS_CONNECTIVITY/endpoints"]
    # SYSTEM's LAN settings name a proxy: the direct probe failing is expected.
    assert "expected" in blocked["summary"] and blocked["detail"]["proxy_in_use"]
    assert [f["kind"] for f in blocked["detail"]["failures"]] == ["timeout"]
    assert blocked["detail"]["failures"][0]["endpoint"].startswith("login.microsoftonline.com:")


def test_apply_fixes_what_is_fixable_and_the_state_confirms_it(runs):
    before, after = runs["states"]["before"], runs["states"]["apply"]
    for host, expected in EXPECTED.items():
        seen = findings(runs, "apply", host)
        for check, fixable in expected.items():
            assert seen[check]["status"] == ("fixed" if fixable else "found"), (host, check, seen[check])
    # MARS_CONNECTIVITY sets no proxy: WinHTTP is NETWORK's.
    assert after["mars02"]["winhttp_proxy"] == before["mars02"]["winhttp_proxy"] == {"proxy": "", "bypass": ""}
    task = after["mars03"]["task_scheduler"][simhost.MARS_TASK]
    assert [t["enabled"] for t in task["triggers"]] == [True] and task["multiple_instances"] == "IgnoreNew"
    assert after["mars04"]["task_scheduler"][simhost.MARS_TASK]["user_id"] == "SYSTEM"
    assert after["mars05"]["task_scheduler"][simhost.MARS_TASK] == before["mars05"]["task_scheduler"][simhost.MARS_TASK]
    path = after["mars06"]["registry"][simhost.ENVIRONMENT_KEY]["PSModulePath"]
    # Kept unexpanded, the agent's folder added at the end.
    assert path == {"type": "expandstring", "data": simhost.DEFAULT_PSMODULEPATH + ";" + MARS_MODULES}
    assert after["mars06"]["registry"][simhost.EXECUTION_POLICY_KEY]["ExecutionPolicy"] == {"type": "string", "data": "RemoteSigned"}
    assert findings(runs, "apply", "mars06")["MARS_POWERSHELL/execution_policy"]["detail"]["local_machine"] == "Restricted"
    assert after["mars07"]["registry"] == before["mars07"]["registry"]
    defender = after["mars08"]["defender"]
    # Files and folders as path exclusions; the old process exclusion by name is kept, none is added.
    assert defender["exclusion_path"] == [simhost.MARS_DIR + "\\Scratch", simhost.MARS_DIR + "\\Bin"] + CSC
    assert defender["exclusion_process"] == ["cbengine.exe"]
    assert after["mars09"]["defender"] == before["mars09"]["defender"]
    assert "unknown" in findings(runs, "apply", "mars12")["MARS_ANTIVIRUS/exclusions"]["summary"]
    assert "unknown" in findings(runs, "apply", "mars10")["MARS_SCHEDULE/principal"]["summary"]
    for host in ("mars01", "win00", "mars10", "mars11", "mars12"):
        assert after[host] == before[host], host


def test_diff_mode_shows_before_and_after(runs):
    # The default callback prints each diff under the task; the tree callback keeps no diff.
    for step in ("check", "apply"):
        out = runs["results"][step][0].stdout
        assert "Restricted\n+RemoteSigned" in out, step
        assert "-%s\n+%s;%s" % (simhost.DEFAULT_PSMODULEPATH, simhost.DEFAULT_PSMODULEPATH, MARS_MODULES) in out, step
        assert "+path %s" % CSC[1] in out and "+process" not in out and "WinHTTP proxy" not in out, step
        assert "-Microsoft-OnlineBackup: Parallel\n+Microsoft-OnlineBackup: IgnoreNew" in out, step


def test_a_second_apply_changes_nothing(runs):
    for host in HOSTS:
        result = runs["results"]["again"][1][host]
        assert runs["states"]["again"][host] == runs["states"]["apply"][host], host
        assert sorted(findings(runs, "again", host, "found")) == sorted(c for c, fixable in EXPECTED.get(host, {}).items() if not fixable), host
        assert not findings(runs, "again", host, "fixed"), host
        assert executions(runs["logs"]["again"][host]) == ["host.read"], (host, executions(runs["logs"]["again"][host]))
        assert result.get("changed") is False, host


def playbook(tmp, *args):
    return run_play(ROOT, tmp, PLAY, *args, expect=HOSTS)
