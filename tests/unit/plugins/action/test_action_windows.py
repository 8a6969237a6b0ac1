"""The Windows action plugins with their round trips replaced by recorded answers: bad input fails
before any round trip, a failed read names cause, host and reason, and check mode sends nothing
that could change the VM. The whole flow against simulated hosts is tests/integration/test_windows_fleet.py."""
from __future__ import annotations

import hashlib
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import win_agent, win_bitlocker, win_machinekeys, win_vss_writers

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


MK = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
KEY_FILE = MK + "\\f686aace_c2a8"
CRP = {"thumbprint": "D0", "subject": "DC=Windows Azure CRP Certificate Generator", "issuer": "DC=Windows Azure CRP Certificate Generator",
       "not_after": "2025-06-30T12:00:00"}


def machinekeys_state(sddl="O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)", processes=(), key_files=None):
    return read_answer(path=MK, sddl=sddl, icacls="", certificates=[CRP], caller={"user": "S-1-5-21-1-2-3-500", "groups": ["S-1-5-32-544", "S-1-1-0"]},
                       key_files=[{"path": KEY_FILE, "sddl": "O:SYG:SYD:AI(A;ID;0x120089;;;WD)"}] if key_files is None else key_files,
                       agent={"name": "WindowsAzureGuestAgent", "exists": True, "state": "Running", "start_mode": "Auto"},
                       backup_processes=list(processes))


def test_machinekeys_check_mode_says_it_would_take_ownership_and_protect_the_key_file():
    plugin = action(win_machinekeys, {}, [machinekeys_state()], check_mode=True)
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell"] and result["changed"]
    acl = next(f for f in result["findings"] if f["check"] == "acl")
    assert "would take ownership of %s as Administrators" % MK in acl["summary"]
    assert "take ownership of and protect %s keeping its inherited ACEs as explicit ones (it had no others)" % KEY_FILE in acl["summary"]
    assert acl["detail"]["owner"] == "S-1-5-18" and acl["detail"]["only_inherited"] == [KEY_FILE]
    assert [f["summary"] for f in result["findings"] if f["check"] == "agent_restart"] == [
        "would restart WindowsAzureGuestAgent so it makes a new certificate"]


def test_machinekeys_apply_takes_ownership_only_when_needed_then_restarts_the_agent():
    after = {"changed": True, "result": {"before": "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)", "after": "O:BAG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)",
                                         "backup": "C:\\b\\MachineKeys-1.sddl", "done": ["took ownership of " + MK, "protected " + KEY_FILE],
                                         "files_after": {KEY_FILE: "O:BAG:SYD:PAI(A;;0x120089;;;WD)"}}}
    plugin = action(win_machinekeys, {}, [machinekeys_state(), after, {"changed": True}, {"changed": True}])
    result = plugin.run(task_vars=VARS)
    assert sent(plugin) == ["ansible.windows.win_powershell", "ansible.windows.win_powershell", "ansible.windows.win_certificate_store",
                            "ansible.windows.win_service"]
    reset = plugin._execute_module.call_args_list[1].kwargs["module_args"]["parameters"]
    assert reset["TakeOwnership"] is True and reset["ProtectFiles"] == [KEY_FILE] and reset["TakeFileOwnership"] == [KEY_FILE]
    assert plugin._execute_module.call_args_list[3].kwargs["module_args"] == {"name": "WindowsAzureGuestAgent", "state": "restarted"}
    acl = next(f for f in result["findings"] if f["check"] == "acl")
    assert acl["status"] == "fixed" and "took ownership of %s" % MK in acl["summary"] and not result.get("failed")
    # Administrators can write the default DACL: no ownership taken, no file to protect.
    plugin = action(win_machinekeys, {}, [machinekeys_state("O:SYG:SYD:PAI(A;;0x120089;;;WD)(A;;FA;;;BA)", key_files=[])], check_mode=True)
    acl = next(f for f in plugin.run(task_vars=VARS)["findings"] if f["check"] == "acl")
    assert acl["detail"]["take_ownership"] is False and "ownership" not in acl["summary"]


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
    assert "ansible.windows.win_service" not in sent(plugin)
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
