"""The Windows action plugins with their round trips replaced by recorded answers: bad input fails
before any round trip, a failed read names cause, host and reason, and check mode sends nothing
that could change the VM. The whole flow against simulated hosts is tests/integration/test_windows_fleet.py."""
from __future__ import annotations

import hashlib
import json
from unittest.mock import MagicMock

from ansible.errors import AnsibleConnectionFailure
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import (win_agent, win_bitlocker, win_com_msdtc, win_machinekeys, win_network,
                                                                         win_snapshot_status, win_vss_writers)
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached

VARS = {"inventory_hostname": "win01"}
RUNNING = [{"name": "WindowsAzureGuestAgent", "exists": True, "state": "Running", "start_mode": "Auto"},
           {"name": "RdAgent", "exists": True, "state": "Running", "start_mode": "Auto"}]


def action(module, task_args, answers, check_mode=False):
    task = MagicMock(Task)
    task.args = task_args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = True
    task.get_search_path.return_value = []
    plugin = module.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=MagicMock(Templar), shared_loader_obj=None)
    plugin._execute_module = MagicMock(side_effect=list(answers))
    plugin._connection = MagicMock()
    plugin._sleep = lambda _seconds: None  # the detached runner's pause between read-backs
    return plugin


def sent(plugin):
    return [c.kwargs["module_name"] for c in plugin._execute_module.call_args_list]


def read_answer(**result):
    return {"changed": False, "result": result}


def agent_state(services=None, version="2.7.41491.1102", processes=()):
    return read_answer(services=services or RUNNING, version=version, products=[{"name": "Windows Azure VM Agent - 2.7.41491.949", "product_id": "{P}"}],
                       dotnet_release=528040, backup_processes=list(processes))


def test_a_wrong_minimum_version_fails_before_any_round_trip():
    plugin = action(win_agent, {"min_version": "latest"}, [])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "win_agent_min_version" in result["msg"] and "win01" in result["msg"]
    assert not plugin._execute_module.called


def powershell_error(message):
    """An error record the way ansible.windows' win_powershell.ps1 builds one: no top-level message."""
    return {"output": "%s\r\n    + CategoryInfo          : PermissionDenied: (:) [Get-Acl], UnauthorizedAccessException\r\n" % message,
            "error_details": None,
            "exception": {"message": message, "type": "System.UnauthorizedAccessException", "help_link": None,
                          "source": "mscorlib", "hresult": -2147024891, "inner_exception": None},
            "target_object": None, "category_info": {"category": "PermissionDenied", "category_id": 18},
            "fully_qualified_error_id": "System.UnauthorizedAccessException,Microsoft.PowerShell.Commands.GetAclCommand",
            "script_stack_trace": "at <ScriptBlock>, <No file>: line 12", "pipeline_iteration_info": []}


def test_a_failed_read_names_cause_host_and_reason():
    plugin = action(win_agent, {}, [{"failed": True, "error": [powershell_error("Attempted to perform an unauthorized operation.")]}])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and not result["changed"]
    assert result["msg"].startswith("WIN_AGENT: reading the guest agent's services and version on win01 failed: "
                                    "Attempted to perform an unauthorized operation.")
    assert "script_stack_trace" not in result["msg"] and "CategoryInfo" not in result["msg"]


def test_error_details_set_by_the_script_win_over_the_exception_text():
    record = dict(powershell_error("Exception text"), error_details={"message": "What the script said", "recommended_action": None})
    plugin = action(win_agent, {}, [{"failed": True, "error": [record]}])
    said = plugin.run(task_vars=VARS)["msg"]
    assert said.endswith("failed: What the script said. Nothing was changed. The WinRM user must be an administrator.")


def test_check_mode_reports_what_it_would_do_and_sends_only_the_read():
    stopped = [dict(s, state="Stopped") for s in RUNNING]
    plugin = action(win_agent, {}, [agent_state(services=stopped)], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"]
    assert result["changed"] and not result.get("failed")
    services = [f for f in result["findings"] if f["check"].startswith("service_")]
    assert [(f["status"], f["summary"]) for f in services] == [
        ("found", "WindowsAzureGuestAgent: Stopped, Auto; would start WindowsAzureGuestAgent"),
        ("found", "RdAgent: Stopped, Auto; would start RdAgent")]
    assert [d["before"] for d in result["diff"]] == ["WindowsAzureGuestAgent: Stopped, Auto\n", "RdAgent: Stopped, Auto\n"]


def test_a_healthy_agent_costs_one_round_trip_and_changes_nothing():
    plugin = action(win_agent, {}, [agent_state()])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"]
    assert {f["status"] for f in result["findings"]} == {"ok"}


def test_no_install_while_a_backup_runs():
    missing = [dict(s, exists=False) for s in RUNNING]
    plugin = action(win_agent, {}, [agent_state(services=missing, version=None, processes=["IaaSBcdrExtension"])])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"]
    assert result["failed"] and "backup snapshot is running (IaaSBcdrExtension)" in result["msg"]
    assert not result["changed"]
    # The missing services are the install finding's business, not three findings about one thing.
    assert not [f for f in result["findings"] if f["check"].startswith("service_")]


# The answers of the detached runner around the install script: its working folder made (before the MSI goes
# there), the task registered; then install_answer() is the read-back that finds the marker.
PREPARED = {"changed": True, "result": {"directory": detached.WORK_DIR}}
REGISTERED = {"changed": True, "result": {"task": "azure-backup-win-agent-install-x"}}


def install_answer(**result):
    base = {"mode": "reinstall", "rc": 0, "attempts": 1, "waited_seconds": 0, "steps": ["installed the agent MSI (exit code 0)"],
            "moved": [], "removed": [], "refused": None, "error": None, "changed": True}
    marker = json.dumps({"state": "done", "result": dict(base, **result), "started": "t0", "finished": "t1"})
    return {"changed": False, "result": {"marker": marker, "started": True, "task_state": "Ready", "last_result": 0}}


def install_parameters(plugin):
    """What the install script was run with: the register call's parameters."""
    [register] = [c for c in plugin._execute_module.call_args_list if c.kwargs["module_args"].get("script") == detached.REGISTER]
    assert register.kwargs["module_args"]["parameters"]["Script"] == win_agent.INSTALL
    return register.kwargs["module_args"]["parameters"]["Parameters"]


def test_an_install_that_leaves_the_agent_old_fails_the_host():
    old = agent_state(version="2.7.41491.949")
    done = {"changed": True}
    plugin = action(win_agent, {}, [old, PREPARED, done, REGISTERED, install_answer(mode="upgrade"), old])
    result = plugin.run(task_vars=VARS)
    # The MSI is installed by the install script on the VM (win_agent.install), not by win_package.
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell", "ansible.windows.win_get_url",
                            "ansible.windows.win_powershell", "ansible.windows.win_powershell", "ansible.windows.win_powershell"]
    assert result["failed"] and result["changed"]
    assert "the agent MSI was installed but agent 2.7.41491.949 is older than 2.7.41491.1010" in result["msg"]


def test_a_controller_msi_with_the_wrong_checksum_is_never_copied(tmp_path):
    msi = tmp_path / "agent.msi"
    msi.write_bytes(b"not the agent")
    missing = [dict(s, exists=False) for s in RUNNING]
    plugin = action(win_agent, {"msi_src": str(msi), "msi_checksum": hashlib.sha256(b"the agent").hexdigest()},
                    [agent_state(services=missing, version=None)])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "win_agent_msi_checksum" in result["msg"] and "Nothing was changed" in result["msg"]
    assert not plugin._connection.put_file.called and sent(plugin) == ["ansible.windows.win_powershell"]


def test_a_missing_controller_msi_is_named(tmp_path):
    missing = [dict(s, exists=False) for s in RUNNING]
    plugin = action(win_agent, {"msi_src": str(tmp_path / "nope.msi")}, [agent_state(services=missing, version=None)])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "nope.msi is not a file on the controller" in result["msg"]
    # What was learnt before the failure is kept.
    assert any(f["check"] == "dotnet" for f in result["findings"])


def test_a_wrong_default_sddl_fails_before_any_round_trip():
    plugin = action(win_machinekeys, {"default_sddl": "O:SYG:SY"}, [])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "machinekeys_default_sddl" in result["msg"] and not plugin._execute_module.called


def test_vssadmin_failing_is_a_clear_error():
    answer = read_answer(text="Error: A Volume Shadow Copy Service component encountered an unexpected error.\r\n", exit_code=2,
                         services=[], backup_processes=[])
    plugin = action(win_vss_writers, {}, [answer])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "VSS_WRITERS on win01" in result["msg"] and "exit code 2" in result["msg"]
    assert "unexpected error" in result["msg"]


def test_powershell_below_5_1_is_one_clear_finding_not_an_error_per_cause():
    refusal = {"failed": True, "msg": "Ansible requires PowerShell v5.1"}  # ansible-core's bootstrap_wrapper.ps1
    plugin = action(win_vss_writers, {}, [refusal])
    plugin._low_level_execute_command = MagicMock(return_value={"rc": 0, "stdout": "4.0|6.3.9600.0\r\n", "stderr": ""})
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and result["unsupported_host"] and not result["changed"]
    [entry] = result["findings"]
    assert (entry["id"], entry["check"], entry["status"]) == ("HOST", "powershell", "failed")
    assert entry["summary"].startswith("PowerShell 4.0 on win01 (Windows 6.3.9600.0); Ansible's Windows modules need PowerShell 5.1")
    assert "Windows Management Framework 5.1" in entry["summary"] and result["msg"] == entry["summary"]
    assert "#azure_backup.remediation/host.powershell_version" in plugin._low_level_execute_command.call_args.args[0]


def test_without_the_raw_answer_the_finding_still_says_below_5_1():
    plugin = action(win_vss_writers, {}, [{"failed": True, "msg": "Ansible requires PowerShell v5.1"}])
    plugin._low_level_execute_command = MagicMock(return_value={"rc": 1, "stdout": "", "stderr": "boom"})
    [entry] = plugin.run(task_vars=VARS)["findings"]
    assert entry["summary"].startswith("PowerShell below 5.1 on win01;")


def vssadmin(*writers):
    """`vssadmin list writers` text for (name, state number, state text) triples."""
    block = ("Writer name: '%s'\n   Writer Id: {%08d-0000-0000-0000-000000000000}\n   Writer Instance Id: "
             "{%08d-1111-1111-1111-111111111111}\n   State: [%d] %s\n   Last error: %s\n")
    blocks = [block % (name, i, i, state, text, "No error" if state == 1 else "Retryable error")
              for i, (name, state, text) in enumerate(writers)]
    return "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n\n" + "\n".join(blocks)


def vss_read(writers, services, dependants=None):
    return read_answer(text=vssadmin(*writers), exit_code=0, backup_processes=[],
                       services=[{"name": n, "exists": True, "state": s, "start_mode": "Auto"} for n, s in services.items()],
                       dependants=[{"name": n, "running": r} for n, r in (dependants or {}).items()])


def restart_answer(*outcomes):
    return {"changed": True, "result": {"services": [dict({"stuck": None, "error": "", "dependants": [], "restarted": [], "not_restarted": []}, **o)
                                                     for o in outcomes]}}


def scripts_sent(plugin):
    return [c.kwargs["module_args"]["script"].split("\n", 1)[0] for c in plugin._execute_module.call_args_list]


def vss_findings(result):
    return {f["check"]: f for f in result["findings"]}


EXCHANGE = [("Microsoft Exchange Writer", 7, "Failed"), ("System Writer", 1, "Stable")]
EXCHANGE_SERVICES = {"MSExchangeIS": "Running", "CryptSvc": "Running"}


def test_a_workload_writer_is_reported_not_restarted():
    plugin = action(win_vss_writers, {}, [vss_read(EXCHANGE, EXCHANGE_SERVICES)])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"] and not result.get("failed")
    held = vss_findings(result)["writer_microsoft_exchange_writer"]
    assert held["status"] == "found" and "MSExchangeIS is not restarted, because restarting its service dismounts every mailbox database" in held["summary"]
    assert "Add 'Microsoft Exchange Writer' to vss_writers_restart_workloads" in held["summary"]


def test_a_workload_writer_named_in_the_inventory_is_restarted():
    stable = [("Microsoft Exchange Writer", 1, "Stable"), ("System Writer", 1, "Stable")]
    plugin = action(win_vss_writers, {"restart_workloads": ["Microsoft Exchange Writer"]},
                    [vss_read(EXCHANGE, EXCHANGE_SERVICES), restart_answer({"name": "MSExchangeIS", "status": "restarted"}),
                     vss_read(stable, EXCHANGE_SERVICES)])
    result = plugin.run(task_vars=VARS)
    assert scripts_sent(plugin) == ["#azure_backup.remediation/vss_writers.read", "#azure_backup.remediation/vss_writers.restart",
                                    "#azure_backup.remediation/vss_writers.read"]
    assert plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"] == {
        "Services": ["MSExchangeIS"], "TimeoutSeconds": 60, "BackupProcesses": ["IaaSBcdrExtension"]}
    assert vss_findings(result)["writer_microsoft_exchange_writer"]["status"] == "fixed" and result["changed"]


def test_a_timeout_that_is_not_above_zero_fails_before_any_round_trip():
    plugin = action(win_vss_writers, {"service_timeout": 0}, [])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "vss_writers_service_timeout must be a number of seconds above 0" in result["msg"]
    assert not plugin._execute_module.called


def test_check_mode_names_the_dependants_and_sends_only_the_read():
    plugin = action(win_vss_writers, {}, [vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"}, {"Winmgmt": ["iphlpsvc"]})],
                    check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and result["changed"]
    assert vss_findings(result)["writer_wmi_writer"]["summary"].endswith(
        "would restart Winmgmt (stopping its running dependants iphlpsvc first and starting them again after)")
    assert result["diff"][0]["after"] == "iphlpsvc\nWinmgmt\n"


TWO_BAD = [("System Writer", 7, "Failed"), ("Registry Writer", 8, "Failed")]
TWO_SERVICES = {"CryptSvc": "Running", "VSS": "Running"}


def test_one_stuck_service_fails_alone_and_the_writers_are_listed_again():
    plugin = action(win_vss_writers, {"service_timeout": 30},
                    [vss_read(TWO_BAD, TWO_SERVICES),
                     restart_answer({"name": "CryptSvc", "status": "stuck", "stuck": "CryptSvc"}, {"name": "VSS", "status": "restarted"}),
                     vss_read([("Registry Writer", 1, "Stable")], {"CryptSvc": "Stop Pending", "VSS": "Running"})])
    result = plugin.run(task_vars=VARS)
    assert scripts_sent(plugin)[1:] == ["#azure_backup.remediation/vss_writers.restart", "#azure_backup.remediation/vss_writers.read"]
    assert plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"] == {
        "Services": ["CryptSvc", "VSS"], "TimeoutSeconds": 30, "BackupProcesses": ["IaaSBcdrExtension"]}
    found = vss_findings(result)
    assert found["writer_system_writer"]["status"] == "failed"
    assert "restarting CryptSvc failed: CryptSvc did not stop within 30 s and is stuck in StopPending" in found["writer_system_writer"]["summary"]
    assert found["writer_registry_writer"]["status"] == "fixed"
    assert found["writers"]["detail"]["writers"][0]["name"] == "Registry Writer"
    assert result["failed"] and "CryptSvc" in result["msg"]


def test_a_failing_restart_script_still_lists_the_writers_again():
    plugin = action(win_vss_writers, {}, [vss_read(TWO_BAD, TWO_SERVICES),
                                          {"failed": True, "error": [powershell_error("Access is denied")]},
                                          vss_read(TWO_BAD, TWO_SERVICES)])
    result = plugin.run(task_vars=VARS)
    assert len(sent(plugin)) == 3 and result["failed"]
    found = vss_findings(result)
    assert found["writer_system_writer"]["status"] == found["writer_registry_writer"]["status"] == "failed"
    assert "the restart script failed (VSS_WRITERS: restarting CryptSvc, VSS for their VSS writers on win01 failed: Access is denied), so what state CryptSvc" \
        in found["writer_system_writer"]["summary"] and found["writers"]["status"] == "found"


def test_a_service_already_stuck_stopping_is_reported_and_left_alone():
    plugin = action(win_vss_writers, {}, [vss_read([("Registry Writer", 8, "Failed")], {"CryptSvc": "Stop Pending", "VSS": "Running"}),
                                          restart_answer({"name": "VSS", "status": "restarted"}),
                                          vss_read([("Registry Writer", 1, "Stable")], {"CryptSvc": "Stop Pending", "VSS": "Running"})])
    result = plugin.run(task_vars=VARS)
    assert plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"]["Services"] == ["VSS"]
    stuck = vss_findings(result)["service_cryptsvc"]
    assert stuck["status"] == "found" and "CryptSvc is stuck in StopPending and is left alone" in stuck["summary"]


# -- the agent install and restart (issue 10) -----------------------------------------------------------


def test_wrong_busy_bounds_fail_before_any_round_trip():
    plugin = action(win_agent, {"msi_busy_retries": 20, "msi_busy_wait": 600}, [])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "more than 1800" in result["msg"] and not plugin._execute_module.called


def test_a_broken_agent_is_reinstalled_by_the_script_with_the_busy_bounds():
    missing = [dict(RUNNING[0], exists=False), RUNNING[1]]
    plugin = action(win_agent, {"msi_busy_retries": 3, "msi_busy_wait": 7},
                    [agent_state(services=missing, version="2.7.41491.1102"), PREPARED, {"changed": True}, REGISTERED, install_answer(), agent_state()])
    result = plugin.run(task_vars=VARS)
    assert not result.get("failed") and result["changed"]
    parameters = install_parameters(plugin)
    assert {k: parameters[k] for k in ("Mode", "BusyRetries", "BusyWaitSeconds")} == {
        "Mode": "reinstall", "BusyRetries": 3, "BusyWaitSeconds": 7}
    assert [f["status"] for f in result["findings"] if f["check"] == "install"] == ["fixed"]


def test_an_outdated_working_agent_is_updated_in_place():
    old = agent_state(version="2.7.41491.949")
    plugin = action(win_agent, {}, [old, PREPARED, {"changed": True}, REGISTERED, install_answer(mode="upgrade"), agent_state()])
    plugin.run(task_vars=VARS)
    assert install_parameters(plugin)["Mode"] == "upgrade"


def test_the_version_that_runs_decides_not_waappagent():
    # WaAppAgent.exe is old, but the agent updated itself into GuestAgent_2.7.41491.1102: nothing to install.
    state = agent_state(version="2.7.41491.949")
    state["result"]["guest_agent_version"] = "2.7.41491.1102"
    plugin = action(win_agent, {}, [state])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"]
    version = [f for f in result["findings"] if f["check"] == "version"][0]
    assert version["status"] == "ok" and version["detail"]["read_from"] == "WindowsAzureGuestAgent"


def test_3010_is_installed_and_a_reboot_finding():
    old = agent_state(version="2.7.41491.949")
    plugin = action(win_agent, {}, [old, PREPARED, {"changed": True}, REGISTERED, install_answer(mode="upgrade", rc=3010), agent_state()])
    result = plugin.run(task_vars=VARS)
    assert not result.get("failed")
    checks = {f["check"]: f for f in result["findings"]}
    assert checks["install"]["status"] == "fixed" and "3010 (ERROR_SUCCESS_REBOOT_REQUIRED)" in checks["install"]["summary"]
    assert checks["reboot"]["status"] == "found" and "a reboot of the VM completes the installation" in checks["reboot"]["summary"]


def test_a_failed_install_fails_the_host_and_says_what_was_put_back():
    missing = [dict(RUNNING[0], exists=False), RUNNING[1]]
    failed = install_answer(rc=1603, error="msiexec /i ended with exit code 1603", steps=["stopped RdAgent", "started RdAgent"],
                            removed=[{"name": "RdAgent", "was_running": True}], restored=True)
    plugin = action(win_agent, {}, [agent_state(services=missing), PREPARED, {"changed": True}, REGISTERED, failed, agent_state(services=missing)])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and result["changed"]
    assert "1603 (ERROR_INSTALL_FAILURE)" in result["msg"] and "everything was put back" in result["msg"]
    # Read again after the failed install: the services are reported as the VM has them now, the missing one by the install.
    assert sent(plugin)[-1] == "ansible.windows.win_powershell" and len(sent(plugin)) == 6
    assert [(f["check"], f["status"]) for f in result["findings"] if f["check"].startswith("service_")] == [("service_rdagent", "ok")]


def test_restart_is_refused_while_a_backup_runs():
    plugin = action(win_agent, {"restart": True}, [agent_state(processes=["IaaSBcdrExtension"])])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"]
    refused = [f for f in result["findings"] if f["check"] == "restart"]
    assert refused[0]["status"] == "skipped" and "not restarted while a backup runs" in refused[0]["summary"]


def test_restart_checks_the_backup_again_right_before():
    # No backup at the first read; one has started by the time the restart would be sent.
    plugin = action(win_agent, {"restart": True}, [agent_state(), agent_state(processes=["IaaSBcdrExtension"])])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell"]
    assert [f["status"] for f in result["findings"] if f["check"] == "restart"] == ["skipped"]


def test_restart_without_a_backup_restarts_both_services():
    plugin = action(win_agent, {"restart": True}, [agent_state(), agent_state(), {"changed": True}, {"changed": True}])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin)[2:] == ["ansible.windows.win_service", "ansible.windows.win_service"] and result["changed"]


def snapshot_state(dhcp="Disabled", sql=None):
    return read_answer(copy_backup=None, sql_instances=sql or {"64-bit": [], "32-bit": []}, cpu_load_percent=5,
                       memory_total_kb=8388608, memory_free_kb=4194304,
                       nics=[{"alias": "Ethernet", "index": 5, "dhcp": dhcp, "addresses": ["10.0.0.4"],
                              "dns_servers": ["10.0.0.10", "10.0.0.11"], "default_route_metric": 15}])


def snapshot_action(answers, check_mode=False, **args):
    plugin = action(win_snapshot_status, dict({"fix_dhcp": True}, **args), answers, check_mode)
    plugin._sleep = lambda seconds: None
    clock = iter(range(0, 10000, 3))
    plugin._now = lambda: next(clock)
    return plugin


RESULT = {"index": 5, "leased": True, "lease_address": "10.0.0.4", "same_address": True,
          "netsh": {"exit_code": 0, "output": ""},
          "before": {"alias": "Ethernet", "dhcp": "Disabled", "addresses": [{"ip": "10.0.0.4", "prefix": 24, "origin": "Manual"}],
                     "gateways": ["10.0.0.1"], "dns_servers": ["10.0.0.10", "10.0.0.11"]},
          "after": {"alias": "Ethernet", "dhcp": "Enabled", "addresses": [{"ip": "10.0.0.4", "prefix": 24, "origin": "Dhcp"}],
                    "gateways": ["10.0.0.1"], "dns_servers": ["10.0.0.10", "10.0.0.11"]}}
MARKER = {"state": "done", "result": RESULT, "started": "2026-12-02T10:00:05Z", "finished": "2026-12-02T10:00:09Z"}


def dhcp_finding(result):
    return next(f for f in result["findings"] if f["check"] == "guest_dhcp")


def test_the_dhcp_switch_survives_losing_every_answer_on_the_way():
    # The registering call and the first read-back lose their answers to the switch; the next read finds the marker.
    lost = ConnectionResetError(104, "Connection reset by peer")
    plugin = snapshot_action([snapshot_state(), AnsibleConnectionFailure("winrm connection error"), lost,
                              read_answer(marker="\ufeff" + json.dumps(MARKER), task_state="Ready")])
    result = plugin.run(task_vars=VARS)
    finding = dhcp_finding(result)
    assert finding["status"] == "fixed" and result["changed"] and not result.get("failed")
    assert "10.0.0.4 -> 10.0.0.4" in finding["summary"] and "DNS servers kept (10.0.0.10, 10.0.0.11)" in finding["summary"]
    assert finding["detail"]["register_answer_lost"] == "winrm connection error" and finding["detail"]["dns_kept"]
    assert plugin._connection.reset.call_count == 2
    scripts = [c.kwargs["module_args"]["script"] for c in plugin._execute_module.call_args_list]
    assert scripts[1] == detached.REGISTER and scripts[2:] == [detached.READ] * 2
    sent = plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"]
    assert sent["Script"] == win_snapshot_status.DHCP_SWITCH_TASK and sent["Parameters"] == {"Index": 5, "WaitSeconds": 60}
    assert {f["check"] for f in result["findings"]} >= {"cpu_load", "memory_pressure"}  # the later checks still ran


def test_a_dhcp_switch_that_never_reports_is_unknown_and_names_the_marker():
    plugin = snapshot_action([snapshot_state(), read_answer(task="t")] + [read_answer(marker=None, task_state="Ready")] * 100,
                             dhcp_timeout=90)
    result = plugin.run(task_vars=VARS)
    finding = dhcp_finding(result)
    assert finding["status"] == "failed" and "state is unknown" in finding["summary"]
    assert "the task azure-backup-snapshot-status-dhcp-task-" in finding["summary"] and "is registered (Ready)" in finding["summary"]
    assert finding["detail"]["marker"] in finding["summary"] and finding["detail"]["marker"].startswith("C:\\ProgramData\\azure-backup\\tasks\\")
    assert plugin._execute_module.call_count < 100  # bounded


def test_an_interface_with_a_second_address_is_refused_and_nothing_is_sent():
    state = snapshot_state()
    state["result"]["nics"][0]["addresses"] = ["10.0.0.4", "10.0.0.5"]
    for check_mode in (False, True):
        plugin = snapshot_action([state], check_mode=check_mode)
        result = plugin.run(task_vars=VARS)
        finding = dhcp_finding(result)
        assert finding["status"] == "found" and finding["detail"]["refused"] and not result.get("failed")
        assert "2 IPv4 addresses (10.0.0.4, 10.0.0.5)" in finding["summary"] and "not switched" in finding["summary"]
        assert plugin._execute_module.call_count == 1 and not result["changed"] and not result.get("diff")


def test_dhcp_handing_out_another_address_is_rolled_back_and_said():
    other = dict(MARKER, result=dict(RESULT, lease_address="10.0.0.7", same_address=False, rollback={"exit_code": 0, "output": ""},
                                     after=dict(RESULT["before"])))
    plugin = snapshot_action([snapshot_state(), read_answer(task="t"), read_answer(marker=json.dumps(other))])
    finding = dhcp_finding(plugin.run(task_vars=VARS))
    assert finding["status"] == "failed" and "DHCP handed out 10.0.0.7, not 10.0.0.4" in finding["summary"]
    assert "static configuration was put back" in finding["summary"] and finding["detail"]["after"]["dhcp"] == "Disabled"


def test_a_refused_working_folder_is_a_failed_finding_and_the_nic_untouched():
    refused = {"failed": True, "error": [{"exception": {"message": "refusing to run a SYSTEM task from C:\\ProgramData\\azure-backup\\tasks: "
                                                                   "C:\\ProgramData\\azure-backup is owned by S-1-5-21-1-2-3-1013"}}]}
    plugin = snapshot_action([snapshot_state(), refused])
    result = plugin.run(task_vars=VARS)
    finding = dhcp_finding(result)
    assert finding["status"] == "failed" and "is owned by S-1-5-21-1-2-3-1013" in finding["summary"]
    assert "the interface was not touched" in finding["summary"] and plugin._execute_module.call_count == 2


def test_a_switch_task_that_threw_is_failed_with_its_message():
    plugin = snapshot_action([snapshot_state(), read_answer(task="t"),
                              read_answer(marker=json.dumps({"state": "failed", "error": "the job file is not the one registered"}))])
    finding = dhcp_finding(plugin.run(task_vars=VARS))
    assert finding["status"] == "failed" and "the job file is not the one registered" in finding["summary"]


def test_check_mode_sends_only_the_read_for_dhcp():
    plugin = snapshot_action([snapshot_state()], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert plugin._execute_module.call_count == 1 and dhcp_finding(result)["status"] == "found"
    assert "keeping the DNS servers (10.0.0.10, 10.0.0.11)" in dhcp_finding(result)["summary"]


def test_a_too_short_dhcp_timeout_fails_before_any_round_trip():
    plugin = snapshot_action([], dhcp_timeout=10)
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "snapshot_status_dhcp_timeout" in result["msg"] and not plugin._execute_module.called


def test_sql_server_in_the_32_bit_registry_view_asks_for_copy_backups():
    plugin = snapshot_action([snapshot_state(dhcp="Enabled", sql={"64-bit": [], "32-bit": ["SQLEXPRESS"]})], check_mode=True)
    result = plugin.run(task_vars=VARS)
    finding = next(f for f in result["findings"] if f["check"] == "vss_copy_backup")
    assert finding["status"] == "found" and "SQL Server is installed (SQLEXPRESS (32-bit))" in finding["summary"]
    assert plugin._execute_module.call_args.kwargs["module_args"]["parameters"]["SqlKeys"]["32-bit"].endswith(
        "WOW6432Node\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL")


MK = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
KEY_FILE = MK + "\\f686aace_c2a8"
CRP = {"thumbprint": "D0", "subject": "DC=Windows Azure CRP Certificate Generator", "issuer": "DC=Windows Azure CRP Certificate Generator",
       "not_after": "2025-06-30T12:00:00"}


def machinekeys_state(sddl="O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)", processes=(), key_files=None):
    return read_answer(path=MK, sddl=sddl, icacls="", certificates=[CRP], caller={"user": "S-1-5-21-1-2-3-500", "groups": ["S-1-5-32-544", "S-1-1-0"]},
                       key_files={"total": 2, "inheriting": 1, "only_inherited": 1, "unreadable": 0} if key_files is None else key_files,
                       agent={"name": "WindowsAzureGuestAgent", "exists": True, "state": "Running", "start_mode": "Auto"},
                       backup_processes=list(processes))


def test_machinekeys_check_mode_says_it_would_take_ownership_and_protect_the_key_file():
    plugin = action(win_machinekeys, {}, [machinekeys_state()], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and result["changed"]
    acl = next(f for f in result["findings"] if f["check"] == "acl")
    assert "would take ownership of %s as Administrators" % MK in acl["summary"]
    assert "protect the key files that inherit from it (1 at the read) (1 of them have no others), keeping their inherited ACEs" in acl["summary"]
    assert acl["detail"]["owner"] == "S-1-5-18" and acl["detail"]["key_files"]["only_inherited"] == 1
    assert [f["summary"] for f in result["findings"] if f["check"] == "agent_restart"] == [
        "the agent makes its certificate when it starts; would restart WindowsAzureGuestAgent so it makes a new certificate"]


RESET_DONE = {"changed": True, "result": {
    "before": "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)", "after": "O:BAG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)", "backup": "C:\\b\\MachineKeys-1.sddl",
    "owner": "S-1-5-32-544", "protected": [KEY_FILE], "only_inherited": [KEY_FILE], "unreadable": [],
    "done": ["took ownership of " + MK, "protected 1 key file(s), keeping their inherited ACEs as explicit ones"]}}


def test_machinekeys_apply_takes_ownership_only_when_needed_then_restarts_the_agent():
    plugin = action(win_machinekeys, {}, [machinekeys_state(), RESET_DONE, {"changed": True},
                                          restart_answer({"name": "WindowsAzureGuestAgent", "status": "restarted"})])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell", "ansible.windows.win_certificate_store",
                            "ansible.windows.win_powershell"]
    reset = plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"]
    # The key files to protect are found by the reset script itself, right before it sets the DACL.
    assert reset == {"Path": MK, "Dacl": "D:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)", "BackupDir": "C:\\ProgramData\\azure-backup\\backups",
                     "TakeOwnership": True}
    acl = next(f for f in result["findings"] if f["check"] == "acl")
    assert acl["status"] == "fixed" and "took ownership of %s" % MK in acl["summary"] and not result.get("failed")
    assert acl["detail"]["protected"] == [KEY_FILE] and "files_after" not in acl["detail"]
    # Administrators can write the default DACL: no ownership taken, no file to protect.
    plugin = action(win_machinekeys, {}, [machinekeys_state("O:SYG:SYD:PAI(A;;0x120089;;;WD)(A;;FA;;;BA)", key_files={})], check_mode=True)
    acl = next(f for f in plugin.run(task_vars=VARS)["findings"] if f["check"] == "acl")
    assert acl["detail"]["take_ownership"] is False and "ownership" not in acl["summary"] and "protect" not in acl["summary"]


def test_machinekeys_the_fixed_summary_says_administrators_own_the_folder_now():
    plugin = action(win_machinekeys, {"delete_certificates": False}, [machinekeys_state(), RESET_DONE])
    acl = next(f for f in plugin.run(task_vars=VARS)["findings"] if f["check"] == "acl")
    assert "; the owner is now BUILTIN\\Administrators (it was NT AUTHORITY\\SYSTEM): takeown /A gives ownership" in acl["summary"]


def test_machinekeys_the_agent_restart_is_bounded_and_a_stuck_agent_is_reported():
    plugin = action(win_machinekeys, {"service_timeout": 45}, [
        machinekeys_state(), RESET_DONE, {"changed": True},
        restart_answer({"name": "WindowsAzureGuestAgent", "status": "stuck", "stuck": "WindowsAzureGuestAgent"})])
    result = plugin.run(task_vars=VARS)
    assert "ansible.windows.win_service" not in sent(plugin)
    call = plugin._execute_module.call_args_list[3].kwargs["module_args"]
    assert call["script"].startswith("#azure_backup.remediation/vss_writers.restart")
    assert call["parameters"] == {"Services": ["WindowsAzureGuestAgent"], "TimeoutSeconds": 45, "BackupProcesses": ["IaaSBcdrExtension"]}
    restart = next(f for f in result["findings"] if f["check"] == "agent_restart")
    assert restart["status"] == "failed" and "WindowsAzureGuestAgent did not stop within 45 s and is stuck in StopPending" in restart["summary"]


def test_machinekeys_a_backup_that_starts_before_the_agent_stops_is_reported_not_failed():
    plugin = action(win_machinekeys, {}, [
        machinekeys_state(), RESET_DONE, {"changed": True},
        restart_answer({"name": "WindowsAzureGuestAgent", "status": "backup_running", "stuck": "WindowsAzureGuestAgent",
                        "backup": ["IaaSBcdrExtension"]})])
    result = plugin.run(task_vars=VARS)
    restart = next(f for f in result["findings"] if f["check"] == "agent_restart")
    assert restart["status"] == "found" and "a backup snapshot started (IaaSBcdrExtension) before WindowsAzureGuestAgent was to stop" \
        in restart["summary"]


def test_machinekeys_a_reset_that_stops_part_way_says_what_was_done_and_restarts_nothing():
    stopped = {"changed": True, "result": {"before": "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)", "after": "O:BAG:SYD:PAI(A;OICI;0x120089;;;WD)",
                                           "backup": "C:\\b\\MachineKeys-1.sddl", "done": ["took ownership of " + MK],
                                           "error": "Attempted to perform an unauthorized operation."}}
    plugin = action(win_machinekeys, {}, [machinekeys_state(), stopped])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell"] and result["failed"]
    assert "Done before that: took ownership of %s" % MK in result["msg"] and "unauthorized" in result["msg"]


def test_machinekeys_never_restarts_the_agent_while_a_backup_runs():
    after = {"changed": True, "result": {"before": "x", "after": "O:BAG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)", "backup": "b", "done": []}}
    plugin = action(win_machinekeys, {}, [machinekeys_state(processes=["IaaSBcdrExtension"], key_files=[]), after, {"changed": True}])
    result = plugin.run(task_vars=VARS)
    assert len(sent(plugin)) == 3  # read, reset, certificate: no restart
    restart = next(f for f in result["findings"] if f["check"] == "agent_restart")
    assert restart["status"] == "found" and "IaaSBcdrExtension" in restart["summary"]


def test_machinekeys_domain_aliases_in_the_dacl_are_reported_not_an_exception():
    plugin = action(win_machinekeys, {}, [machinekeys_state("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FA;;;DA)(A;;FR;;;EA)")],
                    check_mode=True)
    result = plugin.run(task_vars=VARS)
    acl = next(f for f in result["findings"] if f["check"] == "acl")
    assert not result.get("failed") and acl["detail"]["extra"] == ["allow Domain Admins (DA) 0x1f01ff", "allow Enterprise Admins (EA) 0x120089"]


OS_VOL = {"mount": "C:", "device_id": "\\\\?\\Volume{c}\\", "volume_type": 0, "protection_status": 1, "lock_status": 0,
          "conversion_status": 1, "auto_unlock_keys_stored": True}
HIDDEN = {"mount": None, "device_id": "\\\\?\\Volume{h}\\", "volume_type": 1, "protection_status": 1, "lock_status": 0,
          "conversion_status": 1, "auto_unlock": True}


def disabled(*entries):
    return {"changed": True, "result": {"volumes": list(entries)}}


def test_bitlocker_under_ade_is_refused_with_the_platform_route_and_nothing_sent():
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[OS_VOL], ade_versions=["2.4.0.23"])])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"] and result["failed"]
    refused = next(f for f in result["findings"] if f["check"] == "protection")
    assert "Microsoft.Azure.Security.AzureDiskEncryption" in refused["summary"] and "Disable-AzVMDiskEncryption" in refused["summary"]
    assert "az vm encryption disable" in refused["summary"]


def test_bitlocker_data_volumes_first_then_the_os_volume_with_its_auto_unlock_keys_cleared():
    plugin = action(win_bitlocker, {"disable": True}, [
        read_answer(volumes=[OS_VOL, HIDDEN], ade_versions=[]),
        disabled({"device_id": HIDDEN["device_id"], "volume": HIDDEN["device_id"], "status": "started", "conversion_status": 3}),
        disabled({"device_id": OS_VOL["device_id"], "volume": "C:", "status": "started", "conversion_status": 3, "auto_unlock_cleared": True})])
    result = plugin.run(task_vars=VARS)
    calls = [c.kwargs["module_args"]["parameters"] for c in plugin._execute_module.call_args_list[1:]]
    assert calls == [{"DeviceIds": [HIDDEN["device_id"]], "ClearAutoUnlock": False}, {"DeviceIds": [OS_VOL["device_id"]], "ClearAutoUnlock": True}]
    protection = next(f for f in result["findings"] if f["check"] == "protection")
    assert protection["status"] == "fixed" and "\\\\?\\Volume{h}\\ decryption started (decrypting); C: decryption started" in protection["summary"]


def test_bitlocker_the_os_volume_is_not_tried_when_an_auto_unlocked_data_volume_failed():
    plugin = action(win_bitlocker, {"disable": True}, [
        read_answer(volumes=[OS_VOL, HIDDEN], ade_versions=[]),
        disabled({"device_id": HIDDEN["device_id"], "volume": HIDDEN["device_id"], "status": "failed", "return_value": 2150694912,
                  "error": "Decrypt refused"})])
    result = plugin.run(task_vars=VARS)
    assert len(sent(plugin)) == 2 and result["failed"]
    summary = next(f for f in result["findings"] if f["check"] == "protection")["summary"]
    assert "Volume{h}\\ failed: Decrypt refused (0x80310000, FVE_E_LOCKED_VOLUME: the volume is locked)" in summary and "C: not tried" in summary


def test_bitlocker_check_mode_says_it_would_clear_auto_unlock_first():
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[OS_VOL, HIDDEN], ade_versions=[])], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and result["changed"]
    summary = next(f for f in result["findings"] if f["check"] == "protection")["summary"]
    assert "would clear the auto-unlock keys on C: (those of data volumes not attached now go too), then turn it off" in summary


def test_bitlocker_the_os_volume_stays_on_while_a_locked_volume_may_need_its_keys():
    locked = {"mount": "F:", "device_id": "\\\\?\\Volume{f}\\", "volume_type": 1, "protection_status": 2, "lock_status": 1}
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[OS_VOL, locked], ade_versions=[])], check_mode=True)
    result = plugin.run(task_vars=VARS)
    kept = next(f for f in result["findings"] if f["check"] == "os_volume")
    assert "F: stays protected" in kept["summary"] and not [f for f in result["findings"] if f["check"] == "protection"]


def test_the_install_runs_detached_and_survives_a_lost_connection():
    # The install is a scheduled task on the VM: a read-back that loses its connection is read again, and the
    # install, which the connection never carried, is reported as it ended.
    missing = [dict(RUNNING[0], exists=False), RUNNING[1]]
    lost = AnsibleConnectionFailure("winrm send_input failed")
    plugin = action(win_agent, {}, [agent_state(services=missing), PREPARED, {"changed": True}, REGISTERED, lost, install_answer(),
                                    agent_state()])
    result = plugin.run(task_vars=VARS)
    assert not result.get("failed") and [f["status"] for f in result["findings"] if f["check"] == "install"] == ["fixed"]
    assert plugin._connection.reset.called


def test_an_install_that_gives_no_answer_in_time_says_it_may_still_run_and_where_to_look():
    missing = [dict(RUNNING[0], exists=False), RUNNING[1]]
    nothing_yet = {"changed": False, "result": {"marker": None, "started": True, "task_state": "Running", "last_result": 267009}}
    plugin = action(win_agent, {}, [agent_state(services=missing), PREPARED, {"changed": True}, REGISTERED] + [nothing_yet] * 3)
    clock = iter(range(0, 100000, 5000))
    plugin._now = lambda: next(clock)
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and result["changed"]
    assert "gave no answer within its time" in result["msg"] and "it may still be running" in result["msg"]
    assert "C:\\WindowsAzure\\OLD" in result["msg"] and detached.WORK_DIR in result["msg"]


# -- second round on issue 10: VSS restart, BitLocker ------------------------------------------------------


def test_vss_a_backup_that_starts_during_the_restart_is_found_not_failed():
    plugin = action(win_vss_writers, {}, [vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"}, {"Winmgmt": ["iphlpsvc"]}),
                                          restart_answer({"name": "Winmgmt", "status": "backup_running", "stuck": "Winmgmt",
                                                          "backup": ["IaaSBcdrExtension"], "dependants": ["iphlpsvc"], "restarted": ["iphlpsvc"]}),
                                          vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running", "iphlpsvc": "Running"})])
    result = plugin.run(task_vars=VARS)
    wmi = vss_findings(result)["writer_wmi_writer"]
    assert wmi["status"] == "found" and not result.get("failed")
    assert "a backup snapshot started (IaaSBcdrExtension) before Winmgmt was to stop, so the restart stopped there; its dependants " \
        "iphlpsvc were started again" in wmi["summary"]


def test_vss_a_lost_connection_is_reset_read_again_and_the_stopped_services_named():
    plugin = action(win_vss_writers, {}, [vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"}, {"Winmgmt": ["iphlpsvc"]}),
                                          AnsibleConnectionFailure("winrm connection error: Connection aborted."),
                                          vss_read([("System Writer", 1, "Stable")], {"Winmgmt": "Stopped", "iphlpsvc": "Stopped"})])
    result = plugin.run(task_vars=VARS)
    assert plugin._connection.reset.called
    # The second read asks for the dependants that were stopped too.
    assert "iphlpsvc" in plugin._execute_module.call_args_list[2].kwargs["module_args"]["parameters"]["Services"]
    wmi = vss_findings(result)["writer_wmi_writer"]
    assert wmi["status"] == "failed" and result["failed"] and result["changed"]
    assert "the WinRM connection was lost while restarting Winmgmt (winrm connection error: Connection aborted.); read again after " \
        "reconnecting, Winmgmt, iphlpsvc are not running: start them" in wmi["summary"]


def test_vss_a_lost_connection_with_no_answer_after_is_a_finding_not_a_stack_trace():
    plugin = action(win_vss_writers, {}, [vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"}),
                                          AnsibleConnectionFailure("winrm connection error"), AnsibleConnectionFailure("still gone")])
    with_error = plugin.run(task_vars=VARS)
    assert with_error["failed"] and "not known" in vss_findings(with_error)["writer_wmi_writer"]["summary"]


def test_vss_more_workloads_are_report_only():
    writers = [("MSMQ Writer (MSMQ)", 7, "Failed"), ("OSearch15 VSS Writer", 7, "Failed"), ("DHCP Jet Writer", 7, "Failed"),
               ("DFS Replication service writer", 7, "Failed")]
    plugin = action(win_vss_writers, {}, [vss_read(writers, {"MSMQ": "Running", "OSearch15": "Running", "DHCPServer": "Running", "DFSR": "Running"})])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and not result["changed"]
    for check in ("writer_msmq_writer__msmq_", "writer_osearch15_vss_writer", "writer_dhcp_jet_writer", "writer_dfs_replication_service_writer"):
        assert vss_findings(result)[check]["status"] == "found" and "vss_writers_restart_workloads" in vss_findings(result)[check]["summary"]


def test_bitlocker_a_bek_volume_without_the_extension_is_refused():
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[OS_VOL], ade_versions=[], bek_volumes=["\\\\?\\Volume{b}\\"])])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and result["failed"] and not result["changed"]
    refused = next(f for f in result["findings"] if f["check"] == "protection")
    assert "key volume 'Bek Volume' is present" in refused["summary"] and "Disable-AzVMDiskEncryption" in refused["summary"]


def test_bitlocker_auto_unlock_keys_of_volumes_not_listed_keep_the_os_volume_on():
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[OS_VOL, HIDDEN], ade_versions=[], auto_unlock_entries=2),
                                                       disabled({"device_id": HIDDEN["device_id"], "volume": HIDDEN["device_id"],
                                                                 "status": "started", "conversion_status": 3})])
    result = plugin.run(task_vars=VARS)
    # The data volume is still turned off; ClearAllAutoUnlockKeys is never sent.
    calls = [c.kwargs["module_args"]["parameters"] for c in plugin._execute_module.call_args_list[1:]]
    assert calls == [{"DeviceIds": [HIDDEN["device_id"]], "ClearAutoUnlock": False}]
    kept = next(f for f in result["findings"] if f["check"] == "os_volume")
    assert "2 auto-unlock keys are stored on C:, but only 1 listed volume unlocks with one" in kept["summary"]


def test_machinekeys_an_agent_restart_that_loses_its_connection_reads_the_agent_again():
    stopped = machinekeys_state("O:BAG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)", key_files={})
    stopped["result"]["agent"] = {"name": "WindowsAzureGuestAgent", "exists": True, "state": "Stopped", "start_mode": "Auto"}
    plugin = action(win_machinekeys, {}, [machinekeys_state(), RESET_DONE, {"changed": True},
                                          AnsibleConnectionFailure("winrm connection error"), stopped])
    result = plugin.run(task_vars=VARS)
    assert plugin._connection.reset.called and result["failed"]
    restart = next(f for f in result["findings"] if f["check"] == "agent_restart")
    assert restart["status"] == "failed" and "WindowsAzureGuestAgent is not running: start it" in restart["summary"]
    assert plugin._execute_module.call_args_list[4].kwargs["module_args"]["parameters"]["BackupProcesses"] == ["IaaSBcdrExtension"]


def test_machinekeys_a_timeout_that_is_not_above_zero_fails_before_any_round_trip():
    plugin = action(win_machinekeys, {"service_timeout": 0}, [])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and "machinekeys_service_timeout must be a number of seconds above 0" in result["msg"]
    assert not plugin._execute_module.called


def test_check_mode_reads_a_missing_agent_once():
    missing = [dict(RUNNING[0], exists=False), RUNNING[1]]
    plugin = action(win_agent, {}, [agent_state(services=missing)], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"]
    assert [f["status"] for f in result["findings"] if f["check"] == "install"] == ["found"]


# -- issue 11: every cause yields Steps; a failed change is a finding and the other checks still run ---------


def refused(message="Access is denied"):
    """win_service (or any ansible.windows module) refusing the change."""
    return {"failed": True, "msg": message}


def test_a_service_that_cannot_be_started_is_a_failed_finding_and_the_next_service_is_still_started():
    stopped = [{"name": "COMSysApp", "exists": True, "state": "Stopped", "start_mode": "Manual"},
               {"name": "MSDTC", "exists": True, "state": "Stopped", "start_mode": "Auto"}]
    plugin = action(win_com_msdtc, {}, [read_answer(services=stopped), refused("Cannot start service COMSysApp: Access is denied"),
                                        {"changed": True}])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_service", "ansible.windows.win_service"]
    comsysapp, msdtc = result["findings"]
    assert (comsysapp["check"], comsysapp["status"]) == ("service_comsysapp", "failed")
    assert "could not start COMSysApp" in comsysapp["summary"] and "Access is denied" in comsysapp["summary"]
    assert (msdtc["check"], msdtc["status"]) == ("service_msdtc", "fixed") and "did start MSDTC" in msdtc["summary"]
    assert result["failed"] and result["changed"] and "Cannot start service COMSysApp" in result["msg"]
    # Only the change that was made is in the diff.
    assert [d["before_header"] for d in result["diff"]] == ["service MSDTC"]


def test_an_agent_service_that_cannot_be_started_leaves_the_other_agent_checks_reported():
    stopped = [dict(s, state="Stopped") for s in RUNNING]
    plugin = action(win_agent, {}, [agent_state(services=stopped), refused("the service did not respond in time"), {"changed": True}])
    result = plugin.run(task_vars=VARS)
    statuses = {f["check"]: f["status"] for f in result["findings"]}
    assert statuses == {"dotnet": "ok", "version": "ok", "service_windowsazureguestagent": "failed", "service_rdagent": "fixed"}
    failed = next(f for f in result["findings"] if f["status"] == "failed")
    assert "WIN_AGENT: start WindowsAzureGuestAgent on win01 failed: the service did not respond in time" in failed["summary"]
    assert failed["detail"]["service"] == "WindowsAzureGuestAgent" and failed["detail"]["error"]


def test_a_refused_registry_write_is_a_failed_finding_and_the_load_is_still_reported():
    sql = {"64-bit": ["MSSQLSERVER"], "32-bit": []}
    plugin = snapshot_action([snapshot_state(dhcp="Enabled", sql=sql), refused("Requested registry access is not allowed.")], fix_dhcp=False)
    result = plugin.run(task_vars=VARS)
    statuses = {f["check"]: f["status"] for f in result["findings"]}
    assert statuses == {"vss_copy_backup": "failed", "guest_dhcp": "ok", "cpu_load": "ok", "memory_pressure": "ok"}
    copy = result["findings"][0]
    assert "could not set it to TRUE" in copy["summary"] and "Requested registry access is not allowed." in copy["summary"]
    assert result["failed"] and "diff" not in result


def test_a_certificate_that_cannot_be_deleted_is_failed_and_the_agent_is_not_restarted_for_it():
    plugin = action(win_machinekeys, {}, [machinekeys_state(), RESET_DONE, refused("the certificate store is read-only")])
    result = plugin.run(task_vars=VARS)
    # The reset worked and says so; no certificate was deleted, so nothing asks the agent for a new one.
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell", "ansible.windows.win_certificate_store"]
    statuses = [(f["check"], f["status"]) for f in result["findings"]]
    assert statuses == [("acl", "fixed"), ("certificate", "failed")]
    assert "could not delete it, so the agent makes a new one" in result["findings"][1]["summary"]
    assert "the certificate store is read-only" in result["findings"][1]["summary"]


def test_a_bitlocker_disable_the_module_refuses_is_a_failed_protection_finding_next_to_the_lock_check():
    plugin = action(win_bitlocker, {"disable": True}, [read_answer(volumes=[HIDDEN], ade_versions=[]), refused("WMI is not available")])
    result = plugin.run(task_vars=VARS)
    statuses = [(f["check"], f["status"]) for f in result["findings"]]
    assert statuses == [("locked", "ok"), ("protection", "failed")]
    assert "WMI is not available" in result["findings"][1]["summary"] and result["failed"]


def test_an_outcome_the_vm_reports_decides_the_finding_not_the_attempt():
    """A restart the script refused before it stopped anything (a backup started) is found, not fixed: not changed, no diff."""
    not_restarted = dict(restart_answer({"name": "Winmgmt", "status": "backup_running", "stuck": "Winmgmt", "backup": ["IaaSBcdrExtension"]}),
                         changed=False)
    plugin = action(win_vss_writers, {}, [vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"}), not_restarted,
                                          vss_read([("WMI Writer", 7, "Failed")], {"Winmgmt": "Running"})])
    result = plugin.run(task_vars=VARS)
    wmi = vss_findings(result)["writer_wmi_writer"]
    assert wmi["status"] == "found" and "a backup snapshot started (IaaSBcdrExtension) before Winmgmt was to stop" in wmi["summary"]
    assert not result["changed"] and "diff" not in result and not result.get("failed")
    assert vss_findings(result)["writers"]["status"] == "found"  # listed again after the attempt


def network_read():
    return read_answer(dns=[{"endpoint": "management.azure.com", "error_code": None}],
                       tcp=[{"endpoint": "168.63.129.16:80", "error_code": None}, {"endpoint": "168.63.129.16:32526", "error_code": None}])


def proxy_answer(changed, before=None):
    answer = {"changed": changed}
    if before is not None:
        answer["diff"] = {"before": before}
    return answer


def test_the_proxy_is_read_by_win_http_proxy_in_check_mode_and_set_by_one_call_otherwise():
    args = {"http_proxy": "proxy.corp:3128", "http_proxy_bypass": ["<local>"]}
    check = action(win_network, args, [proxy_answer(True, {"proxy": None, "bypass": None}), network_read()], check_mode=True)
    result = check.run(task_vars=VARS)
    proxy = vss_findings(result)["proxy"]
    assert proxy["status"] == "found" and proxy["summary"] == "WinHTTP does not use proxy proxy.corp:3128 (it uses direct access); would set it"
    assert result["diff"] == [{"before_header": "WinHTTP proxy", "after_header": "WinHTTP proxy", "before": "direct access\n",
                               "after": "proxy proxy.corp:3128, bypass <local>\n"}]
    applied = action(win_network, args, [proxy_answer(True, {"proxy": None, "bypass": None}), network_read()])
    result = applied.run(task_vars=VARS)
    assert sent(applied) == ["ansible.windows.win_http_proxy", "ansible.windows.win_powershell"] and result["changed"]
    assert vss_findings(result)["proxy"]["summary"] == "WinHTTP proxy set to proxy.corp:3128 (was direct access)"
    assert vss_findings(result)["proxy"]["status"] == "fixed" and len(result["diff"]) == 1
    again = action(win_network, args, [proxy_answer(False), network_read()])
    result = again.run(task_vars=VARS)
    assert vss_findings(result)["proxy"]["status"] == "ok" and not result["changed"] and "diff" not in result
    refused_proxy = action(win_network, args, [refused("Access is denied"), network_read()])
    result = refused_proxy.run(task_vars=VARS)
    statuses = {f["check"]: f["status"] for f in result["findings"]}
    assert statuses == {"proxy": "failed", "dns": "ok", "wireserver": "ok", "storage": "skipped"} and result["failed"]
    assert "Access is denied" in vss_findings(result)["proxy"]["summary"]


def test_old_powershell_met_by_a_change_first_is_the_one_host_finding_too():
    """NETWORK's first call in apply mode is the proxy's change: Ansible's refusal there is the host's, not the proxy's."""
    refusal = {"failed": True, "msg": "Ansible requires PowerShell v5.1"}
    plugin = action(win_network, {"http_proxy": "proxy.corp:3128"}, [refusal])
    plugin._low_level_execute_command = MagicMock(return_value={"rc": 0, "stdout": "4.0|6.3.9600.0\r\n", "stderr": ""})
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and result["unsupported_host"] and not result["changed"]
    [entry] = result["findings"]
    assert (entry["id"], entry["check"]) == ("HOST", "powershell") and result["msg"] == entry["summary"]
    assert sent(plugin) == ["ansible.windows.win_http_proxy"] and plugin._low_level_execute_command.call_count == 1
