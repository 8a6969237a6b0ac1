"""MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL and MARS_ANTIVIRUS: each script's twin run with the collection's
own script text through the simulator's win_powershell, the win_path fake, and each action plugin run against a
simulated host (its module runs answered by the simulator), in check mode and applied."""

from __future__ import annotations

import socket
from unittest.mock import MagicMock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar

import faults
import host as hostmod
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import (win_mars_antivirus, win_mars_connectivity, win_mars_powershell,
                                                                         win_mars_schedule, win_network)
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_schedule as sched

MODULES = hostmod.MARS_DIR + "\\Bin\\Modules"
SCRATCH = hostmod.MARS_DIR + "\\Scratch"


def powershell(h, script, check=False, depth=6, **parameters):
    answer = h.run_module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": depth,
                                                             "_ansible_check_mode": check})
    return answer


def read(h, script, **parameters):
    answer = powershell(h, script, check=True, **parameters)
    assert not answer["failed"] and answer["changed"] is False, answer
    return answer["result"]


def mars(*names):
    return hostmod.SimHost.create("win01", "en", ["mars-installed", *names])


def run_plugin(h, module, args=None, check_mode=False):
    """The action plugin against ``h``: (result, what it sent: module names, with the script tag for win_powershell)."""
    sent = []
    task = MagicMock(Task)
    task.args = dict(args or {})
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = True
    task.get_search_path.return_value = []
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value, *a, **kw: value
    plugin = module.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=templar, shared_loader_obj=None)

    def execute(module_name=None, module_args=None, task_vars=None, **_kwargs):
        script = str((module_args or {}).get("script") or "")
        sent.append(module_name.rsplit(".", 1)[-1] + (":" + script.split("/", 1)[1].split("\n", 1)[0] if script else ""))
        return h.run_module(module_name, dict(module_args or {}, _ansible_check_mode=check_mode, _ansible_diff=True))

    plugin._execute_module = execute  # pylint: disable=protected-access
    plugin._connection = MagicMock()  # pylint: disable=protected-access
    return plugin.run(task_vars={"inventory_hostname": h.name}), sent


def by_check(result):
    return {f["check"]: f for f in result.get("findings") or []}


# -- the reads: nothing of MARS where it is not installed -----------------------------------------------

READS = [(win_mars_connectivity.READ, {"Endpoints": ["localhost:1"], "TimeoutMs": 100}), (win_mars_schedule.READ, {"TaskPath": sched.TASK_PATH}),
         (win_mars_powershell.READ, {}), (win_mars_antivirus.READ, {})]


@pytest.mark.parametrize("script,parameters", READS)
def test_each_read_says_only_that_the_agent_is_absent_where_it_is(script, parameters):
    assert read(hostmod.SimHost.create("win01", "en", []), script, **parameters) == {"agent": {"installed": False}}
    state = read(mars(), script, **parameters)
    assert state["agent"] == {"installed": True, "install_path": hostmod.MARS_DIR, "version": hostmod.MARS_VERSION, "service": True,
                              "dpm": False}
    assert len(state) > 1


# -- MARS_CONNECTIVITY --------------------------------------------------------------------------------

def test_connectivity_read_probes_loopback_listeners_and_reads_winhttp():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        endpoints = ["www.msftncsi.com:%d" % port, "login.microsoftonline.com:%d" % port]
        state = read(mars(), win_mars_connectivity.READ, Endpoints=endpoints, TimeoutMs=1000)
        assert [(p["endpoint"], p["error_code"]) for p in state["tcp"]] == [(e, "") for e in endpoints]
        assert state["winhttp"] == {"proxy": "", "bypass": "", "flags": 1}
        blocked = read(mars("mars-endpoint-blocked"), win_mars_connectivity.READ, Endpoints=endpoints, TimeoutMs=200)
        assert [p["error_code"] for p in blocked["tcp"]] == ["", "TimedOut"]
    h = mars()
    h.state["winhttp_proxy"] = {"proxy": "proxy.corp:3128", "bypass": "<local>"}
    assert read(h, win_mars_connectivity.READ, Endpoints=[], TimeoutMs=100)["winhttp"] == {"proxy": "proxy.corp:3128", "bypass": "<local>", "flags": 3}


def test_connectivity_reports_winhttp_without_a_proxy_named_and_sends_only_the_read():
    result, sent = run_plugin(mars("mars-endpoint-blocked"), win_mars_connectivity, {"timeout": 0.2}, check_mode=True)
    checks = by_check(result)
    assert sent == ["win_powershell:mars_connectivity.read"]
    assert checks["proxy"]["status"] == "ok" and "direct access" in checks["proxy"]["summary"]
    assert checks["endpoints"]["status"] == "found" and "login.microsoftonline.com:443 timeout" in checks["endpoints"]["summary"]
    assert "20.190.128.0/18" in checks["endpoints"]["summary"] and not result["changed"]


def test_connectivity_never_sets_winhttp_and_says_network_owns_it():
    h = mars()
    args = {"endpoints": ["localhost:1"], "timeout": 0.2, "network_http_proxy": "proxy.corp:3128", "network_http_proxy_bypass": ["<local>"]}
    for check_mode in (True, False):
        result, sent = run_plugin(h, win_mars_connectivity, args, check_mode=check_mode)
        proxy = by_check(result)["proxy"]
        assert sent == ["win_powershell:mars_connectivity.read"] and not result["changed"] and "diff" not in result
        assert proxy["status"] == "found" and "NETWORK sets it (network_http_proxy_host)" in proxy["summary"]
        assert "proxy proxy.corp:3128, bypass <local>" in proxy["summary"]
    assert h.state["winhttp_proxy"] == {"proxy": "", "bypass": ""}
    # WinHTTP as NETWORK names it: nothing to say.
    h.state["winhttp_proxy"] = {"proxy": "PROXY.corp:3128", "bypass": "<local>"}
    assert by_check(run_plugin(h, win_mars_connectivity, args)[0])["proxy"]["status"] == "ok"
    assert "mars_agent_http_proxy" not in win_mars_connectivity.ActionModule.ARGUMENT_SPEC
    assert "http_proxy" not in win_mars_connectivity.ActionModule.ARGUMENT_SPEC


def test_network_s_proxy_reaches_mars_connectivity_only_when_network_runs():
    values = {"mars_agent_endpoints": ["www.msftncsi.com"], "mars_agent_timeout": 5}
    assert settings.cause_args("mars_connectivity", "windows", values)["network_http_proxy"] == ""
    values.update(network_http_proxy_host="proxy.corp", network_http_proxy_port=3128, network_http_proxy_bypass=["<local>"])
    args = settings.cause_args("mars_connectivity", "windows", values)
    assert (args["network_http_proxy"], args["network_http_proxy_bypass"]) == ("proxy.corp:3128", ["<local>"])


def test_connectivity_reads_and_reports_system_s_lan_settings():
    h = mars("mars-system-proxy")
    state = read(h, win_mars_connectivity.READ, Endpoints=[], TimeoutMs=100)
    assert state["wininet"] == {"flags": 3, "proxy": "oldproxy.corp.invalid:3128", "bypass": "<local>", "autoconfig_url": ""}
    assert read(mars(), win_mars_connectivity.READ, Endpoints=[], TimeoutMs=100)["wininet"] is None
    result, sent = run_plugin(h, win_mars_connectivity, {"endpoints": ["localhost:1"], "timeout": 0.2})
    proxy = by_check(result)["proxy"]
    assert proxy["status"] == "found" and not result["changed"] and sent == ["win_powershell:mars_connectivity.read"]
    assert "WinHTTP (machine): direct access" in proxy["summary"] and "proxy oldproxy.corp.invalid:3128, bypass <local>" in proxy["summary"]
    assert "the two differ" in proxy["summary"] and "psexec" in proxy["summary"]
    # Automatic detection alone (a new profile's default) is direct access where no WPAD server answers.
    h.state["system_wininet"] = {"flags": 9, "proxy": "", "bypass": "", "autoconfig_url": ""}
    assert by_check(run_plugin(h, win_mars_connectivity, {"endpoints": ["localhost:1"], "timeout": 0.2})[0])["proxy"]["status"] == "ok"
    # A proxy typed in but not turned on: article 004 says to remove it.
    h.state["system_wininet"] = {"flags": 1, "proxy": "old:8080", "bypass": "", "autoconfig_url": ""}
    proxy = by_check(run_plugin(h, win_mars_connectivity, {"endpoints": ["localhost:1"], "timeout": 0.2})[0])["proxy"]
    assert proxy["status"] == "found" and "hold proxy old:8080 but do not use a proxy" in proxy["summary"]
    # A script WinHTTP does not use.
    h.state["system_wininet"] = {"flags": 5, "proxy": "", "bypass": "", "autoconfig_url": "http://wpad.corp/proxy.pac"}
    proxy = by_check(run_plugin(h, win_mars_connectivity, {"endpoints": ["localhost:1"], "timeout": 0.2})[0])["proxy"]
    assert proxy["status"] == "found" and "script http://wpad.corp/proxy.pac" in proxy["summary"]


def test_a_failed_direct_probe_is_expected_where_a_proxy_is_in_use():
    h = mars("mars-endpoint-blocked")
    h.state["winhttp_proxy"] = {"proxy": "proxy.corp:3128", "bypass": ""}
    endpoints = by_check(run_plugin(h, win_mars_connectivity, {"timeout": 0.2}, check_mode=True)[0])["endpoints"]
    assert endpoints["status"] == "found" and endpoints["severity"] == "warning" and endpoints["detail"]["proxy_in_use"]
    assert "which is expected where the agent goes through WinHTTP's proxy proxy.corp:3128" in endpoints["summary"]
    h.state["winhttp_proxy"] = {"proxy": "", "bypass": ""}
    endpoints = by_check(run_plugin(h, win_mars_connectivity, {"timeout": 0.2}, check_mode=True)[0])["endpoints"]
    assert "expected" not in endpoints["summary"] and endpoints["detail"]["proxy_in_use"] is False


def test_connectivity_refuses_a_wildcard_before_any_round_trip():
    result, sent = run_plugin(mars(), win_mars_connectivity, {"endpoints": ["*.windows.net"]})
    assert sent == [] and result["failed"] and "wildcard" in result["msg"] and "win01" in result["msg"]


def test_network_still_sets_its_proxy_through_the_shared_setter():
    h = hostmod.SimHost.create("win01", "en", [])
    result, sent = run_plugin(h, win_network, {"http_proxy": "proxy.corp:3128", "timeout": 0.2})
    assert sent[0] == "win_http_proxy" and by_check(result)["proxy"]["status"] == "fixed"
    assert h.state["winhttp_proxy"]["proxy"] == "proxy.corp:3128"


# -- MARS_SCHEDULE --------------------------------------------------------------------------------------

def test_schedule_read_gives_principals_by_sid_and_administrators():
    state = read(mars(), win_mars_schedule.READ, TaskPath=sched.TASK_PATH)
    [task] = state["tasks"]
    assert (task["name"], task["sid"], task["multiple_instances"], task["triggers"]) == (
        "Microsoft-OnlineBackup", "S-1-5-18", "IgnoreNew", [{"kind": "MSFT_TaskWeeklyTrigger", "enabled": True}])
    assert state["administrators"] == ["S-1-5-21-1004336348-1177238915-682003330-500"]
    user = read(mars("mars-schedule-user"), win_mars_schedule.READ, TaskPath=sched.TASK_PATH)["tasks"][0]
    assert user["sid"] == faults.BACKUP_USER_SID and sched.principal(user, state["administrators"]) == "other"


def test_schedule_fixes_triggers_and_instances_and_reads_them_back():
    h = mars("mars-schedule-disabled", "mars-schedule-parallel")
    check, sent = run_plugin(h, win_mars_schedule, check_mode=True)
    assert sent == ["win_powershell:mars_schedule.read"]
    assert {c: f["status"] for c, f in by_check(check).items()} == {"tasks": "ok", "triggers": "found", "instances": "found", "principal": "ok"}
    applied, sent = run_plugin(h, win_mars_schedule)
    assert sent == ["win_powershell:mars_schedule.read", "win_powershell:mars_schedule.set", "win_powershell:mars_schedule.set"]
    assert by_check(applied)["triggers"]["status"] == by_check(applied)["instances"]["status"] == "fixed"
    task = h.state["task_scheduler"][hostmod.MARS_TASK]
    assert task["triggers"][0]["enabled"] and task["multiple_instances"] == "IgnoreNew"
    again, _sent = run_plugin(h, win_mars_schedule)
    assert {f["status"] for f in again["findings"]} == {"ok"} and not again["changed"]


def test_a_disabled_task_is_enabled_with_its_triggers():
    h = mars("mars-schedule-disabled")
    h.state["task_scheduler"][hostmod.MARS_TASK]["enabled"] = False
    check, _sent = run_plugin(h, win_mars_schedule, check_mode=True)
    assert "Microsoft-OnlineBackup: the task, trigger 1 (weekly)" in by_check(check)["triggers"]["summary"]
    applied, _sent = run_plugin(h, win_mars_schedule)
    assert by_check(applied)["triggers"]["status"] == "fixed"
    task = h.state["task_scheduler"][hostmod.MARS_TASK]
    assert task["enabled"] and task["triggers"][0]["enabled"] and task["state"] == "Ready"


def test_a_task_of_a_plain_user_is_reported_and_set_to_system_only_on_request():
    h = mars("mars-schedule-user")
    reported, sent = run_plugin(h, win_mars_schedule)
    assert sent == ["win_powershell:mars_schedule.read"] and by_check(reported)["principal"]["status"] == "found"
    assert "mars_agent_schedule_fix_principal" in by_check(reported)["principal"]["summary"] and not reported["changed"]
    applied, _sent = run_plugin(h, win_mars_schedule, {"fix_principal": True})
    assert by_check(applied)["principal"]["status"] == "fixed" and h.state["task_scheduler"][hostmod.MARS_TASK]["user_id"] == "SYSTEM"


def test_a_local_administrator_and_the_administrators_group_are_fine():
    h = mars()
    h.state["local_accounts"] = {"backupadmin": {"sid": "S-1-5-21-1-2-3-1002", "groups": ["S-1-5-32-544"]}}
    h.state["task_scheduler"][hostmod.MARS_TASK]["user_id"] = "backupadmin"
    h.state["task_scheduler"]["\\Microsoft\\OnlineBackup\\Other"] = dict(h.state["task_scheduler"][hostmod.MARS_TASK], user_id=None,
                                                                         group_id="BUILTIN\\Administrators")
    result, _sent = run_plugin(h, win_mars_schedule, check_mode=True)
    assert by_check(result)["principal"]["status"] == "ok"


def test_no_task_at_all_is_reported():
    h = mars()
    h.state["task_scheduler"] = {}
    result, _sent = run_plugin(h, win_mars_schedule)
    assert [(f["check"], f["status"]) for f in result["findings"]] == [("tasks", "found")]
    assert "MARS console" in result["findings"][0]["summary"]


def test_the_set_script_fails_on_a_task_that_is_gone():
    answer = powershell(mars(), win_mars_schedule.SET, TaskPath=sched.TASK_PATH, TaskNames=["Nope"], Enable=True, IgnoreNew=False, System=False)
    assert answer["failed"] and "No MSFT_ScheduledTask objects found" in answer["error"][0]["exception"]["message"]


def test_administrators_are_read_through_adsi_with_nested_groups():
    # Get-LocalGroupMember is not on Windows Server 2012 R2 and lists no nested members.
    code = [line for line in win_mars_schedule.READ.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in code if "Get-LocalGroupMember" in line] and "WinNT://" in win_mars_schedule.READ
    h = mars("mars-schedule-domain-admin")
    state = read(h, win_mars_schedule.READ, TaskPath=sched.TASK_PATH)
    assert faults.DOMAIN_ADMINS_SID in state["administrators"] and faults.DOMAIN_BACKUP_SID in state["administrators"]
    assert state["unresolved"] == []
    result, _sent = run_plugin(h, win_mars_schedule, {"fix_principal": True})
    assert by_check(result)["principal"]["status"] == "ok" and not result["changed"]


def test_an_unknown_principal_is_never_changed_even_with_fix_principal():
    h = mars("mars-schedule-dc-unreachable")
    state = read(h, win_mars_schedule.READ, TaskPath=sched.TASK_PATH)
    assert state["unresolved"] == [{"path": "WinNT://CONTOSO/Domain Admins", "sid": faults.DOMAIN_ADMINS_SID}]
    assert sched.principal(state["tasks"][0], state["administrators"], state["unresolved"]) == "unknown"
    before = dict(h.state["task_scheduler"][hostmod.MARS_TASK])
    result, sent = run_plugin(h, win_mars_schedule, {"fix_principal": True})
    principal = by_check(result)["principal"]
    assert principal["status"] == "found" and "unknown" in principal["summary"] and "WinNT://CONTOSO/Domain Admins" in principal["summary"]
    assert sent == ["win_powershell:mars_schedule.read"] and not result["changed"]
    assert h.state["task_scheduler"][hostmod.MARS_TASK] == before
    h.state["administrators_unreadable"] = True
    result, sent = run_plugin(h, win_mars_schedule, {"fix_principal": True})
    assert by_check(result)["principal"]["status"] == "found" and sent == ["win_powershell:mars_schedule.read"]


def test_a_task_saved_with_a_password_is_reported_not_set():
    h = mars("mars-schedule-user", "mars-schedule-disabled", "mars-schedule-parallel")
    result, sent = run_plugin(h, win_mars_schedule)
    checks = by_check(result)
    for check in ("triggers", "instances"):
        assert checks[check]["status"] == "found" and "0x8007052E" in checks[check]["summary"], check
        assert sched.REENTER in checks[check]["summary"] and checks[check]["detail"]["stored_password"] == ["Microsoft-OnlineBackup"]
    assert sent == ["win_powershell:mars_schedule.read"] and not result["changed"]
    # What the sent script would meet on Windows.
    answer = powershell(h, win_mars_schedule.SET, TaskPath=sched.TASK_PATH, TaskNames=["Microsoft-OnlineBackup"], Enable=True, IgnoreNew=False,
                        System=False)
    assert answer["failed"] and "0x8007052E" in answer["error"][0]["exception"]["message"]


def test_enable_tasks_off_reports_a_disabled_task_only():
    h = mars("mars-schedule-disabled")
    result, sent = run_plugin(h, win_mars_schedule, {"enable_tasks": False})
    triggers = by_check(result)["triggers"]
    assert triggers["status"] == "found" and "mars_agent_enable_tasks is false" in triggers["summary"]
    assert sent == ["win_powershell:mars_schedule.read"] and not result["changed"]
    assert h.state["task_scheduler"][hostmod.MARS_TASK]["triggers"][0]["enabled"] is False


def dpm_agent(monkeypatch):
    """GET_MARS_AGENT's answer on a DPM/MABS server (its twin is another cause's; stood in here)."""
    real = scripts._mars_agent  # pylint: disable=protected-access
    monkeypatch.setattr(scripts, "_mars_agent", lambda host: dict(real(host), dpm=True))


def test_dpm_has_no_tasks_for_schedule_or_powershell(monkeypatch):
    dpm_agent(monkeypatch)
    h = mars("mars-schedule-disabled", "mars-execution-policy-restricted")
    h.state["task_scheduler"] = {}
    for module in (win_mars_schedule, win_mars_powershell):
        result, sent = run_plugin(h, module)
        assert [(f["status"], "DPM/MABS schedules its jobs itself" in f["summary"]) for f in result["findings"]] == [("skipped", True)]
        assert not result["changed"] and len(sent) == 1


# -- MARS_POWERSHELL -------------------------------------------------------------------------------------

def test_set_execution_policy_off_reports_only():
    h = mars("mars-execution-policy-restricted")
    result, sent = run_plugin(h, win_mars_powershell, {"set_execution_policy": False})
    policy = by_check(result)["execution_policy"]
    assert policy["status"] == "found" and "mars_agent_set_execution_policy is false" in policy["summary"]
    assert sent == ["win_powershell:mars_powershell.read"] and not result["changed"]
    assert h.state["registry"][hostmod.EXECUTION_POLICY_KEY]["ExecutionPolicy"]["data"] == "Restricted"


def test_powershell_read_keeps_psmodulepath_unexpanded_and_reads_both_policies():
    state = read(mars(), win_mars_powershell.READ)
    assert state["psmodulepath"]["raw"] == hostmod.DEFAULT_PSMODULEPATH + ";" + MODULES + "\\"
    assert state["psmodulepath"]["kind"] == "ExpandString" and state["psmodulepath"]["expanded"][0] == "C:\\Program Files\\WindowsPowerShell\\Modules"
    assert state["module_files"] == ["MSOnlineBackup.psd1"] and state["module_folder"] == MODULES
    assert state["execution_policy"] == {"machine_policy": "Undefined", "local_machine": "RemoteSigned"}
    gpo = read(mars("mars-execution-policy-gpo"), win_mars_powershell.READ)["execution_policy"]
    assert gpo["machine_policy"] == "Restricted"


def test_powershell_adds_the_module_folder_and_sets_remotesigned():
    h = mars("mars-psmodulepath", "mars-execution-policy-restricted")
    check, sent = run_plugin(h, win_mars_powershell, check_mode=True)
    assert sent == ["win_powershell:mars_powershell.read"] and check["changed"]
    assert {c: f["status"] for c, f in by_check(check).items()} == {"module_path": "found", "execution_policy": "found", "module_files": "ok"}
    applied, sent = run_plugin(h, win_mars_powershell)
    assert sent == ["win_powershell:mars_powershell.read", "win_path", "win_regedit"]
    values = h.state["registry"][hostmod.ENVIRONMENT_KEY]
    assert values["PSModulePath"] == {"type": "expandstring", "data": hostmod.DEFAULT_PSMODULEPATH + ";" + MODULES}
    assert h.state["registry"][hostmod.EXECUTION_POLICY_KEY]["ExecutionPolicy"]["data"] == "RemoteSigned"
    assert by_check(applied)["execution_policy"]["detail"]["local_machine"] == "Restricted"
    again, sent = run_plugin(h, win_mars_powershell)
    assert sent == ["win_powershell:mars_powershell.read"] and not again["changed"]


def test_a_group_policy_that_restricts_scripts_is_reported_not_changed():
    h = mars("mars-execution-policy-gpo")
    before = dict(h.state["registry"])
    result, sent = run_plugin(h, win_mars_powershell)
    assert sent == ["win_powershell:mars_powershell.read"] and by_check(result)["execution_policy"]["status"] == "found"
    assert "Group Policy" in by_check(result)["execution_policy"]["summary"] and h.state["registry"] == before


def test_undefined_is_fixed_on_a_client_only_and_missing_module_files_are_reported():
    h = mars()
    hostmod.reg_delete_value(h.state, hostmod.EXECUTION_POLICY_KEY, "ExecutionPolicy")
    hostmod.remove_file_state(h.state, MODULES + "\\MSOnlineBackup\\MSOnlineBackup.psd1")
    server, _sent = run_plugin(h, win_mars_powershell, check_mode=True)
    assert by_check(server)["execution_policy"]["status"] == "ok" and by_check(server)["module_files"]["status"] == "found"
    h.state["product_type"] = 1
    client, _sent = run_plugin(h, win_mars_powershell, check_mode=True)
    assert by_check(client)["execution_policy"]["status"] == "found" and "Windows client" in by_check(client)["execution_policy"]["summary"]


# -- MARS_ANTIVIRUS --------------------------------------------------------------------------------------

CSC = ["C:\\Windows\\Microsoft.NET\\Framework\\v4.0.30319\\csc.exe", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe"]


def test_antivirus_read_lists_each_csc_exe():
    h = mars()
    hostmod.put_file_state(h.state, "C:\\Windows\\Microsoft.NET\\Framework64\\v2.0.50727\\csc.exe", hostmod.file_entry(b"MZ"))
    hostmod.put_file_state(h.state, "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\de\\csc.exe", hostmod.file_entry(b"MZ"))
    assert read(h, win_mars_antivirus.READ)["csc"] == [CSC[0], "C:\\Windows\\Microsoft.NET\\Framework64\\v2.0.50727\\csc.exe", CSC[1]]


def test_antivirus_adds_files_as_path_exclusions_never_processes():
    h = mars("mars-defender-exclusions")
    check, sent = run_plugin(h, win_mars_antivirus, check_mode=True)
    assert sent == ["win_powershell:mars_antivirus.read"]
    found = by_check(check)["exclusions"]
    assert found["status"] == "found" and found["detail"]["missing"] == [SCRATCH, hostmod.MARS_DIR + "\\Bin"] + CSC
    # The old process exclusion by bare name is reported, and kept.
    assert found["detail"]["broad_process_exclusions"] == ["cbengine.exe"] and "by bare name" in found["summary"]
    assert check["diff"][0]["before"] == "" and "path %s\n" % CSC[1] in check["diff"][0]["after"]
    applied, sent = run_plugin(h, win_mars_antivirus)
    assert sent == ["win_powershell:mars_antivirus.read", "win_powershell:mars_antivirus.add"]
    assert by_check(applied)["exclusions"]["status"] == "fixed"
    assert h.state["defender"]["exclusion_process"] == ["cbengine.exe"]
    assert h.state["defender"]["exclusion_path"] == [SCRATCH, hostmod.MARS_DIR + "\\Bin"] + CSC
    again, sent = run_plugin(h, win_mars_antivirus)
    assert sent == ["win_powershell:mars_antivirus.read"] and by_check(again)["exclusions"]["status"] == "ok"
    assert "-ExclusionProcess" not in win_mars_antivirus.ADD


def test_cbengine_is_covered_by_the_bin_folder_and_a_moved_scratch_folder_is_the_one_excluded():
    h = mars()
    hostmod.reg_set(h.state, hostmod.MARS_CONFIG_KEY, "ScratchLocation", "string", "D:\\MARS\\Scratch")
    result, _sent = run_plugin(h, win_mars_antivirus, check_mode=True)
    assert by_check(result)["exclusions"]["detail"]["missing"] == ["D:\\MARS\\Scratch"]
    h.state["defender"]["exclusion_path"].append("D:\\MARS\\")
    result, _sent = run_plugin(h, win_mars_antivirus, check_mode=True)
    assert by_check(result)["exclusions"]["status"] == "ok"
    assert not [p for p in by_check(result)["exclusions"]["detail"]["needed"] if p.lower().endswith("cbengine.exe")]


def test_exclusions_hidden_from_local_admins_are_unknown_and_not_re_added():
    h = mars("mars-defender-hidden")
    state = read(h, win_mars_antivirus.READ)["defender"]
    assert state["exclusion_path"] == ["N/A: Must be an administrator to view exclusions"]
    before = dict(h.state["defender"])
    for _run in range(2):
        result, sent = run_plugin(h, win_mars_antivirus)
        exclusions = by_check(result)["exclusions"]
        assert exclusions["status"] == "found" and "unknown" in exclusions["summary"] and exclusions["detail"]["hidden"]
        assert sent == ["win_powershell:mars_antivirus.read"] and not result["changed"]
    assert h.state["defender"] == before


def test_defender_off_is_reported_with_what_to_exclude_by_hand():
    h = mars("mars-defender-off")
    result, sent = run_plugin(h, win_mars_antivirus)
    assert sent == ["win_powershell:mars_antivirus.read"] and not result["changed"]
    defender = by_check(result)["defender"]
    assert defender["status"] == "found" and "stopped" in defender["summary"] and "csc.exe" in defender["summary"]
    assert "SecurityCenter2" in defender["summary"]


def test_exclusions_a_policy_drops_are_a_failed_fix(monkeypatch):
    h = mars("mars-defender-exclusions")
    monkeypatch.setitem(scripts.SCRIPTS, "mars_antivirus.add", lambda host, p: {"exclusion_path": [], "exclusion_process": []})
    result, _sent = run_plugin(h, win_mars_antivirus)
    assert by_check(result)["exclusions"]["status"] == "failed" and result["failed"]


def test_add_mppreference_fails_while_defender_is_stopped():
    answer = powershell(mars("mars-defender-off"), win_mars_antivirus.ADD, Paths=[SCRATCH])
    assert answer["failed"] and "0x800106ba" in answer["error"][0]["exception"]["message"]


# -- win_path (ansible.windows 3.3.0) --------------------------------------------------------------------

def win_path(h, check=False, **args):
    return h.run_module("ansible.windows.win_path", dict(args, _ansible_check_mode=check))


def test_win_path_appends_keeps_the_value_unexpanded_and_is_idempotent():
    h = hostmod.SimHost.create("win01", "en", [])
    args = {"name": "PSModulePath", "elements": [MODULES], "scope": "machine"}
    check = win_path(h, check=True, **args)
    assert check["changed"] and check["path_value"] == hostmod.DEFAULT_PSMODULEPATH + ";" + MODULES
    assert h.state["registry"][hostmod.ENVIRONMENT_KEY]["PSModulePath"]["data"] == hostmod.DEFAULT_PSMODULEPATH
    assert win_path(h, **args)["changed"]
    assert h.state["registry"][hostmod.ENVIRONMENT_KEY]["PSModulePath"] == {"type": "expandstring",
                                                                            "data": hostmod.DEFAULT_PSMODULEPATH + ";" + MODULES}
    # A trailing backslash and another case are the same element.
    assert win_path(h, name="psmodulepath", elements=[MODULES.upper() + "\\"])["changed"] is False


def test_win_path_moves_an_element_listed_before_an_earlier_one_and_removes():
    h = hostmod.SimHost.create("win01", "en", [])
    hostmod.reg_set(h.state, hostmod.ENVIRONMENT_KEY, "Path", "expandstring", 'C:\\b;"C:\\x;y";C:\\a;')
    assert win_path(h, elements=["C:\\a", "C:\\b"])["path_value"] == '"C:\\x;y";C:\\a;C:\\b'
    assert win_path(h, elements=["C:\\b"], state="absent")["path_value"] == '"C:\\x;y";C:\\a'
    assert win_path(h, elements=[])["changed"] is False and "elements" in win_path(h)["msg"]
