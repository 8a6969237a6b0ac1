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
from ansible_collections.azure_backup.remediation.plugins.action import win_agent, win_machinekeys, win_snapshot_status, win_vss_writers

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
    assert plugin.run(task_vars=VARS)["msg"].endswith("failed: What the script said. Nothing was changed. "
                                                        "The WinRM user must be an administrator.")


def test_check_mode_reports_what_it_would_do_and_sends_only_the_read():
    stopped = [dict(s, state="Stopped") for s in RUNNING]
    plugin = action(win_agent, {}, [agent_state(services=stopped)], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"]
    assert result["changed"] and not result.get("failed")
    services = [f for f in result["findings"] if f["check"].startswith("service_")]
    assert [(f["status"], f["summary"]) for f in services] == [
        ("found", "WindowsAzureGuestAgent: Stopped, Auto: would start WindowsAzureGuestAgent"),
        ("found", "RdAgent: Stopped, Auto: would start RdAgent")]
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


def test_an_install_that_leaves_the_agent_old_fails_the_host():
    old = agent_state(version="2.7.41491.949")
    done = {"changed": True}
    plugin = action(win_agent, {}, [old, done, done, old])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_get_url", "ansible.windows.win_package",
                            "ansible.windows.win_powershell"]
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


MARKER = {"index": 5, "started": "2026-12-02T10:00:05Z", "finished": "2026-12-02T10:00:09Z", "leased": True,
          "netsh": {"exit_code": 0, "output": ""},
          "before": {"alias": "Ethernet", "dhcp": "Disabled", "addresses": [{"ip": "10.0.0.4", "prefix": 24, "origin": "Manual"}],
                     "gateways": ["10.0.0.1"], "dns_servers": ["10.0.0.10", "10.0.0.11"]},
          "after": {"alias": "Ethernet", "dhcp": "Enabled", "addresses": [{"ip": "10.0.0.4", "prefix": 24, "origin": "Dhcp"}],
                    "gateways": ["10.0.0.1"], "dns_servers": ["10.0.0.10", "10.0.0.11"]}}


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
    assert plugin._connection.reset.call_count == 1
    scripts = [c.kwargs["module_args"]["script"] for c in plugin._execute_module.call_args_list]
    assert scripts[1] == win_snapshot_status.REGISTER_DHCP_SWITCH and scripts[2:] == [win_snapshot_status.READ_DHCP_SWITCH] * 2
    assert {f["check"] for f in result["findings"]} >= {"cpu_load", "memory_pressure"}  # the later checks still ran


def test_a_dhcp_switch_that_never_reports_is_unknown_and_names_the_marker():
    plugin = snapshot_action([snapshot_state(), read_answer(task="t")] + [read_answer(marker=None, task_state="Ready")] * 100,
                             dhcp_timeout=90)
    result = plugin.run(task_vars=VARS)
    finding = dhcp_finding(result)
    assert finding["status"] == "failed" and "state is unknown" in finding["summary"]
    assert "the task azure-backup-dhcp-" in finding["summary"] and "is registered (Ready)" in finding["summary"]
    assert finding["detail"]["marker"] in finding["summary"] and finding["detail"]["marker"].startswith("C:\\ProgramData\\azure-backup\\dhcp\\")
    assert plugin._execute_module.call_count < 100  # bounded


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
