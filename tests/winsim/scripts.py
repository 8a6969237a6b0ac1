"""What the collection's PowerShell scripts do, done to a simulated host's state.

No PowerShell runs here, so each script the collection sends (found by its
`#azure_backup.remediation/<tag>` first line) has a twin below that does what the script's
commands do on Windows, over the simulator's state: Win32_Service, the registry, Get-Acl,
icacls, vssadmin, Get-NetIPInterface, TcpClient... Each twin answers in the shape the script
builds `$Ansible.Result`. The twins read only the script's parameters and the state, never
what the product expects; the scripts themselves are syntax-checked by a real PowerShell
grammar in tests/unit/test_powershell.py. Keep each twin beside what its script does when
either changes.
"""

from __future__ import annotations

import socket
import threading
import time

import host as host_module
import render

# Win32_Service's words for the simulator's states (not localised on Windows).
_SERVICE_STATE = {"running": "Running", "stopped": "Stopped", "paused": "Paused"}
_START_MODE = {"auto": "Auto", "delayed": "Auto", "manual": "Manual", "disabled": "Disabled"}
# RegistryValueKind names, as [string]$key.GetValueKind() prints them, for win_regedit's type names.
_VALUE_KIND = {"string": "String", "expandstring": "ExpandString", "multistring": "MultiString", "dword": "DWord",
               "qword": "QWord", "binary": "Binary", "none": "None"}


class ScriptError(Exception):
    """A terminating error in the script ($ErrorActionPreference = 'Stop')."""


def _lookup(mapping: dict, key: str):
    """Windows names (services, paths, registry keys) are case-insensitive."""
    for name, value in mapping.items():
        if name.lower() == key.lower():
            return name, value
    return None, None


def _service_state(state: dict, name: str) -> dict:
    """Get-ServiceState: Win32_Service of one service."""
    _found, service = _lookup(state["services"], name)
    if service is None:
        return {"name": name, "exists": False}
    return {"name": name, "exists": True, "state": _SERVICE_STATE.get(service["state"], "Unknown"),
            "start_mode": _START_MODE[service["start_mode"]], "delayed": service["start_mode"] == "delayed",
            "path": service.get("path", "")}


def _processes(state: dict, names: list) -> list:
    """Get-Process -Name: names without .exe, any case."""
    wanted = [n.lower() for n in names or []]
    out = []
    for process in state.get("processes", []):
        base = process["name"][:-4] if process["name"].lower().endswith(".exe") else process["name"]
        if base.lower() in wanted:
            out.append(base)
    return out


def _registry_values(state: dict, key: str) -> dict | None:
    _found, values = _lookup(state.get("registry", {}), key)
    return values


def win_agent_read(host, p: dict) -> dict:
    state = host.state
    services = [_service_state(state, n) for n in p["Services"]]
    version = None
    rd = next((s for s in services if s["name"] == "RdAgent" and s["exists"]), None)
    if rd:
        exe = rd["path"].strip('"') if rd["path"].startswith('"') else rd["path"]
        _found, info = _lookup(state.get("files", {}), exe)
        if info is not None:
            version = info.get("version")
    products = [{"name": pr["name"], "version": pr.get("version"), "product_id": pr["product_id"]}
                for pr in state.get("products", []) if pr["name"].lower().startswith(p["ProductName"].lower())]
    full = _registry_values(state, r"HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full") or {}
    release = full.get("Release", {}).get("data")
    return {"services": services, "version": version, "products": products, "dotnet_release": release,
            "backup_processes": _processes(state, p["BackupProcesses"])}


def vss_writers_read(host, p: dict) -> dict:
    state = host.state
    # vssadmin starts VSS on demand, and lists only the writers whose service runs.
    host.start_service("VSS")
    states = {}
    for name in p["Services"]:
        service = _service_state(state, name)
        states[name] = service.get("state")
    return {"text": render.vssadmin_list_writers(host.visible_writers(), state["locale"]), "exit_code": 0,
            "services": states, "backup_processes": _processes(state, p["BackupProcesses"])}


def _machinekeys_path(p: dict) -> str:
    return p.get("Path") or r"C:\ProgramData\Microsoft\Crypto\RSA\MachineKeys"


def machinekeys_read(host, p: dict) -> dict:
    state = host.state
    path = _machinekeys_path(p)
    _found, sddl = _lookup(state["acls"], path)
    if sddl is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % path)
    certificates = [{"thumbprint": c["thumbprint"], "subject": c["subject"], "issuer": c["issuer"], "not_after": c["not_after"]}
                    for c in state["certificates"].get("LocalMachine\\My", [])]
    return {"path": path, "sddl": sddl, "icacls": render.icacls(path, sddl, state["locale"]), "certificates": certificates}


def machinekeys_reset(host, p: dict) -> dict:
    state = host.state
    path = p["Path"]
    name, before = _lookup(state["acls"], path)
    if before is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % path)
    if not p["Dacl"].startswith("D:"):
        raise ScriptError("The SDDL string contains an invalid sid or a sid that cannot be translated.")
    backup = "%s\\MachineKeys-%s.sddl" % (p["BackupDir"].rstrip("\\"), time.strftime("%Y%m%dT%H%M%S"))
    host_module.put_file_state(state, backup, host_module.file_entry((before + "\r\n").encode("ascii")))
    # SetSecurityDescriptorSddlForm(..., Access) replaces the DACL only; owner and group stay.
    head = before.split("D:", 1)[0]
    state["acls"][name] = head + p["Dacl"]
    return {"before": before, "after": state["acls"][name], "backup": backup}


def snapshot_status_read(host, p: dict) -> dict:
    state = host.state
    values = _registry_values(state, p["Key"]) or {}
    _found, value = _lookup(values, p["ValueName"])
    sql = _registry_values(state, r"HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL") or {}
    nics = []
    for nic in state["nics"]:
        nics.append({"alias": nic["alias"], "index": nic["index"], "dhcp": "Enabled" if nic["dhcp"] else "Disabled",
                     "addresses": [nic["ipv4"]] if nic.get("ipv4") else [],
                     # RouteMetric 0 of the default route plus Azure's interface metric.
                     "default_route_metric": 15 if nic.get("gateway") else None})
    loads = state.get("cpu_load_percent") or []
    return {
        "copy_backup": {"type": _VALUE_KIND.get(value["type"], value["type"]), "data": str(value["data"])} if value else None,
        "sql_instances": list(sql),
        "nics": nics,
        "cpu_load_percent": sum(loads) / len(loads) if loads else None,
        "memory_total_kb": state["memory"]["total_mb"] * 1024,
        "memory_free_kb": state["memory"]["free_mb"] * 1024,
    }


def snapshot_status_enable_dhcp(host, p: dict) -> dict:
    state = host.state
    nic = next((n for n in state["nics"] if n["index"] == int(p["Index"])), None)
    if nic is None:
        raise ScriptError("No MSFT_NetIPInterface objects found with property 'InterfaceIndex' equal to '%s'." % p["Index"])
    nic["dhcp"] = True
    return {"dhcp": "Enabled"}


def backup_extension_read(host, p: dict) -> dict:
    state = host.state
    prefix = p["PluginDir"].rstrip("\\").lower() + "\\"
    versions = sorted({d[len(prefix):].split("\\")[0] for d in state.get("dirs", []) if d.lower().startswith(prefix)})
    return {"service": _service_state(state, p["Service"]), "versions": versions}


def com_msdtc_read(host, p: dict) -> dict:
    state = host.state
    return {"services": [_service_state(state, n) for n in p["Services"]]}


def bitlocker_read(host, p: dict) -> dict:
    state = host.state
    volumes = []
    for volume in state.get("volumes", []):
        locked = volume.get("lock_status") == "locked"
        # Windows cannot tell the protection of a locked volume: ProtectionStatus 2 (unknown).
        protection = 2 if locked else (1 if volume.get("bitlocker_protection") == "on" else 0)
        volumes.append({"mount": volume["mount"], "device_id": "\\\\?\\Volume{%s}\\" % volume.get("guid", volume["mount"]),
                        "protection_status": protection, "lock_status": 1 if locked else 0})
    return {"volumes": volumes}


def bitlocker_disable(host, p: dict) -> dict:
    state = host.state
    out = []
    for mount in p["MountPoints"]:
        volume = next((v for v in state.get("volumes", []) if v["mount"].lower() == mount.lower()), None)
        if volume is None:
            raise ScriptError("Disable-BitLocker : Cannot find the volume %s." % mount)
        if volume.get("lock_status") == "locked":
            raise ScriptError("Disable-BitLocker : This drive is locked by BitLocker Drive Encryption. (Exception from HRESULT: 0x80310000)")
        volume["bitlocker_protection"] = "off"
        out.append({"mount": mount, "status": "DecryptionInProgress"})
    return {"volumes": out}


def disk_limits_read(host, p: dict) -> dict:
    state = host.state
    disks = [{"disk": str(d["number"]), "lun": "Integrated : Adapter 3 : Port 0 : Target 0 : LUN %d" % i,
              "size_bytes": d["size_gb"] * 2**30}
             for i, d in enumerate(x for x in state["disks"] if x["kind"] == "data")]
    return {"disks": disks}


def _connect(host, endpoint: str, timeout: float) -> dict:
    """TcpClient.ConnectAsync from the simulated VM. Only loopback is ever dialled: the simulated
    VM has no route anywhere else, so any other address times out, as it would there."""
    name, port = endpoint.rsplit(":", 1)
    port = int(port)
    addresses = host.resolve(name)
    if not addresses:
        return {"endpoint": endpoint, "error_code": "HostNotFound", "error": "No such host is known."}
    if host.endpoint_blocked(name, addresses[0], port) or not addresses[0].startswith("127."):
        time.sleep(timeout)
        return {"endpoint": endpoint, "error_code": "TimedOut", "error": "no answer within %d ms" % int(timeout * 1000)}
    try:
        socket.create_connection((addresses[0], port), timeout=timeout).close()
        return {"endpoint": endpoint, "error_code": ""}
    except socket.timeout:
        return {"endpoint": endpoint, "error_code": "TimedOut", "error": "no answer within %d ms" % int(timeout * 1000)}
    except ConnectionRefusedError:
        return {"endpoint": endpoint, "error_code": "ConnectionRefused",
                "error": "No connection could be made because the target machine actively refused it %s" % endpoint}


def network_read(host, p: dict) -> dict:
    dns = []
    for name in p["Names"]:
        addresses = host.resolve(name)
        if addresses:
            dns.append({"endpoint": name, "addresses": addresses, "error_code": ""})
        else:
            dns.append({"endpoint": name, "error_code": "HostNotFound", "error": "No such host is known."})
    timeout = int(p["TimeoutMs"]) / 1000.0
    results = [None] * len(p["Endpoints"])

    def probe(i: int, endpoint: str) -> None:
        results[i] = _connect(host, endpoint, timeout)

    # Like the script: every connection starts at once.
    threads = [threading.Thread(target=probe, args=(i, e)) for i, e in enumerate(p["Endpoints"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"dns": dns, "tcp": results}


# tag -> (twin, whether the script changes the VM: read scripts set $Ansible.Changed = $false)
SCRIPTS = {
    "win_agent.read": (win_agent_read, False),
    "vss_writers.read": (vss_writers_read, False),
    "machinekeys.read": (machinekeys_read, False),
    "machinekeys.reset": (machinekeys_reset, True),
    "snapshot_status.read": (snapshot_status_read, False),
    "snapshot_status.enable_dhcp": (snapshot_status_enable_dhcp, True),
    "backup_extension.read": (backup_extension_read, False),
    "com_msdtc.read": (com_msdtc_read, False),
    "bitlocker.read": (bitlocker_read, False),
    "bitlocker.disable": (bitlocker_disable, True),
    "disk_limits.read": (disk_limits_read, False),
    "network.read": (network_read, False),
}


def run(host, tag: str, parameters: dict, check_mode: bool) -> dict:
    """One script run: win_powershell's result keys. A twin that raises is a terminating error."""
    if tag not in SCRIPTS:
        return {"failed": True, "changed": False, "result": {}, "output": [],
                "error": [{"message": "the simulator has no twin for script %r" % tag}]}
    twin, changes = SCRIPTS[tag]
    try:
        result = twin(host, dict(parameters or {}))
    except ScriptError as exc:
        return {"failed": True, "changed": False, "result": {}, "output": [], "error": [{"message": str(exc)}]}
    except (KeyError, TypeError, ValueError) as exc:
        # A parameter the script declares but the caller did not pass arrives as $null on Windows;
        # here it is a bug in the caller or the twin: say so loudly.
        return {"failed": True, "changed": False, "result": {}, "output": [],
                "error": [{"message": "simulated script %s failed: %s: %s" % (tag, type(exc).__name__, exc)}]}
    return {"failed": False, "changed": changes, "result": result, "output": [], "error": []}
