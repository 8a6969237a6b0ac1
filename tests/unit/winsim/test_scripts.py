"""Each script twin, run the way Ansible runs it: the collection's own script text through the
simulator's win_powershell, against a simulated host with and without the fault it reads.
The product's parsers read what the twins answer, so a twin that drifted from its script's
result shape fails here, not only in the integration stage."""

import hashlib
import json
import socket
import time

import pytest

import acl
import faults
import host as hostmod
import render
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_agent, win_backup_extension, win_bitlocker, win_com_msdtc, win_disk_limits, win_machinekeys, win_network,
    win_snapshot_status, win_vss_writers)
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import disk_limits as limits
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import machinekeys as keys
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import snapshot_status as snap
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached


def powershell(h, script, check=False, **parameters):
    answer = h.run_module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": 6,
                                                             "_ansible_check_mode": check})
    assert not answer["failed"], answer
    return answer


def read(h, script, **parameters):
    # Read scripts run in check mode too, and say they changed nothing.
    answer = powershell(h, script, check=True, **parameters)
    assert answer["changed"] is False
    return answer["result"]


def agent_read(h):
    return read(h, win_agent.READ, Services=list(agent.SERVICES), ProductName=agent.PRODUCT_NAME,
                BackupProcesses=list(agent.BACKUP_PROCESSES))


def test_win_agent_read():
    state = agent_read(hostmod.SimHost.create("win01", "en", []))
    assert [(s["name"], s["state"], s["start_mode"]) for s in state["services"]] == [
        ("WindowsAzureGuestAgent", "Running", "Auto"), ("RdAgent", "Running", "Auto")]
    assert state["version"] == hostmod.AGENT_VERSION and state["dotnet_release"] == 528040
    assert state["products"] == [{"name": "Windows Azure VM Agent - " + hostmod.AGENT_VERSION, "version": hostmod.AGENT_VERSION,
                                  "product_id": hostmod.AGENT_PRODUCT_ID}]
    assert state["backup_processes"] == []
    broken = agent_read(hostmod.SimHost.create("win01", "en", ["agent-missing", "backup-running"]))
    assert [s["exists"] for s in broken["services"]] == [False, False] and broken["version"] is None
    assert len(broken["products"]) == 1 and agent.backup_running(broken["backup_processes"]) == ["IaaSBcdrExtension"]


def test_vss_writers_read_is_parsed_by_the_product_in_both_languages():
    for locale in ("en", "de"):
        h = hostmod.SimHost.create("win01", locale, ["vss-writer-failed"])
        state = read(h, win_vss_writers.READ, Services=["CryptSvc"], BackupProcesses=[])
        writers = vss.parse(state["text"])
        assert state["exit_code"] == 0 and len(writers) == len(h.visible_writers())
        assert [w["name"] for w in vss.bad(writers)] == ["System Writer"]
        assert [(s["name"], s["state"]) for s in state["services"]] == [("CryptSvc", "Running")]


def test_vss_writers_read_when_vss_cannot_start():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["services"]["VSS"].update(state="stopped", start_mode="disabled")
    state = read(h, win_vss_writers.READ, Services=[], BackupProcesses=[])
    assert state["exit_code"] != 0
    with pytest.raises(ValueError, match="unexpected error"):
        vss.parse(state["text"])


def test_machinekeys_read_and_reset():
    h = hostmod.SimHost.create("win01", "de", ["machinekeys-acl", "crp-cert"])
    state = _machinekeys_read(h)
    assert state["path"] == hostmod.MACHINEKEYS and not keys.compare(state["sddl"])["default"]
    assert "Jeder:" in state["icacls"] and len(keys.stale_certificates(state["certificates"])) == 1
    reset = powershell(h, win_machinekeys.RESET, Path=state["path"], Dacl=keys.dacl_part(keys.DEFAULT_SDDL),
                       BackupDir=r"C:\ProgramData\azure-backup\backups")
    assert reset["changed"] is True and reset["result"]["before"] == state["sddl"]
    assert keys.compare(h.state["acls"][hostmod.MACHINEKEYS])["default"]
    assert h.read_file(reset["result"]["backup"]).decode().strip() == state["sddl"]


def test_snapshot_status_read_and_dhcp():
    h = hostmod.SimHost.create("win01", "en", ["sql-no-copy-backup", "no-dhcp", "high-cpu"])
    state = snapshot_read(h)
    assert state["copy_backup"] is None and state["sql_instances"] == {"64-bit": ["MSSQLSERVER"], "32-bit": []}
    assert state["cpu_load_percent"] > 90
    [nic] = state["nics"]
    assert nic["dhcp"] == "Disabled" and nic["default_route_metric"] is not None
    h.run_module("ansible.windows.win_regedit", {"path": r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", "name": "USEVSSCOPYBACKUP",
                                                 "data": "TRUE", "type": "string"})
    again = snapshot_read(h)
    assert again["copy_backup"] == {"type": "String", "data": "TRUE"}


def snapshot_read(h):
    return read(h, win_snapshot_status.READ, Key=r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", ValueName="USEVSSCOPYBACKUP",
                SqlKeys=dict(snap.SQL_INSTANCE_KEYS))


def test_snapshot_status_read_finds_sql_server_in_the_32_bit_registry_view():
    state = snapshot_read(hostmod.SimHost.create("win08", "en", ["sql-32bit"]))
    assert snap.sql_instances(state["sql_instances"]) == ["SQLEXPRESS (32-bit)"]


def switch_dhcp(h, nic, lost=True):
    """Register the switch as a detached run, let its start time come, and read its marker back."""
    names, registered = detached_register(h, win_snapshot_status.DHCP_SWITCH_TASK, "snapshot_status.dhcp_task", Index=nic["index"], WaitSeconds=60)
    assert registered["changed"] is True and registered["result"]["marker"] == names["marker"], registered
    assert [t["user"] for t in h.state["scheduled_tasks"]] == ["S-1-5-18"] and h.connection_lost is False
    # The task runs at the next request after its start time; the address goes away under it.
    answer = detached_read(h, names)
    assert h.take_connection_loss() is lost and h.take_connection_loss() is False
    outcome = json.loads(answer["marker"])
    assert outcome["state"] == "done", outcome
    return snap.dhcp_switch_outcome(outcome["result"])


def test_the_dhcp_switch_task_keeps_the_address_and_the_admins_dns_servers():
    h = hostmod.SimHost.create("win08", "en", ["no-dhcp", "admin-dns"])
    [nic] = snapshot_read(h)["nics"]
    assert nic["dns_servers"] == ["10.0.0.10", "10.0.0.11"]
    status, said, detail = switch_dhcp(h, nic)
    assert status == "fixed" and "10.0.0.4 -> 10.0.0.4" in said and "DNS servers kept (10.0.0.10, 10.0.0.11)" in said
    assert detail["before"]["dhcp"] == "Disabled" and detail["after"]["dhcp"] == "Enabled" and detail["netsh"]["exit_code"] == 0
    assert h.state["nics"][0]["dhcp"] is True and h.state["nics"][0]["dns_servers"] == ["10.0.0.10", "10.0.0.11"]
    assert h.state["scheduled_tasks"] == []
    assert snapshot_read(h)["nics"][0]["dhcp"] == "Enabled"


def test_dhcp_handing_out_another_address_brings_the_static_configuration_back():
    h = hostmod.SimHost.create("win08", "en", ["no-dhcp", "dhcp-other-address"])
    [nic] = snapshot_read(h)["nics"]
    status, said, detail = switch_dhcp(h, nic)
    assert status == "failed" and "DHCP handed out 10.0.0.7, not 10.0.0.4" in said and "static configuration was put back" in said
    assert detail["rollback"]["exit_code"] == 0 and detail["after"]["addresses"] == ["10.0.0.4"]
    assert {k: h.state["nics"][0].get(k) for k in ("dhcp", "ipv4", "prefix", "gateway")} == {
        "dhcp": False, "ipv4": "10.0.0.4", "prefix": 24, "gateway": "10.0.0.1"}


def test_the_switch_task_itself_refuses_an_interface_with_a_second_address():
    # Read and switch are two steps: the task checks again right before netsh.
    h = hostmod.SimHost.create("win16", "en", ["no-dhcp", "nic-secondary-address"])
    [nic] = snapshot_read(h)["nics"]
    assert nic["addresses"] == ["10.0.0.4", "10.0.0.5"] and snap.dhcp_switch_refusal(nic["addresses"])
    status, said, detail = switch_dhcp(h, nic, lost=False)
    assert status == "failed" and "2 IPv4 address(es)" in said and detail["netsh"] is None
    assert h.state["nics"][0]["dhcp"] is False and h.state["nics"][0]["secondary_ipv4"] == [{"ip": "10.0.0.5", "prefix": 24}]


def test_netsh_takes_the_interface_index_and_drops_every_static_address():
    h = hostmod.SimHost.create("win16", "en", ["no-dhcp", "nic-secondary-address"])
    import scripts as twins
    assert twins._netsh_set_address(h, "5", "dhcp")["exit_code"] == 0
    assert h.state["nics"][0]["dhcp"] is True and "secondary_ipv4" not in h.state["nics"][0]


def test_without_a_dhcp_answer_the_task_puts_the_static_address_back():
    h = hostmod.SimHost.create("win08", "en", ["no-dhcp"])
    h.state["dhcp_silent"] = True
    [nic] = snapshot_read(h)["nics"]
    status, said, detail = switch_dhcp(h, nic)
    assert status == "failed" and "static configuration was put back" in said and detail["rollback"]["exit_code"] == 0
    assert {k: h.state["nics"][0].get(k) for k in ("dhcp", "ipv4", "prefix", "gateway")} == {
        "dhcp": False, "ipv4": "10.0.0.4", "prefix": 24, "gateway": "10.0.0.1"}


def test_backup_extension_com_msdtc_disk_limits_bitlocker_reads():
    h = hostmod.SimHost.create("win01", "en", ["iaasvmprovider-disabled", "msdtc-stopped", "too-many-disks", "bitlocker-locked"])
    ext = read(h, win_backup_extension.READ, Service="IaaSVmProvider", PluginDir=win_backup_extension.PLUGIN_DIR)
    assert ext["versions"] == ["1.0.75.0"] and ext["service"]["start_mode"] == "Disabled"
    com = read(h, win_com_msdtc.READ, Services=list(win_com_msdtc.SERVICES))
    assert [s["state"] for s in com["services"]] == ["Running", "Stopped"]
    disks = read(hostmod.SimHost.create("win01", "en", ["too-many-disks", "temp-disk-german"]), win_disk_limits.READ,
                 MarkerFile=limits.DATALOSS_WARNING)["disks"]
    data, left_out = limits.windows_data_disks(disks)
    assert len(data) == 17  # the OS and the temporary disk are not data disks
    assert [(d["disk"], d["why"]) for d in left_out] == [("0", "boot or system disk"), ("1", "D:\\DATALOSS_WARNING_README.txt")]
    locked = [v for v in read(h, win_bitlocker.READ, AdeDir=win_bitlocker.ADE_DIR)["volumes"] if v["lock_status"] == 1]
    assert [(v["mount"], v["protection_status"]) for v in locked] == [("F:", 2)]


def test_network_read_names_each_failure_in_simulated_time():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        open_port = listener.getsockname()[1]
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            closed_port = closed.getsockname()[1]
        h = hostmod.SimHost.create("win01", "en", ["wireserver-blocked"])
        start = time.monotonic()
        state = read(h, win_network.READ, Names=["management.azure.com", "nowhere.example"], TimeoutMs=5000,
                     Endpoints=["127.0.0.1:%d" % open_port, "127.0.0.1:%d" % closed_port, "127.0.0.1:80", "10.0.0.1:443"])
    assert time.monotonic() - start < 5  # no connection dialled outside loopback, no real wait for a timeout
    assert [d["error_code"] for d in state["dns"]] == ["", "HostNotFound"]
    assert [t["error_code"] for t in state["tcp"]] == ["", "ConnectionRefused", "TimedOut", "TimedOut"]


def restart(h, services, timeout=60):
    answer = powershell(h, win_vss_writers.RESTART, Services=services, TimeoutSeconds=timeout)
    return vss.read_restart(answer["result"], services)


def pid(h, service):
    return [p["pid"] for p in h.state["processes"] if p["service"] == service]


def test_vss_writers_restart_stops_dependants_first_and_starts_them_again():
    h = hostmod.SimHost.create("win01", "en", ["vss-wmi-writer-failed"])
    # A dependant of a dependant (made up for the test) is restarted too.
    hostmod.add_service(h.state, "ChainTest", "Chain test", "C:\\chain.exe", "manual", True, "LocalSystem", ["iphlpsvc"])
    state = read(h, win_vss_writers.READ, Services=["Winmgmt"], BackupProcesses=[])
    assert vss.running_dependants(state) == {"Winmgmt": ["ChainTest", "iphlpsvc"]}
    before = {s: pid(h, s) for s in ("Winmgmt", "iphlpsvc", "ChainTest")}
    outcome = restart(h, ["Winmgmt"])["Winmgmt"]
    assert outcome["status"] == "restarted" and outcome["restarted"] == ["ChainTest", "iphlpsvc"] and outcome["not_restarted"] == []
    assert vss.restart_failure(outcome, 60) is None
    for service, pids in before.items():
        assert h.state["services"][service]["state"] == "running" and pid(h, service) != pids, service
    assert hostmod.find_writer(h.state, "WMI Writer")["state"] == 1


def test_vss_writers_restart_reports_a_service_stuck_stopping_and_goes_on():
    h = hostmod.SimHost.create("win01", "en", ["vss-service-hangs", "vss-registry-writer-failed"])
    start = time.monotonic()
    outcomes = restart(h, ["CryptSvc", "VSS"], timeout=600)
    assert time.monotonic() - start < 5  # the bounded wait passes in simulated time
    assert outcomes["CryptSvc"]["status"] == "stuck" and outcomes["CryptSvc"]["stuck"] == "CryptSvc"
    assert outcomes["VSS"]["status"] == "restarted" and hostmod.find_writer(h.state, "Registry Writer")["state"] == 1
    state = read(h, win_vss_writers.READ, Services=["CryptSvc", "VSS"], BackupProcesses=[])
    assert vss.stop_pending(state["services"]) == ["CryptSvc"]
    assert "System Writer" not in [w["name"] for w in vss.parse(state["text"])]
    # Asked again, the stuck service is not touched.
    assert restart(h, ["CryptSvc"])["CryptSvc"]["status"] == "stuck" and h.state["services"]["CryptSvc"]["state"] == "stop_pending"


def test_vss_writers_restart_leaves_the_service_running_when_a_dependant_hangs():
    h = hostmod.SimHost.create("win01", "en", ["vss-wmi-writer-failed"])
    h.state["services"]["iphlpsvc"]["stop_hangs"] = True
    winmgmt = pid(h, "Winmgmt")
    outcome = restart(h, ["Winmgmt"])["Winmgmt"]
    assert outcome["status"] == "stuck" and outcome["stuck"] == "iphlpsvc" and outcome["not_restarted"] == ["iphlpsvc"]
    assert h.state["services"]["Winmgmt"]["state"] == "running" and pid(h, "Winmgmt") == winmgmt
    assert "its dependant iphlpsvc did not stop within 60 s" in vss.restart_failure(outcome, 60)


# -- win_agent.install (issue 10) --------------------------------------------------------------------


def agent_install(h, mode, **overrides):
    """The install script as the action plugin sends it, after the MSI was put on the VM."""
    h.put_file(win_agent.MSI_DEST, hostmod.AGENT_MSI)
    parameters = {"Mode": mode, "MsiPath": win_agent.MSI_DEST, "LogDir": win_agent.MSI_LOG_DIR, "Services": list(agent.SERVICES),
                  "AgentRoot": win_agent.AGENT_ROOT, "BackupProcesses": list(agent.BACKUP_PROCESSES), "BusyRetries": 10,
                  "BusyWaitSeconds": 30, "StartWaitSeconds": agent.START_WAIT_SECONDS,
                  "ServiceWaitSeconds": agent.SERVICE_WAIT_SECONDS, "DeleteWaitSeconds": agent.DELETE_WAIT_SECONDS,
                  "ProductCodes": agent.product_codes(agent_read(h)["products"]) if mode == "reinstall" else [],
                  "CheckSignature": True, "Signer": agent.MSI_SIGNER}
    parameters.update(overrides)
    answer = h.run_module("ansible.windows.win_powershell", {"script": win_agent.INSTALL, "parameters": parameters, "depth": 6})
    assert not answer["failed"], answer
    return answer


def _without_noise(state):
    """A state without what a restore cannot keep: process ids, the OLD folder it made, the msiexec log."""
    state = dict(state, processes=[p["name"] for p in state["processes"]], next_pid=0)
    state["dirs"] = sorted(d for d in state["dirs"] if "\\OLD" not in d and hostmod.norm_path(d) not in
                           (hostmod.GUEST_AGENT_DIR, hostmod.PACKAGES_DIR))
    state["files"] = {p: dict(f, mtime="") for p, f in state["files"].items()
                      if p != win_agent.MSI_DEST and not p.startswith(win_agent.MSI_LOG_DIR + "\\azure-backup-agent-")}
    state["processes"].sort()
    return state


def test_win_agent_read_gives_the_guest_agent_image_version():
    h = hostmod.SimHost.create("win01", "en", ["agent-outdated"])
    h.state["files"][hostmod.PACKAGES_DIR + "\\WaAppAgent.exe"]["version"] = "2.7.41491.900"
    state = agent_read(h)
    assert state["version"] == "2.7.41491.900" and state["guest_agent_version"] == "2.7.41491.949"
    running = agent.running_version(state["services"], state["version"], state["guest_agent_version"])
    assert running == ("2.7.41491.949", "WindowsAzureGuestAgent")


def test_a_failed_reinstall_puts_folders_and_services_back():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "msi-fails"])
    h.put_file(win_agent.MSI_DEST, hostmod.AGENT_MSI)
    before = json.loads(json.dumps(h.state))
    answer = agent_install(h, "reinstall")
    result = answer["result"]
    assert answer["result"]["changed"] and result["rc"] == 1603 and "1603" in result["error"] and result["restored"]
    assert result["steps"][:3] == ["stopped RdAgent", "deleted the service RdAgent",
                                   "moved %s to %s\\%s" % (hostmod.GUEST_AGENT_DIR, result["old_dir"], hostmod.GUEST_AGENT_DIR.rsplit("\\", 1)[1])]
    assert result["steps"][-2:] == ["re-created the service RdAgent", "started RdAgent"]
    # The registered agent was uninstalled before the install (review item 1): its installed-programs entry stays
    # gone, and the finding says so; everything else is as it was.
    assert [u["product_code"] for u in result["uninstalled"]] == [hostmod.AGENT_PRODUCT_ID]
    assert "installed-programs entry (%s) stays removed" % hostmod.AGENT_PRODUCT_ID in agent.install_summary(result)[1]
    assert not h.state["products"] and not [k for k in h.state["registry"] if hostmod.AGENT_PRODUCT_ID in k]
    expected = _without_noise(before)
    expected["products"] = []
    expected["registry"] = {k: v for k, v in expected["registry"].items() if hostmod.AGENT_PRODUCT_ID not in k}
    assert _without_noise(h.state) == expected


def test_leftovers_are_moved_aside_before_the_install_so_the_new_agent_runs():
    h = hostmod.SimHost.create("win15", "en", ["agent-leftovers"])
    result = agent_install(h, "reinstall")["result"]
    assert result["error"] is None and result["rc"] == 0 and result["removed"] == []
    assert [m["from"] for m in result["moved"]] == [faults.LEFTOVER_GUEST_AGENT_DIR, faults.LEFTOVER_PACKAGES_DIR]
    assert [(s["name"], s["state"]) for s in result["services"]] == [("WindowsAzureGuestAgent", "Running"), ("RdAgent", "Running")]


def test_without_moving_the_leftovers_the_new_agent_hangs_in_start_pending():
    # What the simulator does with an install beside the leftovers (the upgrade path moves nothing).
    h = hostmod.SimHost.create("win15", "en", ["agent-leftovers"])
    result = agent_install(h, "upgrade")["result"]
    assert result["rc"] == 0 and {s["state"] for s in result["services"]} == {"Start Pending"}


def test_msiexec_busy_is_retried_within_the_bound():
    h = hostmod.SimHost.create("win10", "en", ["agent-outdated", "msi-busy"])
    result = agent_install(h, "upgrade", BusyWaitSeconds=5)["result"]
    assert (result["rc"], result["attempts"], result["waited_seconds"], result["error"]) == (0, 3, 10, None)
    gave_up = hostmod.SimHost.create("win10", "en", ["agent-outdated", "msi-busy"])
    products = json.loads(json.dumps(gave_up.state["products"]))
    result = agent_install(gave_up, "upgrade", BusyRetries=1)["result"]
    assert (result["rc"], result["attempts"], result["waited_seconds"]) == (1618, 2, 30)
    assert "after 2 attempts" in result["error"] and gave_up.state["products"] == products


def test_3010_is_an_installed_agent():
    h = hostmod.SimHost.create("win01", "en", ["agent-outdated", "msi-reboot-required"])
    result = agent_install(h, "upgrade")["result"]
    assert result["rc"] == 3010 and result["error"] is None and status_of(result) == "fixed"
    assert [p["version"] for p in h.state["products"]] == [hostmod.NEW_AGENT_VERSION]


def status_of(result):
    return agent.install_summary(result)[0]


def test_a_backup_that_starts_midway_stops_the_procedure_and_everything_is_put_back(monkeypatch):
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing"])
    stop = scripts._service_stop  # pylint: disable=protected-access

    def stop_then_backup_starts(*args, **kwargs):
        stopped = stop(*args, **kwargs)
        hostmod.add_process(h.state, "IaaSBcdrExtension.exe")
        return stopped
    monkeypatch.setattr(scripts, "_service_stop", stop_then_backup_starts)
    result = agent_install(h, "reinstall")["result"]
    assert result["refused"] == {"step": "delete the service RdAgent", "processes": ["IaaSBcdrExtension"]}
    assert result["moved"] == [] and result["steps"] == ["stopped RdAgent", "started RdAgent"]
    assert h.state["services"]["RdAgent"]["state"] == "running" and result["rc"] is None


def test_no_step_is_taken_while_a_backup_runs():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "backup-running"])
    before = json.loads(json.dumps(h.state))
    answer = agent_install(h, "reinstall")
    assert answer["result"]["refused"]["step"] == "stop RdAgent" and not answer["result"]["changed"]
    assert _without_noise(h.state) == _without_noise(before)


def test_a_vm_without_c_windowsazure_gets_the_agent_installed():
    h = hostmod.SimHost.create("win04", "en", ["agent-absent"])
    hostmod.remove_tree_state(h.state, "C:\\WindowsAzure")
    result = agent_install(h, "reinstall")["result"]
    assert result["error"] is None and result["moved"] == [] and result["old_dir"] is None
    assert [p["version"] for p in h.state["products"]] == [hostmod.NEW_AGENT_VERSION]


def _machinekeys_read(h):
    return read(h, win_machinekeys.READ, Path="", AgentService=agent.SERVICES[0], BackupProcesses=list(agent.BACKUP_PROCESSES))


def test_machinekeys_reset_regains_write_dac_and_keeps_inheriting_key_files_readable():
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    state = _machinekeys_read(h)
    sids = [state["caller"]["user"]] + state["caller"]["groups"]
    assert keys.needs_ownership(state["sddl"], sids)
    assert state["key_files"] == {"total": 2, "inheriting": 1, "only_inherited": 1, "unreadable": 0}
    parameters = {"Path": state["path"], "Dacl": keys.dacl_part(keys.DEFAULT_SDDL), "BackupDir": r"C:\ProgramData\azure-backup\backups"}
    # Without ownership the DACL cannot be written: the error is reported and the folder is as it was.
    refused = powershell(h, win_machinekeys.RESET, TakeOwnership=False, **parameters)["result"]
    assert refused["error"] == "Attempted to perform an unauthorized operation." and refused["after"] == state["sddl"]
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    reset = powershell(h, win_machinekeys.RESET, TakeOwnership=True, **parameters)["result"]
    assert "error" not in reset and reset["done"][0] == "took ownership of %s" % state["path"]
    assert keys.compare(reset["after"])["default"] and keys.owner(reset["after"]) == "S-1-5-32-544" == reset["owner"]
    assert reset["protected"] == reset["only_inherited"] == [faults.MACHINEKEYS_INHERITING_FILE] and reset["unreadable"] == []
    kept = h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE]
    assert keys.granted(kept, keys.SYSTEM_SIDS, keys.FILE_READ_DATA) and keys.granted(kept, keys.ADMIN_SIDS, keys.FILE_READ_DATA)
    assert h.state["acls"][faults.MACHINEKEYS_OWN_ACL_FILE] == "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"
    assert h.read_file(reset["files_backup"]).decode().startswith("O:SYG:SYD:AI(A;ID;0x120089;;;WD)\t")


def test_machinekeys_a_key_file_made_after_the_read_is_protected_too():
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    state = _machinekeys_read(h)
    # CryptoAPI writes a new key file between the read and the reset: it inherits from the folder.
    late = hostmod.MACHINEKEYS + "\\0123456789abcdef0123456789abcdef_c2a8c2f3-6a3e-4b0e-9d21-3b1d8e0f7a11"
    hostmod.put_file_state(h.state, late, hostmod.file_entry(b"RSA1 key container (simulated)"))
    h.state["acls"][late] = "O:SYG:SYD:AI(A;ID;0x120089;;;WD)"
    reset = powershell(h, win_machinekeys.RESET, Path=state["path"], Dacl=keys.dacl_part(keys.DEFAULT_SDDL),
                       BackupDir=r"C:\ProgramData\azure-backup\backups", TakeOwnership=True)["result"]
    assert late in reset["protected"] and "files_after" not in reset and "files_before" not in reset
    assert keys.granted(h.state["acls"][late], keys.SYSTEM_SIDS, keys.FILE_READ_DATA)


def test_machinekeys_takeown_refused_says_its_exit_code_and_changes_nothing_more():
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac", "takeown-denied"])
    before = h.state["acls"][hostmod.MACHINEKEYS]
    reset = powershell(h, win_machinekeys.RESET, Path=hostmod.MACHINEKEYS, Dacl=keys.dacl_part(keys.DEFAULT_SDDL),
                       BackupDir=r"C:\ProgramData\azure-backup\backups", TakeOwnership=True)["result"]
    assert reset["error"] == "takeown.exe /F %s /A failed (exit code 1): ERROR: Access is denied." % hostmod.MACHINEKEYS
    assert reset["done"] == [] and h.state["acls"][hostmod.MACHINEKEYS] == before


def test_native_stderr_ends_a_script_under_stop_unless_the_call_continues_and_merges_it():
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac", "takeown-denied"])
    # The call as the first round wrote it: 2>&1 inside a function under the script's Stop.
    old = win_machinekeys.RESET.replace("$takeown = Invoke-Native -FilePath 'takeown.exe' -ArgumentList '/F', $LiteralPath, '/A'",
                                        "$output = & takeown.exe /F $LiteralPath /A 2>&1 | Out-String")
    assert old != win_machinekeys.RESET
    reset = powershell(h, old, Path=hostmod.MACHINEKEYS, Dacl=keys.dacl_part(keys.DEFAULT_SDDL),
                       BackupDir=r"C:\ProgramData\azure-backup\backups", TakeOwnership=True)["result"]
    assert reset["error"] == "ERROR: Access is denied."  # no exit code: the stderr line ended it first
    noisy = hostmod.SimHost.create("win01", "en", ["vss-writer-failed", "vssadmin-stderr"])
    state = read(noisy, win_vss_writers.READ, Services=["CryptSvc"], BackupProcesses=[])
    assert "Warning: the shadow copy provider answered late." in state["text"] and state["exit_code"] == 0
    assert [w["name"] for w in vss.bad(vss.parse(state["text"]))] == ["System Writer"]
    old_read = win_vss_writers.READ.replace("$vssadmin = Invoke-Native -FilePath 'vssadmin.exe' -ArgumentList 'list', 'writers'",
                                            "$text = & vssadmin.exe list writers | Out-String")
    answer = noisy.run_module("ansible.windows.win_powershell", {"script": old_read, "parameters": {"Services": [], "BackupProcesses": []},
                                                                 "_ansible_check_mode": True})
    assert answer["failed"] and answer["error"][0]["exception"]["message"] == "Warning: the shadow copy provider answered late."


def test_machinekeys_read_accepts_domain_aliases_in_the_dacl():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["acls"][hostmod.MACHINEKEYS] = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FA;;;DA)"
    state = _machinekeys_read(h)
    assert keys.compare(state["sddl"])["extra"] == ["allow Domain Admins (DA) 0x1f01ff"]


def _bitlocker_read(h):
    return read(h, win_bitlocker.READ, AdeDir=win_bitlocker.ADE_DIR)


def test_bitlocker_os_volume_refused_until_auto_unlock_keys_are_cleared_and_letterless_volumes_by_path():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import bitlocker
    h = hostmod.SimHost.create("win12", "en", ["bitlocker-auto-unlock"])
    state = _bitlocker_read(h)
    os_volume = next(v for v in state["volumes"] if v["volume_type"] == 0)
    hidden = next(v for v in state["volumes"] if v["mount"] is None)
    assert os_volume["auto_unlock_keys_stored"] and hidden["auto_unlock"] and hidden["device_id"].startswith("\\\\?\\Volume{")
    # Decrypt refuses the OS volume while the keys are stored (FVE_E_AUTOUNLOCK_ENABLED).
    [refused] = powershell(h, win_bitlocker.DISABLE, DeviceIds=[os_volume["device_id"]], ClearAutoUnlock=False)["result"]["volumes"]
    assert refused["status"] == "failed" and refused["return_value"] == bitlocker.FVE_E_AUTOUNLOCK_ENABLED
    assert {v["mount"]: v["bitlocker_protection"] for v in h.state["volumes"]}["C:"] == "on"
    data = powershell(h, win_bitlocker.DISABLE, DeviceIds=[hidden["device_id"]], ClearAutoUnlock=False)["result"]["volumes"]
    assert [(r["volume"], r["status"], r["conversion_status"]) for r in data] == [(hidden["device_id"], "started", 3)]
    [done] = powershell(h, win_bitlocker.DISABLE, DeviceIds=[os_volume["device_id"]], ClearAutoUnlock=True)["result"]["volumes"]
    assert done["status"] == "started" and done["auto_unlock_cleared"] and h.state["bitlocker_auto_unlock_keys"] == []
    after = _bitlocker_read(h)
    assert sorted((v["mount"] or "", v["protection_status"]) for v in after["volumes"]) == [("", 0), ("C:", 0), ("D:", 0), ("E:", 1)]


def test_bitlocker_read_names_the_ade_extension():
    assert _bitlocker_read(hostmod.SimHost.create("win13", "en", ["bitlocker-on", "ade-installed"]))["ade_versions"] == ["2.4.0.23"]
    assert _bitlocker_read(hostmod.SimHost.create("win13", "en", ["bitlocker-on"]))["ade_versions"] == []


# -- win_agent.install made safe (issue 10, second round) ------------------------------------------------------


def _agent_services(h):
    return {n: h.state["services"][n]["state"] for n in agent.SERVICES if n in h.state["services"]}


def test_a_registered_agent_of_the_same_version_is_uninstalled_first_so_the_install_brings_the_services_back():
    h = hostmod.SimHost.create("win17", "en", ["agent-same-version-registered"])
    result = agent_install(h, "reinstall")["result"]
    assert result["error"] is None and result["uninstalled"][0]["product_code"] == hostmod.NEW_AGENT_PRODUCT_ID
    assert result["uninstalled"][0]["rc"] == 0 and result["uninstalled"][0]["log"].startswith(win_agent.MSI_LOG_DIR + "\\azure-backup-agent-uninstall-")
    assert _agent_services(h) == {"WindowsAzureGuestAgent": "running", "RdAgent": "running"}


def test_an_install_that_brings_no_services_back_is_a_failure_and_everything_is_put_back():
    # Without the uninstall, msiexec /i of the registered product is only a maintenance run: exit code 0, nothing back.
    h = hostmod.SimHost.create("win17", "en", ["agent-same-version-registered"])
    before = json.loads(json.dumps(h.state))
    result = agent_install(h, "reinstall", ProductCodes=[])["result"]
    assert result["rc"] == 0 and "but the service WindowsAzureGuestAgent and the service RdAgent is missing" in result["error"]
    assert result["restored"] and status_of(result) == "failed"
    assert _without_noise(h.state) == _without_noise(before)


def test_an_unsigned_msi_changes_nothing():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "msi-unsigned"])
    h.put_file(win_agent.MSI_DEST, hostmod.AGENT_MSI)
    before = json.loads(json.dumps(h.state))
    answer = agent_install(h, "reinstall")
    result = answer["result"]
    assert result["signature"] == {"status": "NotSigned", "signer": ""} and "not a valid signature of Microsoft Corporation" in result["error"]
    assert not answer["result"]["changed"] and _without_noise(h.state) == _without_noise(before)
    assert agent.install_summary(result)[1].endswith("Nothing was changed.")
    # With the MSI's SHA-256 given (and matched on the way), the signature is not asked for.
    assert agent_install(h, "reinstall", CheckSignature=False)["result"]["error"] is None


def test_the_microsoft_signed_msi_passes_the_signature_check():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing"])
    result = agent_install(h, "reinstall")["result"]
    assert result["signature"] == {"status": "Valid", "signer": hostmod.MICROSOFT_SIGNER} and result["error"] is None


def test_a_hung_agent_service_is_reported_not_waited_for():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "agent-service-hangs"])
    result = agent_install(h, "reinstall")["result"]
    assert result["hung"] == "RdAgent" and "RdAgent did not stop within 60 s" in result["error"]
    assert "RdAgent" in h.state["services"] and result["moved"] == [] and result["restore_errors"] == []
    summary = agent.install_summary(result)[1]
    assert "RdAgent hangs in stopping" in summary and "nothing had been moved or removed" in summary


def test_a_service_only_marked_for_deletion_stops_the_procedure_before_anything_moves():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "agent-delete-pending"])
    files = dict(h.state["files"])
    result = agent_install(h, "reinstall")["result"]
    assert result["marked_for_deletion"] == ["RdAgent"] and "stayed marked for deletion for 30 s" in result["error"]
    assert result["moved"] == [] and result["rc"] is None and set(files) <= set(h.state["files"])
    # It cannot be started again until Windows has removed it: said, not hidden.
    assert result["restore_errors"] == ["RdAgent: Cannot start service RdAgent on computer '.'. The specified service has been marked for deletion"]
    assert "only marked for deletion" in agent.install_summary(result)[1]


def test_a_recreated_service_gets_its_recovery_actions_dependencies_and_sid_type_back():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing", "msi-fails"])
    rdagent = h.state["services"]["RdAgent"]
    rdagent.update(sid_type=1, dependencies=["RpcSs"], failure_actions={
        "reset_seconds": 86400, "actions": [{"type": 1, "delay_ms": 60000}, {"type": 1, "delay_ms": 60000}, {"type": 0, "delay_ms": 0}],
        "command": None, "non_crash": True})
    before = json.loads(json.dumps(rdagent))
    result = agent_install(h, "reinstall")["result"]
    assert result["restored"] and result["removed"][0]["settings"]["actions"][0] == {"type": 1, "delay_ms": 60000}
    assert h.state["services"]["RdAgent"] == before


def test_a_folder_whose_place_is_taken_again_is_not_moved_into_it():
    h = hostmod.SimHost.create("win09", "en", ["agent-guest-service-missing"])
    # A package that makes a GuestAgent folder of the same name, and no service.
    h.state["msi_catalog"][hashlib.sha256(hostmod.AGENT_MSI).hexdigest()]["installs"] = {
        "dirs": [hostmod.GUEST_AGENT_DIR], "files": {hostmod.GUEST_AGENT_DIR + "\\new.txt": {}}, "services": {}}
    result = agent_install(h, "reinstall")["result"]
    assert "is missing" in result["error"] and not result["restored"]
    assert result["restore_errors"] == ["%s exists again, so %s\\%s was not moved back" % (
        hostmod.GUEST_AGENT_DIR, result["old_dir"], hostmod.GUEST_AGENT_DIR.rsplit("\\", 1)[1])]
    nested = hostmod.GUEST_AGENT_DIR + "\\" + hostmod.GUEST_AGENT_DIR.rsplit("\\", 1)[1]
    assert not [p for p in h.state["files"] if p.lower().startswith(nested.lower())]
    assert "putting things back failed" in agent.install_summary(result)[1]


def test_the_version_of_an_unquoted_image_path_with_arguments_is_read():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["services"]["RdAgent"]["path"] = hostmod.PACKAGES_DIR + "\\WaAppAgent.exe -service"
    assert agent_read(h)["version"] == hostmod.AGENT_VERSION


def prepare(h):
    return powershell(h, detached.PREPARE, Root=detached.ROOT, Directory=detached.WORK_DIR)


def test_the_msi_folder_is_created_for_system_and_administrators_only():
    h = hostmod.SimHost.create("win01", "en", [])
    answer = prepare(h)
    assert answer["changed"] and answer["result"] == {"directory": detached.WORK_DIR}
    assert h.state["acls"][detached.WORK_DIR] == h.state["acls"][detached.ROOT] == scripts.PROTECTED_FOLDER_SDDL
    assert not prepare(h)["changed"]
    assert win_agent.MSI_DEST.startswith(detached.WORK_DIR + "\\")


def test_a_root_made_by_an_administrator_under_programdata_is_used_but_a_users_folder_is_refused():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["dirs"].append(detached.ROOT)  # made earlier with New-Item: it inherits C:\ProgramData's ACL
    assert prepare(h)["changed"] and h.state["acls"][detached.WORK_DIR] == scripts.PROTECTED_FOLDER_SDDL
    foreign = hostmod.SimHost.create("win01", "en", ["foreign-workdir"])
    args = {"script": detached.PREPARE, "depth": 6, "parameters": {"Root": detached.ROOT, "Directory": detached.WORK_DIR}}
    answer = foreign.run_module("ansible.windows.win_powershell", args)
    assert answer["failed"] and "is owned by %s, not by SYSTEM or Administrators" % faults.LOCAL_USER in answer["error"][0]["exception"]["message"]
    assert not foreign.exists(detached.WORK_DIR)


# -- the detached runner (plugins/plugin_utils/windows/detached.py) -----------------------------------------------


def detached_register(h, script, tag, **parameters):
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
    names = detached.run_names(tag, "20260101T000000Z")
    return names, h.run_module("ansible.windows.win_powershell", {"script": detached.REGISTER, "depth": 6, "parameters": {
        "Root": detached.ROOT, "Directory": detached.WORK_DIR, "TaskName": names["task"], "Script": script, "Parameters": parameters,
        "Bootstrap": detached.BOOTSTRAP, "DelaySeconds": 0, "TimeLimitSeconds": 400, "CommandLimit": detached.COMMAND_LINE_LIMIT}})


def detached_read(h, names):
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
    return read(h, detached.READ, MarkerPath=names["marker"], TaskName=names["task"])


def test_a_detached_run_goes_through_a_protected_folder_and_an_encoded_command():
    from ansible_collections.azure_backup.remediation.plugins.action import win_capture
    h = hostmod.SimHost.create("win16", "en", [])
    names, registered = detached_register(h, win_capture.ENVIRONMENT, "capture.read")
    assert not registered["failed"] and registered["changed"] is True, registered
    assert h.state["acls"]["C:\\ProgramData\\azure-backup\\tasks"] == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    [task] = h.state["scheduled_tasks"]
    assert task["user"] == "S-1-5-18" and "-EncodedCommand " in task["arguments"] and "-File" not in task["arguments"]
    outcome = json.loads(detached_read(h, names)["marker"])
    assert outcome["state"] == "done" and outcome["result"]["os_build"] == "17763"
    assert not h.is_file(names["job"])  # the bootstrap deletes the job once read


def test_a_folder_a_user_made_first_is_refused_and_nothing_is_registered():
    h = hostmod.SimHost.create("win16", "en", ["foreign-workdir"])
    names, registered = detached_register(h, "#azure_backup.remediation/capture.read\n", "capture.read")
    assert registered["failed"] and "is owned by " + faults.LOCAL_USER in registered["error"][0]["exception"]["message"]
    assert not h.state.get("scheduled_tasks") and not h.is_file(names["job"])


def test_a_folder_an_admin_made_with_inherited_acls_is_refused_as_the_working_folder():
    # New-Item under C:\ProgramData: owner Administrators, but Users may add files (inherited from C:\ProgramData).
    h = hostmod.SimHost.create("win16", "en", [])
    h.state["dirs"].append("C:\\ProgramData\\azure-backup\\tasks")
    _names, registered = detached_register(h, "#azure_backup.remediation/capture.read\n", "capture.read")
    assert registered["failed"] and "lets S-1-5-32-545 change it" in registered["error"][0]["exception"]["message"]


def test_a_swapped_job_file_is_never_run():
    from ansible_collections.azure_backup.remediation.plugins.action import win_capture
    h = hostmod.SimHost.create("win16", "en", [])
    names, _registered = detached_register(h, win_capture.ENVIRONMENT, "capture.read")
    swapped = json.dumps({"script": "#azure_backup.remediation/capture.read\n", "parameters": {"evil": True}}).encode()
    hostmod.put_file_state(h.state, names["job"], hostmod.file_entry(swapped))
    outcome = json.loads(detached_read(h, names)["marker"])
    assert outcome["state"] == "failed" and "is not the one registered" in outcome["error"]


def test_an_allsigned_group_policy_stops_a_script_file_but_not_the_encoded_command():
    from ansible_collections.azure_backup.remediation.plugins.action import win_capture
    h = hostmod.SimHost.create("win16", "en", ["allsigned-policy"])
    names, _registered = detached_register(h, win_capture.ENVIRONMENT, "capture.read")
    assert json.loads(detached_read(h, names)["marker"])["state"] == "done"
    # The way the first round ran its task: -ExecutionPolicy Bypass -File <script>. The policy wins; nothing runs.
    h.put_file("C:\\ProgramData\\azure-backup\\old.ps1", win_capture.ENVIRONMENT.encode())
    h.state["scheduled_tasks"].append({"name": "old", "start": 0, "user": "SYSTEM", "execute": "powershell.exe",
                                       "arguments": '-ExecutionPolicy Bypass -File "C:\\ProgramData\\azure-backup\\old.ps1"'})
    h.state["execution_policy"] = {"MachinePolicy": "AllSigned"}
    ran = []
    import scripts as twins
    original = twins.SCRIPTS["capture.read"]
    twins.SCRIPTS["capture.read"] = lambda host, p: ran.append(p) or original(host, p)
    try:
        h.run_due_tasks()
        assert ran == []
        h.state["execution_policy"] = {}
        h.state["scheduled_tasks"].append({"name": "old", "start": 0, "user": "SYSTEM", "execute": "powershell.exe",
                                           "arguments": '-ExecutionPolicy Bypass -File "C:\\ProgramData\\azure-backup\\old.ps1"'})
        h.run_due_tasks()
        assert len(ran) == 1
    finally:
        twins.SCRIPTS["capture.read"] = original


def test_a_folder_that_only_holds_files_is_listed_by_the_backup_extension_and_bitlocker_reads():
    # Get-ChildItem -Directory lists every folder under the path, also one the state knows only as a file's parent.
    h = hostmod.SimHost.create("win01", "en", [])
    for root in (win_backup_extension.PLUGIN_DIR, win_bitlocker.ADE_DIR):
        hostmod.put_file_state(h.state, root + "\\9.9.9.9\\plugin.dll", hostmod.file_entry(b"x"))
    assert "9.9.9.9" in read(h, win_backup_extension.READ, Service="IaaSVmProvider", PluginDir=win_backup_extension.PLUGIN_DIR)["versions"]
    assert read(h, win_bitlocker.READ, AdeDir=win_bitlocker.ADE_DIR)["ade_versions"] == ["9.9.9.9"]


# -- second round on issue 10: disks, BitLocker, VSS --------------------------------------------------


def disk_read(h, script=None):
    return read(h, script or win_disk_limits.READ, MarkerFile=limits.DATALOSS_WARNING)


def test_disk_limits_reads_gen2_and_gen1_disks_with_letterless_partitions():
    for faults_ in ([], ["generation-1"]):
        state = disk_read(hostmod.SimHost.create("win19", "en", faults_))
        assert [[v["letter"] for v in d["volumes"]] for d in state["disks"]] == [["C"], ["D"]], faults_
        data, left_out = limits.windows_data_disks(state["disks"])
        assert data == [] and [d["why"] for d in left_out] == ["boot or system disk", "D:\\DATALOSS_WARNING_README.txt"]


def test_disk_limits_the_first_round_filter_lets_the_msr_through_and_get_volume_fails():
    old = win_disk_limits.READ.replace("[char]::IsLetter($_.DriveLetter)", "$_.DriveLetter").replace(
        "Get-Volume -Partition $_ -ErrorAction SilentlyContinue", "Get-Volume -Partition $_")
    assert old != win_disk_limits.READ
    h = hostmod.SimHost.create("win19", "en", [])
    answer = h.run_module("ansible.windows.win_powershell", {"script": old, "parameters": {"MarkerFile": limits.DATALOSS_WARNING},
                                                             "_ansible_check_mode": True})
    assert answer["failed"] and "No MSFT_Volume objects found" in answer["error"][0]["exception"]["message"]
    # Generation 1 has no MSR: the old filter reads, but lists the System Reserved partition with the letter [char]0.
    state = disk_read(hostmod.SimHost.create("win19", "en", ["generation-1"]), old)
    assert [v["letter"] for v in state["disks"][0]["volumes"]] == ["\0", "C"]


def _bitlocker_read_all(h):
    return read(h, win_bitlocker.READ, AdeDir=win_bitlocker.ADE_DIR, BekLabel="Bek Volume")


def test_bitlocker_read_sees_the_bek_volume_and_counts_stored_auto_unlock_keys():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import bitlocker
    assert _bitlocker_read_all(hostmod.SimHost.create("win18", "en", ["bek-volume"]))["bek_volumes"] == [
        "\\\\?\\Volume{3d2f7a10-5b8e-4c61-9f0a-7e4b1c2d9a55}\\"]
    state = _bitlocker_read_all(hostmod.SimHost.create("win18", "en", ["bitlocker-auto-unlock-detached"]))
    assert state["auto_unlock_entries"] == 2 and state["bek_volumes"] == [] and state["offline_disks"] == []
    todo = bitlocker.plan(state["volumes"], state["auto_unlock_entries"], state["offline_disks"])
    assert "2 auto-unlock keys are stored on C:, but only 1 listed volume unlocks with one" in todo["keep_os"]
    # With only the keys of listed volumes stored, the OS volume is turned off as before.
    state = _bitlocker_read_all(hostmod.SimHost.create("win12", "en", ["bitlocker-auto-unlock"]))
    assert state["auto_unlock_entries"] == 1 and bitlocker.plan(state["volumes"], 1, [])["keep_os"] is None


def test_bitlocker_one_volume_whose_wmi_call_throws_fails_alone():
    h = hostmod.SimHost.create("win18", "en", ["bitlocker-wmi-error"])
    state = _bitlocker_read_all(h)
    ids = [v["device_id"] for v in state["volumes"] if v["volume_type"] == 1 and v["protection_status"] == 1]
    answer = powershell(h, win_bitlocker.DISABLE, DeviceIds=ids, ClearAutoUnlock=False)["result"]["volumes"]
    assert [(r["volume"], r["status"]) for r in answer] == [(ids[0], "started"), ("E:", "failed")]
    assert answer[1]["error"] == "WMI error: Generic failure"
    # Without the try inside the loop (the first round's script) the exception ends it and no volume is reported.
    catch = ("            catch {\n                $entry.status = 'failed'\n"
             "                $entry.error = 'WMI error: {0}' -f $_.Exception.Message\n            }\n")
    old = win_bitlocker.DISABLE.replace("            try {\n", "            if ($true) {\n", 1).replace(catch, "")
    assert old != win_bitlocker.DISABLE
    again = hostmod.SimHost.create("win18", "en", ["bitlocker-wmi-error"])
    answer = again.run_module("ansible.windows.win_powershell", {"script": old, "parameters": {"DeviceIds": ids, "ClearAutoUnlock": False}})
    assert answer["failed"] and answer["error"][0]["exception"]["message"] == "Generic failure"


def test_vss_restart_stops_before_the_next_stop_when_a_backup_starts():
    h = hostmod.SimHost.create("win06", "en", ["vss-wmi-writer-failed", "backup-starts-during-restart"])
    answer = powershell(h, win_vss_writers.RESTART, Services=["Winmgmt"], TimeoutSeconds=60, BackupProcesses=list(agent.BACKUP_PROCESSES))
    outcome = vss.read_restart(answer["result"], ["Winmgmt"])["Winmgmt"]
    # iphlpsvc stopped, then the snapshot started: Winmgmt was not stopped and iphlpsvc runs again.
    assert outcome["status"] == "backup_running" and outcome["stuck"] == "Winmgmt" and outcome["backup"] == ["IaaSBcdrExtension"]
    assert outcome["restarted"] == ["iphlpsvc"] and h.state["services"]["Winmgmt"]["state"] == "running"


def test_vss_restart_whose_connection_is_lost_leaves_the_services_stopped():
    h = hostmod.SimHost.create("win18", "en", ["vss-wmi-writer-failed", "vss-restart-connection-lost"])
    powershell(h, win_vss_writers.RESTART, Services=["Winmgmt"], TimeoutSeconds=60, BackupProcesses=[])
    assert h.take_connection_loss()
    assert h.state["services"]["Winmgmt"]["state"] == h.state["services"]["iphlpsvc"]["state"] == "stopped"


# -- the simulator made less forgiving (issue 10, test review) -----------------------------------------------


def test_start_service_refuses_a_service_or_dependency_still_in_stop_pending():
    # Test review item 1: one start for twins and fake modules; StartService refuses both (StartServiceW, Return value).
    h = hostmod.SimHost.create("win09", "en", [])
    h.state["services"]["RdAgent"]["state"] = "stop_pending"
    with pytest.raises(hostmod.ServiceError, match="already running"):
        h.start_service("RdAgent")
    h.state["services"]["WindowsAzureGuestAgent"].update(state="stopped", dependencies=["RdAgent"])
    with pytest.raises(hostmod.ServiceError, match="dependency service or group failed to start"):
        h.start_service("WindowsAzureGuestAgent")
    assert h.state["services"]["RdAgent"]["state"] == "stop_pending"
    answer = h.run_module("ansible.windows.win_service", {"name": "RdAgent", "state": "started"})
    assert answer["failed"] and h.state["services"]["RdAgent"]["state"] == "stop_pending"


def test_a_reinstall_with_rdagent_hanging_on_stop_does_not_say_it_started_rdagent():
    h = hostmod.SimHost.create("win09", "en", [])
    h.state["services"]["RdAgent"]["stop_hangs"] = True
    result = agent_install(h, "reinstall")["result"]
    assert result["hung"] == "RdAgent" and "started RdAgent" not in result["steps"]
    assert h.state["services"]["RdAgent"]["state"] == "stop_pending"
    assert [s["state"] for s in result["services"] if s["name"] == "RdAgent"] == ["Stop Pending"]
    # What can start, starts: the guest agent service, stopped before RdAgent hung, is running again.
    assert "started WindowsAzureGuestAgent" in result["steps"] and h.state["services"]["WindowsAzureGuestAgent"]["state"] == "running"
    assert "started RdAgent" not in agent.install_summary(result)[1]


def test_vss_writers_read_shows_vss_running_after_vssadmin_started_it():
    # Test review item 5: the script reads the services after vssadmin, which starts VSS on demand.
    h = hostmod.SimHost.create("win01", "en", [])
    hostmod.set_service_stopped(h.state, "VSS")
    state = read(h, win_vss_writers.READ, Services=["VSS"], BackupProcesses=[])
    assert state["exit_code"] == 0 and [(s["name"], s["state"]) for s in state["services"]] == [("VSS", "Running")]


def test_vss_writers_restart_of_a_service_whose_dependant_is_stop_pending_is_stop_failed():
    # Test review item 6: Stop() on a StopPending service throws (ControlService: ERROR_SERVICE_CANNOT_ACCEPT_CTRL).
    h = hostmod.SimHost.create("win01", "en", ["vss-wmi-writer-failed"])
    h.state["services"]["iphlpsvc"]["state"] = "stop_pending"
    winmgmt = pid(h, "Winmgmt")
    outcome = restart(h, ["Winmgmt"])["Winmgmt"]
    assert outcome["status"] == "stop_failed" and outcome["error"].startswith("iphlpsvc: ")
    assert outcome["not_restarted"] == ["iphlpsvc"] and outcome["restarted"] == []
    assert h.state["services"]["iphlpsvc"]["state"] == "stop_pending"
    assert h.state["services"]["Winmgmt"]["state"] == "running" and pid(h, "Winmgmt") == winmgmt


def _machinekeys_reset(h, take_ownership):
    return h.run_module("ansible.windows.win_powershell", {
        "script": win_machinekeys.RESET, "depth": 6, "parameters": {
            "Path": hostmod.MACHINEKEYS, "Dacl": keys.dacl_part(keys.DEFAULT_SDDL), "BackupDir": r"C:\ProgramData\azure-backup\backups",
            "TakeOwnership": take_ownership}})


def test_machinekeys_reset_stops_at_a_key_file_the_caller_cannot_read():
    # Test review item 7: GetAccessControl of a key file needs READ_CONTROL; the folder's DACL is then not set.
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE] = "O:SYG:SYD:AI(A;ID;FA;;;SY)"
    before = h.state["acls"][hostmod.MACHINEKEYS]
    reset = _machinekeys_reset(h, True)["result"]
    assert reset["error"] == acl.UNAUTHORIZED and reset["protected"] == [] and reset["done"] == ["took ownership of %s" % hostmod.MACHINEKEYS]
    assert render.parse_sddl(h.state["acls"][hostmod.MACHINEKEYS])["aces"] == render.parse_sddl(before)["aces"]
    assert h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE] == "O:SYG:SYD:AI(A;ID;FA;;;SY)"


def test_machinekeys_reset_takes_ownership_of_a_key_file_it_cannot_write_even_without_taking_the_folder():
    # Test review item 7: the folder is writable (no ownership asked), one inheriting key file grants no WRITE_DAC.
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-acl"])
    hostmod.put_file_state(h.state, faults.MACHINEKEYS_INHERITING_FILE, hostmod.file_entry(b"RSA1 key container (simulated)"))
    h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE] = "O:SYG:SYD:AI(A;ID;0x120089;;;WD)"
    reset = _machinekeys_reset(h, False)["result"]
    assert "error" not in reset and reset["protected"] == [faults.MACHINEKEYS_INHERITING_FILE]
    assert reset["done"][0] == "took ownership of 1 key file(s) it could not write"
    assert keys.owner(h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE]) == "S-1-5-32-544"
    # Without the take-ownership privilege it stops there, the folder's DACL not set.
    denied = hostmod.SimHost.create("win11", "en", ["machinekeys-acl", "takeown-denied"])
    denied.state["acls"][faults.MACHINEKEYS_INHERITING_FILE] = "O:SYG:SYD:AI(A;ID;0x120089;;;WD)"
    before = denied.state["acls"][hostmod.MACHINEKEYS]
    refused = _machinekeys_reset(denied, False)["result"]
    assert refused["error"].startswith("takeown.exe /F %s /A failed" % faults.MACHINEKEYS_INHERITING_FILE) and refused["after"] == before


def test_machinekeys_a_folder_unreadable_for_a_non_owner_is_neither_read_nor_reset():
    # Test review item 7: Get-Acl needs READ_CONTROL (the owner has it implicitly), Get-ChildItem needs list access.
    unreadable = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)"
    h = hostmod.SimHost.create("win11", "en", [])
    h.state["acls"][hostmod.MACHINEKEYS] = unreadable
    for script, parameters in ((win_machinekeys.READ, {"Path": "", "AgentService": agent.SERVICES[0], "BackupProcesses": []}),
                               (win_machinekeys.RESET, {"Path": hostmod.MACHINEKEYS, "Dacl": keys.dacl_part(keys.DEFAULT_SDDL),
                                                        "BackupDir": r"C:\ProgramData\azure-backup\backups", "TakeOwnership": True})):
        answer = h.run_module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": 6})
        assert answer["failed"] and acl.UNAUTHORIZED in json.dumps(answer["error"]), answer
    assert h.state["acls"][hostmod.MACHINEKEYS] == unreadable
    # Owned by Administrators it can be read (READ_CONTROL) but not listed: the reset stops before the folder's DACL.
    h.state["acls"][hostmod.MACHINEKEYS] = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)"
    reset = _machinekeys_reset(h, False)["result"]
    assert reset["error"] == "Access to the path '%s' is denied." % hostmod.MACHINEKEYS
    assert reset["after"] == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)" and reset["done"] == []


def test_an_outdated_agent_runs_the_telemetry_service_which_its_uninstall_takes_away():
    # Test review item 9: agents before 2.7.41491.971 have WindowsAzureTelemetryService. The product handles only
    # WindowsAzureGuestAgent and RdAgent: the reinstall moves the GuestAgent folder aside while the telemetry service
    # runs from it, and msiexec /x of the old product removes that service; the summary does not name it.
    h = hostmod.SimHost.create("win03", "en", ["agent-outdated"])
    telemetry = h.state["services"][faults.TELEMETRY_SERVICE]
    assert telemetry["state"] == "running" and telemetry["path"].startswith(faults.OLD_GUEST_AGENT_DIR + "\\")
    assert [s["name"] for s in agent_read(h)["services"]] == list(agent.SERVICES)
    result = agent_install(h, "reinstall")["result"]
    assert result["error"] is None and "moved %s" % faults.OLD_GUEST_AGENT_DIR in " ".join(result["steps"])
    assert faults.TELEMETRY_SERVICE not in h.state["services"]
    assert [s["state"] for s in result["services"]] == ["Running", "Running"]
    assert faults.TELEMETRY_SERVICE not in agent.install_summary(result)[1]


def test_the_host_read_twin_runs_each_embedded_read_s_own_twin_with_its_parameters():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import causes
    h = hostmod.SimHost.create("win01", "en", ["agent-stopped", "machinekeys-acl"])
    alone = {"WIN_AGENT": (win_agent.READ, {"Services": list(agent.SERVICES), "ProductName": agent.PRODUCT_NAME,
                                            "BackupProcesses": list(agent.BACKUP_PROCESSES)}),
             "COM_MSDTC": (win_com_msdtc.READ, {"Services": ["COMSysApp", "MSDTC"]}),
             # A parameter the read does not declare: PowerShell refuses to bind it, for this read only.
             "DISK_LIMITS": (win_disk_limits.READ, {"MarkerFile": limits.DATALOSS_WARNING, "Nope": 1})}
    answer = h.run_module("ansible.windows.win_powershell", {"script": causes.HOST_READ, "depth": 9, "_ansible_check_mode": True,
                                                             "parameters": {"Reads": {c: {"script": s, "parameters": p} for c, (s, p) in alone.items()}}})
    reads = answer["result"]["reads"]
    assert reads["WIN_AGENT"]["result"] == read(h, win_agent.READ, **alone["WIN_AGENT"][1])
    assert reads["COM_MSDTC"]["result"] == read(h, win_com_msdtc.READ, **alone["COM_MSDTC"][1])
    assert "Nope" in reads["DISK_LIMITS"]["error"] and "result" not in reads["DISK_LIMITS"]
    assert answer["result"]["host"] == {"user": "WIN01\\azureadmin", "administrator": True, "mars": {"installed": False}}
    assert answer["changed"] is False


def test_the_host_read_runs_the_reads_marked_mars_only_where_the_mars_agent_is_installed():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import causes
    reads = {"COM_MSDTC": {"script": win_com_msdtc.READ, "parameters": {"Services": ["MSDTC"]}, "mars": True}}
    for fault, installed in ((), False), (["mars-installed"], True):
        h = hostmod.SimHost.create("win01", "en", list(fault))
        answer = h.run_module("ansible.windows.win_powershell", {"script": causes.HOST_READ, "depth": 9, "_ansible_check_mode": True,
                                                                 "parameters": {"Reads": reads}})
        assert answer["result"]["host"]["mars"] == {"installed": installed}
        assert ("COM_MSDTC" in answer["result"]["reads"]) is installed
