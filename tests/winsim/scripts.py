"""What the collection's PowerShell scripts do, done to a simulated host's state.

No PowerShell runs here, so each script the collection sends (found by its
`#azure_backup.remediation/<tag>` first line) has a twin below that does what the script's
commands do on Windows, over the simulator's state: Win32_Service, the registry, Get-Acl,
icacls, vssadmin, Get-NetIPInterface, TcpClient... Each twin answers in the shape the script
builds `$Ansible.Result`. The twins read only the script's parameters and the state, never
what the product expects; the scripts themselves are syntax-checked by a real PowerShell
grammar in tests/unit/test_powershell.py, and each twin is run through win_powershell with
the collection's own script text in tests/unit/winsim/test_scripts.py. Keep each twin beside
what its script does when either changes.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid

import acl
import host as hostmod
import render

# Win32_Service's words for the simulator's states (not localised on Windows).
_SERVICE_STATE = {"running": "Running", "stopped": "Stopped", "paused": "Paused"}
_START_MODE = {"auto": "Auto", "delayed": "Auto", "manual": "Manual", "disabled": "Disabled"}
# RegistryValueKind names, as [string]$key.GetValueKind() prints them, for win_regedit's type names.
_VALUE_KIND = {"string": "String", "expandstring": "ExpandString", "multistring": "MultiString", "dword": "DWord",
               "qword": "QWord", "binary": "Binary", "none": "None"}


class ScriptError(Exception):
    """A terminating error in the script ($ErrorActionPreference = 'Stop')."""


def _service_state(host, name: str) -> dict:
    """Get-ServiceState: Win32_Service of one service (by its name only, as the WQL filter asks)."""
    key = hostmod.find_key(host.state["services"], name)
    if key is None:
        return {"name": name, "exists": False}
    service = host.state["services"][key]
    return {"name": name, "exists": True, "state": _SERVICE_STATE.get(service["state"], "Unknown"),
            "start_mode": _START_MODE[service["start_mode"]], "delayed": service["start_mode"] == "delayed",
            "path": service.get("path", "")}


def _processes(host, names: list) -> list:
    """Get-Process -Name: names without .exe, any case."""
    wanted = [n.lower() for n in names or []]
    out = []
    for process in host.state.get("processes", []):
        base = process["name"][:-4] if process["name"].lower().endswith(".exe") else process["name"]
        if base.lower() in wanted:
            out.append(base)
    return out


def win_agent_read(host, p: dict) -> dict:
    services = [_service_state(host, n) for n in p["Services"]]
    version = None
    rd = next((s for s in services if s["name"] == "RdAgent" and s["exists"]), None)
    if rd:
        info = host.find_file(rd["path"].strip('"'))[1]
        version = info.get("version") if info else None
    # Get-ItemProperty ...\Uninstall\*: every subkey's values, the subkey's name as PSChildName.
    products = []
    prefix = hostmod.UNINSTALL_KEY.lower() + "\\"
    for key, values in host.state.get("registry", {}).items():
        name = (values.get("DisplayName") or {}).get("data") or ""
        if key.lower().startswith(prefix) and "\\" not in key[len(prefix):] and name.lower().startswith(p["ProductName"].lower()):
            products.append({"name": name, "version": (values.get("DisplayVersion") or {}).get("data"), "product_id": key[len(prefix):]})
    release = (host.reg_values(hostmod.NDP_KEY).get("Release") or {}).get("data")
    return {"services": services, "version": version, "products": products, "dotnet_release": release,
            "backup_processes": _processes(host, p["BackupProcesses"])}


def vss_writers_read(host, p: dict) -> dict:
    common = {"services": [_service_state(host, name) for name in p["Services"]],
              "backup_processes": _processes(host, p["BackupProcesses"])}
    # vssadmin starts VSS on demand, and lists only the writers whose service runs.
    try:
        host.start_service("VSS")
    except hostmod.ServiceError:
        return dict(common, text=render.vssadmin_error("vss_unavailable", host.state["locale"]), exit_code=2)
    return dict(common, text=render.vssadmin_list_writers(host.visible_writers(), host.state["locale"]), exit_code=0)


def machinekeys_read(host, p: dict) -> dict:
    path = p.get("Path") or hostmod.expand_env(r"%SystemDrive%\ProgramData\Microsoft\Crypto\RSA\MachineKeys")
    key = hostmod.find_key(host.state["acls"], path)
    if key is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % path)
    sddl = host.state["acls"][key]
    # Get-Acl reads owner and DACL: GetNamedSecurityInfo needs READ_CONTROL granted, or the caller to be the owner
    # (Microsoft Learn, GetNamedSecurityInfo; access check in acl.py).
    if not acl.granted(sddl, acl.CALLER_SIDS, acl.READ_CONTROL):
        raise ScriptError(acl.UNAUTHORIZED)
    key_files = []
    for child in acl.children(host.state, key):
        if acl.is_dir(host.state, child):
            continue
        if not acl.granted(host.state["acls"][child], acl.CALLER_SIDS, acl.READ_CONTROL):
            key_files.append({"path": child, "error": acl.UNAUTHORIZED})
        elif "P" not in render.parse_sddl(host.state["acls"][child])["dacl_flags"]:  # AreAccessRulesProtected
            key_files.append({"path": child, "sddl": host.state["acls"][child]})
    certificates = [{"thumbprint": c["thumbprint"], "subject": c["subject"], "issuer": c["issuer"], "not_after": c["not_after"]}
                    for c in host.state["certificates"].get("LocalMachine\\My", [])]
    return {"path": path, "sddl": sddl, "icacls": render.icacls(path, sddl, host.state["locale"]), "key_files": key_files,
            "caller": {"user": acl.CALLER_USER, "groups": list(acl.CALLER_SIDS[1:])}, "certificates": certificates,
            "agent": _service_state(host, p["AgentService"]), "backup_processes": _processes(host, p["BackupProcesses"])}


def machinekeys_reset(host, p: dict) -> dict:
    state = host.state
    key = hostmod.find_key(state["acls"], p["Path"])
    if key is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % p["Path"])
    before = state["acls"][key]
    done = []
    result = {"before": before, "done": done, "files_before": {}, "files_after": {}}
    files = list(p.get("ProtectFiles") or [])
    try:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        result["backup"] = "%s\\MachineKeys-%s.sddl" % (p["BackupDir"].rstrip("\\"), stamp)
        hostmod.put_file_state(state, result["backup"], hostmod.file_entry((before + "\r\n").encode("ascii")))
        if files:
            for path in files:
                result["files_before"][path] = state["acls"][acl.find(state, path)]
            result["files_backup"] = "%s\\MachineKeys-%s-files.sddl" % (p["BackupDir"].rstrip("\\"), stamp)
            text = "".join("%s\t%s\r\n" % (result["files_before"][f], f) for f in files)
            hostmod.put_file_state(state, result["files_backup"], hostmod.file_entry(text.encode("ascii")))
        if p.get("TakeOwnership"):
            acl.take_ownership(state, key)
            done.append("took ownership of %s" % p["Path"])
        for path in files:
            if path.lower() in [f.lower() for f in p.get("TakeFileOwnership") or []]:
                acl.take_ownership(state, path)
                done.append("took ownership of %s" % path)
            # SetAccessControl writes the DACL: WRITE_DAC (or being the owner) is needed (Microsoft Learn,
            # SetNamedSecurityInfo and "Ownership of objects"; access check in acl.py).
            if not acl.granted(state["acls"][acl.find(state, path)], acl.CALLER_SIDS, acl.WRITE_DAC):
                raise ScriptError(acl.UNAUTHORIZED)
            acl.protect(state, path)
            done.append("protected %s" % path)
        if not p["Dacl"].startswith("D:"):
            raise ScriptError("The SDDL string contains an invalid sid or a sid that cannot be translated.")
        if not acl.granted(state["acls"][key], acl.CALLER_SIDS, acl.WRITE_DAC):
            raise ScriptError(acl.UNAUTHORIZED)
        # SetSecurityDescriptorSddlForm(..., Access) replaces the DACL only; owner and group stay.
        acl.set_dacl(state, key, p["Dacl"])
        done.append("set the DACL of %s" % p["Path"])
    except ScriptError as exc:  # the script's catch: the error is reported with what was done
        result["error"] = str(exc)
    result["after"] = state["acls"][key]
    for path in files:
        result["files_after"][path] = state["acls"][acl.find(state, path)]
    return result


def snapshot_status_read(host, p: dict) -> dict:
    state = host.state
    values = host.reg_values(p["Key"])
    found = hostmod.find_key(values, p["ValueName"])
    value = values[found] if found else None
    sql = host.reg_values(hostmod.SQL_INSTANCES_KEY)
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
    return {"service": _service_state(host, p["Service"]), "versions": versions}


def com_msdtc_read(host, p: dict) -> dict:
    return {"services": [_service_state(host, n) for n in p["Services"]]}


# Win32_EncryptableVolume (Microsoft Learn, "Win32_EncryptableVolume class" and its methods):
# VolumeType 0 = the OS volume; GetConversionStatus 0 fully decrypted, 1 fully encrypted, 3 decrypting;
# return codes FVE_E_LOCKED_VOLUME 0x80310000, FVE_E_NOT_ACTIVATED 0x80310008, FVE_E_NOT_OS_VOLUME 0x80310028,
# FVE_E_AUTOUNLOCK_ENABLED 0x80310029 (Decrypt on the OS volume while auto-unlock keys are stored on it).
FVE_E_LOCKED_VOLUME, FVE_E_NOT_ACTIVATED, FVE_E_NOT_OS_VOLUME, FVE_E_AUTOUNLOCK_ENABLED = 0x80310000, 0x80310008, 0x80310028, 0x80310029
_CONVERSION = {"decrypted": 0, "encrypted": 1, "decrypting": 3}


def _volume_id(host, volume: dict) -> str:
    """DeviceID: the volume path every volume has (made up from the host and letter when the state has none)."""
    return volume.get("device_id") or "\\\\?\\Volume{%s}\\" % uuid.uuid5(uuid.NAMESPACE_URL, host.name + "/" + volume["mount"])


def _is_os(volume: dict) -> bool:
    return volume.get("volume_type", "os" if volume["mount"].upper() == "C:" else "data") == "os"


def _conversion(volume: dict) -> int:
    return _CONVERSION[volume.get("conversion") or ("encrypted" if volume.get("bitlocker_protection") == "on" else "decrypted")]


def _activated(volume: dict) -> bool:
    return _conversion(volume) != 0


def bitlocker_read(host, p: dict) -> dict:
    state = host.state
    keys = state.get("bitlocker_auto_unlock_keys", [])
    volumes = []
    for volume in state.get("volumes", []):
        locked = volume.get("lock_status") == "locked"
        # Windows cannot tell the protection of a locked volume: ProtectionStatus 2 (unknown).
        protection = 2 if locked else (1 if volume.get("bitlocker_protection") == "on" else 0)
        entry = {"mount": volume["mount"] or None, "device_id": _volume_id(host, volume), "volume_type": 0 if _is_os(volume) else 1,
                 "protection_status": protection, "lock_status": 1 if locked else 0}
        if not locked:
            entry["conversion_status"] = _conversion(volume)
            # IsAutoUnlockKeyStored (OS volume) / IsAutoUnlockEnabled (data volume); FVE_E_NOT_ACTIVATED reads as false.
            if _is_os(volume):
                entry["auto_unlock_keys_stored"] = _activated(volume) and bool(keys)
            else:
                entry["auto_unlock"] = _activated(volume) and entry["device_id"] in keys
        volumes.append(entry)
    prefix = p["AdeDir"].rstrip("\\").lower() + "\\"
    ade = sorted({d[len(prefix):].split("\\")[0] for d in state.get("dirs", []) if d.lower().startswith(prefix)})
    return {"volumes": volumes, "ade_versions": ade}


def bitlocker_disable(host, p: dict) -> dict:
    state = host.state
    out = []
    for device_id in p["DeviceIds"]:
        volume = next((v for v in state.get("volumes", []) if _volume_id(host, v) == device_id), None)
        entry = {"device_id": device_id, "volume": (volume or {}).get("mount") or device_id}
        out.append(entry)
        if volume is None:
            entry.update(status="failed", error="no such volume")
            continue
        cleared = 0
        if p.get("ClearAutoUnlock") and _is_os(volume):
            # ClearAllAutoUnlockKeys: removes every key stored on the running OS volume.
            cleared = FVE_E_NOT_ACTIVATED if not _activated(volume) else 0
            if cleared == 0:
                state["bitlocker_auto_unlock_keys"] = []
            entry["auto_unlock_cleared"] = cleared == 0
        if cleared:
            entry.update(status="failed", return_value=cleared,
                         error="ClearAllAutoUnlockKeys failed: the auto-unlock keys stay and BitLocker stays on")
            continue
        if volume.get("lock_status") == "locked":
            code = FVE_E_LOCKED_VOLUME
        elif _is_os(volume) and state.get("bitlocker_auto_unlock_keys"):
            code = FVE_E_AUTOUNLOCK_ENABLED
        else:
            code = 0
            if _activated(volume):
                volume.update(bitlocker_protection="off", conversion="decrypting")
        if code:
            entry.update(status="failed", return_value=code, error="Decrypt refused")
        else:
            entry.update(status="started", conversion_status=_conversion(volume))
    return {"volumes": out}


def disk_limits_read(host, p: dict) -> dict:
    state = host.state
    disks = [{"disk": str(d["number"]), "location": "Integrated : Adapter 3 : Port 0 : Target 0 : LUN %d" % i,
              "size_bytes": d["size_gb"] * 2**30}
             for i, d in enumerate(x for x in state["disks"] if x["kind"] == "data")]
    return {"disks": disks}


def _connect(host, endpoint: str, timeout: float) -> dict:
    """TcpClient.ConnectAsync from the simulated VM, routed as its downloads are (SimHost.route):
    only loopback is ever dialled; anything else times out, in simulated time."""
    name, port = endpoint.rsplit(":", 1)
    ip, failure = host.route(name, int(port))
    if failure == "dns":
        return {"endpoint": endpoint, "error_code": "HostNotFound", "error": "No such host is known."}
    timed_out = {"endpoint": endpoint, "error_code": "TimedOut", "error": "no answer within %d ms" % int(timeout * 1000)}
    if failure:
        return timed_out
    try:
        socket.create_connection((ip, int(port)), timeout=timeout).close()
        return {"endpoint": endpoint, "error_code": ""}
    except socket.timeout:
        return timed_out
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


# tag -> twin. Whether a run reports changed is win_powershell's business: read scripts say
# $Ansible.Changed = $false, as on Windows.
SCRIPTS = {
    "win_agent.read": win_agent_read,
    "vss_writers.read": vss_writers_read,
    "machinekeys.read": machinekeys_read,
    "machinekeys.reset": machinekeys_reset,
    "snapshot_status.read": snapshot_status_read,
    "snapshot_status.enable_dhcp": snapshot_status_enable_dhcp,
    "backup_extension.read": backup_extension_read,
    "com_msdtc.read": com_msdtc_read,
    "bitlocker.read": bitlocker_read,
    "bitlocker.disable": bitlocker_disable,
    "disk_limits.read": disk_limits_read,
    "network.read": network_read,
}


def run(host, tag: str, parameters: dict) -> dict:
    """One script run: its $Ansible.Result, or failed with the terminating error. LookupError for a
    script the simulator has no twin of; any other exception is a bug in the twin and surfaces as one."""
    if tag not in SCRIPTS:
        raise LookupError("no simulated script '%s'" % tag)
    try:
        return {"result": SCRIPTS[tag](host, dict(parameters or {}))}
    except ScriptError as exc:
        return {"failed": True, "error": [{"message": str(exc)}]}
