"""Faults to break a healthy simulated VM with, one per documented cause (shared/CAUSES.md).

Each fault is a function over the state dict that changes it the way the broken machine would look;
``apply(state, names)`` applies them in order. Faults only set up the machine: what a fix does to it
is computed by the fakes and scripts, never by the fault.
"""

from __future__ import annotations

import datetime
import hashlib
import json

import host as hostmod  # tests/winsim is on sys.path

AGENT_SERVICES = ("WindowsAzureGuestAgent", "RdAgent")
OLD_AGENT = "2.7.41491.949"
TELEMETRY_SERVICE = "WindowsAzureTelemetryService"
# Made up: the real build date of the 949 agent folder is not known here.
OLD_GUEST_AGENT_DIR = "C:\\WindowsAzure\\GuestAgent_2.7.41491.949_2019-11-05_010203"
OLD_AGENT_PRODUCT_ID = "{3B8D9E60-2C41-4C1A-9E4A-2B7C0F1D8E49}"


def _svc(state, name):
    key = hostmod.find_key(state["services"], name)
    if key is None:
        raise KeyError("no service %s on %s" % (name, state["name"]))
    return key, state["services"][key]


def _stop(state, name, disable=False):
    key, svc = _svc(state, name)
    hostmod.set_service_stopped(state, key)
    if disable:
        svc["start_mode"] = "disabled"


def _agent_product(state):
    return next(p for p in state["products"] if p["name"].startswith("Windows Azure VM Agent"))


def agent_stopped(state):
    for name in AGENT_SERVICES:
        _stop(state, name)


def agent_disabled(state):
    for name in AGENT_SERVICES:
        _stop(state, name, disable=True)


def _remove_agent_binaries(state):
    for name in AGENT_SERVICES:
        hostmod.remove_service(state, name)
    for directory in _agent_product(state)["installs"]["dirs"]:
        hostmod.remove_tree_state(state, directory)


def agent_missing(state):
    """Services, processes and files gone; the installed-programs entry stays (a broken install)."""
    _remove_agent_binaries(state)


def agent_absent(state):
    """Never installed: no services, no files, no installed-programs entry."""
    _remove_agent_binaries(state)
    product = _agent_product(state)
    state["products"].remove(product)
    hostmod.unmirror_product(state, product)


def agent_outdated(state):
    """The 2.7.41491.949 agent (below the 2.7.41491.1010 guidance) as an older image has it."""
    product = _agent_product(state)
    hostmod.unmirror_product(state, product)
    product.update(name="Windows Azure VM Agent - " + OLD_AGENT, version=OLD_AGENT, product_id=OLD_AGENT_PRODUCT_ID,
                   uninstall_string="MsiExec.exe /X" + OLD_AGENT_PRODUCT_ID)
    old_exe = OLD_GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe"
    new_exe = hostmod.GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe"
    waappagent = hostmod.PACKAGES_DIR + "\\WaAppAgent.exe"
    hostmod.remove_tree_state(state, hostmod.GUEST_AGENT_DIR)
    hostmod.put_file_state(state, old_exe, hostmod.placeholder_binary(old_exe, OLD_AGENT))
    hostmod.put_file_state(state, waappagent, hostmod.placeholder_binary(waappagent, OLD_AGENT))
    state["services"]["WindowsAzureGuestAgent"]["path"] = old_exe
    # Agents before 2.7.41491.971 run a third service, folded into the guest agent from that version on
    # (Microsoft Learn support article windows-azure-guest-agent, NOTE; agent-names-and-paths.tsv). Its image in the
    # GuestAgent folder is assumed (beside WindowsAzureGuestAgent.exe), not taken from a capture.
    telemetry_exe = OLD_GUEST_AGENT_DIR + "\\WindowsAzureTelemetryService.exe"
    hostmod.put_file_state(state, telemetry_exe, hostmod.placeholder_binary(telemetry_exe, OLD_AGENT))
    hostmod.add_service(state, TELEMETRY_SERVICE, "Windows Azure Telemetry Service", telemetry_exe, "auto", True)
    product["installs"] = {"services": list(AGENT_SERVICES) + [TELEMETRY_SERVICE], "files": [old_exe, waappagent, telemetry_exe],
                           "dirs": [OLD_GUEST_AGENT_DIR, hostmod.PACKAGES_DIR]}
    hostmod.mirror_product(state, product)


# An agent folder pair from before an update (the agent updates itself into new GuestAgent_* folders and leaves
# old ones behind; names as in agent-names-and-paths.tsv, this build's date made up).
LEFTOVER_GUEST_AGENT_DIR = "C:\\WindowsAzure\\GuestAgent_2.7.41491.993_2020-09-11_230341"
LEFTOVER_PACKAGES_DIR = "C:\\WindowsAzure\\Packages_20200911_230341"


def agent_guest_service_missing(state):
    """WindowsAzureGuestAgent deleted (a broken install), its folder still there; RdAgent still runs."""
    hostmod.remove_service(state, "WindowsAzureGuestAgent")


def agent_leftovers(state):
    """A broken install: services gone, product still listed, and an older agent's folders left under
    C:\\WindowsAzure, beside which a newly installed agent hangs in Start Pending (see modules.msi_install)."""
    _remove_agent_binaries(state)
    for directory, exe in ((LEFTOVER_GUEST_AGENT_DIR, "WindowsAzureGuestAgent.exe"), (LEFTOVER_PACKAGES_DIR, "WaAppAgent.exe")):
        path = directory + "\\" + exe
        hostmod.put_file_state(state, path, hostmod.placeholder_binary(path, "2.7.41491.993"))
    state["agent_hangs_with_leftovers"] = True


def msi_busy(state):
    """Another installation holds the Windows Installer for the next two msiexec runs (they get 1618)."""
    state["msi_busy_attempts"] = 2


def msi_fails(state):
    """The agent MSI fails after it started: msiexec returns 1603 (ERROR_INSTALL_FAILURE) and rolls back."""
    for entry in state["msi_catalog"].values():
        entry["rc"] = 1603


def msi_reboot_required(state):
    """The agent MSI installs and asks for a reboot: 3010 (ERROR_SUCCESS_REBOOT_REQUIRED)."""
    for entry in state["msi_catalog"].values():
        entry["rc"] = 3010


def agent_same_version_registered(state):
    """The current agent MSI was installed (its product code is registered) and both services were deleted since:
    msiexec /i of the same package is then only a maintenance run (see modules.msiexec_install)."""
    product = _agent_product(state)
    hostmod.unmirror_product(state, product)
    product.update(name="Windows Azure VM Agent - " + hostmod.NEW_AGENT_VERSION, version=hostmod.NEW_AGENT_VERSION,
                   product_id=hostmod.NEW_AGENT_PRODUCT_ID, uninstall_string="MsiExec.exe /X" + hostmod.NEW_AGENT_PRODUCT_ID)
    hostmod.mirror_product(state, product)
    for name in AGENT_SERVICES:
        hostmod.remove_service(state, name)


def agent_service_hangs(state):
    """The agent's services that exist hang when asked to stop (they stay in StopPending)."""
    for name in AGENT_SERVICES:
        key = hostmod.find_key(state["services"], name)
        if key is not None:
            state["services"][key]["stop_hangs"] = True


def agent_delete_pending(state):
    """Another program (a Services console, a monitoring agent) holds handles to the agent's services."""
    for name in AGENT_SERVICES:
        key = hostmod.find_key(state["services"], name)
        if key is not None:
            state["services"][key]["handle_held"] = True


def msi_unsigned(state):
    """The agent MSI on offer carries no Authenticode signature."""
    for entry in state["msi_catalog"].values():
        entry["signature"] = None


def backup_running(state):
    """A snapshot in progress: the backup extension's process runs (no service of its own)."""
    hostmod.add_process(state, "IaaSBcdrExtension.exe", None)


def dotnet_old(state):
    """.NET older than 4.5: Release below 378389."""
    state["dotnet_release"] = 378388
    hostmod.sync_mirrors(state)


def vss_writer_failed(state):
    """System Writer failed with a retryable error; restarting CryptSvc (its host) clears it."""
    writer = hostmod.find_writer(state, "System Writer")
    writer.update(state=7, last_error="retryable")


def vss_writer_stuck(state):
    """WMI Writer failed and stays failed when Winmgmt restarts (needs a reboot or more)."""
    writer = hostmod.find_writer(state, "WMI Writer")
    writer.update(state=9, last_error="timeout", stuck=True)


def vss_writer_unknown_service(state):
    """NTDS failed: a writer without a service this machine could restart (it lives in lsass)."""
    if hostmod.find_writer(state, "NTDS") is None:
        hostmod.add_writer(state, "NTDS", "{b2014c9e-8711-4c5c-a5a9-3cf384484757}", None)
    hostmod.find_writer(state, "NTDS").update(state=9, last_error="non_retryable")


def vss_wmi_writer_failed(state):
    """WMI Writer failed with a retryable error; restarting Winmgmt (its host) clears it. Winmgmt has a
    running dependant (iphlpsvc, host.add_known_dependants), so it cannot stop alone."""
    hostmod.find_writer(state, "WMI Writer").update(state=7, last_error="retryable")


def vss_service_hangs(state):
    """System Writer failed, and its service CryptSvc never finishes stopping: a stop leaves it in
    StopPending for good (a service that does not answer the stop control)."""
    hostmod.find_writer(state, "System Writer").update(state=7, last_error="retryable")
    _svc(state, "CryptSvc")[1]["stop_hangs"] = True


def vss_registry_writer_failed(state):
    """Registry Writer failed; it lives in VSS, whose restart clears it."""
    hostmod.find_writer(state, "Registry Writer").update(state=8, last_error="retryable")


def vss_exchange_writer_failed(state):
    """Exchange 2019 installed; its writer (in the Information Store, MSExchangeIS) failed."""
    hostmod.add_service(state, "MSExchangeIS", "Microsoft Exchange Information Store",
                        "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\Microsoft.Exchange.Store.Service.exe",
                        "auto", True, "LocalSystem", [])
    # Writer id as real vssadmin output lists it (shared/reference/windows/vssadmin-writers-en-1.txt);
    # the service's image path is made up.
    hostmod.add_writer(state, "Microsoft Exchange Writer", "{76fe1ac4-15f7-4bcd-987e-8e1acb462fb7}", "MSExchangeIS",
                       vss_state=7, last_error="retryable")


def machinekeys_acl(state):
    """Everyone lost write access and an extra ACE (BUILTIN\\Users read/execute) was added."""
    state["acls"][hostmod.MACHINEKEYS] = "O:SYG:SYD:PAI(A;;0x120089;;;WD)(A;;FA;;;BA)(A;;0x1200a9;;;BU)"


# A key file's name in MachineKeys: <key container hash>_<machine GUID> (the names here are made up).
MACHINEKEYS_INHERITING_FILE = hostmod.MACHINEKEYS + "\\f686aace6942fb7f7ceb231212eef4a4_c2a8c2f3-6a3e-4b0e-9d21-3b1d8e0f7a11"
MACHINEKEYS_OWN_ACL_FILE = hostmod.MACHINEKEYS + "\\6de9cb26d2b98c01ec4e9e8b34824aa2_c2a8c2f3-6a3e-4b0e-9d21-3b1d8e0f7a11"


def machinekeys_no_write_dac(state):
    """Someone left only Everyone read on MachineKeys, inheritable: Administrators lost WRITE_DAC. One key file
    has only what it inherits from the folder; another has its own protected ACL, as CryptoAPI writes it."""
    state["acls"][hostmod.MACHINEKEYS] = "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)"
    for path, sddl in ((MACHINEKEYS_INHERITING_FILE, "O:SYG:SYD:AI(A;ID;0x120089;;;WD)"),
                       (MACHINEKEYS_OWN_ACL_FILE, "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)")):
        hostmod.put_file_state(state, path, hostmod.file_entry(b"RSA1 key container (simulated)"))
        state["acls"][path] = sddl


def _certificate(state, subject):
    thumb = hashlib.sha1(("%s:%s" % (state["name"], subject)).encode()).hexdigest().upper()
    state["certificates"].setdefault("LocalMachine\\My", []).append(
        {"thumbprint": thumb, "subject": subject, "issuer": subject, "not_after": "2025-06-30T12:00:00Z",
         "has_private_key": True})


def crp_cert(state):
    """The extension settings certificate; real ones carry DC=, not CN= (vmassist, several scripts)."""
    _certificate(state, "DC=Windows Azure CRP Certificate Generator")


def mgmt_cert(state):
    """The classic (RDFE) extension certificate; its RDN type is not confirmed from a source."""
    _certificate(state, "CN=Windows Azure Service Management for Extensions")


def sql_no_copy_backup(state):
    """SQL Server installed, BCDRAGENT USEVSSCOPYBACKUP not set."""
    state["sql_server"] = True
    hostmod.sync_mirrors(state)  # the default state has no USEVSSCOPYBACKUP, so nothing to delete


def no_dhcp(state):
    nic = next(n for n in state["nics"] if n.get("primary"))
    nic["dhcp"] = False


def admin_dns(state):
    """DNS servers an admin set on the primary NIC (two domain controllers); Windows keeps static DNS
    servers over DHCP's (Set-DnsClientServerAddress: they override any DHCP configuration)."""
    nic = next(n for n in state["nics"] if n.get("primary"))
    nic.update(dns_servers=["10.0.0.10", "10.0.0.11"], dns_static=True)


def sql_32bit(state):
    """A 32-bit SQL Server Express only: its instance is in the 32-bit registry view (WOW6432Node)."""
    hostmod.reg_set(state, hostmod.SQL_INSTANCES_KEY_WOW64, "SQLEXPRESS", "string", "MSSQL10_50.SQLEXPRESS")


def high_cpu(state):
    state["cpu_load_percent"] = [97, 99, 98]


def low_memory(state):
    state["memory"]["free_mb"] = state["memory"]["total_mb"] * 3 // 100


def iaasvmprovider_disabled(state):
    _stop(state, "IaaSVmProvider", disable=True)


def iaasvmprovider_missing(state):
    hostmod.remove_service(state, "IaaSVmProvider")


def msdtc_stopped(state):
    _stop(state, "MSDTC")


def comsysapp_stopped(state):
    _stop(state, "COMSysApp")


def _next_disk(state):
    return max(d["number"] for d in state["disks"]) + 1


def bitlocker_locked(state):
    """A data volume F: protected by BitLocker and locked."""
    number = _next_disk(state)
    state["disks"].append({"number": number, "size_gb": 128, "kind": "data"})
    state["volumes"].append({"mount": "F:", "label": "Data", "bitlocker_protection": "on", "lock_status": "locked",
                             "size_gb": 128, "disk": number})


def bitlocker_on(state):
    """C: encrypted by BitLocker, unlocked (reported, not a failure on its own)."""
    volume = next(v for v in state["volumes"] if v["mount"] == "C:")
    volume.update(bitlocker_protection="on", lock_status="unlocked")


def temp_disk_german(state):
    """The temporary disk labelled as a German image might label it (no German Azure image was seen:
    the label is made up; what Azure writes on it, the data loss warning file, is not)."""
    next(v for v in state["volumes"] if v["mount"] == "D:")["label"] = "Temporärer Speicher"


def bitlocker_auto_unlock(state):
    """C: encrypted and holding the auto-unlock key of a data volume that has no drive letter (mounted in a
    folder, say); E:, another data volume, encrypted without auto-unlock (its own protector)."""
    bitlocker_on(state)
    hidden = "\\\\?\\Volume{6f1c2b9e-4d0a-4c55-9a3e-0c7e2d5b8a41}\\"
    for mount, device_id in (("", hidden), ("E:", "\\\\?\\Volume{0b9d6a77-31e2-4f7c-8d0e-5a2c4e9b1f03}\\")):
        number = _next_disk(state)
        state["disks"].append({"number": number, "size_gb": 64, "kind": "data"})
        state["volumes"].append({"mount": mount, "device_id": device_id, "volume_type": "data", "label": "Data",
                                 "bitlocker_protection": "on", "lock_status": "unlocked", "size_gb": 64, "disk": number})
    state["bitlocker_auto_unlock_keys"] = [hidden]


# Where the agent unpacks an extension: C:\Packages\Plugins\<publisher>.<type>\<version> (as VMSnapshot's,
# reference/windows/agent-names-and-paths.tsv); the ADE version here is made up.
ADE_DIR = "C:\\Packages\\Plugins\\Microsoft.Azure.Security.AzureDiskEncryption\\2.4.0.23"


def ade_installed(state):
    """Azure Disk Encryption's extension installed (it turned BitLocker on: use with bitlocker-on)."""
    state["dirs"].append(ADE_DIR)


def too_many_disks(state):
    for _disk in range(17):
        state["disks"].append({"number": _next_disk(state), "size_gb": 128, "kind": "data"})


def disk_too_big(state):
    state["disks"].append({"number": _next_disk(state), "size_gb": 4096, "kind": "data"})


def winhttp_proxy_wrong(state):
    """A WinHTTP proxy nobody configured in the inventory (the name never resolves)."""
    state["winhttp_proxy"] = {"proxy": "oldproxy.corp.invalid:3128", "bypass": "<local>"}


def wireserver_blocked(state):
    """Connections to the wireserver's ports (80, 32526) time out, whatever address they go to."""
    state["blocked_ports"] = sorted(set(state.get("blocked_ports", [])) | {80, 32526})


def dns_broken(state):
    state["dns"] = {}


def powershell_4(state):
    """Server 2012 R2 without WMF 5.1: PowerShell 4.0, which ansible-core's module wrapper refuses."""
    state.update(os="Windows Server 2012 R2 Datacenter", powershell_version="4.0", os_build="6.3.9600.0")


def nic_secondary_address(state):
    """A second static IPv4 address on the primary NIC (a second IP configuration in Azure, set in the guest as
    Microsoft says for several IP configurations: "Assign multiple IP addresses to virtual machines", Microsoft
    Learn: Azure's DHCP gives the guest the primary address only)."""
    nic = next(n for n in state["nics"] if n.get("primary"))
    nic["secondary_ipv4"] = [{"ip": "10.0.0.5", "prefix": 24}]


def dhcp_other_address(state):
    """Azure holds another private address for the NIC than the one set statically in the guest; Azure's DHCP
    hands out Azure's ("Configure private IP addresses for a virtual machine", Microsoft Learn)."""
    nic = next(n for n in state["nics"] if n.get("primary"))
    nic["platform_ipv4"] = "10.0.0.7"


def allsigned_policy(state):
    """Group Policy "Turn on Script Execution" set to allow only signed scripts: MachinePolicy AllSigned, which
    -ExecutionPolicy (the Process scope) cannot override (Microsoft Learn, about_Execution_Policies)."""
    state["execution_policy"] = {"MachinePolicy": "AllSigned"}


# A local user's SID (made up): the owner of what that user creates.
LOCAL_USER = "S-1-5-21-3623811015-3361044348-30300820-1013"


def foreign_workdir(state):
    """C:\\ProgramData\\azure-backup made by an ordinary local user before the collection ran: Users may create
    folders under C:\\ProgramData, and the creator owns the folder and, through CREATOR OWNER, has full control
    of it (the review's item 3; `icacls C:\\ProgramData` on Windows Server)."""
    folder = "C:\\ProgramData\\azure-backup"
    state.setdefault("dirs", []).append(folder)
    state.setdefault("acls", {})[folder] = ("O:%sG:%sD:AI(A;ID;FA;;;%s)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)"
                                            "(A;OICIID;0x1200a9;;;BU)(A;CIID;0x116;;;BU)" % (LOCAL_USER, LOCAL_USER, LOCAL_USER))


def winrm_user_not_admin(state):
    """WinRM runs as a local account that is only in Remote Management Users (S-1-5-32-580): WinRM lets it in
    (the listener's default RootSDDL grants that group), but it is no administrator."""
    state["winrm_account"] = {"rid": 1001, "groups": ["S-1-5-32-580", "S-1-5-32-545"], "domain": False}


def winrm_user_uac_filtered(state):
    """WinRM runs as a local account in Administrators other than the built-in Administrator, and
    LocalAccountTokenFilterPolicy is not set: UAC remote restrictions filter its token, so Administrators is
    deny-only. WinRM checks its listener's RootSDDL against that filtered token: only because the account is
    also in Remote Management Users (S-1-5-32-580) does WinRM let it in at all. Without that group WinRM answers
    Access denied and Ansible calls the host unreachable, before any script runs (the simulator does not model
    that refusal; docs/windows-behaviour.md)."""
    state["winrm_account"] = {"rid": 1002, "groups": ["S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-580"], "domain": False}


# The run lock (plugin_utils/windows/lock.py) as another run left it.
RUN_LOCK = "C:\\ProgramData\\azure-backup\\lock\\run.lock"


def _run_lock(state, since):
    # Its folder as that run made it: for SYSTEM and Administrators only (protected.py, New-ProtectedFolder).
    folder = RUN_LOCK.rsplit("\\", 1)[0]
    state.setdefault("dirs", []).append(folder)
    state.setdefault("acls", {})[folder] = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    holder = {"controller": "awx-node-1", "pid": 4242, "user": "awx", "token": "another-run", "since": since,
              "winrm_user": "%s\\azureadmin" % state["name"].upper()}
    hostmod.put_file_state(state, RUN_LOCK, hostmod.file_entry(json.dumps(holder).encode("utf-8")))


def run_lock_held(state):
    """Another run (an AWX job) holds the run lock right now."""
    _run_lock(state, hostmod.now_iso())


def run_lock_stale(state):
    """A run that died five hours ago left the run lock behind."""
    five_hours_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=5)
    _run_lock(state, five_hours_ago.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


FAULTS = {
    "powershell-4": powershell_4,
    "winrm-user-not-admin": winrm_user_not_admin,
    "winrm-user-uac-filtered": winrm_user_uac_filtered,
    "run-lock-held": run_lock_held,
    "run-lock-stale": run_lock_stale,
    "agent-stopped": agent_stopped,
    "agent-disabled": agent_disabled,
    "agent-missing": agent_missing,
    "agent-absent": agent_absent,
    "agent-outdated": agent_outdated,
    "backup-running": backup_running,
    "agent-guest-service-missing": agent_guest_service_missing,
    "agent-leftovers": agent_leftovers,
    "msi-busy": msi_busy,
    "msi-fails": msi_fails,
    "msi-reboot-required": msi_reboot_required,
    "agent-same-version-registered": agent_same_version_registered,
    "agent-service-hangs": agent_service_hangs,
    "agent-delete-pending": agent_delete_pending,
    "msi-unsigned": msi_unsigned,
    "dotnet-old": dotnet_old,
    "vss-writer-failed": vss_writer_failed,
    "vss-writer-stuck": vss_writer_stuck,
    "vss-writer-unknown-service": vss_writer_unknown_service,
    "vss-wmi-writer-failed": vss_wmi_writer_failed,
    "vss-service-hangs": vss_service_hangs,
    "vss-registry-writer-failed": vss_registry_writer_failed,
    "vss-exchange-writer-failed": vss_exchange_writer_failed,
    "machinekeys-acl": machinekeys_acl,
    "machinekeys-no-write-dac": machinekeys_no_write_dac,
    "crp-cert": crp_cert,
    "mgmt-cert": mgmt_cert,
    "sql-no-copy-backup": sql_no_copy_backup,
    "no-dhcp": no_dhcp,
    "admin-dns": admin_dns,
    "sql-32bit": sql_32bit,
    "high-cpu": high_cpu,
    "low-memory": low_memory,
    "iaasvmprovider-disabled": iaasvmprovider_disabled,
    "iaasvmprovider-missing": iaasvmprovider_missing,
    "msdtc-stopped": msdtc_stopped,
    "comsysapp-stopped": comsysapp_stopped,
    "bitlocker-locked": bitlocker_locked,
    "bitlocker-on": bitlocker_on,
    "temp-disk-german": temp_disk_german,
    "bitlocker-auto-unlock": bitlocker_auto_unlock,
    "ade-installed": ade_installed,
    "too-many-disks": too_many_disks,
    "disk-too-big": disk_too_big,
    "winhttp-proxy-wrong": winhttp_proxy_wrong,
    "wireserver-blocked": wireserver_blocked,
    "dns-broken": dns_broken,
    "nic-secondary-address": nic_secondary_address,
    "dhcp-other-address": dhcp_other_address,
    "allsigned-policy": allsigned_policy,
    "foreign-workdir": foreign_workdir,
}


# -- issue 10, second round (disks, BitLocker, VSS, MachineKeys) ------------------------------------------


def vssadmin_stderr(state):
    """vssadmin writes a line to stderr besides its list (the text is made up: any stderr line does the same)."""
    state.setdefault("native_stderr", {})["vssadmin.exe"] = ["Warning: the shadow copy provider answered late."]


def takeown_denied(state):
    """The Administrators group lacks the "Take ownership of files or other objects" right here (a hardening
    policy): takeown /A says "ERROR: Access is denied." on stderr and exits 1."""
    state["takeown_denied"] = True


def agent_stop_hangs(state):
    """The guest agent does not answer a stop: it stays in StopPending (the hung agent article 002 is about)."""
    _svc(state, "WindowsAzureGuestAgent")[1]["stop_hangs"] = True


def backup_starts_during_restart(state):
    """A backup snapshot starts (the extension's process appears) once the first service of a restart has stopped."""
    state["backup_starts_after_stops"] = 1


def vss_restart_connection_lost(state):
    """The WinRM connection drops during the VSS restart once the services are stopped; the script is ended with it."""
    state["restart_connection_lost"] = True


def bek_volume(state):
    """Azure Disk Encryption's key volume ("Bek Volume") is there and C: is encrypted, but the extension's folder
    is gone (the extension was removed while the disks stayed encrypted)."""
    bitlocker_on(state)
    state["volumes"].append({"mount": "", "device_id": "\\\\?\\Volume{3d2f7a10-5b8e-4c61-9f0a-7e4b1c2d9a55}\\", "volume_type": "data",
                             "label": "Bek Volume", "bitlocker_protection": "off", "lock_status": "unlocked", "size_gb": 1, "disk": 0})


def bitlocker_auto_unlock_detached(state):
    """As bitlocker-auto-unlock, and C: also holds the auto-unlock key of a data volume that is not attached now."""
    bitlocker_auto_unlock(state)
    state["bitlocker_auto_unlock_keys"].append("\\\\?\\Volume{9a4e1f3c-0d7b-4e2a-b6c5-2f8d1a7e3b90}\\")


def bitlocker_wmi_error(state):
    """As bitlocker-auto-unlock, and WMI fails on E: (Invoke-CimMethod throws a CimException "Generic failure")."""
    bitlocker_auto_unlock(state)
    next(v for v in state["volumes"] if v["mount"] == "E:")["wmi_error"] = "Generic failure"


def generation_1(state):
    """A Generation 1 VM: BIOS boot, an MBR OS disk with a System Reserved partition (no letter) before C:."""
    state["generation"] = 1


FAULTS.update({
    "vssadmin-stderr": vssadmin_stderr,
    "takeown-denied": takeown_denied,
    "agent-stop-hangs": agent_stop_hangs,
    "backup-starts-during-restart": backup_starts_during_restart,
    "vss-restart-connection-lost": vss_restart_connection_lost,
    "bek-volume": bek_volume,
    "bitlocker-auto-unlock-detached": bitlocker_auto_unlock_detached,
    "bitlocker-wmi-error": bitlocker_wmi_error,
    "generation-1": generation_1,
})


# -- shadow copy storage (MARS_SHADOW_STORAGE; every Windows VM, so the MARS agent is not installed for these) ----

def _c_storage(state) -> dict:
    return next(a for a in state["shadow_storage"] if a["for"] == "C:")


def _fill(association: dict, used: int, count: int = 4) -> None:
    """``count`` shadow copies of nightly backups, oldest first, that hold ``used`` bytes together."""
    each = used // count
    start = datetime.datetime(2026, 11, 28, 22, 0, 0, tzinfo=datetime.timezone.utc)
    association["copies"] = [{"id": "{%08x-0000-4000-8000-%012x}" % (i + 1, i + 1),
                              "created": (start + datetime.timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "bytes": each + (used - each * count if i == count - 1 else 0)} for i in range(count)]
    association["used_bytes"] = used
    association["allocated_bytes"] = max(association["allocated_bytes"], used) if association["max_bytes"] == "UNBOUNDED" \
        else min(max(association["allocated_bytes"], used), association["max_bytes"])


# volsnap's events as captured ones have them (System log, Error): the volume is the second data item (%2 of the message),
# named VolumeName on current Windows; the provider's name is spelt "Volsnap" there and "volsnap" on older captures.
_VOLSNAP_36 = "The shadow copies of volume C: were aborted because the shadow copy storage could not grow due to a user imposed limit."
_VOLSNAP_25 = ("The shadow copies of volume C: were deleted because the shadow copy storage could not grow in time.  Consider reducing "
               "the IO load on the system or choose a shadow copy storage volume that is not being shadow copied.")


def shadow_storage_small(state):
    """C:'s shadow storage limited to 1 GB, 700 MB of it in use: far below the 10 % a VSS snapshot may need; last night's
    snapshot was aborted for it (volsnap 36)."""
    association = _c_storage(state)
    association.update(max_bytes=2 ** 30, allocated_bytes=800 * 2 ** 20)
    _fill(association, 700 * 2 ** 20)
    hostmod.add_event(state, "System", "Volsnap", 36, 2, 20, _VOLSNAP_36,
                      ["\\Device\\HarddiskVolumeShadowCopy5", "C:", "00000000", "164", "0x0005", "2606"])


def shadow_storage_full(state):
    """C:'s shadow storage at its 10 % maximum with all but 256 MB in use: the next snapshot finds no room; copies were
    deleted for it two days ago (volsnap 25)."""
    association = _c_storage(state)
    _fill(association, association["max_bytes"] - 256 * 2 ** 20)
    hostmod.add_event(state, "System", "volsnap", 25, 2, 48, _VOLSNAP_25, ["\\Device\\HarddiskVolumeShadowCopy4", "C:"])


def shadow_storage_sized(state):
    """C:'s shadow storage set to 2 GB by its admin (Previous Versions sized on purpose), 1.2 GB in use, and no volsnap event
    saying it is too small: below the default 10 %, but nothing shows that it fails a backup."""
    association = _c_storage(state)
    association.update(max_bytes=2 * 2 ** 30, allocated_bytes=1300 * 2 ** 20)
    _fill(association, 1200 * 2 ** 20)


def shadow_storage_slow(state):
    """A new maximum shows in Win32_ShadowStorage only 4 seconds after vssadmin resized it (the API's "may not have an
    immediate effect"; the delay is made up)."""
    state["shadow_storage_lag_seconds"] = 4


def mars_backup_running(state):
    """The MARS agent runs a backup job now (Get-OBJob lists it)."""
    hostmod.install_mars(state)
    state["mars_jobs"] = [{"type": "Backup", "status": "Running"}]


def shadow_storage_unbounded(state):
    """C:'s shadow storage without a maximum (UNBOUNDED), 15.681 GB of copies in it (as the blog capture shows)."""
    association = _c_storage(state)
    association.update(max_bytes="UNBOUNDED", allocated_bytes=int(16.152 * 2 ** 30))
    _fill(association, int(15.681 * 2 ** 30))


def shadow_storage_cim_broken(state):
    """Win32_ShadowStorage fails ("Provider load failure", WMI's WBEM_E_PROVIDER_LOAD_FAILURE text), so only
    vssadmin's text tells the associations."""
    state["shadow_storage_cim_error"] = "Provider load failure"


FAULTS.update({
    "shadow-storage-small": shadow_storage_small,
    "shadow-storage-full": shadow_storage_full,
    "shadow-storage-unbounded": shadow_storage_unbounded,
    "shadow-storage-cim-broken": shadow_storage_cim_broken,
    "shadow-storage-sized": shadow_storage_sized,
    "shadow-storage-slow": shadow_storage_slow,
    "mars-backup-running": mars_backup_running,
})


# -- the MARS agent (article 004): each MARS fault installs the agent first (host.install_mars), then breaks it.

def mars_installed(state):
    """The MARS agent installed and healthy (not a fault: the state the MARS faults start from)."""
    hostmod.install_mars(state)


FAULTS.update({
    "mars-installed": mars_installed,
})


# -- the log bundle: what the event logs hold after failed snapshots ------------------------------------------------

def vss_errors_logged(state):
    """The event logs after failed application-consistent snapshots: VSS errors 8193 and 12289 in the Application log,
    volsnap 25 in the System log, and the backup extension's process crashing (Application Error 1000 of
    IaaSBcdrExtension.exe), besides a crash of another program. The texts follow the form these events have, from
    memory (not captured events); the data items of Application Error are in the order Windows Error Reporting
    writes them (faulting application, its version, ...)."""
    hostmod.add_event(state, "Application", "VSS", 8193, 2, 5, "Volume Shadow Copy Service error: Unexpected error calling routine "
                      "CoCreateInstance.  hr = 0x80040154, Class not registered.")
    hostmod.add_event(state, "Application", "VSS", 12289, 2, 5, "Volume Shadow Copy Service error: Unexpected error "
                      "DeviceIoControl(\\\\?\\Volume{278ce142-19d8-11e1-9176-806e6f6e6963} - 0000000000000468,0x0053c008).  hr = 0x80070057.")
    hostmod.add_event(state, "System", "volsnap", 25, 2, 4, "The shadow copies of volume C: were deleted because the shadow copy "
                      "storage could not grow in time.")
    hostmod.add_event(state, "Application", "Application Error", 1000, 2, 3,
                      "Faulting application name: IaaSBcdrExtension.exe, version: 1.0.75.0\r\nException code: 0xc0000005",
                      ["IaaSBcdrExtension.exe", "1.0.75.0", "5f1e2d3c", "ntdll.dll", "10.0.17763.1", "c0000005"])
    hostmod.add_event(state, "Application", "Application Error", 1000, 2, 3,
                      "Faulting application name: notepad.exe, version: 10.0.17763.1\r\nException code: 0xc0000005",
                      ["notepad.exe", "10.0.17763.1", "1a2b3c4d", "notepad.exe", "10.0.17763.1", "c0000005"])


def agent_logs_big(state):
    """32 MB of agent logs: four logs of 8 MiB under C:\\WindowsAzure\\Logs, the newest (Big1.log) an hour old, each
    older one an hour older. The simulation keeps no bytes of them: they read as filler (host.filler_bytes)."""
    for number in range(1, 5):
        hostmod.put_file_state(state, "C:\\WindowsAzure\\Logs\\Big%d.log" % number,
                               {"size": 8 * 1024 ** 2, "mtime": hostmod.ago(number), "sha256": "", "hashes": {}})


FAULTS.update({
    "vss-errors-logged": vss_errors_logged,
    "agent-logs-big": agent_logs_big,
})


# MARS_SERVICE, MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES, MARS_PREREQS, MARS_RESTORE_MOUNT: each installs the agent first.

def mars_service_stopped(state):
    """The engine service stopped (article 004: "make sure MARS runs in the services console")."""
    hostmod.install_mars(state)
    hostmod.set_service_stopped(state, "obengine")


# Made up: a 2.0.9xxx build below the 2.0.9249.0 that vault credentials need.
MARS_OLD_VERSION = "2.0.9145.0"


def mars_version_old(state):
    hostmod.install_mars(state)
    engine = hostmod.MARS_DIR + "\\Bin\\cbengine.exe"
    hostmod.put_file_state(state, engine, hostmod.placeholder_binary(engine, MARS_OLD_VERSION))


MARS_ELSEWHERE = "D:\\MARS\\Scratch"


def mars_scratch_mismatch(state):
    """CloudBackupProvider's ScratchLocation names another folder (a half-done move of the cache folder, error 34506);
    the folder Config names still holds OnlineBackup.KEK."""
    hostmod.install_mars(state)
    hostmod.reg_set(state, hostmod.MARS_PROVIDER_KEY, "ScratchLocation", "string", MARS_ELSEWHERE)


def mars_scratch_missing_kek(state):
    hostmod.install_mars(state)
    hostmod.remove_file_state(state, hostmod.MARS_DIR + "\\Scratch\\OnlineBackup.KEK")
    state["dirs"].append(hostmod.MARS_DIR + "\\Scratch")  # the folder stays, empty


def mars_scratch_low_space(state):
    """The scratch folder's volume (C:) has 3 % free."""
    hostmod.install_mars(state)
    volume = next(v for v in state["volumes"] if v["mount"] == "C:")
    volume["free_bytes"] = volume["size_gb"] * 2**30 * 3 // 100


def mars_temp_files(state):
    """61,000 *.tmp files in C:\\Windows\\Temp, 25 of them open elsewhere, beside names the pattern must leave alone."""
    hostmod.install_mars(state)
    state.setdefault("bulk_files", []).append({"folder": "C:\\Windows\\Temp", "prefix": "tmp", "suffix": ".tmp", "first": 0,
                                               "count": 61000, "size": 2048, "in_use": 25, "mtime": hostmod.ago(24 * 30)})
    # '*.tmp' returns setup.tmpl too on Windows PowerShell; these must all stay.
    state["bulk_files"].append({"folder": "C:\\Windows\\Temp", "prefix": "setup", "suffix": ".tmpl", "first": 0, "count": 300,
                                "size": 512, "in_use": 0})
    for name in ("x.tmpl", "y.log", "z.tmp.bak"):
        hostmod.put_file_state(state, "C:\\Windows\\Temp\\" + name, hostmod.file_entry(b"keep me\r\n"))


def mars_dotnet_old(state):
    """.NET Framework 4.5.1 (Release 378675), below the 4.5.2 the agent needs."""
    hostmod.install_mars(state)
    state["dotnet_release"] = 378675
    hostmod.sync_mirrors(state)


def mars_clock_skew(state):
    """The VM's clock 15 minutes ahead."""
    hostmod.install_mars(state)
    state["clock_offset_seconds"] = 900


def mars_iscsi_stopped(state):
    """The Microsoft iSCSI Initiator Service stopped, Manual, as Windows installs it: no fault, it starts when a restore
    mounts (MARS_RESTORE_MOUNT must leave it alone unless mars_agent_enable_iscsi is set)."""
    hostmod.install_mars(state)
    state["services"]["MSiSCSI"]["start_mode"] = "manual"
    hostmod.set_service_stopped(state, "MSiSCSI")


def mars_iscsi_disabled(state):
    """The Microsoft iSCSI Initiator Service disabled (hardening, or by hand): a restore cannot mount its volume."""
    hostmod.install_mars(state)
    state["services"]["MSiSCSI"]["start_mode"] = "disabled"
    hostmod.set_service_stopped(state, "MSiSCSI")


def mars_job_running(state):
    """A MARS backup job runs now (Get-OBJob lists it): the engine must not be stopped."""
    hostmod.install_mars(state)
    state["mars_jobs"] = [{"type": "Backup"}]


def mars_dpm_server(state):
    """A DPM or MABS server: DPM's setup key exists; DPM runs the engine's jobs."""
    hostmod.install_mars(state)
    state.setdefault("registry", {})[hostmod.DPM_SETUP_KEY] = {}


FAULTS.update({
    "mars-service-stopped": mars_service_stopped,
    "mars-version-old": mars_version_old,
    "mars-scratch-mismatch": mars_scratch_mismatch,
    "mars-scratch-missing-kek": mars_scratch_missing_kek,
    "mars-scratch-low-space": mars_scratch_low_space,
    "mars-temp-files": mars_temp_files,
    "mars-dotnet-old": mars_dotnet_old,
    "mars-clock-skew": mars_clock_skew,
    "mars-iscsi-stopped": mars_iscsi_stopped,
    "mars-iscsi-disabled": mars_iscsi_disabled,
    "mars-job-running": mars_job_running,
    "mars-dpm-server": mars_dpm_server,
})


# -- MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL, MARS_ANTIVIRUS (article 004) --------------------

# Made up: a local user's SID on the simulated VM (a machine SID and RID 1001, the first account made after setup).
BACKUP_USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
# Where the Group Policy "Turn on Script Execution" keeps its setting (learn.microsoft.com, about_Group_Policy_Settings).
POWERSHELL_POLICY_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\PowerShell"


def _mars_task(state):
    return state["task_scheduler"][hostmod.MARS_TASK]


def mars_endpoint_blocked(state):
    """login.microsoftonline.com resolves to its real Microsoft Entra ID address (article 004's 20.190.128.0/18), not the
    loopback stand-in: the VM has no way there, as behind a firewall that drops it (connections time out)."""
    hostmod.install_mars(state)
    state["dns"]["login.microsoftonline.com"] = ["20.190.128.1"]


def mars_system_proxy(state):
    """SYSTEM's Internet Explorer LAN settings name a proxy (flags 3: direct and a named proxy) while WinHTTP goes direct:
    the agent's SYSTEM account has two answers (article 004 has SYSTEM's LAN settings checked with psexec -s)."""
    hostmod.install_mars(state)
    state["winhttp_proxy"] = {"proxy": "", "bypass": ""}
    state["system_wininet"] = {"flags": 3, "proxy": "oldproxy.corp.invalid:3128", "bypass": "<local>", "autoconfig_url": ""}


def mars_schedule_disabled(state):
    """The backup task's trigger is disabled (article 004: the trigger's status must be Enabled)."""
    hostmod.install_mars(state)
    _mars_task(state)["triggers"][0]["enabled"] = False


def mars_schedule_parallel(state):
    """"If the task is already running": Run a new instance in parallel (article 004: another job was in progress)."""
    hostmod.install_mars(state)
    _mars_task(state)["multiple_instances"] = "Parallel"


def mars_schedule_user(state):
    """The backup task runs as a plain local user, a member of Users only, with a stored password."""
    hostmod.install_mars(state)
    state.setdefault("local_accounts", {})["backupuser"] = {"sid": BACKUP_USER_SID, "groups": ["S-1-5-32-545"]}
    _mars_task(state).update(user_id="backupuser", logon_type="Password", run_level="Limited")


# Made up: a domain's SID; Domain Admins is its RID 512 (learn.microsoft.com, "Well-known SIDs").
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
DOMAIN_ADMINS_SID = DOMAIN_SID + "-512"
DOMAIN_BACKUP_SID = DOMAIN_SID + "-1105"


def _domain_backup_task(state):
    """The backup task runs as CONTOSO\\backupsvc, a domain account in CONTOSO\\Domain Admins, which (as on every domain
    member) is in Administrators."""
    hostmod.install_mars(state)
    state.setdefault("local_accounts", {})["contoso\\backupsvc"] = {"sid": DOMAIN_BACKUP_SID, "groups": []}
    state.setdefault("domain_groups", {})[DOMAIN_ADMINS_SID] = {"name": "CONTOSO\\Domain Admins", "member_of": ["S-1-5-32-544"],
                                                                "members": [DOMAIN_BACKUP_SID]}
    _mars_task(state).update(user_id="CONTOSO\\backupsvc", logon_type="Password", run_level="Highest")


def mars_schedule_domain_admin(state):
    """The task's account is an administrator only through Domain Admins (nested): a healthy principal."""
    _domain_backup_task(state)


def mars_schedule_dc_unreachable(state):
    """As mars-schedule-domain-admin, but no domain controller answers: Domain Admins' members cannot be read."""
    _domain_backup_task(state)
    state["domain_groups"][DOMAIN_ADMINS_SID]["members"] = None


def mars_psmodulepath(state):
    """The machine's PSModulePath lost the agent's module folder (Windows' two entries only)."""
    hostmod.install_mars(state)
    hostmod.reg_set(state, hostmod.ENVIRONMENT_KEY, "PSModulePath", "expandstring", hostmod.DEFAULT_PSMODULEPATH)


def mars_execution_policy_restricted(state):
    hostmod.install_mars(state)
    hostmod.reg_set(state, hostmod.EXECUTION_POLICY_KEY, "ExecutionPolicy", "string", "Restricted")


def mars_execution_policy_gpo(state):
    """A Group Policy turns script execution off (EnableScripts 0: Restricted in the MachinePolicy scope)."""
    hostmod.install_mars(state)
    hostmod.reg_set(state, POWERSHELL_POLICY_KEY, "EnableScripts", "dword", 0)


def mars_defender_exclusions(state):
    """Defender excludes cbengine.exe only as a process by bare name (wider than the article's file exclusion): the scratch
    folder, the Bin folder and each csc.exe file are scanned."""
    hostmod.install_mars(state)
    state["defender"].update(exclusion_path=[], exclusion_process=["cbengine.exe"])


def mars_defender_hidden(state):
    """Defender hides its exclusions from local administrators (HideExclusionsFromLocalAdmins); what it excludes is the
    healthy install's, unseen."""
    hostmod.install_mars(state)
    state["defender"]["hide_exclusions"] = True


def mars_defender_off(state):
    """Microsoft Defender Antivirus does not run (another product, or none, protects the VM)."""
    hostmod.install_mars(state)
    state["defender"]["running"] = False


FAULTS.update({
    "mars-endpoint-blocked": mars_endpoint_blocked,
    "mars-system-proxy": mars_system_proxy,
    "mars-schedule-disabled": mars_schedule_disabled,
    "mars-schedule-parallel": mars_schedule_parallel,
    "mars-schedule-user": mars_schedule_user,
    "mars-schedule-domain-admin": mars_schedule_domain_admin,
    "mars-schedule-dc-unreachable": mars_schedule_dc_unreachable,
    "mars-psmodulepath": mars_psmodulepath,
    "mars-execution-policy-restricted": mars_execution_policy_restricted,
    "mars-execution-policy-gpo": mars_execution_policy_gpo,
    "mars-defender-exclusions": mars_defender_exclusions,
    "mars-defender-off": mars_defender_off,
    "mars-defender-hidden": mars_defender_hidden,
})


def apply(state: dict, names) -> dict:
    """Apply the named faults in order; an unknown name is an error listing the known ones."""
    for name in names:
        if name not in FAULTS:
            raise KeyError("unknown fault %r; known: %s" % (name, ", ".join(sorted(FAULTS))))
        FAULTS[name](state)
    return state
