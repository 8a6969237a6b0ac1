"""Each script twin, run the way Ansible runs it: the collection's own script text through the
simulator's win_powershell, against a simulated host with and without the fault it reads.
The product's parsers read what the twins answer, so a twin that drifted from its script's
result shape fails here, not only in the integration stage."""

import socket
import time

import pytest

import host as hostmod
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_agent, win_backup_extension, win_bitlocker, win_com_msdtc, win_disk_limits, win_machinekeys, win_network,
    win_snapshot_status, win_vss_writers)
from ansible_collections.azure_backup.remediation.plugins.module_utils import _machinekeys as keys
from ansible_collections.azure_backup.remediation.plugins.module_utils import _vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_snapshot as snap


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
    state = read(h, win_machinekeys.READ, Path="")
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


def switch_dhcp(h, nic):
    """Register the switch task, let its start time come, and read the marker back."""
    names = snap.dhcp_switch_names("20260101T000000Z")
    registered = powershell(h, win_snapshot_status.REGISTER_DHCP_SWITCH, Index=nic["index"], TaskName=names["task"],
                            Directory=snap.DHCP_SWITCH_DIR, TaskScript=win_snapshot_status.DHCP_SWITCH_TASK, DelaySeconds=0, WaitSeconds=60)
    assert registered["changed"] is True and registered["result"]["marker"] == names["marker"]
    assert h.read_file(registered["result"]["script"]).decode("utf-8-sig") == win_snapshot_status.DHCP_SWITCH_TASK
    assert [t["user"] for t in h.state["scheduled_tasks"]] == ["SYSTEM"] and h.connection_lost is False
    # The task runs at the next request after its start time; the address goes away under it.
    answer = read(h, win_snapshot_status.READ_DHCP_SWITCH, MarkerPath=names["marker"], TaskName=names["task"])
    assert h.take_connection_loss() is True and h.take_connection_loss() is False
    return snap.dhcp_switch_outcome(__import__("json").loads(answer["marker"]))


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


def test_without_a_dhcp_answer_the_task_puts_the_static_address_back():
    h = hostmod.SimHost.create("win08", "en", ["no-dhcp"])
    h.state["dhcp_silent"] = True
    [nic] = snapshot_read(h)["nics"]
    status, said, detail = switch_dhcp(h, nic)
    assert status == "failed" and "static address was put back" in said and detail["rollback"]["exit_code"] == 0
    assert {k: h.state["nics"][0].get(k) for k in ("dhcp", "ipv4", "prefix", "gateway")} == {
        "dhcp": False, "ipv4": "10.0.0.4", "prefix": 24, "gateway": "10.0.0.1"}


def test_backup_extension_com_msdtc_disk_limits_bitlocker_reads():
    h = hostmod.SimHost.create("win01", "en", ["iaasvmprovider-disabled", "msdtc-stopped", "too-many-disks", "bitlocker-locked"])
    ext = read(h, win_backup_extension.READ, Service="IaaSVmProvider", PluginDir=win_backup_extension.PLUGIN_DIR)
    assert ext["versions"] == ["1.0.75.0"] and ext["service"]["start_mode"] == "Disabled"
    com = read(h, win_com_msdtc.READ, Services=list(win_com_msdtc.SERVICES))
    assert [s["state"] for s in com["services"]] == ["Running", "Stopped"]
    disks = read(hostmod.SimHost.create("win01", "en", ["too-many-disks"]), win_disk_limits.READ, TempLabel="Temporary Storage")
    assert len(disks["disks"]) == 17  # the OS and the temporary disk are not data disks
    locked = [v for v in read(h, win_bitlocker.READ)["volumes"] if v["lock_status"] == 1]
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
