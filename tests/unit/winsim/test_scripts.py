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
    state = read(h, win_snapshot_status.READ, Key=r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", ValueName="USEVSSCOPYBACKUP")
    assert state["copy_backup"] is None and state["sql_instances"] == ["MSSQLSERVER"] and state["cpu_load_percent"] > 90
    [nic] = state["nics"]
    assert nic["dhcp"] == "Disabled" and nic["default_route_metric"] is not None
    h.run_module("ansible.windows.win_regedit", {"path": r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", "name": "USEVSSCOPYBACKUP",
                                                 "data": "TRUE", "type": "string"})
    again = read(h, win_snapshot_status.READ, Key=r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", ValueName="USEVSSCOPYBACKUP")
    assert again["copy_backup"] == {"type": "String", "data": "TRUE"}
    assert powershell(h, win_snapshot_status.ENABLE_DHCP, Index=nic["index"])["result"] == {"dhcp": "Enabled"}


def test_backup_extension_com_msdtc_disk_limits_bitlocker_reads():
    h = hostmod.SimHost.create("win01", "en", ["iaasvmprovider-disabled", "msdtc-stopped", "too-many-disks", "bitlocker-locked"])
    ext = read(h, win_backup_extension.READ, Service="IaaSVmProvider", PluginDir=win_backup_extension.PLUGIN_DIR)
    assert ext["versions"] == ["1.0.75.0"] and ext["service"]["start_mode"] == "Disabled"
    com = read(h, win_com_msdtc.READ, Services=list(win_com_msdtc.SERVICES))
    assert [s["state"] for s in com["services"]] == ["Running", "Stopped"]
    disks = read(hostmod.SimHost.create("win01", "en", ["too-many-disks"]), win_disk_limits.READ, TempLabel="Temporary Storage")
    assert len(disks["disks"]) == 17  # the OS and the temporary disk are not data disks
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


def _machinekeys_read(h):
    return read(h, win_machinekeys.READ, Path="", AgentService=agent.SERVICES[0], BackupProcesses=list(agent.BACKUP_PROCESSES))


def test_machinekeys_reset_regains_write_dac_and_keeps_inheriting_key_files_readable():
    import faults
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    state = _machinekeys_read(h)
    sids = [state["caller"]["user"]] + state["caller"]["groups"]
    assert keys.needs_ownership(state["sddl"], sids)
    protect = keys.files_to_protect(state["key_files"])
    assert [(f["path"], f["only_inherited"]) for f in protect] == [(faults.MACHINEKEYS_INHERITING_FILE, True)]
    parameters = {"Path": state["path"], "Dacl": keys.dacl_part(keys.DEFAULT_SDDL), "BackupDir": r"C:\ProgramData\azure-backup\backups"}
    # Without ownership the DACL cannot be written: the error is reported and the folder is as it was.
    refused = powershell(h, win_machinekeys.RESET, TakeOwnership=False, **parameters)["result"]
    assert refused["error"] == "Attempted to perform an unauthorized operation." and refused["after"] == state["sddl"]
    reset = powershell(h, win_machinekeys.RESET, TakeOwnership=True, ProtectFiles=[faults.MACHINEKEYS_INHERITING_FILE],
                       TakeFileOwnership=[f["path"] for f in protect if keys.needs_ownership(f["sddl"], sids)], **parameters)["result"]
    assert "error" not in reset and reset["done"][0] == "took ownership of %s" % state["path"]
    assert keys.compare(reset["after"])["default"] and keys.owner(reset["after"]) == "S-1-5-32-544"
    kept = h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE]
    assert keys.granted(kept, keys.SYSTEM_SIDS, keys.FILE_READ_DATA) and keys.granted(kept, keys.ADMIN_SIDS, keys.FILE_READ_DATA)
    assert h.state["acls"][faults.MACHINEKEYS_OWN_ACL_FILE] == "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"
    assert h.read_file(reset["files_backup"]).decode().startswith("O:SYG:SYD:AI(A;ID;0x120089;;;WD)\t")


def test_machinekeys_reset_without_protecting_leaves_an_inheriting_key_file_with_an_empty_dacl():
    import faults
    h = hostmod.SimHost.create("win11", "en", ["machinekeys-no-write-dac"])
    powershell(h, win_machinekeys.RESET, Path=hostmod.MACHINEKEYS, Dacl=keys.dacl_part(keys.DEFAULT_SDDL),
               BackupDir=r"C:\ProgramData\azure-backup\backups", TakeOwnership=True)
    # The default DACL has nothing inheritable: the file's inherited copies go, and nothing is left.
    assert h.state["acls"][faults.MACHINEKEYS_INHERITING_FILE] == "O:SYG:SYD:AI"
    assert not keys.granted("O:SYG:SYD:AI", keys.SYSTEM_SIDS, keys.FILE_READ_DATA)


def test_machinekeys_read_accepts_domain_aliases_in_the_dacl():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["acls"][hostmod.MACHINEKEYS] = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;FA;;;DA)"
    state = _machinekeys_read(h)
    assert keys.compare(state["sddl"])["extra"] == ["allow Domain Admins (DA) 0x1f01ff"]


def _bitlocker_read(h):
    return read(h, win_bitlocker.READ, AdeDir=win_bitlocker.ADE_DIR)


def test_bitlocker_os_volume_refused_until_auto_unlock_keys_are_cleared_and_letterless_volumes_by_path():
    from ansible_collections.azure_backup.remediation.plugins.module_utils import _bitlocker as bitlocker
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
