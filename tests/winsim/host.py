"""A simulated Windows Server 2019 Azure VM: state, and the operations Windows would perform on it.

No Windows runs here. The WinRM server (wsman.py/dispatch.py) decodes the module payloads Ansible
sends and calls ``SimHost.run_module``; the fakes in modules.py answer like the real ansible.windows
modules would, computing every result from this state. The simulator never knows what the product
wants: it only keeps state and changes it the way Windows would.

State schema (JSON; keys are stable, new keys may be added, none renamed)::

    {"name": "win01", "locale": "en" | "de", "os": "Windows Server 2019 Datacenter",
     "powershell_version": "5.1.17763.592", "os_build": "10.0.17763.0",   # added: below 5.1 Ansible refuses
     "services": {"<Name as Windows spells it>": {
         "display_name": str, "state": "running" | "stopped",
         "start_mode": "auto" | "delayed" | "manual" | "disabled",
         "path": str, "username": "LocalSystem" | "NT AUTHORITY\\NETWORK SERVICE" | ...,
         "dependencies": [service names], "start_fails": false,
         "description": str | null}},            # description: added
         # added: "sid_type": 0|1|3 (ServiceSidType), "failure_actions": {"reset_seconds": int, "actions":
         # [{"type": 0-3, "delay_ms": int}], "command": str|null, "non_crash": bool} (FailureActions & co.),
         # "handle_held": true (another program keeps a handle open: sc delete only marks it), "marked_for_delete".
         # added: "state" may also be "stop_pending" (asked to stop, never got there), and
         # "stop_hangs": true makes every stop of the service end in "stop_pending" (see faults.py).
     "registry": {"HKLM:\\SOFTWARE\\Microsoft\\BCDRAGENT": {
         "USEVSSCOPYBACKUP": {"type": "string", "data": "TRUE"}}},
         # keys as PowerShell paths, looked up case-insensitively; parents of a listed key exist too.
         # value names: "" is the (Default) value. types as win_regedit names them: string,
         # expandstring, multistring (data: list of str), dword/qword (data: unsigned int),
         # binary/none (data: list of ints 0-255).
     "files": {"C:\\WindowsAzure\\Packages_20240123_194431\\WaAppAgent.exe": {
         "size": int, "version": "2.7.41491.1102" (PE files only),
         "sha256": hex, "hashes": {"md5"|"sha1"|"sha256"|"sha384"|"sha512": hex},
         "content_b64": str (only when size <= SMALL_FILE_LIMIT), "mtime": ISO-8601 UTC,
         "certificates": [cert dicts] (optional: what a .cer/.pfx file holds, see certificates)}},
         # paths case-insensitive when looked up; a file's parents exist as directories.
     "dirs": ["C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.75.0", ...],
     "acls": {"C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys": "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"},
     "certificates": {"LocalMachine\\My": [{"thumbprint": "40 hex upper", "subject": "CN=...",
         "issuer": "CN=...", "not_after": "2027-01-01T00:00:00Z", "has_private_key": true}]},
     "vss_writers": [{"name": "System Writer", "id": "{guid}", "instance_id": "{guid}", "state": 1,
         "last_error": "none" | "retryable" | "non_retryable" | "timeout" | "inconsistent_snapshot"
                       | "out_of_resources" | "not_responding" | "unexpected",
         "service": "CryptSvc" | null, "stuck": false}],
         # service: the service that hosts the writer here. Starting it after it was stopped
         # (stop+start or restart) resets the writer to state 1 / none and gives it a new
         # instance id, unless "stuck". A writer whose service is stopped is not listed by
         # vssadmin (see visible_writers).
     "products": [{"name": "Windows Azure VM Agent - 2.7.41491.1102", "product_id": "{GUID}",
         "version": str, "publisher": str, "uninstall_string": "MsiExec.exe /X{GUID}",
         "upgrade_code": "{GUID}" | null,                       # added: MSI major upgrades
         "installs": {"services": {...}, "files": {...}, "dirs": [...]}}],  # added: what /x removes
         # mirrored as HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\<product_id>
     "msi_catalog": {"<sha256 of file content>": {"product_id": str, "name": str, "version": str,
         "publisher": str, "upgrade_code": str | null, "rc": 0 (msiexec exit code, default 0),
         "signature": {"status": "Valid", "signer": "CN=..., O=..."} | null (added: Authenticode),
         "installs": {"services": {name: service}, "files": {path: file}, "dirs": [path]}}},
     "processes": [{"name": "WaAppAgent.exe", "pid": 1234, "service": "RdAgent" | null}],
     "volumes": [{"mount": "C:", "label": "Windows", "bitlocker_protection": "off" | "on",
         "lock_status": "unlocked" | "locked", "size_gb": 127, "disk": 0}],   # disk: added (number in disks)
         # added, optional: "free_bytes": int (Win32_Volume FreeSpace; default: half the volume, less its shadow storage)
     "disks": [{"number": 0, "size_gb": 127, "kind": "os" | "data" | "temp"}],
     "nics": [{"alias": "Ethernet", "index": 5, "ipv4": "10.0.0.4", "prefix": 24,
         "gateway": "10.0.0.1", "dhcp": true, "primary": true,
         "dns_servers": ["168.63.129.16"], "dns_static": false,   # added: Get-DnsClientServerAddress; admin-set?
         "platform_ipv4": "10.0.0.4"}],   # added, optional: what Azure's DHCP hands out (default: ipv4)
     "scheduled_tasks": [{"name": str, "start": epoch seconds, "user": "SYSTEM", "tag": script tag,
         "parameters": {...}}],     # added: one-shot tasks, run by run_due_tasks() (see there)
     "dhcp_silent": false,          # added: true = no DHCP answer reaches the VM
     "cpu_load_percent": [12, 15, 10], "memory": {"total_mb": 8192, "free_mb": 5000},
     "dotnet_release": 528040,      # mirrored in registry (NDP\\v4\\Full Release) at creation
     "sql_server": false,           # true: registry Instance Names\\SQL, services MSSQLSERVER, SQLWriter
     "winhttp_proxy": {"proxy": "", "bypass": ""},   # empty proxy = direct access
     "ie_proxy": {"proxy": "", "bypass": ""},        # added: what win_http_proxy source=ie imports
     "dns": {"management.azure.com": ["127.0.0.1"]},  # names this VM resolves; nothing else does
     "reachable": {"127.0.0.1:80": true},             # overrides: "<host or ip>:<port>": false = timeout
     "blocked_ports": [],            # added: any connect from the VM to these ports times out
     "faults": ["agent-stopped"],    # added: the faults create() applied
     # added for MARS (install_mars; every host has MSiSCSI, the machine PSModulePath and ExecutionPolicy in the
     # registry, and "defender"):
     "defender": {"running": true, "exclusion_path": [str], "exclusion_process": [str]},  # Get-MpPreference
         # added: "hide_exclusions": true (HideExclusionsFromLocalAdmins: the lists read as one line of "N/A: ..." text)
     "system_wininet": {"flags": 3, "proxy": str, "bypass": str, "autoconfig_url": str},  # added, optional: SYSTEM's
         # DefaultConnectionSettings (HKU\\S-1-5-18 ...\\Connections) decoded; absent: no value
     "domain_groups": {"<sid>": {"name": "CONTOSO\\Domain Admins", "member_of": ["S-1-5-32-544"], "members": [sid] | null}},
         # added: groups besides the local ones, as ADSI (WinNT) lists them; members null = cannot be read (no DC)
     "administrators_unreadable": false,  # added: ADSI cannot list Administrators at all
     "task_scheduler": {"\\Microsoft\\OnlineBackup\\Microsoft-OnlineBackup": {"enabled": true,
         "triggers": [{"kind": "weekly", "enabled": true}], "user_id": "SYSTEM", "run_level": "Highest",
         "multiple_instances": "IgnoreNew" | "Parallel" | "Queue" | "StopExisting", "state": "Ready"}},
         # registered tasks as Get-ScheduledTask lists them (not the one-shot "scheduled_tasks" above)
         # added: a task may also hold "group_id" (a group principal) and "logon_type" ("ServiceAccount", "Password", ...);
         # "enabled": false is Get-ScheduledTask's State Disabled.
     "local_accounts": {"backupuser": {"sid": "S-1-5-21-...-1001", "groups": ["S-1-5-32-545"]}},
         # added: local accounts besides the WinRM administrator (NTAccount.Translate, Get-LocalGroupMember)
     "product_type": 3,              # added: Win32_OperatingSystem.ProductType (1 client, 3 server; default 3)
     # added for the log bundle (add_default_logs): the event logs, newest last, as Get-WinEvent reads them.
     "event_log": [{"log": "Application" | "System", "provider": "VSS", "id": 8224,
         "level": 1-5 (1 Critical, 2 Error, 3 Warning, 4 Information), "time": ISO-8601 UTC, "record": int,
         "message": str | null (null: the provider's message file is missing), "data": [str] (EventData items)}],
     "event_log_error": str,         # added, optional: Get-WinEvent fails with this message for every log
     # added to files{} entries: "locked": true (held open without sharing: opening it fails with a sharing
     # violation), "unreadable": true (access denied). A file without "content_b64" reads as "size" bytes of
     # made-up log lines (filler_bytes): the simulation keeps no bytes of big files.
     # added for MARS_SCRATCH, MARS_TEMP_FILES and MARS_PREREQS (all optional; the defaults are a healthy VM):
     # volumes[]: "free_bytes" (see above), "file_system" ("NTFS"), "drive_type" (Win32_Volume.DriveType,
     #   3 = local disk), "dedup" (false; seen only with "dedup_feature": true, the Data Deduplication feature installed),
     #   "capacity_bytes" (Win32_Volume.Capacity where it is not size_gb GiB: a capture's)
     "folder_attributes": {"<folder>": ["Compressed" | "Encrypted" | "SparseFile" | "ReparsePoint"]},  # besides Directory
     "denied_dirs": ["<folder>"],    # listing it is refused (UnauthorizedAccessException)
     "bulk_files": [{"folder": "C:\\Windows\\Temp", "prefix": "tmp", "suffix": ".tmp", "first": 0, "count": 61000,
         "size": 2048, "in_use": 25}],
         # many files in one entry (the state is saved as JSON after every call): <folder>\\<prefix><n><suffix> for n from
         # first to first+count-1, each of size bytes; the first in_use of them are open elsewhere (a delete is refused).
         # Only the MARS twins list them (bulk_listing); other twins and modules do not see them.
         # added: "mtime" (ISO-8601 UTC, FileInfo.LastWriteTimeUtc of each of them; absent: now)
     # added to files{} entries (MARS_TEMP_FILES): "vanishes": true (someone else deletes it between the delete
     #   script's listing and its delete)
     "mars_jobs": [{"type": "Backup"}],  # added: the MARS jobs running now (Get-OBJob); absent or []: none
     "mars_module_error": str,       # added: Import-Module of the agent's MSOnlineBackup module fails with this message
     "registry_denied": ["<key>"],   # added: Set-ItemProperty on a value of these keys fails (access denied)
     # a DPM or MABS server: the key hostmod.DPM_SETUP_KEY in registry{} (Get-MarsAgent's dpm)
     "clock_offset_seconds": 0,      # the VM's clock minus the real time
     "time_zone": {"id": "UTC", "display_name": "(UTC) Coordinated Universal Time"},  # default (Azure images use UTC)
     "next_pid": 4000,               # added: pid counter
     # added: shadow copy storage associations (Win32_ShadowStorage; vssadmin list shadowstorage), by drive letter of
     # the volume ("for") and of the volume that holds its storage ("on"); the volumes' DeviceIDs are scripts._volume_id.
     "shadow_storage": [{"for": "C:", "on": "C:", "used_bytes": int, "allocated_bytes": int,
         "max_bytes": int | "UNBOUNDED",
         "copies": [{"id": "{guid}", "created": ISO-8601 UTC, "bytes": int}]}],  # oldest first; used_bytes is their sum
     "shadow_storage_cim_error": "Provider load failure" | absent,   # Win32_ShadowStorage fails with this message
     "shadow_storage_lag_seconds": int | absent,   # a new maximum shows this long after vssadmin resized it (made up)
     # added for shrinks (MARS_SHADOW_STORAGE): the MARS agent's running operations, as Get-OBJob lists them
     "mars_jobs": [{"type": "Backup", "status": "Running"}] | absent,
     "mars_jobs_error": str | absent}   # importing MSOnlineBackup or Get-OBJob fails with this message

Helpers for script twins (scripts.py) that change state the way Windows would:
``SimHost.start_service/stop_service/restart_service`` (dependencies, -Force, writer healing),
``visible_writers()`` (what vssadmin lists), ``find_file/read_file/is_dir/exists``,
``reg_key_exists/reg_values``, and module functions ``put_file_state(state, path, file_entry(data))``,
``set_service_running/stopped``, ``add_process``, ``reg_set``, ``find_key`` (case-insensitive lookup).

Network: the VM reaches loopback only. A name resolves only through ``dns`` ("localhost" always);
an address outside 127.0.0.0/8 is never contacted: connecting to it times out, as from a VM
without a route. Only loopback listeners are really connected to (for win_get_url/win_package).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import importlib
import ipaddress
import json
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid

SMALL_FILE_LIMIT = 256 * 1024
HASH_ALGORITHMS = ("md5", "sha1", "sha256", "sha384", "sha512")

AGENT_VERSION = "2.7.41491.1102"
GUEST_AGENT_DIR = "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-01-23_194431"
PACKAGES_DIR = "C:\\WindowsAzure\\Packages_20240123_194431"
VMSNAPSHOT_DIR = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.75.0"
MACHINEKEYS = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
MACHINEKEYS_DEFAULT_SDDL = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
UNINSTALL_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
NDP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full"
SQL_INSTANCES_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"
# Where a 32-bit SQL Server's instances appear to 64-bit PowerShell (Microsoft Learn, "Registry Redirector").
SQL_INSTANCES_KEY_WOW64 = "HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"
BCDRAGENT_KEY = "HKLM:\\SOFTWARE\\Microsoft\\BCDRAGENT"
# Made up for the simulation: the real product and upgrade codes of the agent MSI are not known here.
AGENT_PRODUCT_ID = "{5CF4D04A-F16C-4892-9196-6025EA61F964}"
AGENT_UPGRADE_CODE = "{856D6EA4-9ABC-43E5-8E6D-8C6D8F2B3E52}"

# Writer ids are the real, fixed class ids of the in-box writers (instance ids are per process).
DEFAULT_WRITERS = [
    ("System Writer", "{e8132975-6f93-4464-a53e-1050253ae220}", "CryptSvc"),
    ("Registry Writer", "{afbab4a2-367d-4d15-a586-71dbb18f8485}", "VSS"),
    ("COM+ REGDB Writer", "{542da469-d3e1-473c-9f4f-7847f01fc64f}", "VSS"),
    ("WMI Writer", "{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}", "Winmgmt"),
    ("Shadow Copy Optimization Writer", "{4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f}", "VSS"),
    ("ASR Writer", "{be000cbe-11fe-4426-9c58-531aa6355fc4}", "VSS"),
    ("Task Scheduler Writer", "{d61d61c8-d73a-4eee-8cdd-f6f9786b7124}", "Schedule"),
]
SQL_WRITER = ("SqlServerWriter", "{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}", "SQLWriter")

# What Environment.ExpandEnvironmentVariables sees for the SYSTEM-ish WinRM user of the simulation.
ENVIRONMENT = {
    "systemdrive": "C:", "systemroot": "C:\\Windows", "windir": "C:\\Windows",
    "programdata": "C:\\ProgramData", "programfiles": "C:\\Program Files",
    "programfiles(x86)": "C:\\Program Files (x86)", "allusersprofile": "C:\\ProgramData",
    "userprofile": "C:\\Users\\azureuser", "temp": "C:\\Users\\azureuser\\AppData\\Local\\Temp",
    "tmp": "C:\\Users\\azureuser\\AppData\\Local\\Temp", "public": "C:\\Users\\Public",
}


class SimNetError(Exception):
    """A failed connection as .NET reports it; ``message`` is the WebException text."""

    def __init__(self, message: str, kind: str, elapsed: float = 0.0):
        super().__init__(message)
        self.message = message
        self.kind = kind  # dns | timeout | refused | tls | protocol
        self.elapsed = elapsed


class SimHttpError(SimNetError):
    """A non-2xx answer: .NET raises it as a WebException that carries the response."""

    def __init__(self, status: int, reason: str, body: bytes, elapsed: float = 0.0):
        super().__init__("The remote server returned an error: (%d) %s." % (status, reason), "http", elapsed)
        self.status = status
        self.reason = reason
        self.body = body


class SimResponse:
    """A 2xx answer."""

    def __init__(self, url: str, status: int, reason: str, headers: dict, body: bytes, elapsed: float):
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.elapsed = elapsed


# -- paths -----------------------------------------------------------------------------------------

def norm_path(path: str) -> str:
    """Windows spelling of a path: backslashes, no doubled or trailing separators (roots keep theirs)."""
    path = path.replace("/", "\\")
    unc = path.startswith("\\\\")
    path = re.sub(r"\\{2,}", r"\\", path)
    if unc:
        path = "\\" + path
    if len(path) > 3 and path.endswith("\\"):
        path = path.rstrip("\\")
    if re.fullmatch(r"[A-Za-z]:", path):
        path += "\\"
    return path


def path_key(path: str) -> str:
    """Comparison key: NTFS paths are case-insensitive."""
    return norm_path(path).lower()


def parent_path(path: str) -> str | None:
    path = norm_path(path)
    if re.fullmatch(r"[A-Za-z]:\\", path):
        return None
    head = path.rsplit("\\", 1)[0]
    return norm_path(head) if head else None


def expand_env(value: str) -> str:
    """Environment.ExpandEnvironmentVariables: %NAME% replaced when known, kept verbatim otherwise."""
    def repl(match):
        return ENVIRONMENT.get(match.group(1).lower(), match.group(0))
    return re.sub(r"%([^%]+)%", repl, value)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_entry(data: bytes, version: str | None = None) -> dict:
    """A files{} entry for content ``data``: hashes always, the bytes only when small."""
    entry = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
             "hashes": {alg: hashlib.new(alg, data).hexdigest() for alg in HASH_ALGORITHMS},
             "mtime": now_iso()}
    if len(data) <= SMALL_FILE_LIMIT:
        entry["content_b64"] = base64.b64encode(data).decode("ascii")
    if version:
        entry["version"] = version
    return entry


def placeholder_binary(path: str, version: str | None) -> dict:
    """A file the simulation has no real bytes for (agent binaries): small stand-in content."""
    name = path.rsplit("\\", 1)[-1]
    data = b"MZ\x90\x00" + ("simulated %s %s" % (name, version or "")).encode()
    return file_entry(data, version)


# -- state-level helpers (faults.py and scripts.py use them too) -----------------------------------

def find_key(mapping: dict, name: str) -> str | None:
    """The key of ``mapping`` equal to ``name`` ignoring case (Windows names and paths)."""
    if name in mapping:
        return name
    low = name.lower()
    for key in mapping:
        if key.lower() == low:
            return key
    return None


def service_process_name(path: str) -> str:
    exe = path.strip()
    if exe.startswith('"'):
        exe = exe[1:].split('"', 1)[0]
    else:
        match = re.match(r"(.+?\.exe)\b", exe, re.IGNORECASE)
        exe = match.group(1) if match else exe.split(" ", 1)[0]
    return exe.rsplit("\\", 1)[-1]


def new_pid(state: dict) -> int:
    pid = state.get("next_pid", 4000)
    state["next_pid"] = pid + 4
    return pid


def add_process(state: dict, name: str, service: str | None = None) -> dict:
    proc = {"name": name, "pid": new_pid(state), "service": service}
    state.setdefault("processes", []).append(proc)
    return proc


def remove_service_processes(state: dict, service: str) -> None:
    state["processes"] = [p for p in state.get("processes", [])
                          if (p.get("service") or "").lower() != service.lower()]


def writer_instance_id(host_name: str, writer: str, generation: int) -> str:
    # Deterministic per host, writer and restart so state files stay comparable between runs.
    return "{%s}" % uuid.uuid5(uuid.NAMESPACE_URL, "winsim:%s:%s:%d" % (host_name, writer, generation))


def add_writer(state: dict, name: str, writer_id: str, service: str | None, vss_state: int = 1,
               last_error: str = "none", stuck: bool = False) -> dict:
    writer = {"name": name, "id": writer_id, "instance_id": writer_instance_id(state["name"], name, 0),
              "state": vss_state, "last_error": last_error, "service": service, "stuck": stuck,
              "generation": 0}
    state.setdefault("vss_writers", []).append(writer)
    return writer


def find_writer(state: dict, name: str) -> dict | None:
    for writer in state.get("vss_writers", []):
        if writer["name"].lower() == name.lower():
            return writer
    return None


def set_service_running(state: dict, name: str) -> None:
    """The service's process starts; writers it hosts come back fresh (unless stuck)."""
    key = find_key(state["services"], name)
    svc = state["services"][key]
    was_running = svc["state"] == "running"
    svc["state"] = "running"
    if was_running:
        return
    add_process(state, service_process_name(svc["path"]), key)
    for writer in state.get("vss_writers", []):
        if (writer.get("service") or "").lower() != key.lower():
            continue
        writer["generation"] = writer.get("generation", 0) + 1
        writer["instance_id"] = writer_instance_id(state["name"], writer["name"], writer["generation"])
        if not writer.get("stuck"):
            writer["state"] = 1
            writer["last_error"] = "none"


def set_service_stopped(state: dict, name: str) -> None:
    key = find_key(state["services"], name)
    state["services"][key]["state"] = "stopped"
    remove_service_processes(state, key)


def add_service(state: dict, name: str, display_name: str, path: str, start_mode: str = "auto",
                running: bool = True, username: str = "LocalSystem", dependencies=None,
                description: str | None = None) -> dict:
    svc = {"display_name": display_name, "state": "stopped", "start_mode": start_mode, "path": path,
           "username": username, "dependencies": list(dependencies or []), "start_fails": False,
           "description": description}
    state["services"][name] = svc
    if running:
        set_service_running(state, name)
    return svc


def remove_service(state: dict, name: str) -> None:
    key = find_key(state["services"], name)
    if key is None:
        return
    remove_service_processes(state, key)
    del state["services"][key]


def depended_by(state: dict, name: str) -> list:
    return [other for other, svc in state["services"].items()
            if any(dep.lower() == name.lower() for dep in svc.get("dependencies", []))]


def running_dependants(state: dict, name: str) -> list:
    """Every dependant of ``name`` that is not stopped, dependants of dependants too, each after everything
    that depends on it: the order to stop them in (the reverse of the start order, as EnumDependentServices
    returns them: learn.microsoft.com, EnumDependentServicesW, lpServices)."""
    seen, order = set(), []

    def visit(service):
        for dep in depended_by(state, service):
            if dep.lower() in seen:
                continue
            seen.add(dep.lower())
            visit(dep)
            if state["services"][dep]["state"] != "stopped":
                order.append(dep)
    visit(name)
    return order


def add_known_dependants(state: dict) -> None:
    """Services that depend on the simulated services a VSS writer lives in, so stopping one means
    stopping them first. IP Helper depends on Winmgmt: issue 10 names it among Winmgmt's dependants on a
    normal server. No published `sc enumdepend winmgmt` / `Get-Service -DependentServices` listing was
    found to take a complete graph from, so only this edge is modelled, and IP Helper's own other
    dependencies are left out."""
    add_service(state, "iphlpsvc", "IP Helper", "C:\\Windows\\System32\\svchost.exe -k NetSvcs -p", "auto", True,
                "LocalSystem", ["Winmgmt"])


def reg_set(state: dict, key: str, name: str, vtype: str, data) -> None:
    reg = state.setdefault("registry", {})
    real = find_key(reg, key) or key
    reg.setdefault(real, {})[name] = {"type": vtype, "data": data}


def reg_delete_value(state: dict, key: str, name: str) -> None:
    real = find_key(state.get("registry", {}), key)
    if real is not None:
        values = state["registry"][real]
        vname = find_key(values, name)
        if vname is not None:
            del values[vname]


def reg_delete_tree(state: dict, key: str) -> None:
    low = key.lower()
    for k in list(state.get("registry", {})):
        if k.lower() == low or k.lower().startswith(low + "\\"):
            del state["registry"][k]


def mirror_product(state: dict, product: dict) -> None:
    """Installed programs (ARP) live in the registry's Uninstall key too."""
    key = UNINSTALL_KEY + "\\" + product["product_id"]
    reg_delete_tree(state, key)
    reg_set(state, key, "DisplayName", "string", product["name"])
    reg_set(state, key, "DisplayVersion", "string", product["version"])
    reg_set(state, key, "Publisher", "string", product.get("publisher", ""))
    reg_set(state, key, "UninstallString", "expandstring", product.get("uninstall_string", ""))
    reg_set(state, key, "WindowsInstaller", "dword", 1)


def unmirror_product(state: dict, product: dict) -> None:
    reg_delete_tree(state, UNINSTALL_KEY + "\\" + product["product_id"])


def put_file_state(state: dict, path: str, entry: dict) -> str:
    path = norm_path(path)
    files = state.setdefault("files", {})
    old = find_key(files, path)
    if old is not None and old != path:
        del files[old]
        path = old  # NTFS keeps the case a file was created with
    files[path] = entry
    return path


def remove_file_state(state: dict, path: str) -> None:
    key = find_key(state.get("files", {}), norm_path(path))
    if key is not None:
        del state["files"][key]


def remove_tree_state(state: dict, path: str) -> None:
    low = path_key(path)
    state["files"] = {p: e for p, e in state.get("files", {}).items()
                      if not (p.lower() == low or p.lower().startswith(low + "\\"))}
    state["dirs"] = [d for d in state.get("dirs", [])
                     if not (d.lower() == low or d.lower().startswith(low + "\\"))]


def sync_mirrors(state: dict) -> None:
    """Write the structured facts into the registry where Windows keeps them."""
    reg_set(state, NDP_KEY, "Release", "dword", state["dotnet_release"])
    reg_set(state, NDP_KEY, "Install", "dword", 1)
    if state["dotnet_release"] >= 528040:
        version = "4.8.03761"
    elif state["dotnet_release"] >= 378389:
        version = "4.5.51209"
    else:
        version = "4.0.30319"
    reg_set(state, NDP_KEY, "Version", "string", version)
    for product in state.get("products", []):
        mirror_product(state, product)
    if state.get("sql_server"):
        reg_set(state, SQL_INSTANCES_KEY, "MSSQLSERVER", "string", "MSSQL15.MSSQLSERVER")
        if find_key(state["services"], "MSSQLSERVER") is None:
            add_service(state, "MSSQLSERVER", "SQL Server (MSSQLSERVER)",
                        '"C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe" -sMSSQLSERVER',
                        username="NT Service\\MSSQLSERVER")
        if find_key(state["services"], "SQLWriter") is None:
            add_service(state, "SQLWriter", "SQL Server VSS Writer",
                        '"C:\\Program Files\\Microsoft SQL Server\\90\\Shared\\sqlwriter.exe"')
        if find_writer(state, SQL_WRITER[0]) is None:
            add_writer(state, *SQL_WRITER)


# -- the default machine ---------------------------------------------------------------------------

# The newest agent MSI in this simulated world (release asset name from agent-names-and-paths.tsv).
NEW_AGENT_VERSION = "2.7.41491.1193"
NEW_AGENT_PRODUCT_ID = "{2E4A1C7B-5D3F-4E8A-9B6C-1F0D2A3B4C5E}"  # made up, like the other codes
AGENT_MSI = b"simulated WindowsAzureVmAgent.amd64_2.7.41491.1193_2601261193.fre.msi\r\n"


MICROSOFT_SIGNER = "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US"


def agent_msi_entry() -> dict:
    guest = "C:\\WindowsAzure\\GuestAgent_%s_2026-01-26_115300" % NEW_AGENT_VERSION
    packages = "C:\\WindowsAzure\\Packages_20260126_115300"
    return {
        "product_id": NEW_AGENT_PRODUCT_ID, "name": "Windows Azure VM Agent - " + NEW_AGENT_VERSION,
        "version": NEW_AGENT_VERSION, "publisher": "Microsoft Corporation", "upgrade_code": AGENT_UPGRADE_CODE,
        # added: the Authenticode signature embedded in the package, as Get-AuthenticodeSignature reports it
        # (the agent MSI is signed by Microsoft; the subject is the usual one of Microsoft's code signing certificates).
        "signature": {"status": "Valid", "signer": MICROSOFT_SIGNER},
        "installs": {
            "dirs": [guest, packages],
            "files": {guest + "\\WindowsAzureGuestAgent.exe": {"version": NEW_AGENT_VERSION},
                      packages + "\\WaAppAgent.exe": {"version": NEW_AGENT_VERSION}},
            "services": {
                "WindowsAzureGuestAgent": {"display_name": "Windows Azure Guest Agent", "path": guest + "\\WindowsAzureGuestAgent.exe"},
                "RdAgent": {"display_name": "RdAgent", "path": packages + "\\WaAppAgent.exe"},
            },
        },
    }


def default_state(name: str, locale: str = "en") -> dict:
    """A healthy Azure VM with Windows Server 2019 and the VM agent, backup enabled."""
    if locale not in ("en", "de"):
        raise ValueError("locale must be 'en' or 'de', not %r" % locale)
    state = {
        "name": name, "locale": locale, "os": "Windows Server 2019 Datacenter",
        # $PSVersionTable.PSVersion and [Environment]::OSVersion.Version of Server 2019 (build 17763).
        "powershell_version": "5.1.17763.592", "os_build": "10.0.17763.0",
        "services": {}, "registry": {}, "files": {}, "dirs": [], "acls": {},
        "certificates": {"LocalMachine\\My": [], "LocalMachine\\Root": [], "CurrentUser\\My": []},
        "vss_writers": [], "products": [], "msi_catalog": {}, "processes": [],
        "volumes": [
            {"mount": "C:", "label": "Windows", "bitlocker_protection": "off", "lock_status": "unlocked", "size_gb": 127, "disk": 0},
            {"mount": "D:", "label": "Temporary Storage", "bitlocker_protection": "off", "lock_status": "unlocked", "size_gb": 16, "disk": 1},
        ],
        "disks": [{"number": 0, "size_gb": 127, "kind": "os"}, {"number": 1, "size_gb": 16, "kind": "temp"}],
        # dns_servers: what Get-DnsClientServerAddress lists; Azure's DHCP hands out 168.63.129.16
        # (Microsoft Learn, "What is IP address 168.63.129.16?"). dns_static: set by an admin, kept over DHCP's.
        "nics": [{"alias": "Ethernet", "index": 5, "ipv4": "10.0.0.4", "prefix": 24, "gateway": "10.0.0.1",
                  "dhcp": True, "primary": True, "dns_servers": ["168.63.129.16"], "dns_static": False}],
        "cpu_load_percent": [12, 15, 10], "memory": {"total_mb": 8192, "free_mb": 5000},
        "dotnet_release": 528040, "sql_server": False,
        "winhttp_proxy": {"proxy": "", "bypass": ""}, "ie_proxy": {"proxy": "", "bypass": ""},
        "dns": {"management.azure.com": ["127.0.0.1"]}, "reachable": {}, "blocked_ports": [],
        "next_pid": 4000,
        # Shadow copy storage (schema in the module docstring): C: keeps its shadow copies on itself, with a
        # maximum of 10 % of the volume (what Windows sets for Shadow Copies of Shared Folders by default).
        "shadow_storage": [{"for": "C:", "on": "C:", "used_bytes": 3017089024, "allocated_bytes": 3520851968,
                            "max_bytes": 127 * 2**30 // 10,
                            "copies": [{"id": "{0b6e2a51-4c1d-4f7e-9a3b-2d8c5e1f7a60}", "created": "2026-11-30T22:00:14Z", "bytes": 1400000000},
                                       {"id": "{7d3f9c28-1e5a-4b6d-8f0c-3a9e2b4d6c81}", "created": "2026-12-01T22:00:11Z", "bytes": 1617089024}]}],
    }
    # The guest agent and the extension it runs (paths as on a 2024 image, see agent-names-and-paths.tsv).
    agent_files = {
        GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe": AGENT_VERSION,
        PACKAGES_DIR + "\\WaAppAgent.exe": AGENT_VERSION,
    }
    for path, version in agent_files.items():
        put_file_state(state, path, placeholder_binary(path, version))
    put_file_state(state, VMSNAPSHOT_DIR + "\\iaasvmprovider.dll", placeholder_binary("iaasvmprovider.dll", "1.0.75.0"))
    # Azure writes this to the root of the temporary disk (see _disk_limits.DATALOSS_WARNING).
    put_file_state(state, "D:\\DATALOSS_WARNING_README.txt", file_entry(b"WARNING: THIS IS A TEMPORARY DISK.\r\n"))
    put_file_state(state, "C:\\WindowsAzure\\Logs\\WaAppAgent.log",
                   file_entry(b"[00000004] [01/23/2024 19:44:40.12] [INFO]  WindowsAzureGuestAgent starting. Version 2.7.41491.1102\r\n"))
    add_default_logs(state)
    state["dirs"] = [VMSNAPSHOT_DIR, "C:\\WindowsAzure\\Logs", MACHINEKEYS, "C:\\Windows\\Temp",
                     "C:\\Windows\\System32", "C:\\Program Files", "C:\\Users\\azureuser\\AppData\\Local\\Temp"]
    state["acls"][MACHINEKEYS] = MACHINEKEYS_DEFAULT_SDDL

    svc = [
        ("WindowsAzureGuestAgent", "Windows Azure Guest Agent", GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe", "auto", "LocalSystem", []),
        ("RdAgent", "RdAgent", PACKAGES_DIR + "\\WaAppAgent.exe", "auto", "LocalSystem", []),
        # Where IaaSVmProvider's image lives is not known from a source: a COM+ style host is assumed.
        ("IaaSVmProvider", "IaaSVmProvider", "C:\\Windows\\system32\\dllhost.exe /Processid:{B6A3D0E1-7C1C-4A9A-9F0B-6A2B1C0E5D21}",
         "auto", "LocalSystem", []),
        ("VSS", "Volume Shadow Copy", "C:\\Windows\\system32\\vssvc.exe", "manual", "LocalSystem", ["RPCSS"]),
        ("COMSysApp", "COM+ System Application", "C:\\Windows\\system32\\dllhost.exe /Processid:{02D4B3F1-FD88-11D1-960D-00805FC79235}",
         "manual", "LocalSystem", ["SENS", "EventSystem", "RpcSs"]),
        ("MSDTC", "Distributed Transaction Coordinator", "C:\\Windows\\System32\\msdtc.exe", "auto",
         "NT AUTHORITY\\NETWORK SERVICE", ["RPCSS", "SamSS"]),
        ("CryptSvc", "Cryptographic Services", "C:\\Windows\\system32\\svchost.exe -k NetworkService -p", "auto",
         "NT AUTHORITY\\NETWORK SERVICE", ["RpcSs"]),
        ("Winmgmt", "Windows Management Instrumentation", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", "auto",
         "LocalSystem", ["RPCSS"]),
        ("EventSystem", "COM+ Event System", "C:\\Windows\\system32\\svchost.exe -k LocalService -p", "auto",
         "NT AUTHORITY\\LOCAL SERVICE", ["rpcss"]),
        ("Schedule", "Task Scheduler", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", "auto", "LocalSystem", ["RPCSS"]),
    ]
    for sname, display, path, mode, user, deps in svc:
        add_service(state, sname, display, path, mode, True, user, deps)
    # Part of Windows, Manual and stopped until something uses it (MARS restores mount through it).
    add_service(state, "MSiSCSI", "Microsoft iSCSI Initiator Service", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
                "manual", False, "LocalSystem", [])
    add_service(state, "BITS", "Background Intelligent Transfer Service", "C:\\Windows\\System32\\svchost.exe -k netsvcs -p",
                "manual", False, "LocalSystem", ["RpcSs"])
    add_known_dependants(state)
    for wname, wid, wsvc in DEFAULT_WRITERS:
        add_writer(state, wname, wid, wsvc)

    agent = {
        "name": "Windows Azure VM Agent - " + AGENT_VERSION, "product_id": AGENT_PRODUCT_ID,
        "version": AGENT_VERSION, "publisher": "Microsoft Corporation",
        "uninstall_string": "MsiExec.exe /X" + AGENT_PRODUCT_ID, "upgrade_code": AGENT_UPGRADE_CODE,
        "installs": {"services": ["WindowsAzureGuestAgent", "RdAgent"], "files": list(agent_files),
                     "dirs": [GUEST_AGENT_DIR, PACKAGES_DIR]},
    }
    state["products"].append(agent)
    # What the agent MSI behind Microsoft's download link installs (AGENT_MSI's bytes stand for it):
    # a major upgrade of the agent, its two services, its files.
    state["msi_catalog"][hashlib.sha256(AGENT_MSI).hexdigest()] = agent_msi_entry()
    # A normal machine certificate (the WinRM listener's), so a fix that deletes too much shows.
    state["certificates"]["LocalMachine\\My"].append({
        "thumbprint": hashlib.sha1(("winrm:" + name).encode()).hexdigest().upper(),
        "subject": "CN=" + name, "issuer": "CN=" + name, "not_after": "2027-01-23T19:44:31Z",
        "has_private_key": True})
    reg_set(state, ENVIRONMENT_KEY, "PSModulePath", "expandstring", DEFAULT_PSMODULEPATH)
    reg_set(state, EXECUTION_POLICY_KEY, "ExecutionPolicy", "string", "RemoteSigned")
    # Microsoft Defender Antivirus, installed and on by default on Windows Server 2016 and later.
    state["defender"] = {"running": True, "exclusion_path": [], "exclusion_process": []}
    sync_mirrors(state)
    return state


# -- logs and event log entries (what the log bundle reads) ------------------------------------------------

VMSNAPSHOT_LOG_DIR = "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.75.0"
FILLER_LINE = b"[00000008] [simulated] [INFO]  a line of a log the simulation keeps no bytes of\r\n"


def ago(hours: float) -> str:
    """An ISO-8601 UTC time ``hours`` before now."""
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    return then.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_file(data: bytes, hours_ago: float) -> dict:
    """A files{} entry for a log last written ``hours_ago``."""
    return dict(file_entry(data), mtime=ago(hours_ago))


def filler_bytes(size: int) -> bytes:
    """What a file the simulation keeps no bytes of reads as: FILLER_LINE repeated, cut to its size."""
    return (FILLER_LINE * (size // len(FILLER_LINE) + 1))[:size]


def add_event(state: dict, log: str, provider: str, event_id: int, level: int, hours_ago: float, message, data=()) -> dict:
    entries = state.setdefault("event_log", [])
    entry = {"log": log, "provider": provider, "id": event_id, "level": level, "time": ago(hours_ago),
             "record": 1000 + len(entries), "message": message, "data": list(data)}
    entries.append(entry)
    return entry


def add_default_logs(state: dict) -> None:
    """The agent's and the backup extension's logs, status and settings, and a few event log entries, as a healthy
    VM has them. Folder and file names of the extension are those of agent-names-and-paths.tsv; the log file's
    name inside the extension's log folder, and every text, are made up (the message of event 8224 is the one VSS
    logs when it stops after idling, as remembered, not taken from a captured event)."""
    put_file_state(state, "C:\\WindowsAzure\\Logs\\TransparentInstaller.log",
                   log_file(b"[2024-01-23 19:44:31] TransparentInstaller: installing Windows Azure VM Agent 2.7.41491.1102\r\n", 30 * 24))
    put_file_state(state, VMSNAPSHOT_LOG_DIR + "\\IaaSBcdrExtension.log",
                   log_file(b"[simulated] IaaSBcdrExtension: snapshot taken, status success\r\n", 20))
    put_file_state(state, VMSNAPSHOT_DIR + "\\Status\\0.status", log_file(json.dumps([{
        "version": "1.0", "timestampUTC": ago(20), "status": {
            "name": "Microsoft.Azure.RecoveryServices.VMSnapshot", "operation": "Enable", "status": "success", "code": 0,
            "formattedMessage": {"lang": "en-US", "message": "simulated: snapshot taken"}}}]).encode(), 20))
    # The handler settings file of an extension (RuntimeSettings\<sequence>.settings): public settings in clear,
    # protectedSettings encrypted to the certificate protectedSettingsCertThumbprint names.
    put_file_state(state, VMSNAPSHOT_DIR + "\\RuntimeSettings\\0.settings", log_file(json.dumps({"runtimeSettings": [{"handlerSettings": {
        "protectedSettingsCertThumbprint": "5E0F3B9C1A2D4E6F708192A3B4C5D6E7F8091A2B",
        "protectedSettings": "MIIB8AYJKoZIhvcNAQcDoIIB4TCCAd0CAQAxggFpsimulatedSECRET==",
        "publicSettings": {"locale": "en-us", "taskId": "simulated-task", "commandToExecute": "snapshot"}}}]}).encode(), 20))
    add_event(state, "Application", "VSS", 8224, 4, 2, "The VSS service is shutting down due to idle timeout.")
    # Outside the default window of 72 hours, and one no bundle asks for.
    add_event(state, "Application", "VSS", 8224, 4, 24 * 30, "The VSS service is shutting down due to idle timeout.")
    add_event(state, "System", "Service Control Manager", 7036, 4, 1, "The Windows Update service entered the stopped state.",
              ["Windows Update", "stopped"])


# -- the MARS agent (article 004), installed only where a test asks for it ------------------------------

MARS_SETUP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows Azure Backup\\Setup"
MARS_CONFIG_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows Azure Backup\\Config"
MARS_PROVIDER_KEY = MARS_CONFIG_KEY + "\\CloudBackupProvider"
MARS_DIR = "C:\\Program Files\\Microsoft Azure Recovery Services Agent"
# There on a DPM or MABS server (plugin_utils/windows/mars.py DPM_KEY), which runs obengine too.
DPM_SETUP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Microsoft Data Protection Manager\\Setup"
# Made up: a 2.0.92xx build above the 2.0.9249.0 article 004 asks for (no real build list was at hand).
MARS_VERSION = "2.0.9262.0"
MARS_TASK = "\\Microsoft\\OnlineBackup\\Microsoft-OnlineBackup"
# Article 004's concrete name and Microsoft Entra ID's sign-in name (MARS_CONNECTIVITY's defaults).
MARS_ENDPOINT_NAMES = ("www.msftncsi.com", "login.microsoftonline.com")
# The machine environment (what [Environment]::GetEnvironmentVariable(..., 'Machine') reads).
ENVIRONMENT_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"
# Where Set-ExecutionPolicy -Scope LocalMachine writes (about_Execution_Policies; RemoteSigned is the
# Windows Server default).
EXECUTION_POLICY_KEY = "HKLM:\\SOFTWARE\\Microsoft\\PowerShell\\1\\ShellIds\\Microsoft.PowerShell"
DEFAULT_PSMODULEPATH = "%ProgramFiles%\\WindowsPowerShell\\Modules;%SystemRoot%\\system32\\WindowsPowerShell\\v1.0\\Modules"


def install_mars(state: dict) -> None:
    """A healthy MARS agent, registered and scheduled, as article 004 describes it working: the engine service
    runs, the scratch folder (default <install>\\Scratch) holds OnlineBackup.KEK and both ScratchLocation values
    name it, the backup task runs as SYSTEM and starts no second instance, the module folder is on the
    machine's PSModulePath, and Defender excludes what the article lists. The iSCSI initiator is left as Windows
    installs it (Manual, stopped): a restore's mount starts it.
    Idempotent: faults call it before breaking one of these."""
    if find_key(state["services"], "obengine") is not None:
        return
    scratch = MARS_DIR + "\\Scratch"
    reg_set(state, MARS_SETUP_KEY, "InstallPath", "string", MARS_DIR + "\\")
    reg_set(state, MARS_CONFIG_KEY, "ScratchLocation", "string", scratch)
    reg_set(state, MARS_PROVIDER_KEY, "ScratchLocation", "string", scratch)
    engine = MARS_DIR + "\\Bin\\cbengine.exe"
    put_file_state(state, engine, placeholder_binary(engine, MARS_VERSION))
    module = MARS_DIR + "\\Bin\\Modules\\MSOnlineBackup"
    put_file_state(state, module + "\\MSOnlineBackup.psd1", file_entry(b"@{ ModuleVersion = '1.0' }\r\n"))
    put_file_state(state, scratch + "\\OnlineBackup.KEK", file_entry(b"simulated key encryption key\r\n"))
    put_file_state(state, MARS_DIR + "\\Temp\\CBEngineCurr.errlog", file_entry(b"simulated MARS engine log\r\n"))
    add_service(state, "obengine", "Microsoft Azure Recovery Services Agent", '"%s"' % engine, "auto", True, "LocalSystem", ["RpcSs"])
    path = (reg_values_of(state, ENVIRONMENT_KEY).get("PSModulePath") or {}).get("data") or DEFAULT_PSMODULEPATH
    reg_set(state, ENVIRONMENT_KEY, "PSModulePath", "expandstring", path + ";" + MARS_DIR + "\\Bin\\Modules\\")
    state.setdefault("task_scheduler", {})[MARS_TASK] = {
        "enabled": True, "triggers": [{"kind": "weekly", "enabled": True}], "user_id": "SYSTEM", "run_level": "Highest",
        "multiple_instances": "IgnoreNew", "state": "Ready"}
    # The names MARS_CONNECTIVITY probes by default, stood in on loopback like management.azure.com.
    state.setdefault("dns", {}).update({name: ["127.0.0.1"] for name in MARS_ENDPOINT_NAMES})
    # .NET Framework 4's compiler, 32- and 64-bit (part of every Windows Server since 2012); article 004 has each
    # csc.exe excluded as a file, and cbengine.exe through the Bin folder.
    csc = [ENVIRONMENT["windir"] + "\\Microsoft.NET\\%s\\v4.0.30319\\csc.exe" % f for f in ("Framework", "Framework64")]
    for path in csc:
        put_file_state(state, path, placeholder_binary(path, "4.8.4161.0"))
    defender = state.setdefault("defender", {"running": True, "exclusion_path": [], "exclusion_process": []})
    defender["exclusion_path"] += [scratch, MARS_DIR + "\\Bin"] + csc


def reg_values_of(state: dict, key: str) -> dict:
    real = find_key(state["registry"], key)
    return state["registry"][real] if real else {}


def bulk_listing(state: dict, folder: str) -> list:
    """The files of state["bulk_files"] directly in ``folder``: [(path, size, in_use, entry)], in name order of n."""
    out = []
    for entry in state.get("bulk_files", []):
        if path_key(entry["folder"]) != path_key(folder):
            continue
        for n in range(entry["first"], entry["first"] + entry["count"]):
            path = "%s\\%s%d%s" % (norm_path(entry["folder"]), entry["prefix"], n, entry["suffix"])
            out.append((path, entry["size"], n - entry["first"] < entry.get("in_use", 0), entry))
    return out


def remove_bulk_files(state: dict, entry: dict, removed: int) -> None:
    """Delete the files of a bulk entry that are not in use (its first in_use ones stay); ``removed`` must be the rest."""
    if removed != entry["count"] - min(entry.get("in_use", 0), entry["count"]):
        raise ValueError("a bulk entry loses all its files not in use, or none")
    entry["count"] -= removed
    if entry["count"] == 0:
        state["bulk_files"].remove(entry)


# -- the host --------------------------------------------------------------------------------------

class SimHost:
    """One simulated VM. Every operation runs under ``lock``; state is saved after each change."""

    def __init__(self, state: dict, state_dir: str | None = None):
        self.state = state
        self.state_dir = state_dir
        self.lock = threading.RLock()
        self.calls: list[dict] = []
        # Set when the address carrying WinRM went away: the request in flight loses its answer.
        self.connection_lost = False

    @property
    def name(self) -> str:
        return self.state["name"]

    @classmethod
    def create(cls, name: str, locale: str = "en", faults=(), state_dir: str | None = None) -> "SimHost":
        apply_faults = _sibling("faults").apply
        state = default_state(name, locale)
        apply_faults(state, list(faults or []))
        state["faults"] = list(faults or [])
        host = cls(state, state_dir)
        host.save()
        return host

    @classmethod
    def load(cls, path: str) -> "SimHost":
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        return cls(state, os.path.dirname(os.path.abspath(path)))

    # persistence
    def state_path(self) -> str | None:
        return os.path.join(self.state_dir, self.name + ".json") if self.state_dir else None

    def save(self) -> None:
        """Write the state atomically: a reader never sees half a file."""
        path = self.state_path()
        if not path:
            return
        with self.lock:
            os.makedirs(self.state_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="." + self.name + ".", suffix=".tmp", dir=self.state_dir)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(self.state, handle, indent=1, sort_keys=True)
                    handle.write("\n")
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def log(self, entry: dict) -> None:
        entry = dict(entry)
        entry.setdefault("ts", now_iso())
        entry.setdefault("host", self.name)
        with self.lock:
            self.calls.append(entry)
            if self.state_dir:
                os.makedirs(self.state_dir, exist_ok=True)
                with open(os.path.join(self.state_dir, self.name + ".log.jsonl"), "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True, default=str) + "\n")

    # modules
    def run_module(self, name: str, args: dict) -> dict:
        # Not logged here: the WinRM server logs every command it runs (wsman.py calls log()).
        with self.lock:
            self.run_due_tasks()
            result = _sibling("modules").run(self, name, dict(args or {}))
            self.save()
            return result

    def run_raw(self, tag: str) -> str:
        """What a tagged raw PowerShell command prints (scripts.RAW); KeyError for an unknown tag."""
        with self.lock:
            return _sibling("scripts").RAW[tag](self)

    # scheduled tasks
    def run_due_tasks(self) -> None:
        """Run the scheduled tasks whose time has come (real time). The Task Scheduler starts them on its
        own; here they run at the first WinRM request at or after their start time, which is when anyone
        could first see what they did. One-shot tasks are removed once run: the real ones go when their
        trigger's EndBoundary has passed (DeleteExpiredTaskAfter), a few minutes later."""
        due = [t for t in self.state.get("scheduled_tasks", []) if t["start"] <= time.time()]
        for task in due:
            self.state["scheduled_tasks"].remove(task)
            _sibling("scripts").run_task(self, task)
        if due:
            self.save()

    def pause(self, seconds: float) -> None:
        """Time passing inside a script (Start-Sleep): other commands to this host run meanwhile, as on Windows,
        where each is its own process. Both the WinRM server's call lock and the host's own are let go."""
        outer = getattr(self, "call_lock", None)
        saved = self.lock._release_save()  # pylint: disable=protected-access  # an RLock held by run_module, maybe twice
        if outer is not None:
            outer.release()
        try:
            time.sleep(seconds)
        finally:
            if outer is not None:
                outer.acquire()
            self.lock._acquire_restore(saved)  # pylint: disable=protected-access

    def lose_connection(self) -> None:
        self.connection_lost = True

    def take_connection_loss(self) -> bool:
        """Whether the WinRM connection of the request in flight went away (once per loss)."""
        with self.lock:
            lost, self.connection_lost = self.connection_lost, False
            return lost

    # files
    def put_file(self, path: str, data: bytes) -> str:
        """Store ``data`` at ``path`` (creating parent directories, as a test harness would)."""
        with self.lock:
            path = put_file_state(self.state, expand_env(path), file_entry(bytes(data)))
            self.save()
            return path

    def find_file(self, path: str):
        """(stored path, entry) or (None, None)."""
        key = find_key(self.state.get("files", {}), norm_path(expand_env(path)))
        return (key, self.state["files"][key]) if key else (None, None)

    def read_file(self, path: str) -> bytes | None:
        """The bytes of a file, or None when missing or only its hash is kept."""
        entry = self.find_file(path)[1]
        if entry is None:
            return None
        if "content_b64" in entry:
            return base64.b64decode(entry["content_b64"])
        return None

    def is_file(self, path: str) -> bool:
        return self.find_file(path)[0] is not None

    def is_dir(self, path: str) -> bool:
        """Listed dirs, drive roots of volumes, and every parent of a file or listed dir."""
        key = path_key(expand_env(path))
        if re.fullmatch(r"[a-z]:\\", key):
            return any(v["mount"].lower() + "\\" == key for v in self.state.get("volumes", []))
        for item in list(self.state.get("dirs", [])) + list(self.state.get("files", {})):
            low = item.lower()
            if low.startswith(key + "\\") or (low == key and item in self.state.get("dirs", [])):
                return True
        return False

    def exists(self, path: str) -> bool:
        return self.is_file(path) or self.is_dir(path)

    def file_hash(self, path: str, algorithm: str) -> str | None:
        entry = self.find_file(path)[1]
        if entry is None:
            return None
        if "hashes" in entry and algorithm in entry["hashes"]:
            return entry["hashes"][algorithm]
        data = self.read_file(path)
        return hashlib.new(algorithm, data).hexdigest() if data is not None else None

    # registry
    def reg_find_key(self, key: str) -> str | None:
        return find_key(self.state.get("registry", {}), key)

    def reg_key_exists(self, key: str) -> bool:
        low = key.lower().rstrip("\\")
        if re.fullmatch(r"hk(lm|cu|cr|u|cc):", low):
            return True
        if low in ("hklm:\\software", "hklm:\\system", "hklm:\\hardware", "hklm:\\sam", "hklm:\\security"):
            return True
        return any(k.lower() == low or k.lower().startswith(low + "\\") for k in self.state.get("registry", {}))

    def reg_values(self, key: str) -> dict:
        real = self.reg_find_key(key)
        return self.state["registry"][real] if real else {}

    # services
    def find_service(self, name: str):
        """Get-Service semantics: by service name or display name, ignoring case."""
        services = self.state["services"]
        key = find_key(services, name)
        if key is None:
            for sname, svc in services.items():
                if svc.get("display_name", "").lower() == name.lower():
                    key = sname
                    break
        return (key, services[key]) if key else (None, None)

    def start_service(self, name: str, check_mode: bool = False) -> None:
        """Start-Service: raises ServiceError the way the cmdlet fails. -WhatIf (check mode) does nothing."""
        key, svc = self.find_service(name)
        if svc["state"] == "running" or check_mode:
            return
        if svc["start_mode"] == "disabled" or svc.get("start_fails"):
            raise ServiceError("Service '%s (%s)' cannot be started due to the following error: "
                               "Cannot start service %s on computer '.'." % (svc["display_name"], key, key))
        # A service, or a dependency, still in StopPending cannot start: StartService fails with
        # ERROR_SERVICE_ALREADY_RUNNING for the service itself, ERROR_SERVICE_DEPENDENCY_FAIL for a dependency
        # (learn.microsoft.com, StartServiceW, Return value). The one start every twin and fake module uses.
        if svc["state"] == "stop_pending":
            raise ServiceError("Cannot start service %s on computer '.'. An instance of the service is already running" % key)
        for dep in svc.get("dependencies", []):
            dkey, dsvc = self.find_service(dep)
            if dsvc is not None and dsvc["state"] == "stop_pending":
                raise ServiceError("Cannot start service %s on computer '.'. The dependency service or group failed to start" % key)
            if dsvc is not None and dsvc["state"] != "running":
                self.start_service(dkey)  # the SCM starts what a service needs first
        set_service_running(self.state, key)

    def stop_service(self, name: str, force: bool = False, check_mode: bool = False) -> list:
        """Stop-Service; returns the dependents it stopped (with -Force). -WhatIf does nothing."""
        key, svc = self.find_service(name)
        if check_mode:
            return []
        running_deps = [d for d in depended_by(self.state, key) if self.state["services"][d]["state"] == "running"]
        if running_deps and not force:
            raise ServiceError("Cannot stop service '%s (%s)' because it has dependent services. "
                               "It can only be stopped if the Force flag is set." % (svc["display_name"], key))
        stopped = []
        for dep in running_deps:
            stopped += self.stop_service(dep, True) + [dep]
        if svc.get("stop_hangs") and svc["state"] != "stopped":
            # Stop-Service waits without end while the service is StopPending (PowerShell Service.cs,
            # DoWaitForStatus); the simulator fails the call instead of hanging the test.
            svc["state"] = "stop_pending"
            raise ServiceError("Service '%s (%s)' stays in StopPending: Stop-Service would wait for it without end "
                               "(simulated)" % (svc["display_name"], key))
        if svc["state"] != "stopped":
            set_service_stopped(self.state, key)
        return stopped

    def restart_service(self, name: str, force: bool = False, check_mode: bool = False) -> None:
        """Restart-Service: stop (dependents too with -Force), start, start the dependents again."""
        if check_mode:
            return
        key = self.find_service(name)[0]
        stopped = self.stop_service(key, force)
        self.start_service(key)
        for dep in reversed(stopped):
            self.start_service(dep)

    # VSS
    def visible_writers(self) -> list:
        """Writers vssadmin lists: those whose hosting service runs (or with no known service)."""
        out = []
        for writer in self.state.get("vss_writers", []):
            svc_name = writer.get("service")
            if svc_name:
                svc = self.find_service(svc_name)[1]
                if svc is None or svc["state"] != "running":
                    continue
            out.append(writer)
        return out

    # network
    def resolve(self, name: str) -> list | None:
        """Addresses of ``name`` as this VM sees them; None when it does not resolve."""
        try:
            ipaddress.ip_address(name)
            return [name]
        except ValueError:
            pass
        if name.lower() == "localhost":
            return ["127.0.0.1"]
        key = find_key(self.state.get("dns", {}), name.rstrip("."))
        if key is None or not self.state["dns"][key]:
            return None
        return list(self.state["dns"][key])

    def route(self, name: str, port: int):
        """Where a connection from this VM to name:port goes: (ip, None), or (None, "dns") when the name
        does not resolve, or (None, "timeout") when it is blocked or not on loopback (the simulated VM has
        no route anywhere else, and nothing here ever dials outside the machine)."""
        ips = self.resolve(name)
        if not ips:
            return None, "dns"
        address = ipaddress.ip_address(ips[0])
        if self.endpoint_blocked(name, ips[0], port) or address.version != 4 or not address.is_loopback:
            return None, "timeout"
        return ips[0], None

    def endpoint_blocked(self, host: str, ip: str, port: int) -> bool:
        if port in self.state.get("blocked_ports", []):
            return True
        reach = self.state.get("reachable", {})
        for key in ("%s:%d" % (host, port), "%s:%d" % (ip, port)):
            real = find_key(reach, key)
            if real is not None and reach[real] is False:
                return True
        return False

    def http_request(self, url: str, method: str = "GET", headers: dict | None = None, timeout: float = 30,
                     validate_certs: bool = True, follow_redirects: str = "safe", max_redirects: int = 50,
                     proxy_url: str | None = None) -> SimResponse:
        """A web request from the VM. Only loopback is ever contacted; the rest fails like .NET does."""
        start = time.monotonic()
        redirects = 0
        while True:
            status, reason, rheaders, body = self._one_request(url, method, headers or {}, timeout,
                                                               validate_certs, proxy_url, start)
            elapsed = time.monotonic() - start
            location = rheaders.get("location")
            if status in (301, 302, 303, 307, 308) and location and follow_redirects != "none":
                if follow_redirects == "safe" and method not in ("GET", "HEAD"):
                    raise SimHttpError(status, reason, body, elapsed)
                redirects += 1
                if redirects > max_redirects:
                    raise SimNetError("Too many automatic redirections were attempted.", "protocol", elapsed)
                url = urllib.parse.urljoin(url, location)
                if status == 303:
                    method = "GET"
                continue
            if status >= 300:
                raise SimHttpError(status, reason, body, elapsed)
            return SimResponse(url, status, reason, rheaders, body, elapsed)

    def _one_request(self, url, method, headers, timeout, validate_certs, proxy_url, start):
        parsed = urllib.parse.urlsplit(url)
        scheme = parsed.scheme.lower()
        if scheme not in ("http", "https"):
            raise SimNetError("The URI prefix is not recognized.", "protocol")
        host = parsed.hostname or ""
        port = parsed.port or (443 if scheme == "https" else 80)
        target_host, target_port, path = host, port, parsed.path or "/"
        if parsed.query:
            path += "?" + parsed.query
        if proxy_url:
            proxy = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
            target_host, target_port, path = proxy.hostname or "", proxy.port or 80, url
        ip, failure = self.route(target_host, target_port)
        if failure == "dns":
            raise SimNetError("The remote name could not be resolved: '%s'" % target_host, "dns",
                              time.monotonic() - start)
        if failure:
            # No route (or a dropped SYN): .NET waits for the whole timeout. Time is simulated, not spent.
            raise SimNetError("The operation has timed out", "timeout", float(timeout))
        conn_timeout = max(1.0, min(float(timeout), 30.0))
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if scheme == "https" and proxy_url:  # CONNECT through the proxy, TLS with the target's name
            conn = http.client.HTTPSConnection(ip, target_port, timeout=conn_timeout, context=context)
            conn.set_tunnel(host, port)
            path = parsed.path or "/"
            if parsed.query:
                path += "?" + parsed.query
        elif scheme == "https":
            conn = _PinnedHTTPSConnection(ip, host, target_port, timeout=conn_timeout, context=context)
        else:
            conn = http.client.HTTPConnection(ip, target_port, timeout=conn_timeout)
        req_headers = {"Host": parsed.netloc, "User-Agent": "ansible-httpget"}
        req_headers.update(headers)
        try:
            conn.request(method, path, headers=req_headers)
            resp = conn.getresponse()
            body = resp.read()
            rheaders = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, resp.reason, rheaders, body
        except ConnectionRefusedError as exc:
            raise SimNetError("Unable to connect to the remote server", "refused", time.monotonic() - start) from exc
        except ssl.SSLError as exc:
            raise SimNetError("The underlying connection was closed: Could not establish trust relationship "
                              "for the SSL/TLS secure channel.", "tls", time.monotonic() - start) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise SimNetError("The operation has timed out", "timeout", time.monotonic() - start) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise SimNetError("The underlying connection was closed: An unexpected error occurred on a receive.",
                              "protocol", time.monotonic() - start) from exc
        finally:
            conn.close()


class ServiceError(Exception):
    """What Start-Service/Stop-Service write as an error record."""


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback address resolved by the simulation, with SNI/verification for the name."""

    def __init__(self, ip, server_name, port, timeout, context):
        super().__init__(ip, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._ctx = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def _sibling(name: str):
    """faults.py and modules.py import this module, so they are imported when first needed."""
    return importlib.import_module(name)
