"""Every Windows cause against simulated Windows hosts, through Ansible's real winrm connection.

Fifteen simulated hosts (tests/winsim, HOSTS below) with the faults of every Windows cause, one in
German, one healthy, one with PowerShell 4.0, and an inventory host no WinRM server answers for. fix-backup.yml runs three times:
--check (each fault is found, the simulated state is unchanged), apply (each fixable fault is
fixed and the state confirms it; what must be refused or only reported is), apply again
(nothing left to change). The VM side of Windows is simulated: see tests/winsim/scripts.py.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WINSIM = os.path.join(ROOT, "tests", "winsim", "winsim")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
import host as simhost  # noqa: E402  (the simulator, under tests/winsim)
from azure import free_port, free_wireserver, simulated_hosts  # noqa: E402
import faults  # noqa: E402
import acl  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, ".collections"))  # the checkout as ansible_collections.azure_backup.remediation
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import machinekeys as keys  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached  # noqa: E402

HOSTS = {
    "win01": ("en", ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert", "sql-no-copy-backup", "msdtc-stopped"]),
    "win02": ("de", ["agent-missing", "iaasvmprovider-disabled", "vss-writer-unknown-service", "winhttp-proxy-wrong",
                     "comsysapp-stopped", "mgmt-cert", "temp-disk-german"]),
    "win03": ("en", ["agent-outdated", "backup-running", "vss-writer-failed", "bitlocker-locked", "bitlocker-on",
                     "too-many-disks", "disk-too-big", "no-dhcp", "high-cpu", "low-memory", "dotnet-old", "wireserver-blocked"]),
    "win04": ("en", ["agent-absent", "iaasvmprovider-missing", "dns-broken", "vss-writer-stuck"]),
    "win05": ("en", []),
    # Server 2012 R2 without WMF 5.1: ansible-core refuses every module there.
    "win14": ("en", ["powershell-4"]),
    "win06": ("en", ["vss-wmi-writer-failed", "vss-exchange-writer-failed"]),
    "win07": ("en", ["vss-service-hangs", "vss-registry-writer-failed"]),
    # The agent reinstall (issue 10): an install that fails, msiexec busy, leftovers that hang a new agent.
    "win09": ("en", ["agent-guest-service-missing", "msi-fails"]),
    "win10": ("en", ["agent-outdated", "msi-busy"]),
    "win15": ("en", ["agent-leftovers"]),
    # The current agent is still registered, both services deleted: without an uninstall, msiexec /i is a maintenance run.
    "win17": ("en", ["agent-same-version-registered"]),
    # The NIC carrying WinRM has a static address and DNS servers an admin set; SQL Server is 32-bit only.
    "win08": ("en", ["no-dhcp", "admin-dns", "sql-32bit"]),
    "win11": ("en", ["machinekeys-no-write-dac", "crp-cert"]),
    "win12": ("en", ["bitlocker-auto-unlock"]),
    "win13": ("en", ["bitlocker-on", "ade-installed"]),
    # A static NIC with a second address (a second IP configuration), DHCP switch on: refused, nothing changed.
    "win16": ("en", ["no-dhcp", "nic-secondary-address"]),
    # Second round on issue 10: the VSS restart loses its connection, vssadmin writes to stderr, MachineKeys as on win11
    # restarts the agent with the bounded script, and C: holds the auto-unlock key of a volume not attached now.
    "win18": ("en", ["vss-wmi-writer-failed", "vss-restart-connection-lost", "vssadmin-stderr", "machinekeys-no-write-dac", "crp-cert",
                     "bitlocker-auto-unlock-detached"]),
    # A Generation 1 VM (System Reserved partition), ADE's key volume without the extension, a snapshot that starts mid-restart.
    "win19": ("en", ["generation-1", "bek-volume", "vss-wmi-writer-failed", "backup-starts-during-restart"]),
}
PROXY = "proxy.example.internal:3128"

# The wireserver on its real ports at a loopback address (the fault wireserver-blocked blocks those ports).
WIRESERVER = free_wireserver()


def load(tmp, name):
    with open(tmp / ("%s.json" % name)) as handle:
        return json.load(handle)


def playbook(tmp, inventory, *args):
    env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    before = set(glob.glob(str(tmp / "reports" / "*.json")))
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "fix-backup.yml", "-l", "vms", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    [report] = set(glob.glob(str(tmp / "reports" / "*.json"))) - before
    with open(report) as handle:
        return proc, json.load(handle)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-fleet")
    with simulated_hosts(tmp, HOSTS, wireserver=WIRESERVER) as inv:
        msi = tmp / "WindowsAzureVmAgent.msi"
        msi.write_bytes(simhost.AGENT_MSI)
        inventory = tmp / "inventory.yml"
        # win99: a port no server listens on.
        inv["all"]["children"]["vms"]["children"]["windows"]["hosts"]["win99"] = {"ansible_host": "127.0.0.1", "ansible_port": free_port()}
        inventory.write_text(yaml.safe_dump(inv))
        # Per host: win02 names a proxy, win03 opts into DHCP, win04 installs from the controller.
        host_vars = tmp / "host_vars"
        host_vars.mkdir()
        (host_vars / "win02.yml").write_text("network_http_proxy_host: proxy.example.internal\nnetwork_http_proxy_port: 3128\n")
        (host_vars / "win03.yml").write_text("snapshot_status_fix_dhcp: true\n")
        (host_vars / "win08.yml").write_text("snapshot_status_fix_dhcp: true\n")
        (host_vars / "win16.yml").write_text("snapshot_status_fix_dhcp: true\n")
        (host_vars / "win04.yml").write_text("win_agent_msi_src: %s\n" % msi)
        (host_vars / "win09.yml").write_text("win_agent_msi_src: %s\n" % msi)
        (host_vars / "win15.yml").write_text("win_agent_msi_src: %s\n" % msi)
        (host_vars / "win17.yml").write_text("win_agent_msi_src: %s\n" % msi)
        # win12 and win13 ask for BitLocker to be turned off.
        (host_vars / "win12.yml").write_text("bitlocker_disable: true\n")
        (host_vars / "win13.yml").write_text("bitlocker_disable: true\n")
        (host_vars / "win18.yml").write_text("bitlocker_disable: true\n")
        (host_vars / "win19.yml").write_text("bitlocker_disable: true\n")
        states = {"before": {n: load(tmp, n) for n in HOSTS}}
        results = {}
        for step, args in (("check", ["--check", "--diff"]), ("apply", ["--diff"]), ("again", [])):
            results[step] = playbook(tmp, inventory, "-e", "network_timeout=2", *args)
            states[step] = {n: load(tmp, n) for n in HOSTS}
        yield {"results": results, "states": states, "tmp": tmp}


def findings(report, host, status=None):
    return {"%s/%s" % (f["id"], f["check"]): f for f in report["hosts"][host]["findings"] if status in (None, f["status"])}


def recap(proc, host):
    line = next(line for line in proc.stdout.splitlines() if line.startswith(host + " ") and "ok=" in line)
    return dict(part.split("=") for part in line.split(":", 1)[1].split())


def test_check_mode_changes_nothing(runs):
    for name in HOSTS:
        assert runs["states"]["check"][name] == runs["states"]["before"][name], name


def test_check_mode_finds_every_fault(runs):
    _proc, report = runs["results"]["check"]
    expected = {
        "win01": ["WIN_AGENT/service_windowsazureguestagent", "WIN_AGENT/service_rdagent", "VSS_WRITERS/writer_system_writer",
                  "MACHINEKEYS/acl", "MACHINEKEYS/certificate", "SNAPSHOT_STATUS/vss_copy_backup", "COM_MSDTC/service_msdtc"],
        "win02": ["WIN_AGENT/install", "BACKUP_EXTENSION/iaasvmprovider", "VSS_WRITERS/writer_ntds", "NETWORK/proxy",
                  "COM_MSDTC/service_comsysapp"],
        "win03": ["WIN_AGENT/version", "WIN_AGENT/dotnet", "VSS_WRITERS/writer_system_writer", "BITLOCKER/locked",
                  "BITLOCKER/protection", "DISK_LIMITS/data_disks", "SNAPSHOT_STATUS/guest_dhcp", "SNAPSHOT_STATUS/cpu_load",
                  "SNAPSHOT_STATUS/memory_pressure", "NETWORK/wireserver"],
        "win04": ["WIN_AGENT/install", "BACKUP_EXTENSION/iaasvmprovider", "NETWORK/dns", "VSS_WRITERS/writer_wmi_writer"],
    }
    for name, checks in expected.items():
        found = findings(report, name, "found")
        assert sorted(c for c in checks if c not in found) == [], name
    assert findings(report, "win03", "failed")["WIN_AGENT/install"]["summary"].count("backup snapshot is running") == 1
    assert findings(report, "win05", "found") == {}


def test_the_agent_is_never_touched_while_a_backup_runs(runs):
    proc, report = runs["results"]["apply"]
    refused = findings(report, "win03", "failed")["WIN_AGENT/install"]
    assert "IaaSBcdrExtension" in refused["summary"] and "Run again when the backup job has finished" in refused["summary"]
    assert "WIN_AGENT" in proc.stdout and recap(proc, "win03")["failed"] == "1"
    before, after = runs["states"]["before"]["win03"], runs["states"]["apply"]["win03"]
    assert after["products"] == before["products"]
    # Nor are VSS writers restarted under a running backup.
    assert findings(report, "win03")["VSS_WRITERS/writer_system_writer"]["status"] == "found"
    assert [w["state"] for w in after["vss_writers"] if w["name"] == "System Writer"] == [7]


def test_apply_fixes_and_the_simulated_state_confirms_it(runs):
    _proc, report = runs["results"]["apply"]
    state = runs["states"]["apply"]
    win01 = state["win01"]
    for service in ("WindowsAzureGuestAgent", "RdAgent", "MSDTC", "CryptSvc"):
        assert win01["services"][service]["state"] == "running", service
    assert win01["acls"][simhost.MACHINEKEYS] == keys.DEFAULT_SDDL
    backup = findings(report, "win01")["MACHINEKEYS/acl"]["detail"]["backup"]
    assert backup.lower() in {p.lower() for p in win01["files"]}
    assert findings(report, "win01")["MACHINEKEYS/acl"]["detail"]["before_sddl"] == runs["states"]["before"]["win01"]["acls"][simhost.MACHINEKEYS]
    assert not [c for c in win01["certificates"]["LocalMachine\\My"] if "CRP" in c["issuer"]]
    assert len(win01["certificates"]["LocalMachine\\My"]) == 1  # the WinRM listener's certificate stays
    assert win01["registry"][simhost.BCDRAGENT_KEY]["USEVSSCOPYBACKUP"] == {"type": "string", "data": "TRUE"}
    assert [w["state"] for w in win01["vss_writers"]] == [1] * len(win01["vss_writers"])

    win02 = state["win02"]
    assert [p["version"] for p in win02["products"] if p["name"].startswith("Windows Azure VM Agent")] == [simhost.NEW_AGENT_VERSION]
    assert {win02["services"][s]["state"] for s in ("WindowsAzureGuestAgent", "RdAgent")} == {"running"}
    assert win02["services"]["IaaSVmProvider"]["start_mode"] == "auto" and win02["services"]["IaaSVmProvider"]["state"] == "running"
    assert win02["services"]["COMSysApp"]["state"] == "running" and win02["services"]["COMSysApp"]["start_mode"] == "manual"
    assert win02["winhttp_proxy"]["proxy"] == PROXY
    # The DACL was default, so the management certificate is left alone (article 000 deletes it after a reset only).
    assert [c for c in win02["certificates"]["LocalMachine\\My"] if "Service Management" in c["subject"]]
    assert findings(report, "win02")["VSS_WRITERS/writer_ntds"]["status"] == "found"

    assert [n["dhcp"] for n in state["win03"]["nics"] if n.get("primary")] == [True]
    assert findings(report, "win03")["BITLOCKER/locked"]["status"] == "found"
    assert {v["mount"]: v["bitlocker_protection"] for v in state["win03"]["volumes"]}["C:"] == "on"  # only on request

    win04 = state["win04"]
    assert [p["version"] for p in win04["products"] if p["name"].startswith("Windows Azure VM Agent")] == [simhost.NEW_AGENT_VERSION]
    assert win04["services"]["RdAgent"]["state"] == "running"
    stuck = findings(report, "win04", "failed")["VSS_WRITERS/writer_wmi_writer"]
    assert "still bad after restarting Winmgmt" in stuck["summary"]


def test_findings_say_what_was_seen(runs):
    _proc, report = runs["results"]["check"]
    de = findings(report, "win02")["VSS_WRITERS/writers"]["detail"]["writers"]
    assert any(w["last_error"] == "Kein Fehler" for w in de)  # German vssadmin, read by structure
    assert "Jeder" in findings(report, "win02")["MACHINEKEYS/acl"]["detail"]["icacls"]
    assert findings(report, "win03")["SNAPSHOT_STATUS/cpu_load"]["detail"]["busy_percent"] > 90
    assert "timeout" in findings(report, "win03")["NETWORK/wireserver"]["summary"]
    assert findings(report, "win05")["NETWORK/storage"]["status"] == "ok"


def test_a_second_apply_changes_nothing(runs):
    proc, _report = runs["results"]["again"]
    # win09's MSI always fails: each apply tries the reinstall again and puts everything back, which is a change.
    for name in (n for n in HOSTS if n != "win09"):
        assert recap(proc, name)["changed"] == "0", name
    for name in ("win01", "win02", "win05"):
        assert runs["states"]["again"][name] == runs["states"]["apply"][name], name


def test_one_unreachable_or_failing_host_does_not_stop_the_others(runs):
    for step in ("apply", "again"):
        proc, report = runs["results"][step]
        assert proc.returncode != 0
        # Kept in the play until the run's outcome is published, then failed as unreachable (fix-backup.yml).
        assert (recap(proc, "win99")["ignored"], recap(proc, "win99")["failed"]) == ("1", "1")
        assert report["hosts"]["win99"]["status"] == "unreachable"
        for name in ("win01", "win02", "win05"):
            assert recap(proc, name)["failed"] == "0", (step, name)
            assert "DISK_LIMITS/data_disks" in findings(report, name), (step, name)


def test_powershell_below_5_1_is_one_finding_per_host_and_its_causes_are_skipped(runs):
    for step in ("check", "apply", "again"):
        proc, report = runs["results"][step]
        [entry] = report["hosts"]["win14"]["findings"]
        assert (entry["id"], entry["check"], entry["status"]) == ("HOST", "powershell", "failed"), step
        assert entry["summary"].startswith("PowerShell 4.0 on win14 (Windows 6.3.9600.0)")
        assert "Windows Management Framework 5.1" in entry["summary"]
        # One task runs every cause now: the single HOST finding above and the reads below show the others were skipped.
        assert recap(proc, "win14")["failed"] == "1"
        assert proc.stdout.count("Ansible requires PowerShell v5.1") <= 2  # the refusal is not repeated per cause
        assert runs["states"][step]["win14"] == runs["states"]["before"]["win14"]
    # Per run: the first cause's read, refused by Ansible's wrapper, and the raw version read. Nothing else.
    with open(runs["tmp"] / "win14.log.jsonl") as handle:
        kinds = [json.loads(line)["kind"] for line in handle]
    assert kinds == ["module", "raw"] * 3


def test_the_temporary_disk_is_not_a_data_disk_whatever_its_label(runs):
    _proc, report = runs["results"]["check"]
    entry = findings(report, "win02")["DISK_LIMITS/data_disks"]
    assert entry["status"] == "ok" and entry["detail"]["count"] == 0
    assert {"disk": "1", "why": "D:\\DATALOSS_WARNING_README.txt"}.items() <= entry["detail"]["not_counted"][1].items()


def test_vss_check_mode_names_the_dependants_it_would_restart(runs):
    _proc, report = runs["results"]["check"]
    wmi = findings(report, "win06")["VSS_WRITERS/writer_wmi_writer"]
    assert wmi["status"] == "found" and "would restart Winmgmt (stopping its running dependants iphlpsvc first" in wmi["summary"]
    assert findings(report, "win07")["VSS_WRITERS/writer_system_writer"]["status"] == "found"


def test_vss_restart_brings_winmgmt_dependants_back_and_holds_workloads(runs):
    _proc, report = runs["results"]["apply"]
    before, after = runs["states"]["before"]["win06"], runs["states"]["apply"]["win06"]
    wmi = findings(report, "win06")["VSS_WRITERS/writer_wmi_writer"]
    assert wmi["status"] == "fixed" and wmi["detail"]["restart"]["restarted"] == ["iphlpsvc"], wmi
    assert after["services"]["Winmgmt"]["state"] == after["services"]["iphlpsvc"]["state"] == "running"
    # Both really went down and came back: their processes are new.
    pids = {p["service"]: p["pid"] for p in before["processes"]}
    assert all(p["pid"] != pids[p["service"]] for p in after["processes"] if p["service"] in ("Winmgmt", "iphlpsvc"))
    assert [w["state"] for w in after["vss_writers"] if w["name"] == "WMI Writer"] == [1]
    # Exchange's writer is report-only: its service was never stopped.
    exchange = findings(report, "win06")["VSS_WRITERS/writer_microsoft_exchange_writer"]
    assert exchange["status"] == "found" and "vss_writers_restart_workloads" in exchange["summary"]
    assert [p["pid"] for p in after["processes"] if p["service"] == "MSExchangeIS"] == \
        [p["pid"] for p in before["processes"] if p["service"] == "MSExchangeIS"]


def test_vss_a_service_stuck_stopping_fails_alone_and_the_play_goes_on(runs):
    proc, report = runs["results"]["apply"]
    after = runs["states"]["apply"]["win07"]
    stuck = findings(report, "win07")["VSS_WRITERS/writer_system_writer"]
    assert stuck["status"] == "failed" and "CryptSvc did not stop within 60 s and is stuck in StopPending" in stuck["summary"]
    assert after["services"]["CryptSvc"]["state"] == "stop_pending"
    # The other bad writer, on a healthy service, is still restarted and fixed.
    registry = findings(report, "win07")["VSS_WRITERS/writer_registry_writer"]
    assert registry["status"] == "fixed" and [w["state"] for w in after["vss_writers"] if w["name"] == "Registry Writer"] == [1]
    # The writers were listed again after the failure, and the rest of the play ran.
    listed = findings(report, "win07")["VSS_WRITERS/writers"]["detail"]["writers"]
    assert "Registry Writer" in [w["name"] for w in listed] and "System Writer" not in [w["name"] for w in listed]
    assert "DISK_LIMITS/data_disks" in findings(report, "win07") and recap(proc, "win07")["failed"] == "1"


def test_vss_second_apply_leaves_restarted_and_stuck_services_alone(runs):
    _proc, report = runs["results"]["again"]
    assert runs["states"]["again"]["win06"] == runs["states"]["apply"]["win06"]
    assert "VSS_WRITERS/writer_wmi_writer" not in findings(report, "win06")
    stuck = findings(report, "win07")["VSS_WRITERS/service_cryptsvc"]
    assert stuck["status"] == "found" and "stuck in StopPending and is left alone" in stuck["summary"]
    assert runs["states"]["again"]["win07"]["services"] == runs["states"]["apply"]["win07"]["services"]


# -- the agent reinstall (issue 10) -----------------------------------------------------------------


def _agent_files(state):
    return {p.lower(): f["sha256"] for p, f in state["files"].items() if p.lower().startswith("c:\\windowsazure\\")}


def test_a_failed_reinstall_leaves_the_vm_as_it_was(runs):
    _proc, report = runs["results"]["apply"]
    before, after = runs["states"]["before"]["win09"], runs["states"]["apply"]["win09"]
    failed = findings(report, "win09", "failed")["WIN_AGENT/install"]
    assert "1603 (ERROR_INSTALL_FAILURE)" in failed["summary"] and "everything was put back" in failed["summary"]
    result = failed["detail"]["result"]
    assert [m["from"] for m in result["moved"]] == [simhost.GUEST_AGENT_DIR, simhost.PACKAGES_DIR]
    assert result["restored"] and [r["name"] for r in result["removed"]] == ["RdAgent"]
    # The folders are back where they were, with the same files; OLD keeps nothing of them.
    assert {p: h for p, h in _agent_files(after).items() if "\\old\\" not in p} == _agent_files(before)
    assert not [p for p in _agent_files(after) if "\\old\\" in p]
    # RdAgent is re-created as it was and runs again; the installed programs are untouched.
    assert after["services"]["RdAgent"] == before["services"]["RdAgent"]
    # The registered agent was uninstalled before the install (review item 1), and the finding says its entry stays removed.
    assert "WindowsAzureGuestAgent" not in after["services"] and after["products"] == []
    assert "installed-programs entry (%s) stays removed" % simhost.AGENT_PRODUCT_ID in failed["summary"]
    assert [p["service"] for p in after["processes"] if p["name"] == "WaAppAgent.exe"] == ["RdAgent"]


def test_a_busy_windows_installer_is_waited_for(runs):
    _proc, report = runs["results"]["apply"]
    fixed = findings(report, "win10", "fixed")["WIN_AGENT/install"]
    assert "after waiting 60 s for another installation" in fixed["summary"] and "3 attempts" in fixed["summary"]
    assert fixed["detail"]["result"]["mode"] == "upgrade" and fixed["detail"]["result"]["removed"] == []
    after = runs["states"]["apply"]["win10"]
    assert [p["version"] for p in after["products"] if p["name"].startswith("Windows Azure VM Agent")] == [simhost.NEW_AGENT_VERSION]
    assert {after["services"][s]["state"] for s in ("WindowsAzureGuestAgent", "RdAgent")} == {"running"}
    assert findings(report, "win10")["WIN_AGENT/version"]["detail"]["read_from"] == "WindowsAzureGuestAgent"


def test_leftovers_are_moved_aside_and_the_new_agent_runs(runs):
    _proc, report = runs["results"]["apply"]
    fixed = findings(report, "win15", "fixed")["WIN_AGENT/install"]
    old_dir = fixed["detail"]["result"]["old_dir"]
    assert old_dir.startswith("C:\\WindowsAzure\\OLD\\")
    after = runs["states"]["apply"]["win15"]
    assert {after["services"][s]["state"] for s in ("WindowsAzureGuestAgent", "RdAgent")} == {"running"}
    # The old agent's folders are kept, under OLD, not deleted.
    for leftover in (faults.LEFTOVER_GUEST_AGENT_DIR, faults.LEFTOVER_PACKAGES_DIR):
        name = leftover.rsplit("\\", 1)[-1]
        assert not [p for p in after["files"] if p.lower().startswith(leftover.lower() + "\\")]
        assert [p for p in after["files"] if p.lower().startswith((old_dir + "\\" + name + "\\").lower())], name
    assert recap(runs["results"]["again"][0], "win15")["failed"] == "0"


def test_the_dhcp_switch_survives_losing_the_winrm_connection(runs):
    before, check, apply = (runs["states"][step]["win08"] for step in ("before", "check", "apply"))
    _proc, checked = runs["results"]["check"]
    assert findings(checked, "win08")["SNAPSHOT_STATUS/guest_dhcp"]["status"] == "found"
    assert "SQLEXPRESS (32-bit)" in findings(checked, "win08")["SNAPSHOT_STATUS/vss_copy_backup"]["summary"]
    assert check == before
    proc, report = runs["results"]["apply"]
    [nic] = apply["nics"]
    assert nic["dhcp"] is True and nic["ipv4"] == before["nics"][0]["ipv4"] and nic["dns_servers"] == ["10.0.0.10", "10.0.0.11"]
    switched = findings(report, "win08")["SNAPSHOT_STATUS/guest_dhcp"]
    assert switched["status"] == "fixed" and "DNS servers kept (10.0.0.10, 10.0.0.11)" in switched["summary"]
    assert switched["detail"]["before"]["dhcp"] == "Disabled" and switched["detail"]["after"]["dhcp"] == "Enabled"
    assert switched["detail"]["marker"].lower() in {p.lower() for p in apply["files"]}
    assert apply["registry"][simhost.BCDRAGENT_KEY]["USEVSSCOPYBACKUP"] == {"type": "string", "data": "TRUE"}
    # The connection was really lost on the way, the host did not fail, and the causes after it still ran.
    log = (runs["tmp"] / "winsim.log").read_text()
    assert "win08: connection lost" in log and "win03: connection lost" in log
    assert recap(proc, "win08")["failed"] == "0" and recap(proc, "win08")["unreachable"] == "0"
    assert {"NETWORK/wireserver", "DISK_LIMITS/data_disks", "COM_MSDTC/service_msdtc"} <= set(findings(report, "win08"))
    _proc, again = runs["results"]["again"]
    assert findings(again, "win08")["SNAPSHOT_STATUS/guest_dhcp"]["status"] == "ok"


def test_a_nic_with_a_second_address_is_never_switched_to_dhcp(runs):
    before = runs["states"]["before"]["win16"]
    for step in ("check", "apply", "again"):
        proc, report = runs["results"][step]
        refused = findings(report, "win16")["SNAPSHOT_STATUS/guest_dhcp"]
        assert refused["status"] == "found" and refused["detail"]["refused"], (step, refused)
        assert "2 IPv4 addresses (10.0.0.4, 10.0.0.5)" in refused["summary"] and "not switched" in refused["summary"]
        assert recap(proc, "win16")["failed"] == "0"
        assert runs["states"][step]["win16"]["nics"] == before["nics"], step
        assert not runs["states"][step]["win16"].get("scheduled_tasks"), step
    log = (runs["tmp"] / "winsim.log").read_text()
    assert "win16: connection lost" not in log


def test_the_dhcp_switch_runs_from_a_protected_folder_by_encoded_command(runs):
    apply = runs["states"]["apply"]["win08"]
    assert apply["acls"]["C:\\ProgramData\\azure-backup\\tasks"] == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    _proc, report = runs["results"]["apply"]
    marker = findings(report, "win08")["SNAPSHOT_STATUS/guest_dhcp"]["detail"]["marker"]
    assert marker.lower().startswith("c:\\programdata\\azure-backup\\tasks\\azure-backup-snapshot-status-dhcp-task-")
    assert not [p for p in apply["files"] if p.lower().endswith((".ps1", ".job"))]  # no script file left to run or swap


def test_machinekeys_without_write_dac_is_reset_by_taking_ownership_and_key_files_stay_readable(runs):
    _proc, check = runs["results"]["check"]
    would = findings(check, "win11")["MACHINEKEYS/acl"]
    assert would["status"] == "found" and "would take ownership of %s as Administrators" % simhost.MACHINEKEYS in would["summary"]
    _proc, report = runs["results"]["apply"]
    before, after = runs["states"]["before"]["win11"], runs["states"]["apply"]["win11"]
    done = findings(report, "win11")["MACHINEKEYS/acl"]
    assert done["status"] == "fixed" and "took ownership of %s" % simhost.MACHINEKEYS in done["summary"]
    assert done["detail"]["before_sddl"] == before["acls"][simhost.MACHINEKEYS] == "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)"
    # The default DACL, owned by Administrators now (takeown /A); the old owner is in the backup.
    assert after["acls"][simhost.MACHINEKEYS] == keys.DEFAULT_SDDL.replace("O:SY", "O:BA", 1)
    assert done["detail"]["only_inherited"] == [faults.MACHINEKEYS_INHERITING_FILE]
    kept = after["acls"][faults.MACHINEKEYS_INHERITING_FILE]
    assert acl.granted(kept, ("S-1-5-18", "S-1-5-32-544", "S-1-1-0"), acl.FILE_READ_DATA)
    assert acl.granted(kept, acl.CALLER_SIDS, acl.FILE_READ_DATA)
    assert after["acls"][faults.MACHINEKEYS_OWN_ACL_FILE] == before["acls"][faults.MACHINEKEYS_OWN_ACL_FILE]
    assert not [c for c in after["certificates"]["LocalMachine\\My"] if "CRP" in c["issuer"]]
    assert findings(report, "win11")["MACHINEKEYS/agent_restart"]["status"] == "fixed"
    assert after["services"]["WindowsAzureGuestAgent"]["state"] == "running"
    # The restart shows as a new process of the service.
    pids = [[p["pid"] for p in state["processes"] if p["service"] == "WindowsAzureGuestAgent"] for state in (before, after)]
    assert pids[0] and pids[1] and pids[0] != pids[1]
    assert runs["states"]["again"]["win11"] == after


def test_bitlocker_off_clears_auto_unlock_and_reaches_a_volume_without_a_letter(runs):
    _proc, check = runs["results"]["check"]
    summary = findings(check, "win12")["BITLOCKER/protection"]["summary"]
    assert "would clear the auto-unlock keys on C: (those of data volumes not attached now go too), then turn it off" in summary
    _proc, report = runs["results"]["apply"]
    after = runs["states"]["apply"]["win12"]
    protection = findings(report, "win12")["BITLOCKER/protection"]
    assert protection["status"] == "fixed"
    assert [r["status"] for r in protection["detail"]["after"]] == ["started"] * 3
    assert protection["detail"]["after"][-1]["volume"] == "C:"  # the OS volume last, after its keys were cleared
    assert {v["mount"]: v["bitlocker_protection"] for v in after["volumes"]} == {"C:": "off", "D:": "off", "": "off", "E:": "off"}
    assert after["bitlocker_auto_unlock_keys"] == []
    assert runs["states"]["again"]["win12"] == after
    _proc, again = runs["results"]["again"]
    assert "BITLOCKER/protection" not in findings(again, "win12")


def test_bitlocker_under_azure_disk_encryption_is_refused_with_the_platform_route(runs):
    proc, report = runs["results"]["apply"]
    refused = findings(report, "win13")["BITLOCKER/protection"]
    assert refused["status"] == "failed" and "Microsoft.Azure.Security.AzureDiskEncryption" in refused["summary"]
    assert "Disable-AzVMDiskEncryption" in refused["summary"] and "az vm encryption disable" in refused["summary"]
    assert runs["states"]["apply"]["win13"] == runs["states"]["before"]["win13"]
    assert recap(proc, "win13")["changed"] == "0"


def test_a_registered_agent_is_uninstalled_before_the_reinstall_and_the_msi_sits_in_a_protected_folder(runs):
    _proc, report = runs["results"]["apply"]
    fixed = findings(report, "win17", "fixed")["WIN_AGENT/install"]
    result = fixed["detail"]["result"]
    assert [(u["product_code"], u["rc"]) for u in result["uninstalled"]] == [(simhost.NEW_AGENT_PRODUCT_ID, 0)]
    # The inventory gives the MSI's SHA-256, matched on the controller: no Authenticode check then.
    assert result["missing_after_install"] == [] and result["signature"] is None
    assert result["log"].startswith("C:\\Windows\\Panther\\azure-backup-agent-install-")
    after = runs["states"]["apply"]["win17"]
    assert {after["services"][s]["state"] for s in ("WindowsAzureGuestAgent", "RdAgent")} == {"running"}
    assert [p["version"] for p in after["products"] if p["name"].startswith("Windows Azure VM Agent")] == [simhost.NEW_AGENT_VERSION]
    assert after["acls"]["C:\\ProgramData\\azure-backup\\tasks"] == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    assert "C:\\ProgramData\\azure-backup\\tasks\\WindowsAzureVmAgent.msi" in after["files"]
    # The install ran detached, as SYSTEM from a scheduled task, and wrote its marker.
    assert any(p.startswith("C:\\ProgramData\\azure-backup\\tasks\\azure-backup-win-agent-install-") and p.endswith(".json")
               for p in after["files"])
    assert recap(runs["results"]["again"][0], "win17")["failed"] == "0"


def _differences(before, after, path=""):
    """Every path where two states differ: key paths into dicts, with the two values."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = {}
        for key in set(before) | set(after):
            out.update(_differences(before.get(key), after.get(key), "%s/%s" % (path, key)))
        return out
    return {} if before == after else {path: (before, after)}


def test_a_second_failing_reinstall_adds_only_its_empty_old_folder_and_log(runs):
    # win09's MSI always fails: the second apply reinstalls again and puts everything back. What that legitimately
    # adds: one more empty C:\WindowsAzure\OLD\<time> folder (New-Item; it stays after the restore), msiexec's log
    # written again, and the re-created RdAgent's new process. Nothing else may differ from after the first apply.
    _proc, report = runs["results"]["again"]
    failed = findings(report, "win09", "failed")["WIN_AGENT/install"]
    assert "everything was put back" in failed["summary"]
    apply, again = runs["states"]["apply"]["win09"], runs["states"]["again"]["win09"]
    old_dir = failed["detail"]["result"]["old_dir"]
    assert [d for d in again["dirs"] if d not in apply["dirs"]] == [old_dir]
    assert not [p for p in again["files"] if p.lower().startswith(old_dir.lower() + "\\")]
    differences = _differences(dict(apply, dirs=None, processes=None), dict(again, dirs=None, processes=None))
    log = failed["detail"]["result"]["log"]
    work = detached.WORK_DIR.lower() + "\\"
    msi = [p for p in apply["files"] if p.lower().endswith(".msi") and p.lower().startswith(work)]
    # The MSI is staged again before each reinstall: same bytes, a new write time.
    assert [apply["files"][p]["sha256"] for p in msi] == [again["files"][p]["sha256"] for p in msi] and len(msi) == 1
    allowed = {"/files/%s/mtime" % msi[0], "/clock", "/next_pid"}
    # Each detached run leaves its marker and lock beside the MSI, as a record of what it did.
    own = ("/files/" + log.lower(), "/files/" + work + "azure-backup-win-agent-install-")
    assert {k for k in differences if not k.lower().startswith(own)} <= allowed, differences
    assert [p["name"] for p in again["processes"]] == [p["name"] for p in apply["processes"]]


CHECK_MODE_FINDS = {
    "win06": ["VSS_WRITERS/writer_wmi_writer", "VSS_WRITERS/writer_microsoft_exchange_writer"],
    "win07": ["VSS_WRITERS/writer_system_writer", "VSS_WRITERS/writer_registry_writer"],
    "win08": ["SNAPSHOT_STATUS/guest_dhcp", "SNAPSHOT_STATUS/vss_copy_backup"],
    "win09": ["WIN_AGENT/install"],
    "win10": ["WIN_AGENT/version"],
    "win11": ["MACHINEKEYS/acl", "MACHINEKEYS/certificate"],
    "win12": ["BITLOCKER/protection"],
    "win13": [],
    "win15": ["WIN_AGENT/install"],
    "win16": ["SNAPSHOT_STATUS/guest_dhcp"],
    "win17": ["WIN_AGENT/install"],
    "win18": ["VSS_WRITERS/writer_wmi_writer", "MACHINEKEYS/acl", "MACHINEKEYS/certificate"],
    "win19": ["VSS_WRITERS/writer_wmi_writer"],
}


def test_check_mode_finds_the_faults_of_the_newer_hosts_and_changes_nothing(runs):
    _proc, report = runs["results"]["check"]
    for name, checks in CHECK_MODE_FINDS.items():
        found = findings(report, name, "found")
        assert [c for c in checks if c not in found] == [], (name, sorted(found))
        assert runs["states"]["check"][name] == runs["states"]["before"][name], name
    # Under Azure Disk Encryption turning BitLocker off is refused already in check mode, with the platform route.
    refused = findings(report, "win13")["BITLOCKER/protection"]
    assert refused["status"] == "failed" and "Microsoft.Azure.Security.AzureDiskEncryption" in refused["summary"]
    # win14 is checked in test_powershell_below_5_1_is_one_finding_per_host_and_its_causes_are_skipped.
    assert set(CHECK_MODE_FINDS) | {"win14"} == {n for n in HOSTS if n > "win05"}


# -- second round on issue 10: disks, BitLocker, VSS, MachineKeys -------------------------------------------


def test_disk_limits_reads_letterless_partitions_on_generation_1_and_2(runs):
    # Every simulated host but win19 is Generation 2 (EFI and MSR partitions without a letter); win19 is Generation 1.
    _proc, report = runs["results"]["check"]
    for name in ("win05", "win18", "win19"):
        entry = findings(report, name)["DISK_LIMITS/data_disks"]
        assert entry["status"] == "ok" and [d["disk"] for d in entry["detail"]["not_counted"]] == ["0", "1"], name


def test_vss_restart_that_loses_its_connection_names_the_services_left_stopped(runs):
    _proc, check = runs["results"]["check"]
    # vssadmin's stderr line did not end the read: the writers were listed.
    assert findings(check, "win18")["VSS_WRITERS/writer_wmi_writer"]["status"] == "found"
    proc, report = runs["results"]["apply"]
    lost = findings(report, "win18")["VSS_WRITERS/writer_wmi_writer"]
    assert lost["status"] == "failed" and "the WinRM connection was lost while restarting Winmgmt" in lost["summary"]
    assert "read again after reconnecting, Winmgmt, iphlpsvc are not running: start them" in lost["summary"]
    after = runs["states"]["apply"]["win18"]
    assert after["services"]["Winmgmt"]["state"] == after["services"]["iphlpsvc"]["state"] == "stopped"
    assert "win18: connection lost" in (runs["tmp"] / "winsim.log").read_text()
    # The causes after it still ran, and the host is not unreachable.
    assert {"DISK_LIMITS/data_disks", "BITLOCKER/protection"} <= set(findings(report, "win18"))
    assert recap(proc, "win18")["unreachable"] == "0"


def test_machinekeys_restarts_the_agent_with_the_bounded_script_and_names_the_new_owner(runs):
    import faults
    _proc, report = runs["results"]["apply"]
    done = findings(report, "win18")["MACHINEKEYS/acl"]
    assert done["status"] == "fixed" and "the owner is now BUILTIN\\Administrators (it was NT AUTHORITY\\SYSTEM)" in done["summary"]
    assert done["detail"]["protected"] == [faults.MACHINEKEYS_INHERITING_FILE] and "files_after" not in done["detail"]
    restart = findings(report, "win18")["MACHINEKEYS/agent_restart"]
    assert restart["status"] == "fixed" and restart["detail"]["restart"]["status"] == "restarted"
    with open(runs["tmp"] / "win18.log.jsonl") as handle:
        sent = [json.loads(line) for line in handle]
    assert not [e for e in sent if e.get("module") == "ansible.windows.win_service"]


def test_bitlocker_keeps_the_os_volume_on_while_a_detached_volume_may_need_its_key(runs):
    _proc, report = runs["results"]["apply"]
    kept = findings(report, "win18")["BITLOCKER/os_volume"]
    assert kept["status"] == "found" and "2 auto-unlock keys are stored on C:, but only 1 listed volume unlocks with one" in kept["summary"]
    before, after = runs["states"]["before"]["win18"], runs["states"]["apply"]["win18"]
    assert {v["mount"]: v["bitlocker_protection"] for v in after["volumes"]}["C:"] == "on"
    assert after["bitlocker_auto_unlock_keys"] == before["bitlocker_auto_unlock_keys"]
    assert findings(report, "win18")["BITLOCKER/protection"]["status"] == "fixed"  # the data volumes are turned off


def test_bitlocker_is_refused_where_ades_key_volume_is_present_and_a_backup_stops_the_vss_restart(runs):
    proc, report = runs["results"]["apply"]
    refused = findings(report, "win19")["BITLOCKER/protection"]
    assert refused["status"] == "failed" and "key volume 'Bek Volume' is present" in refused["summary"]
    before, after = runs["states"]["before"]["win19"], runs["states"]["apply"]["win19"]
    assert after["volumes"] == before["volumes"]
    held = findings(report, "win19")["VSS_WRITERS/writer_wmi_writer"]
    assert held["status"] == "found" and "a backup snapshot started (IaaSBcdrExtension) before Winmgmt was to stop" in held["summary"]
    pids = {p["service"]: p["pid"] for p in before["processes"] if p["service"]}
    assert [p["pid"] for p in after["processes"] if p["service"] == "Winmgmt"] == [pids["Winmgmt"]]  # never stopped
    assert after["services"]["iphlpsvc"]["state"] == "running"  # stopped before the snapshot started, started again
    assert recap(runs["results"]["again"][0], "win19")["changed"] == "0"
