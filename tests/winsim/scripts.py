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

import base64
import datetime
import hashlib
import ipaddress
import json
import re
import socket
import threading
import time
import uuid

import acl
import host as hostmod
import psbind
import render

# Win32_Service's words for the simulator's states (not localised on Windows).
_SERVICE_STATE = {"running": "Running", "stopped": "Stopped", "paused": "Paused",
                  # Win32_Service State of a service whose stop or start has not completed (learn.microsoft.com,
                  # Win32_Service class, State).
                  "stop_pending": "Stop Pending", "start_pending": "Start Pending"}
_START_MODE = {"auto": "Auto", "delayed": "Auto", "manual": "Manual", "disabled": "Disabled"}
# RegistryValueKind names, as [string]$key.GetValueKind() prints them, for win_regedit's type names.
_VALUE_KIND = {"string": "String", "expandstring": "ExpandString", "multistring": "MultiString", "dword": "DWord",
               "qword": "QWord", "binary": "Binary", "none": "None"}


# The first line of every collection script (a task's script too).
SCRIPT_TAG = re.compile(r"#\s*azure_backup\.remediation/([\w.-]+)")


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
        info = host.find_file(_image_file(rd["path"]))[1]
        version = info.get("version") if info else None
    # The WindowsAzureGuestAgent service's image, in the GuestAgent_* folder the agent updated itself into.
    guest = next((s for s in services if s["name"] == "WindowsAzureGuestAgent" and s["exists"]), None)
    guest_info = host.find_file(_image_file(guest["path"]))[1] if guest else None
    # Get-ItemProperty ...\Uninstall\*: every subkey's values, the subkey's name as PSChildName.
    products = []
    prefix = hostmod.UNINSTALL_KEY.lower() + "\\"
    for key, values in host.state.get("registry", {}).items():
        name = (values.get("DisplayName") or {}).get("data") or ""
        if key.lower().startswith(prefix) and "\\" not in key[len(prefix):] and name.lower().startswith(p["ProductName"].lower()):
            products.append({"name": name, "version": (values.get("DisplayVersion") or {}).get("data"), "product_id": key[len(prefix):]})
    release = (host.reg_values(hostmod.NDP_KEY).get("Release") or {}).get("data")
    return {"services": services, "version": version, "guest_agent_version": guest_info.get("version") if guest_info else None,
            "products": products, "dotnet_release": release,
            "backup_processes": _processes(host, p["BackupProcesses"])}


def _image_file(image_path: str) -> str:
    """Get-ImageFile of the agent scripts: the quoted part, or an unquoted path up to and with ".exe"."""
    quoted = re.match(r'^\s*"([^"]+)"', image_path or "")
    if quoted:
        return quoted.group(1)
    unquoted = re.match(r"^\s*(.*?\.exe)(\s|$)", image_path or "", re.IGNORECASE)
    return unquoted.group(1) if unquoted else (image_path or "").strip()


def _child_dirs(host, root: str) -> list:
    """Get-ChildItem -LiteralPath root -Directory: the names of the folders directly under root."""
    prefix = hostmod.path_key(root) + "\\"
    names = {}
    for path in list(host.state.get("dirs", [])) + list(host.state.get("files", {})):
        norm = hostmod.norm_path(path)
        if not norm.lower().startswith(prefix):
            continue
        rest = norm[len(prefix):]
        if "\\" in rest or norm in host.state.get("dirs", []):  # a file's parent, or a listed folder
            names.setdefault(rest.split("\\", 1)[0].lower(), rest.split("\\", 1)[0])
    return sorted(names.values(), key=str.lower)


def _move_tree(host, source: str, destination: str) -> None:
    """Move-Item of a folder: everything under it changes its path. An existing folder as destination takes
    the item inside it, under its own name (Move-Item, Microsoft Learn: "Example 2: Move a directory and its
    contents to another directory"); an existing item of that name is an error."""
    if host.is_dir(destination):
        destination = "%s\\%s" % (hostmod.norm_path(destination), hostmod.norm_path(source).rsplit("\\", 1)[-1])
    if host.exists(destination):
        raise ScriptError("Cannot create a file when that file already exists.")
    if not host.is_dir(source):
        raise ScriptError("Cannot find path '%s' because it does not exist." % source)
    state, low = host.state, hostmod.path_key(source)

    def moved(path):
        key = path.lower()
        if key == low or key.startswith(low + "\\"):
            return hostmod.norm_path(destination) + path[len(low):]
        return path
    state["files"] = {moved(p): e for p, e in state.get("files", {}).items()}
    state["dirs"] = [moved(d) for d in state.get("dirs", [])]
    if hostmod.norm_path(destination) not in state["dirs"]:
        state["dirs"].append(hostmod.norm_path(destination))


# SC_ACTION types as sc.exe failure names them (learn.microsoft.com, SC_ACTION structure; sc.exe failure).
_SC_ACTIONS = {0: "", 1: "restart", 2: "reboot", 3: "run"}


def _service_settings(svc: dict) -> dict:
    """Get-ServiceSettings: what the service's key under HKLM\\SYSTEM\\CurrentControlSet\\Services holds beside the
    basics (DependOnService, ServiceSidType, FailureActions, FailureCommand, FailureActionsOnNonCrashFailures:
    Microsoft Learn, "HKLM\\SYSTEM\\CurrentControlSet\\Services Registry Tree", SERVICE_FAILURE_ACTIONS)."""
    failure = svc.get("failure_actions") or {}
    return {"depends_on": list(svc.get("dependencies") or []), "sid_type": svc.get("sid_type"),
            "failure_command": failure.get("command"), "failure_non_crash": 1 if failure.get("non_crash") else None,
            "reset_seconds": failure.get("reset_seconds"), "actions": [dict(a) for a in failure.get("actions") or []]}


def _set_service_settings(svc: dict, settings: dict) -> None:
    """sc.exe sidtype / failure / failureflag (ChangeServiceConfig2 through the SCM) on a re-created service."""
    if settings.get("sid_type") in (0, 1, 3):
        svc["sid_type"] = settings["sid_type"]
    if settings.get("actions"):
        svc["failure_actions"] = {"reset_seconds": settings["reset_seconds"], "actions": [dict(a) for a in settings["actions"]],
                                  "command": settings.get("failure_command"), "non_crash": settings.get("failure_non_crash") == 1}


def _sc_delete(host, name: str) -> None:
    """sc.exe delete: DeleteService marks the service for deletion; the SCM removes it (and its registry key)
    once no handle to it is open and it does not run. While a handle is held elsewhere the service stays listed,
    its Start set to disabled, and sc.exe still exits 0 (Microsoft Learn, DeleteService remarks; [MS-SCMR]
    3.1.4.3 RDeleteService)."""
    key, svc = host.find_service(name)
    if svc.get("handle_held"):
        svc.update(marked_for_delete=True, start_mode="disabled")
        return
    hostmod.remove_service(host.state, key)


def _signature(host, path: str) -> dict:
    """Get-AuthenticodeSignature: the signature embedded in the file, so a property of its bytes (the catalog entry
    of its SHA-256); a file without one is NotSigned with an empty signer (Microsoft Learn, Get-AuthenticodeSignature)."""
    entry = host.find_file(path)[1]
    known = host.state.get("msi_catalog", {}).get(entry["sha256"]) if entry else None
    signature = (known or {}).get("signature")
    if not signature:
        return {"status": "NotSigned", "signer": ""}
    return {"status": signature["status"], "signer": signature["signer"]}


def win_agent_install(host, p: dict) -> dict:
    """The reinstall procedure of "Troubleshoot Azure Windows VM Agent issues" (Microsoft support article), step
    by step as the script does it, each step refused while the backup extension's process runs."""
    modules = hostmod._sibling("modules")  # pylint: disable=protected-access  # modules imports this file
    state = host.state
    stamp = time.strftime("%Y%m%d_%H%M%S")
    result = {"mode": p["Mode"], "steps": [], "refused": None, "error": None, "rc": None, "attempts": 0, "waited_seconds": 0,
              "log": "%s\\azure-backup-agent-install-%s.log" % (p["LogDir"], stamp), "old_dir": None, "moved": [], "removed": [],
              "restored": False, "restore_errors": [], "services": [], "signature": None, "hung": None, "marked_for_deletion": [],
              "missing_after_install": [], "uninstalled": []}

    def assert_no_backup(step):
        running = _processes(host, p["BackupProcesses"])
        if running:
            result["refused"] = {"step": step, "processes": running}
            raise ScriptError("a backup snapshot is running (%s)" % ", ".join(running))

    def assert_signature():
        if not p["CheckSignature"]:
            return
        result["signature"] = _signature(host, p["MsiPath"])
        status, subject = result["signature"]["status"], result["signature"]["signer"]
        if status != "Valid" or not re.search(r"(^|,\s*)O=%s(,|$)" % re.escape(p["Signer"]), subject, re.IGNORECASE):
            raise ScriptError("the MSI's Authenticode signature is %s%s, not a valid signature of %s; not installing it"
                              % (status, " by %s" % subject if subject else "", p["Signer"]))

    def msiexec(run, step, log):
        # Start-Process msiexec.exe <arguments> /qn /norestart /L*v <log> -Wait -PassThru, retried on 1618.
        attempt = 0
        while True:
            assert_no_backup(step)
            attempt += 1
            result["attempts"] += 1
            rc = run()
            hostmod.put_file_state(state, log, hostmod.file_entry(
                ("=== Verbose logging (simulated) === MainEngineThread is returning %d\r\n" % rc).encode()))
            if rc != modules.MSI_BUSY_RC or attempt > int(p["BusyRetries"]):
                return rc
            result["waited_seconds"] += int(p["BusyWaitSeconds"])  # Start-Sleep, in simulated time

    def install():
        key, entry = host.find_file(p["MsiPath"])
        if key is None:
            return 1619  # ERROR_INSTALL_PACKAGE_OPEN_FAILED
        return modules.msiexec_install(state, state.get("msi_catalog", {}).get(entry["sha256"]))

    def stop(name):
        # ServiceController.Stop() + WaitForStatus(Stopped, timeout): a hung service stays in StopPending.
        key = host.find_service(name)[0]
        if not _service_stop(host, key):
            result["hung"] = name
            raise ScriptError("%s did not stop within %s s (it is StopPending): the service hangs" % (name, p["ServiceWaitSeconds"]))

    def start(name):
        key, svc = host.find_service(name)
        if svc.get("marked_for_delete"):
            # StartService of a service marked for deletion: ERROR_SERVICE_MARKED_FOR_DELETE (1072).
            raise hostmod.ServiceError("Cannot start service %s on computer '.'. The specified service has been marked for deletion" % name)
        _service_start(host, key)

    def restore():
        for move in reversed(result["moved"]):
            if host.exists(move["from"]):
                result["restore_errors"].append("%s exists again, so %s was not moved back" % (move["from"], move["to"]))
                continue
            try:
                _move_tree(host, move["to"], move["from"])
                result["steps"].append("moved %s back" % move["to"])
            except ScriptError as exc:
                result["restore_errors"].append("moving %s back: %s" % (move["to"], exc))
        for record in result["removed"]:
            try:
                if record["deleted"] and host.find_service(record["name"])[0] is None:
                    # New-Service -StartupType [-DependsOn], then sc.exe config start= delayed-auto for a delayed one.
                    mode = {"Auto": "delayed" if record["delayed"] else "auto", "Manual": "manual", "Disabled": "disabled"}[record["start_mode"]]
                    svc = hostmod.add_service(state, record["name"], record["display_name"], record["path"], mode, False,
                                              dependencies=record["settings"]["depends_on"], description=record["description"])
                    _set_service_settings(svc, record["settings"])
                    result["steps"].append("re-created the service %s" % record["name"])
                if (record["was_running"] and record["name"] != result["hung"]
                        and host.find_service(record["name"])[1]["state"] != "running"):
                    start(record["name"])
                    result["steps"].append("started %s" % record["name"])
            except hostmod.ServiceError as exc:
                result["restore_errors"].append("%s: %s" % (record["name"], exc))
        result["restored"] = not result["restore_errors"]

    try:
        assert_signature()
        if p["Mode"] == "reinstall":
            for name in p["Services"]:
                key, svc = host.find_service(name)
                if key is None:
                    continue
                record = {"name": name, "display_name": svc["display_name"], "path": svc["path"],
                          "start_mode": _START_MODE[svc["start_mode"]], "delayed": svc["start_mode"] == "delayed",
                          "account": svc.get("username"), "description": svc.get("description"),
                          "was_running": svc["state"] == "running", "deleted": False, "settings": _service_settings(svc)}
                if record["account"] and record["account"] != "LocalSystem":
                    raise ScriptError("%s runs as %s, whose password cannot be restored; not removing it" % (name, record["account"]))
                result["removed"].append(record)
            for record in result["removed"]:
                assert_no_backup("stop %s" % record["name"])
                stop(record["name"])
                result["steps"].append("stopped %s" % record["name"])
            for record in result["removed"]:
                assert_no_backup("delete the service %s" % record["name"])
                _sc_delete(host, record["name"])
                record["deleted"] = True
                result["steps"].append("deleted the service %s" % record["name"])
            # The bounded poll: simulated handles are never closed, so one look is the whole wait.
            left = [r["name"] for r in result["removed"] if host.find_service(r["name"])[0] is not None]
            if left:
                result["marked_for_deletion"] = left
                raise ScriptError("%s stayed marked for deletion for %s s (another program holds a handle to it)"
                                  % (" and ".join(left), p["DeleteWaitSeconds"]))
            folders = [n for n in _child_dirs(host, p["AgentRoot"]) if n.lower().startswith(("packages", "guestagent"))]
            if folders:
                result["old_dir"] = "%s\\OLD\\%s" % (hostmod.norm_path(p["AgentRoot"]), stamp)
                state["dirs"].append(result["old_dir"])  # New-Item -ItemType Directory; it stays, empty, after a restore
            for name in folders:
                source = "%s\\%s" % (hostmod.norm_path(p["AgentRoot"]), name)
                assert_no_backup("move %s aside" % source)
                target = "%s\\%s" % (result["old_dir"], name)
                _move_tree(host, source, target)
                result["moved"].append({"from": source, "to": target})
                result["steps"].append("moved %s to %s" % (source, target))
            for code in p["ProductCodes"] or []:
                log = "%s\\azure-backup-agent-uninstall-%s-%s.log" % (p["LogDir"], stamp, code.strip("{}"))
                rc = msiexec(lambda code=code: modules.msiexec_uninstall(state, code), "uninstall %s" % code, log)
                result["uninstalled"].append({"product_code": code, "rc": rc, "log": log})
                if rc not in (0, 1605, 1641, 3010):
                    raise ScriptError("msiexec /x %s ended with exit code %s; its log is %s" % (code, rc, log))
                if rc != 1605:
                    result["steps"].append("uninstalled %s (exit code %d)" % (code, rc))
        assert_signature()
        result["rc"] = msiexec(install, "install the agent MSI", result["log"])
        if result["rc"] not in (0, 1641, 3010):
            busy = " after %d attempts" % result["attempts"] if result["rc"] == modules.MSI_BUSY_RC else ""
            raise ScriptError("msiexec /i ended with exit code %s%s; its log is %s" % (result["rc"], busy, result["log"]))
        result["steps"].append("installed the agent MSI (exit code %d)" % result["rc"])
        missing = []
        for name in p["Services"]:
            svc = _service_state(host, name)
            if not svc["exists"]:
                missing.append("the service %s" % name)
            elif not host.is_file(_image_file(svc["path"])):
                missing.append("the image of %s (%s)" % (name, svc["path"]))
        result["missing_after_install"] = missing
        if missing:
            raise ScriptError("msiexec /i returned %s, but %s is missing" % (result["rc"], " and ".join(missing)))
        # The wait for Running: simulated services do not change on their own, so one look is the whole wait.
    except (ScriptError, hostmod.ServiceError) as exc:
        result["error"] = str(exc)
        if p["Mode"] == "reinstall":
            restore()
    result["services"] = [_service_state(host, n) for n in p["Services"]]
    result["changed"] = bool(result["steps"])  # $result.changed = $result.steps.Count -gt 0
    return result


def vss_writers_read(host, p: dict) -> dict:
    # vssadmin starts VSS on demand, and lists only the writers whose service runs.
    try:
        host.start_service("VSS")
        vssadmin = {"text": render.vssadmin_list_writers(host.visible_writers(), host.state["locale"]), "exit_code": 0}
    except hostmod.ServiceError:
        # vssadmin's exit codes are not documented (Microsoft Learn, "vssadmin list writers" names none); a failure is
        # non-zero, which is all the capture compares and the product reports. 2 stands for "some non-zero code".
        vssadmin = {"text": render.vssadmin_error("vss_unavailable", host.state["locale"]), "exit_code": 2}
    # The script reads the services after vssadmin ran, so they show VSS as vssadmin left it.
    return dict(vssadmin, services=[_service_state(host, name) for name in p["Services"]],
                backup_processes=_processes(host, p["BackupProcesses"]),
                dependants=[{"name": name, "running": _running_dependants(host, name)} for name in p["Services"]])


def _running_dependants(host, name: str) -> list:
    """Get-RunningDependent: a missing service has none (Get-Service -ErrorAction SilentlyContinue)."""
    key = host.find_service(name)[0]
    return hostmod.running_dependants(host.state, key) if key else []


def _service_stop(host, key: str) -> bool:
    """ServiceController.Stop() then WaitForStatus(Stopped, timeout): whether it got to Stopped.
    A service that hangs stays in StopPending with its process; the wait ends at the timeout,
    which passes in simulated time (no real waiting)."""
    svc = host.state["services"][key]
    if svc["state"] == "stopped":
        return True
    if svc.get("stop_hangs"):
        svc["state"] = "stop_pending"
        return False
    hostmod.set_service_stopped(host.state, key)
    return True


def _service_start(host, key: str) -> None:
    """ServiceController.Start(): host.start_service, the one start (it refuses a service or a dependency
    still in StopPending, as StartService does)."""
    host.start_service(key)


def vss_writers_restart(host, p: dict) -> dict:
    """The restart script, service by service: dependants (deepest first) and the service stop, then the
    service and the dependants start again. Each wait is bounded; one failure does not stop the others; right
    before each stop it looks for the backup extension's process (BackupProcesses) and stops there.
    State restart_connection_lost: the WinRM connection goes once the first services have stopped, and
    ansible's winrm.py then ends the script (its cleanup command): they stay stopped."""
    if host.state.pop("restart_connection_lost", False):
        for name in p["Services"]:
            key = host.find_service(name)[0]
            if key:
                for one in hostmod.running_dependants(host.state, key) + [key]:
                    _service_stop(host, one)
                break
        host.lose_connection()
        return {"services": []}
    backup = p.get("BackupProcesses") or []
    results = []
    for name in p["Services"]:
        entry = {"name": name, "status": "restarted", "stuck": None, "error": "", "dependants": [], "restarted": [],
                 "not_restarted": [], "backup": []}
        results.append(entry)
        key, svc = host.find_service(name)
        if svc is None:
            entry["status"] = "missing"
            continue
        if svc["state"] == "stop_pending":
            entry.update(status="stuck", stuck=key)
            continue
        dependants = hostmod.running_dependants(host.state, key)
        entry["dependants"] = list(dependants)
        stopped = []
        for one in dependants + [key]:
            running = _processes(host, backup)
            if running:
                entry.update(status="backup_running", backup=running, stuck=one)
                break
            if host.state["services"][one]["state"] == "stop_pending":
                # ServiceController.Stop() sends SERVICE_CONTROL_STOP, which a StopPending service refuses with
                # ERROR_SERVICE_CANNOT_ACCEPT_CTRL (1061; learn.microsoft.com, ControlService, Return value); Stop()
                # throws InvalidOperationException over that Win32Exception (dotnet/runtime ServiceController.Stop),
                # and the script's Get-Reason gives the base exception's message.
                entry.update(status="stop_failed", error="%s: The service cannot accept control messages at this time." % one)
                break
            if not _service_stop(host, one):
                entry.update(status="stuck", stuck=one)
                break
            stopped.append(one)
            # State backup_starts_after_stops: a snapshot starts once that many services have stopped.
            if host.state.get("backup_starts_after_stops") == len(stopped):
                hostmod.add_process(host.state, "IaaSBcdrExtension.exe")
        for one in reversed(stopped):
            try:
                _service_start(host, one)
            except hostmod.ServiceError as exc:
                entry["error"] = entry["error"] or "%s: %s" % (one, exc)
        if entry["status"] == "restarted" and host.state["services"][key]["state"] != "running":
            entry["status"] = "start_failed"
        for dep in dependants:
            if host.state["services"][dep]["state"] != "running":
                entry["not_restarted"].append(dep)
            elif dep in stopped:
                entry["restarted"].append(dep)
        if entry["status"] == "restarted" and entry["not_restarted"]:
            entry["status"] = "dependants_failed"
    return {"services": results}


def machinekeys_read(host, p: dict) -> dict:
    path = p.get("Path") or hostmod.expand_env(r"%SystemDrive%\ProgramData\Microsoft\Crypto\RSA\MachineKeys")
    key = hostmod.find_key(host.state["acls"], path)
    if key is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % path)
    sddl = host.state["acls"][key]
    # Get-Acl reads owner and DACL: GetNamedSecurityInfo needs READ_CONTROL granted, or the caller to be the owner
    # (Microsoft Learn, GetNamedSecurityInfo; access check in acl.py).
    if not acl.granted(sddl, acl.caller_sids(host.state), acl.READ_CONTROL):
        raise ScriptError(acl.UNAUTHORIZED)
    _assert_listable(host, key)
    key_files = []
    for child in acl.children(host.state, key):
        if acl.is_dir(host.state, child):
            continue
        if not acl.granted(host.state["acls"][child], acl.caller_sids(host.state), acl.READ_CONTROL):
            key_files.append({"path": child, "error": acl.UNAUTHORIZED})
        elif "P" not in render.parse_sddl(host.state["acls"][child])["dacl_flags"]:  # AreAccessRulesProtected
            key_files.append({"path": child, "sddl": host.state["acls"][child]})
    certificates = [{"thumbprint": c["thumbprint"], "subject": c["subject"], "issuer": c["issuer"], "not_after": c["not_after"]}
                    for c in host.state["certificates"].get("LocalMachine\\My", [])]
    return {"path": path, "sddl": sddl, "icacls": render.icacls(path, sddl, host.state["locale"]), "key_files": key_files,
            "caller": {"user": acl.caller_sids(host.state)[0], "groups": list(acl.caller_sids(host.state)[1:])}, "certificates": certificates,
            # A capture by an older script sends neither: PowerShell binds a missing [string] as "", [string[]] as $null.
            "agent": _service_state(host, p.get("AgentService") or ""), "backup_processes": _processes(host, p.get("BackupProcesses"))}


def snapshot_status_read(host, p: dict) -> dict:
    state = host.state
    values = host.reg_values(p["Key"])
    found = hostmod.find_key(values, p["ValueName"])
    value = values[found] if found else None
    # Each registry view's key as the script names it; a 32-bit SQL Server writes under WOW6432Node.
    sql = {view: list(host.reg_values(key)) for view, key in (p.get("SqlKeys") or {}).items()}
    nics = []
    for nic in state["nics"]:
        nics.append({"alias": nic["alias"], "index": nic["index"], "dhcp": "Enabled" if nic["dhcp"] else "Disabled",
                     "addresses": ([nic["ipv4"]] if nic.get("ipv4") else []) + [a["ip"] for a in nic.get("secondary_ipv4", [])],
                     "dns_servers": list(nic.get("dns_servers", [])),
                     # RouteMetric + InterfaceMetric, as the script sums them: "the overall metric ... is the sum of the route
                     # metric and the interface metric", the interface metric automatic by link speed, 5 to 50 (Microsoft
                     # Learn, Microsoft-Windows-TCPIP Ipv4Settings Metric). 15 is one value of that range, not a measured
                     # Azure one: the product only picks the lowest, and the capture compares only whether there is one.
                     "default_route_metric": 15 if nic.get("gateway") else None})
    loads = state.get("cpu_load_percent") or []
    return {
        "copy_backup": {"type": _VALUE_KIND.get(value["type"], value["type"]), "data": str(value["data"])} if value else None,
        "sql_instances": sql,
        "nics": nics,
        "cpu_load_percent": sum(loads) / len(loads) if loads else None,
        "memory_total_kb": state["memory"]["total_mb"] * 1024,
        "memory_free_kb": state["memory"]["free_mb"] * 1024,
    }


# Azure's DHCP hands a NIC the private address the platform has for it (the one set in Azure, static or
# dynamic): Microsoft Learn, "Configure private IP addresses for a virtual machine" and the backup
# troubleshooting article (seeds/000): set a static address in Azure, keep DHCP on in the guest.
AZURE_DNS = "168.63.129.16"  # what Azure's DHCP gives as DNS server unless the VNet names others


def _nic_by_index(host, index) -> dict | None:
    return next((n for n in host.state["nics"] if n["index"] == int(index)), None)


def _ipv4_state(nic: dict) -> dict:
    """Get-NetIPInterface/Get-NetIPAddress/Get-NetRoute/Get-DnsClientServerAddress of one NIC, as the task's
    Get-Ipv4State builds it. PrefixOrigin Manual for a static address, Dhcp for a leased one."""
    addresses = [{"ip": nic["ipv4"], "prefix": nic.get("prefix", 24), "origin": "Dhcp" if nic["dhcp"] else "Manual"}] if nic.get("ipv4") else []
    addresses += [{"ip": a["ip"], "prefix": a.get("prefix", 24), "origin": "Manual"} for a in nic.get("secondary_ipv4", [])]
    return {"alias": nic["alias"], "dhcp": "Enabled" if nic["dhcp"] else "Disabled", "addresses": addresses,
            "gateways": [nic["gateway"]] if nic.get("gateway") else [], "dns_servers": list(nic.get("dns_servers", []))}


def _netsh_set_address(host, alias: str, source: str, address: str = "", mask: str = "", gateway: str = "") -> dict:
    """netsh interface ipv4 set address name=<alias> source=dhcp|static [address=a mask=m] [gateway=g]
    (Microsoft Learn, "netsh interface"): changes the address source of the interface only; its DNS
    servers are another setting (set dnsservers). Taking the static address away drops the TCP
    connections over it: the WinRM session of a NIC that carries it is lost."""
    # name= takes the interface's name or its index (netsh interface ipv4 set address /?: "name - Interface name or index").
    nic = next((n for n in host.state["nics"] if n["alias"].lower() == alias.lower() or (alias.isdigit() and n["index"] == int(alias))), None)
    if nic is None:
        return {"exit_code": 1, "output": "The filename, directory name, or volume label syntax is incorrect."}
    if source == "dhcp":
        if nic["dhcp"]:
            return {"exit_code": 1, "output": "DHCP is already enabled on this interface."}
        nic["dhcp"] = True
        # The static configuration goes, every static address with it; Azure's DHCP gives the primary one only
        # ("Assign multiple IP addresses to virtual machines", Microsoft Learn; the review's item 2).
        nic.pop("secondary_ipv4", None)
        if nic.get("primary"):
            host.lose_connection()
        if host.state.get("dhcp_silent"):
            nic.pop("ipv4", None)
            nic.pop("gateway", None)
        else:
            nic["ipv4"] = nic.get("platform_ipv4", nic.get("ipv4"))
        if not nic.get("dns_static"):
            nic["dns_servers"] = [] if host.state.get("dhcp_silent") else [AZURE_DNS]
        return {"exit_code": 0, "output": ""}
    prefix = bin(int(ipaddress.IPv4Address(mask))).count("1") if mask else 32
    nic.update(dhcp=False, ipv4=address, prefix=prefix)
    if gateway:
        nic["gateway"] = gateway
    return {"exit_code": 0, "output": ""}


def snapshot_status_dhcp_task(host, p: dict) -> dict:
    """What the switch task does, run detached by the simulated Task Scheduler (no WinRM session around it)."""
    result = {"index": int(p["Index"]), "leased": False, "lease_address": None, "same_address": False}
    nic = _nic_by_index(host, p["Index"])
    if nic is None:
        result["error"] = "No MSFT_NetIPInterface objects found with property 'InterfaceIndex' equal to '%s'." % p["Index"]
        result["after"] = None
        return result
    before = _ipv4_state(nic)
    result["before"] = before
    if len(before["addresses"]) != 1 or before["addresses"][0]["origin"] != "Manual":
        result["error"] = "the interface has %d IPv4 address(es) (%s), not one static address; not switched" % (
            len(before["addresses"]), ", ".join("%s %s" % (a["ip"], a["origin"]) for a in before["addresses"]))
        result["after"] = before
        return result
    static = before["addresses"][0]
    result["netsh"] = _netsh_set_address(host, str(p["Index"]), "dhcp")
    if result["netsh"]["exit_code"] == 0:
        # Azure's DHCP answers at once; a silent one leaves no DHCP address within WaitSeconds (not waited here).
        result["leased"] = bool(nic["dhcp"] and nic.get("ipv4"))
        result["lease_address"] = nic.get("ipv4") if result["leased"] else None
        result["same_address"] = result["leased"] and nic["ipv4"] == static["ip"]
        if not result["same_address"]:
            mask = str(ipaddress.IPv4Network("0.0.0.0/%d" % static["prefix"]).netmask)
            result["rollback"] = _netsh_set_address(host, str(p["Index"]), "static", static["ip"], mask,
                                                    before["gateways"][0] if before["gateways"] else "")
    after = _ipv4_state(nic)
    if before["dns_servers"] and after["dns_servers"] != before["dns_servers"]:
        # Set-DnsClientServerAddress -ServerAddresses: static DNS servers, which override DHCP's.
        nic.update(dns_servers=list(before["dns_servers"]), dns_static=True)
        result["dns_restored"] = True
        after = _ipv4_state(nic)
    result["after"] = after
    return result


def backup_extension_read(host, p: dict) -> dict:
    versions = _child_dirs(host, p["PluginDir"])  # Get-ChildItem -Directory: folders that only hold files count too
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
    ade = _child_dirs(host, p["AdeDir"]) if p.get("AdeDir") else []  # an older script sends none: nothing to list
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


# What Windows Server 2019 (the simulated OS) answers for capture.read, per simulator locale.
# Build 17763 and PowerShell 5.1: Microsoft's Windows Server release information and about_Windows_PowerShell_5.1;
# LCIDs 1033/1031: [MS-LCID]; ANSI 1252 and OEM 437 (en-US) / 850 (de-DE): Microsoft's "Code Page Identifiers" and
# the system locales' defaults (Get-WinSystemLocale: "determines which code pages ... the computer uses").
_ENVIRONMENT = {
    "en": {"os_language": 1033, "ui_culture": "en-US", "culture": "en-US", "system_locale": "en-US", "ansi_code_page": "1252",
           "oem_code_page": "437", "output_code_page": 437},
    "de": {"os_language": 1031, "ui_culture": "de-DE", "culture": "de-DE", "system_locale": "de-DE", "ansi_code_page": "1252",
           "oem_code_page": "850", "output_code_page": 850},
}


def capture_environment(host, p: dict) -> dict:
    """$PSVersionTable, Win32_OperatingSystem, Get-UICulture/Get-Culture/Get-WinSystemLocale and the Nls\\CodePage
    values: a host made from a capture answers what was captured (state "environment")."""
    if host.state.get("environment"):
        return dict(host.state["environment"])
    return dict(_ENVIRONMENT[host.state["locale"]], ps_version="5.1.17763.1", ps_edition="Desktop", clr_version="4.0.30319.42000",
                os_caption="Microsoft " + host.state["os"], os_version="10.0.17763", os_build="17763")


# -- detached runs (plugins/plugin_utils/windows/detached.py) ----------------------------------------

# SYSTEM, Administrators, TrustedInstaller (Microsoft Learn, "Well-known SIDs"; TrustedInstaller's service SID),
# and the administrator the simulated WinRM session runs as.
_TRUSTED_SIDS = ("S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464", acl.CALLER_USER)
# What DirectorySecurity with SetOwner(Administrators), SetAccessRuleProtection(true, false) and two FullControl
# (ContainerInherit, ObjectInherit) rules for SYSTEM and Administrators gives the new folder.
PROTECTED_FOLDER_SDDL = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
# A folder an administrator made under C:\ProgramData with New-Item: owner Administrators (the default owner
# of objects made by members of Administrators), the ACEs inherited from C:\ProgramData, whose default ACL
# lets Users create files and folders (Users:(CI)(WD,AD,WEA,WA)) and gives CREATOR OWNER full control of
# what they create (the review's item 3; `icacls C:\ProgramData` on Windows Server). Used when the
# simulation holds no descriptor of an existing folder.
PROGRAMDATA_CHILD_SDDL = "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)(A;OICIID;0x1200a9;;;BU)(A;CIID;0x116;;;BU)"


def _folder_problem(host, path: str, forbidden: int) -> str | None:
    """Get-FolderProblem: a file, a foreign owner, or an allow ACE (not inherit-only) of anyone untrusted with a
    forbidden right. FileSystemAccessRule.PropagationFlags InheritOnly: the ACE applies to children only
    ("ACE Inheritance Rules", Microsoft Learn)."""
    if host.is_file(path):
        return "%s is a file" % path
    if _is_reparse_point(host, path):
        return "%s is a link (reparse point)" % path
    key = acl.find(host.state, path)
    parsed = render.parse_sddl(host.state["acls"][key] if key else PROGRAMDATA_CHILD_SDDL)
    if parsed["owner"] not in _TRUSTED_SIDS:
        return "%s is owned by %s, not by SYSTEM or Administrators" % (path, parsed["owner"])
    for ace in parsed["aces"]:
        if ace["type"] != "A" or ace["sid"] in _TRUSTED_SIDS or "IO" in ace["flags"]:
            continue
        if ace["mask"] & forbidden:
            return "%s lets %s change it (%s)" % (path, ace["sid"], render.icacls_rights(ace["mask"]))
    return None


def _is_reparse_point(host, path: str) -> bool:
    """FileAttributes.ReparsePoint of the item itself (Get-Item does not follow a link): a junction, a symbolic link or a
    mount point a user planted ("Reparse Points", Microsoft Learn). Kept in the simulation as state "reparse_points"."""
    return path.lower() in (p.lower() for p in host.state.get("reparse_points") or [])


def _task_command(bootstrap: str, job: str, sha: str, marker: str, delay) -> str:
    """The register script's $command and $arguments: the bootstrap in a script block, its arguments quoted."""
    command = "& {\n" + bootstrap + "\n} -JobPath '" + job.replace("'", "''") + "' -Sha256 '" + sha + "' -MarkerPath '" + \
        marker.replace("'", "''") + "' -DelaySeconds " + str(delay)
    return "-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand " + base64.b64encode(command.encode("utf-16-le")).decode("ascii")


def _assert_work_folder(host, root: str, directory: str) -> bool:
    """Assert-WorkFolder: Root and Directory made if missing (whether any was), or the refusal."""
    created, problem = False, None
    for folder, forbidden in ((root, 0x100D0040), (directory, 0x500D0156)):
        if not host.exists(folder):
            # Directory.CreateDirectory(path, DirectorySecurity): made with that descriptor in one call.
            host.state.setdefault("dirs", []).append(folder)
            host.state.setdefault("acls", {})[folder] = PROTECTED_FOLDER_SDDL
            created = True
        problem = _folder_problem(host, folder, forbidden)
        if problem:
            break
    if problem:
        raise ScriptError("refusing to use %s for what runs as SYSTEM: %s. Look at what is in it, delete it, and run again: it "
                          "is created for SYSTEM and Administrators only" % (directory, problem))
    return created


def detached_prepare(host, p: dict) -> tuple:
    return {"directory": p["Directory"]}, _assert_work_folder(host, p["Root"], p["Directory"])


def detached_register(host, p: dict) -> dict:
    state = host.state
    _assert_work_folder(host, p["Root"], p["Directory"])
    job = "%s\\%s.job" % (p["Directory"], p["TaskName"])
    marker = "%s\\%s.json" % (p["Directory"], p["TaskName"])
    if host.exists(job):  # FileMode.CreateNew (.NET IOException text)
        raise ScriptError("The file '%s' already exists." % job)
    # The simulation keeps the job as JSON where Windows keeps PSSerializer's CliXml; the hash is of what is stored.
    data = json.dumps({"script": p["Script"], "parameters": p.get("Parameters") or {}}).encode("utf-8")
    hostmod.put_file_state(state, job, hostmod.file_entry(data))
    sha = hashlib.sha256(data).hexdigest()
    execute = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    arguments = _task_command(p["Bootstrap"], job, sha, marker, p["DelaySeconds"])
    if len(execute) + 3 + len(arguments) > int(p["CommandLimit"]):
        hostmod.remove_file_state(state, job)
        raise ScriptError("the task's command line would be %d characters, more than %s" % (len(execute) + 3 + len(arguments), p["CommandLimit"]))
    tasks = state.setdefault("scheduled_tasks", [])
    tasks[:] = [t for t in tasks if t["name"].lower() != p["TaskName"].lower()]  # Register-ScheduledTask -Force
    # Start-ScheduledTask starts it now; the bootstrap waits DelaySeconds before doing anything, so here it
    # runs at the first request after that.
    tasks.append({"name": p["TaskName"], "start": time.time() + int(p["DelaySeconds"]), "user": "S-1-5-18",
                  "execute": execute, "arguments": arguments})
    return {"task": p["TaskName"], "job": job, "sha256": sha, "marker": marker, "command_line_length": len(execute) + 3 + len(arguments)}


def detached_bootstrap(host, p: dict) -> None:
    """The bootstrap, run by the simulated Task Scheduler: lock, hash check, the job's twin, the marker."""
    state, marker = host.state, p["MarkerPath"]
    if host.exists(marker + ".lock"):  # FileMode.CreateNew fails: started before
        return
    hostmod.put_file_state(state, marker + ".lock", hostmod.file_entry(b""))
    outcome = {"state": "failed", "started": hostmod.now_iso()}
    data = host.read_file(p["JobPath"])
    if data is None:  # File.ReadAllBytes (.NET FileNotFoundException text)
        outcome["error"] = "Could not find file '%s'." % p["JobPath"]
    elif hashlib.sha256(data).hexdigest() != p["Sha256"].lower():
        outcome["error"] = "the job file %s is not the one registered (SHA-256 %s, not %s); nothing was run" % (
            p["JobPath"], hashlib.sha256(data).hexdigest(), p["Sha256"])
    else:
        job = json.loads(data.decode("utf-8"))
        hostmod.remove_file_state(state, p["JobPath"])
        tag = SCRIPT_TAG.search(job["script"])
        try:
            if tag is None or tag.group(1) not in SCRIPTS:
                raise ScriptError("the simulator has no twin of the job's script")
            result = SCRIPTS[tag.group(1)](host, dict(job["parameters"]))
            result = result[0] if isinstance(result, tuple) else result
            if not isinstance(result, dict):
                raise ScriptError("the script gave no result")
            outcome.update(state="done", result=result)
        except ScriptError as exc:
            outcome["error"] = str(exc)
    outcome["finished"] = hostmod.now_iso()
    # ConvertTo-Json into File.WriteAllText (UTF-8 without a BOM), then renamed into place.
    hostmod.put_file_state(state, marker, hostmod.file_entry(json.dumps(outcome, indent=4).encode("utf-8")))


def detached_read(host, p: dict) -> dict:
    data = host.read_file(p["MarkerPath"])
    task = next((t for t in host.state.get("scheduled_tasks", []) if t["name"].lower() == p["TaskName"].lower()), None)
    # LastTaskResult 0x41303 (267011): SCHED_S_TASK_HAS_NOT_RUN (Microsoft Learn, Task Scheduler error and success constants).
    return {"marker": data.decode("utf-8-sig") if data is not None else None, "started": host.exists(p["MarkerPath"] + ".lock"),
            "task_state": "Ready" if task else None, "last_result": 267011 if task else None}


_NAMED_ARGUMENT = re.compile(r"-(\w+)\s+(?:'((?:[^']|'')*)'|\"([^\"]*)\"|(\S+))")


def _named_arguments(text: str) -> dict:
    return {m.group(1): (m.group(2).replace("''", "'") if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4))
            for m in _NAMED_ARGUMENT.finditer(text)}


def _signature_required(host) -> bool:
    """An execution policy set by Group Policy (MachinePolicy, UserPolicy) wins over -ExecutionPolicy, which
    sets only the Process scope; AllSigned and Restricted refuse an unsigned script file (Microsoft Learn,
    about_Execution_Policies: scopes and precedence, policies)."""
    policy = (host.state.get("execution_policy") or {})
    for scope in ("MachinePolicy", "UserPolicy"):
        if policy.get(scope):
            return policy[scope] in ("AllSigned", "Restricted")
    return False


def _run_task_command(host, task: dict) -> None:
    """powershell.exe -EncodedCommand: a command, which no execution policy applies to; -File <script>: a script
    file, which an AllSigned or Restricted Group Policy refuses when unsigned (the task ends with exit code 1)."""
    arguments = task["arguments"]
    encoded = re.search(r"-EncodedCommand\s+(\S+)", arguments, re.IGNORECASE)
    if encoded:
        command = base64.b64decode(encoded.group(1)).decode("utf-16-le")
        block_end = command.rfind("\n}")
        text, trailing = (command[:block_end], command[block_end + 2:]) if block_end >= 0 else (command, "")
    else:
        script = re.search(r"-File\s+(?:\"([^\"]+)\"|(\S+))(.*)", arguments, re.IGNORECASE)
        if not script or _signature_required(host):
            task["last_result"] = 1
            return
        data = host.read_file(script.group(1) or script.group(2))
        text, trailing = (data or b"").decode("utf-8-sig"), script.group(3)
    tag = SCRIPT_TAG.search(text)
    if tag and tag.group(1) in SCRIPTS:
        try:
            SCRIPTS[tag.group(1)](host, _named_arguments(trailing))
        except ScriptError:
            pass


# tag -> twin. Whether a run reports changed is win_powershell's business: read scripts say
# $Ansible.Changed = $false, as on Windows.
SCRIPTS = {
    "win_agent.read": win_agent_read,
    "win_agent.install": win_agent_install,
    "vss_writers.read": vss_writers_read,
    "vss_writers.restart": vss_writers_restart,
    "machinekeys.read": machinekeys_read,
    "snapshot_status.read": snapshot_status_read,
    "snapshot_status.dhcp_task": snapshot_status_dhcp_task,
    "backup_extension.read": backup_extension_read,
    "com_msdtc.read": com_msdtc_read,
    "bitlocker.read": bitlocker_read,
    "bitlocker.disable": bitlocker_disable,
    "network.read": network_read,
    "capture.read": capture_environment,
    "detached.prepare": detached_prepare,
    "detached.register": detached_register,
    "detached.bootstrap": detached_bootstrap,
    "detached.read": detached_read,
}


def host_powershell_version(host) -> str:
    """'{0}|{1}' -f $PSVersionTable.PSVersion, [Environment]::OSVersion.Version"""
    return "%s|%s" % (host.state.get("powershell_version", "5.1"), host.state.get("os_build", "10.0.17763.0"))


# Raw commands (no module wrapper): tag -> what the command prints.
RAW = {
    "host.powershell_version": host_powershell_version,
}


def run_task(host, task: dict) -> None:
    """A scheduled task's run: powershell.exe -File <its script>. Its errors stay in the task's last
    result on Windows; nobody waits for them, so they are dropped here."""
    if task.get("arguments") is not None:  # a task registered with its real command line
        _run_task_command(host, task)
        return
    if task.get("tag") in SCRIPTS:
        try:
            SCRIPTS[task["tag"]](host, dict(task["parameters"]))
        except ScriptError:
            pass


def run(host, tag: str, parameters: dict, script: str | None = None) -> dict:
    """One script run: its $Ansible.Result, or failed with the terminating error. LookupError for a
    script the simulator has no twin of; any other exception is a bug in the twin and surfaces as one.
    Twins in SCRIPT_TEXT also get the script's text, to do what PowerShell does with it."""
    if tag not in SCRIPTS:
        raise LookupError("no simulated script '%s'" % tag)
    try:
        if tag in SCRIPT_TEXT:
            out = SCRIPTS[tag](host, dict(parameters or {}), script or "")
        else:
            out = SCRIPTS[tag](host, dict(parameters or {}))
        if isinstance(out, tuple):  # (result, changed) of a script that sets $Ansible.Changed from what it did
            return {"result": out[0], "changed": out[1]}
        return {"result": out}
    except ScriptError as exc:
        return {"failed": True, "error": [{"message": str(exc)}]}


# -- what PowerShell does with a script's own text ----------------------------------------------------
# Some of Windows' answers depend on how the script calls a command: the filter it applies, the
# ErrorActionPreference in force where a native command runs, a try around a call. The twins below that
# need it get the script's text (SCRIPT_TEXT) and read just that much of it.

def _code_only(script: str, keep_strings: bool = False) -> str:
    """The script with comments (and, unless keep_strings, quoted strings) blanked, positions kept."""
    out, i, n = list(script), 0, len(script)

    def blank(start, end):
        for j in range(start, min(end, n)):
            if out[j] != "\n":
                out[j] = " "
    while i < n:
        c = script[i]
        if script.startswith("<#", i):
            end = script.find("#>", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif c == "#":
            end = script.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif c in "'\"":
            j = i + 1
            while j < n:
                if c == '"' and script[j] == "`":
                    j += 2
                    continue
                if script[j] == c:
                    if script.startswith(c * 2, j):  # '' or "" inside the string
                        j += 2
                        continue
                    break
                j += 1
            if not keep_strings:
                blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _blocks(code: str) -> list:
    """Every { } block as (open, close) positions."""
    stack, pairs = [], []
    for i, c in enumerate(code):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs.append((stack.pop(), i))
    return pairs


def _enclosing(code: str, pos: int) -> list:
    return sorted((b for b in _blocks(code) if b[0] < pos < b[1]), key=lambda b: b[0])


def _preference_at(script: str, pos: int) -> str:
    """$ErrorActionPreference where ``pos`` runs: a function's own assignment before it, else the script's.
    A variable set in a function is local to it (about_Scopes); the scripts set the script's at the top."""
    code = _code_only(script)
    preference = "Continue"  # PowerShell's default (about_Preference_Variables)
    enclosing = _enclosing(code, pos)
    for match in re.finditer(r"\$ErrorActionPreference\s*=\s*'(\w+)'", _code_only(script, keep_strings=True)):
        blocks = _enclosing(code, match.start())
        if not blocks or (blocks[-1] in enclosing and match.start() < pos):
            preference = match.group(1)
    return preference


def _in_try(script: str, pos: int, after: int = 0) -> bool:
    """Whether ``pos`` is inside a try { } block that starts after ``after``."""
    code = _code_only(script)
    return any(start > after and re.search(r"\btry\s*$", code[:start]) for start, _end in _enclosing(code, pos))


def _native_call_site(script: str, exe: str):
    """Where the script runs ``exe`` (its & ... position) and whether that call merges stderr (2>&1); (None, False)
    when it does not run it. A call through a function the script defines is followed into that function."""
    code, with_strings = _code_only(script), _code_only(script, keep_strings=True)
    at = with_strings.lower().find(exe.lower())
    if at < 0:
        return None, False
    line_start = code.rfind("\n", 0, at) + 1
    line_end = code.find("\n", at)
    line = code[line_start:line_end if line_end >= 0 else len(code)]
    for name in re.findall(r"(?im)^\s*function\s+([\w-]+)", code):
        if re.search(r"(?i)(?<![\w-])%s(?![\w-])" % re.escape(name), line):
            body = next(b for b in _blocks(code) if re.search(r"(?i)function\s+%s\s*$" % re.escape(name), code[:b[0]]))
            call = code.find("& ", body[0], body[1])
            call_end = code.find("\n", call)
            return call, "2>&1" in code[call:call_end]
    call = code.rfind("&", line_start, at)
    return (call if call >= 0 else at), "2>&1" in line


def _native(script: str, exe: str, stdout: str, stderr: list, exit_code: int) -> dict:
    """A native command as the script runs it: {output, exit_code}. In win_powershell's runspace (its own host,
    not the console: ansible.windows win_powershell.ps1, [PowerShell]::Create()) Windows PowerShell 5.1 turns each
    stderr line into an error record (NativeCommandError); where ErrorActionPreference is Stop the first one is a
    terminating error whose message is the line (PowerShell issue #3996; only PowerShell 7.1 changed it, PR #13361).
    Merged with 2>&1 under Continue, the lines are part of the output."""
    call, merged = _native_call_site(script, exe)
    if stderr and _preference_at(script, call if call is not None else 0).lower() == "stop":
        raise ScriptError(stderr[0])
    return {"output": stdout + ("".join(line + "\r\n" for line in stderr) if merged else ""), "exit_code": exit_code}


def _native_stderr(host, exe: str) -> list:
    """Lines a simulated native command writes to stderr on this host (fault native-stderr)."""
    return list((host.state.get("native_stderr") or {}).get(exe.lower(), []))


# -- DISK_LIMITS: partitions as Windows lists them ----------------------------------------------------
# A Generation 2 VM boots by UEFI from a GPT disk (Microsoft Learn, "Support for generation 2 VMs on Azure"),
# laid out as "UEFI/GPT-based hard drive partitions" says: the EFI system partition, the Microsoft reserved
# partition (MSR), Windows, a recovery partition; only Windows gets a drive letter. A Generation 1 VM boots by
# BIOS from an MBR disk with a "System Reserved" partition before Windows ("BIOS/MBR-based hard drive
# partitions"), also without a letter. MSFT_Partition.DriveLetter of a partition without a letter is the
# character 0 (MSFT_Partition class: "DriveLetter ... 0 if none").
def _partitions(host, disk: dict) -> list:
    volumes = [v for v in host.state["volumes"] if v.get("disk") == disk["number"] and v.get("mount")]
    lettered = [{"letter": v["mount"].rstrip(":"), "volume": v} for v in volumes]
    if disk["kind"] != "os":
        return lettered
    if host.state.get("generation", 2) == 1:
        return [{"letter": "\0", "volume": {"label": "System Reserved"}}] + lettered
    # The MSR has no file system: Get-Volume -Partition finds no MSFT_Volume for it.
    return ([{"letter": "\0", "volume": {"label": ""}}, {"letter": "\0", "volume": None}] + lettered
            + [{"letter": "\0", "volume": {"label": ""}}])


def _where_keeps(expression: str, letter: str) -> bool:
    """Where-Object's verdict on a partition for the filters the script may use. [char]0 is true in PowerShell
    (LanguagePrimitives.IsTrue: a char is not one of the numeric types it tests, any other object is true)."""
    expression = " ".join(expression.split())
    if expression == "$_.DriveLetter":
        return True
    if expression == "[char]::IsLetter($_.DriveLetter)":
        return letter.isalpha()
    raise ValueError("the simulator does not know the filter { %s }" % expression)


def disk_limits_read_partitions(host, p: dict, script: str) -> dict:
    """Get-Disk, each disk's partitions through the script's own Where-Object filter, Get-Volume -Partition of
    each (an error for the MSR, unless the script says -ErrorAction SilentlyContinue), and Test-Path of the
    marker file at the root of each kept letter."""
    match = re.search(r"Get-Partition\b[^{]*?Where-Object\s*\{(.*?)\}\s*\|", script, re.DOTALL)
    if not match:
        raise ValueError("the simulator cannot find the script's partition filter")
    quiet = bool(re.search(r"Get-Volume\s+-Partition\s+\$_\s+-ErrorAction\s+SilentlyContinue", script))
    out, lun = [], 0
    for disk in host.state["disks"]:
        if disk["kind"] == "data":
            location, lun = "Integrated : Adapter 3 : Port 0 : Target 0 : LUN %d" % lun, lun + 1
        else:
            location = "Integrated : Adapter %d : Port 0 : Target 0 : LUN 0" % (0 if disk["kind"] == "os" else 1)
        volumes = []
        for partition in _partitions(host, disk):
            if not _where_keeps(match.group(1), partition["letter"]):
                continue
            volume = partition["volume"]
            if volume is None and not quiet:
                raise ScriptError("No MSFT_Volume objects found with property 'Partition' equal to the partition. Verify the value "
                                  "of the property and retry.")
            letter = partition["letter"]
            # Test-Path of a path that is not valid answers false; only a letter makes one.
            warning = bool(p.get("MarkerFile")) and letter.isalpha() and host.is_file(letter + ":\\" + p["MarkerFile"])
            volumes.append({"letter": letter, "label": (volume or {}).get("label", ""), "dataloss_warning": warning})
        out.append({"disk": str(disk["number"]), "location": location, "size_bytes": disk["size_gb"] * 2**30,
                    "boot": disk["kind"] == "os", "system": disk["kind"] == "os", "volumes": volumes})
    return {"disks": out}


SCRIPT_TEXT = set()
SCRIPTS["disk_limits.read"] = disk_limits_read_partitions
SCRIPT_TEXT.add("disk_limits.read")


# -- BITLOCKER: what the read sees besides Win32_EncryptableVolume ---------------------------------------
# Where the OS volume keeps auto-unlock keys is not documented beyond "the registry of the currently running
# operating system volume" (IsAutoUnlockKeyStored); HKLM\SYSTEM\CurrentControlSet\Control\FVEAutoUnlock is where
# they are seen (third-party observation, e-ago/bitcracker issue 56). The simulator keeps one entry per stored key.
def bitlocker_read_all(host, p: dict, script: str) -> dict:  # pylint: disable=unused-argument  # SCRIPT_TEXT twins take it
    out = bitlocker_read(host, p)
    state = host.state
    stored = state.get("bitlocker_auto_unlock_keys", [])
    # A volume on an offline disk, or on a detached one, is not listed by Win32_EncryptableVolume.
    offline = {d["number"] for d in state["disks"] if d.get("offline")}
    listed = [v for v in out["volumes"] if next((s for s in state["volumes"] if _volume_id(host, s) == v["device_id"]), {}).get("disk")
              not in offline]
    return dict(out, volumes=listed,
                # Get-Volume | Where-Object FileSystemLabel -eq $BekLabel: ADE's key volume carries that label.
                bek_volumes=[v["mount"] or _volume_id(host, v) for v in state["volumes"]
                             if p.get("BekLabel") and v.get("label") == p["BekLabel"] and v.get("disk") not in offline],
                offline_disks=[str(n) for n in sorted(offline)],
                auto_unlock_entries=len(stored) if stored else None)


def bitlocker_disable_each(host, p: dict, script: str) -> dict:
    """The disable script, volume by volume. A volume whose WMI method throws (state wmi_error: a CimException
    such as "Generic failure" from Invoke-CimMethod) fails alone when the script has a try around the calls inside
    its loop; without one the exception ends the script ($ErrorActionPreference Stop), and the volumes done
    before it are not reported."""
    out = []
    loop = script.find("foreach ($id in $DeviceIds)")
    per_volume = _in_try(script, script.find("-MethodName Decrypt"), after=loop)
    for device_id in p["DeviceIds"]:
        volume = next((v for v in host.state.get("volumes", []) if _volume_id(host, v) == device_id), None)
        if volume is not None and volume.get("wmi_error"):
            if not per_volume:
                raise ScriptError(volume["wmi_error"])
            out.append({"device_id": device_id, "volume": volume.get("mount") or device_id, "status": "failed",
                        "error": "WMI error: %s" % volume["wmi_error"]})
            continue
        out += bitlocker_disable(host, dict(p, DeviceIds=[device_id]))["volumes"]
    return {"volumes": out}


SCRIPTS["bitlocker.read"] = bitlocker_read_all
SCRIPTS["bitlocker.disable"] = bitlocker_disable_each
SCRIPT_TEXT.update(("bitlocker.read", "bitlocker.disable"))


# -- VSS_WRITERS ----------------------------------------------------------------------------------------
def vss_writers_read_native(host, p: dict, script: str) -> dict:
    """The read, with vssadmin run as the script runs it (_native)."""
    out = vss_writers_read(host, p)
    text = _native(script, "vssadmin.exe", out["text"], _native_stderr(host, "vssadmin.exe"), out["exit_code"])
    return dict(out, text=text["output"], exit_code=text["exit_code"])


SCRIPTS["vss_writers.read"] = vss_writers_read_native
SCRIPT_TEXT.add("vss_writers.read")


# -- MARS_SHADOW_STORAGE ---------------------------------------------------------------------------------
# Win32_ShadowStorage's MaxSpace is a uint64; the API's "no maximum" is -1 (ChangeDiffAreaMaximumSize,
# learn.microsoft.com), so an unbounded association reads as 2^64-1 here. Inferred from the documented types.
_UINT64_MAX = 2 ** 64 - 1


def _shadow_volume(host, spec: str) -> dict | None:
    """A volume by what vssadmin's /For= and /On= take: a drive letter ("C:", "C:\\") or the volume GUID path."""
    spec = str(spec or "").strip()
    for volume in host.state.get("volumes", []):
        if volume.get("mount") and spec.rstrip("\\").upper() == volume["mount"].upper():
            return volume
        if spec.lower() == _volume_id(host, volume).lower():
            return volume
    return None


def _volume_bytes(volume: dict) -> int:
    """Win32_Volume Capacity: a capture's capacity_bytes, else size_gb GiB."""
    return int(volume.get("capacity_bytes") or int(volume.get("size_gb", 0)) * 2 ** 30)


def _volume_free(host, volume: dict) -> int:
    """Win32_Volume FreeSpace: free_bytes, else half the volume less the shadow storage allocated on it."""
    if "free_bytes" in volume:
        return int(volume["free_bytes"])
    held = sum(a["allocated_bytes"] for a in host.state.get("shadow_storage", []) if a["on"].upper() == (volume.get("mount") or "").upper())
    return max(_volume_bytes(volume) // 2 - held, 0)


def _vss_starts(host) -> bool:
    """Win32_ShadowStorage and vssadmin ask the VSS service, which starts on demand (as for vssadmin list writers); False
    when it cannot start (disabled)."""
    try:
        host.start_service("VSS")
        return True
    except hostmod.ServiceError:
        return False


def _shadow_associations(host) -> list:
    """Get-ShadowStorage: Win32_ShadowStorage, its volumes by DeviceID, its numbers as strings. A broken provider throws; so
    does the provider when VSS cannot start (its message then is made up: WMI's generic "Generic failure")."""
    error = host.state.get("shadow_storage_cim_error")
    if error:
        raise ScriptError(error)
    if not _vss_starts(host):
        raise ScriptError("Generic failure")
    out = []
    for a in host.state.get("shadow_storage", []):
        maximum = _UINT64_MAX if a["max_bytes"] == "UNBOUNDED" else a["max_bytes"]
        out.append({"for": _volume_id(host, _shadow_volume(host, a["for"])), "on": _volume_id(host, _shadow_volume(host, a["on"])),
                    "used": str(a["used_bytes"]), "allocated": str(a["allocated_bytes"]), "max": str(maximum)})
    return out


def _vssadmin_shadowstorage(host) -> str:
    """`vssadmin list shadowstorage` on this host, in its language, as an 80-column console shows it (render.py); vssadmin's
    VSS error when the service cannot start."""
    if not _vss_starts(host):
        return render.vssadmin_error("vss_unavailable", host.state["locale"])
    listed = []
    for a in host.state.get("shadow_storage", []):
        for_volume, on_volume = _shadow_volume(host, a["for"]), _shadow_volume(host, a["on"])
        listed.append(dict(a, for_id=_volume_id(host, for_volume), on_id=_volume_id(host, on_volume), volume_bytes=_volume_bytes(on_volume)))
    return render.vssadmin_list_shadowstorage(listed, host.state["locale"])


def _unrolled(script: str, call: str, items: list):
    """What a variable gets from ``$x = <call>`` where the function ``call`` returns an array: PowerShell enumerates a
    function's output, so an empty array arrives as $null and a one-item array as that item (about_Return, "Return values
    and the pipeline"; about_Arrays: @() keeps an array) unless every use of the call is wrapped in @(...)."""
    code = _code_only(script)
    uses = [m.start() for m in re.finditer(r"(?<![\w-])%s(?![\w-])" % re.escape(call), code)]
    bare = [pos for pos in uses if not code[:pos].rstrip().endswith("function") and not code[:pos].rstrip().endswith("@(")]
    if not bare or len(items) > 1:
        return items
    return items[0] if items else None


def _volsnap_events(host, days: int) -> list:
    """Get-WinEvent -FilterHashtable @{LogName='System'; Id=25,36; StartTime=...} and the script's provider match: each
    event's Id, time and second data item (its volume, %2; the message only where the data has no second item). An
    unreadable log throws (event_log_error); nothing found is the script's empty list."""
    if host.state.get("event_log_error"):
        raise ScriptError(host.state["event_log_error"])
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    out = []
    for event in host.state.get("event_log", []):
        if event["log"] != "System" or event["id"] not in (25, 36) or event["provider"].lower() != "volsnap" or _parse_utc(event["time"]) < since:
            continue
        data = event.get("data") or []
        volume = data[1] if len(data) > 1 else None
        out.append({"id": event["id"], "time": event["time"], "volume": volume, "message": None if volume else event.get("message")})
    return out


def _backup_activity(host, names: list) -> dict:
    """Get-BackupActivity: the backup processes (Get-Process -Name), and where the MARS agent is installed its running
    operations (Get-OBJob: the state's mars_jobs; mars_jobs_error makes the module's import or the call throw)."""
    activity = {"processes": _processes(host, names), "mars_jobs": 0, "mars_error": None}
    if _mars_agent(host)["installed"]:
        if host.state.get("mars_jobs_error"):
            activity["mars_error"] = host.state["mars_jobs_error"]
        else:
            activity["mars_jobs"] = len(host.state.get("mars_jobs", []))
    return activity


def shadow_storage_read(host, p: dict, script: str) -> dict:
    """The read: Win32_Volume (DriveType 3), Win32_ShadowStorage or, where it throws, vssadmin's text as the script runs
    it, Win32_ShadowCopy's VolumeName (the original volume) and InstallDate per copy, volsnap's events 25 and 36 of the
    last EventDays days, and with CheckBackup whether a backup runs."""
    volumes = [{"device_id": _volume_id(host, v), "letter": v.get("mount") or None, "capacity": str(_volume_bytes(v)),
                "free": str(_volume_free(host, v))} for v in host.state.get("volumes", [])]
    result = {"source": "cim", "volumes": volumes, "associations": [], "copies": [], "cim_error": None, "vssadmin": None,
              "events": [], "events_error": None, "backup": None}
    try:
        result["associations"] = _unrolled(script, "Get-ShadowStorage", _shadow_associations(host))
    except ScriptError as exc:
        text = _vssadmin_shadowstorage(host)
        code = 0 if _vss_starts(host) else 2  # not documented: any non-zero code (see vss_writers_read)
        result.update(source="vssadmin", cim_error=str(exc), vssadmin=_native(script, "vssadmin.exe", text, _native_stderr(host, "vssadmin.exe"), code))
    for a in host.state.get("shadow_storage", []):
        device = _volume_id(host, _shadow_volume(host, a["for"]))
        result["copies"] += [{"volume": device, "created": c["created"]} for c in a.get("copies", [])]
    if int(p.get("EventDays") or 0) > 0:
        try:
            result["events"] = _volsnap_events(host, int(p["EventDays"]))
        except ScriptError as exc:
            result["events_error"] = str(exc)
    if p.get("CheckBackup"):
        result["backup"] = _backup_activity(host, p.get("BackupProcesses"))
    return result


def _max_size_spec(text: str, capacity: int):
    """vssadmin's MaxSizeSpec: UNBOUNDED, a number with an optional suffix (B, K(B), M(B), G(B), T(B), P(B), E(B);
    1024-based; none: bytes), or a percentage of the storage volume ("vssadmin resize shadowstorage", learn.microsoft.com:
    /MaxSize=20%). None for UNBOUNDED; ValueError for anything else."""
    text = str(text).strip()
    if text.upper() == "UNBOUNDED":
        return None
    if text.endswith("%"):
        return int(capacity * float(text[:-1]) / 100)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTPE]?)B?", text, re.I)
    if not match:
        raise ValueError(text)
    return int(float(match.group(1)) * 1024 ** "_KMGTPE".index(match.group(2).upper() or "_"))


def _vssadmin_resize(host, p: dict) -> tuple:
    """vssadmin resize shadowstorage over the state: (output, exit code). Refuses a size below 1MB (its usage text: "MaxSizeSpec
    must be 1MB or greater") and one below the minimum of the storage area (32 MB on a volume under 500 MB, else 320 MB,
    when MinDiffAreaFileSize is not set: learn.microsoft.com, Registry Keys and Values for Backup and Restore); which message
    that minimum gets is not documented: the insufficient-storage one is assumed. A maximum below the space in use makes
    Windows delete the oldest shadow copies until the rest fit ("Resizing the storage association may cause shadow copies to
    disappear"). vssadmin's exit codes are not documented: 0 on success, 2 (made up) on failure."""
    locale = host.state["locale"]
    if not _vss_starts(host):
        return render.vssadmin_error("vss_unavailable", locale), 2
    for_volume, on_volume = _shadow_volume(host, p.get("For")), _shadow_volume(host, p.get("On"))
    association = next((a for a in host.state.get("shadow_storage", []) if for_volume and on_volume
                        and a["for"].upper() == for_volume["mount"].upper() and a["on"].upper() == on_volume["mount"].upper()), None)
    if association is None:
        return render.vssadmin_message("not_found", locale), 2
    capacity = _volume_bytes(on_volume)
    try:
        wanted = _max_size_spec(p.get("MaxSize"), capacity)
    except ValueError:
        return render.vssadmin_message("invalid", locale), 2
    if wanted is not None and wanted < 2 ** 20:
        return render.vssadmin_message("invalid", locale), 2
    if wanted is not None and wanted < (32 if capacity < 500 * 2 ** 20 else 320) * 2 ** 20:
        return render.vssadmin_message("insufficient", locale), 2
    association["max_bytes"] = "UNBOUNDED" if wanted is None else wanted
    if wanted is not None and association["used_bytes"] > wanted:
        copies = list(association.get("copies", []))
        while copies and sum(c["bytes"] for c in copies) > wanted:
            copies.pop(0)  # the oldest first
        association["copies"] = copies
        association["used_bytes"] = sum(c["bytes"] for c in copies)
    if wanted is not None:
        association["allocated_bytes"] = max(association["used_bytes"], min(association["allocated_bytes"], wanted))
    return render.vssadmin_message("resized", locale), 0


def _polls(script: str) -> bool:
    """Whether the script reads Win32_ShadowStorage again in a loop that waits (do { ... Start-Sleep ... } while)."""
    code = _code_only(script)
    loop = re.search(r"\bdo\s*\{", code, re.I)
    if not loop:
        return False
    body = code[loop.end():]
    return "Get-ShadowStorage" in body and re.search(r"\bStart-Sleep\b", body, re.I) is not None and re.search(r"\}\s*while\b", body, re.I) is not None


def shadow_storage_resize(host, p: dict, script: str) -> tuple:
    """The resize script: with Shrink, nothing while a backup runs; vssadmin as the script runs it, then Win32_ShadowStorage
    again, or where that throws (its error kept) vssadmin's list. A new maximum may show late ("may not have an immediate
    effect": ChangeDiffAreaMaximumSize, learn.microsoft.com): with shadow_storage_lag_seconds (made up) it shows that many
    seconds after the resize, so a script that reads once sees the old one and one that polls for WaitSeconds sees it."""
    result = {"exit_code": None, "output": None, "associations": None, "read_error": None, "vssadmin": None, "backup": None, "reads": 0}
    if p.get("Shrink"):
        result["backup"] = _backup_activity(host, p.get("BackupProcesses"))
        if result["backup"]["processes"] or result["backup"]["mars_jobs"] or result["backup"]["mars_error"]:
            return result, False
    before = {(a["for"].upper(), a["on"].upper()): a["max_bytes"] for a in host.state.get("shadow_storage", [])}
    output, code = _vssadmin_resize(host, p)
    run = _native(script, "vssadmin.exe", output, _native_stderr(host, "vssadmin.exe"), code)
    result.update(exit_code=run["exit_code"], output=run["output"])
    lag = int(host.state.get("shadow_storage_lag_seconds") or 0)
    seen_late = lag > 0 and not (_polls(script) and lag <= int(p.get("WaitSeconds") or 0))
    try:
        listed = _shadow_associations(host)
        if seen_late and code == 0:
            for item, a in zip(listed, host.state.get("shadow_storage", [])):
                old = before.get((a["for"].upper(), a["on"].upper()))
                if old is not None:
                    item["max"] = str(_UINT64_MAX if old == "UNBOUNDED" else old)
        result["associations"] = _unrolled(script, "Get-ShadowStorage", listed)
        result["reads"] = 1 + (min(lag, int(p.get("WaitSeconds") or 0)) // 2 if _polls(script) and code == 0 else 0)
    except ScriptError as exc:
        text, code = _vssadmin_shadowstorage(host), 0 if _vss_starts(host) else 2
        result.update(read_error=str(exc), vssadmin=_native(script, "vssadmin.exe", text, _native_stderr(host, "vssadmin.exe"), code))
    return result, run["exit_code"] == 0


SCRIPTS["shadow_storage.read"] = shadow_storage_read
SCRIPTS["shadow_storage.resize"] = shadow_storage_resize
SCRIPT_TEXT.update(("shadow_storage.read", "shadow_storage.resize"))

# -- MACHINEKEYS ----------------------------------------------------------------------------------------
# Who reads a key file once the reset protected it: the agent runs as LocalSystem (SYSTEM, Administrators,
# Everyone, Authenticated Users in its token: Microsoft Learn, "LocalSystem Account").
_KEY_READERS = ("S-1-5-18", "S-1-5-32-544", "S-1-1-0", "S-1-5-11")


def _assert_listable(host, folder: str) -> None:
    """Get-ChildItem of a folder opens it for listing: FILE_LIST_DIRECTORY must be granted by the DACL; owning the
    folder gives only READ_CONTROL and WRITE_DAC (learn.microsoft.com, "File access rights constants" and
    "Ownership of objects"). Refused, it throws UnauthorizedAccessException "Access to the path '<path>' is denied."."""
    if not acl.granted(host.state["acls"][folder], acl.caller_sids(host.state), acl.FILE_LIST_DIRECTORY):
        raise ScriptError("Access to the path '%s' is denied." % folder)


def _key_files(state: dict, folder: str) -> list:
    return [c for c in acl.children(state, folder) if not acl.is_dir(state, c)]


def _inherited_counts(sddl: str) -> tuple:
    """(protected, inherited ACEs, all ACEs) of a file's DACL: AreAccessRulesProtected and IsInherited."""
    parsed = render.parse_sddl(sddl)
    return "P" in parsed["dacl_flags"], len([a for a in parsed["aces"] if "ID" in a["flags"]]), len(parsed["aces"])


def machinekeys_read_counts(host, p: dict, script: str) -> dict:
    """The read: icacls run as the script runs it; the key files counted, not listed."""
    out = machinekeys_read(host, p)
    path = out["path"]
    icacls = _native(script, "icacls.exe", out["icacls"], _native_stderr(host, "icacls.exe"), 0)
    counts = {"total": 0, "inheriting": 0, "only_inherited": 0, "unreadable": 0}
    for child in _key_files(host.state, hostmod.find_key(host.state["acls"], path)):
        counts["total"] += 1
        sddl = host.state["acls"][child]
        if not acl.granted(sddl, acl.caller_sids(host.state), acl.READ_CONTROL):
            counts["unreadable"] += 1
            continue
        protected, inherited, total = _inherited_counts(sddl)
        if not protected and inherited:
            counts["inheriting"] += 1
            counts["only_inherited"] += inherited == total
    return dict(out, icacls=icacls["output"], icacls_exit_code=icacls["exit_code"], key_files=counts)


def _takeown(host, script: str, path: str) -> None:
    """takeown /F path /A as the script runs it. Without the take-ownership privilege (state takeown_denied) it
    says so on stderr and exits 1; the script throws with its exit code."""
    state = host.state
    if state.get("takeown_denied"):
        result = _native(script, "takeown.exe", "", ["ERROR: Access is denied."], 1)
        raise ScriptError("takeown.exe /F %s /A failed (exit code 1): %s" % (path, result["output"].strip()))
    _native(script, "takeown.exe", "SUCCESS: The file (or folder): \"%s\" now owned by the administrators group.\r\n" % path, [], 0)
    acl.take_ownership(state, path)


def machinekeys_reset_in_place(host, p: dict, script: str) -> dict:
    """The reset as the script does it now: the key files to protect are found right before the folder's DACL is
    set (a file made after the read too); a file it cannot write it takes ownership of first."""
    state = host.state
    key = hostmod.find_key(state["acls"], p["Path"])
    if key is None:
        raise ScriptError("Cannot find path '%s' because it does not exist." % p["Path"])
    before = state["acls"][key]
    # The script's first Get-Acl, before its try: GetNamedSecurityInfo needs READ_CONTROL, which an owner has
    # implicitly (learn.microsoft.com, GetNamedSecurityInfo and "Ownership of objects"); refused, the script ends.
    if not acl.granted(before, acl.caller_sids(state), acl.READ_CONTROL):
        raise ScriptError(acl.UNAUTHORIZED)
    done, protected, only, unreadable = [], [], [], []
    result = {"before": before, "done": done, "protected": protected, "only_inherited": only, "unreadable": unreadable}
    try:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        result["backup"] = "%s\\MachineKeys-%s.sddl" % (p["BackupDir"].rstrip("\\"), stamp)
        hostmod.put_file_state(state, result["backup"], hostmod.file_entry((before + "\r\n").encode("ascii")))
        if p.get("TakeOwnership"):
            _takeown(host, script, key)
            done.append("took ownership of %s" % p["Path"])
        result["files_backup"] = "%s\\MachineKeys-%s-files.sddl" % (p["BackupDir"].rstrip("\\"), stamp)
        lines, owned = [], 0
        _assert_listable(host, key)
        for path in _key_files(state, key):
            sddl = state["acls"][path]
            if not acl.granted(sddl, acl.caller_sids(host.state), acl.READ_CONTROL):
                raise ScriptError(acl.UNAUTHORIZED)  # GetAccessControl needs READ_CONTROL
            is_protected, inherited, total = _inherited_counts(sddl)
            if is_protected or not inherited:
                continue
            lines.append("%s\t%s\r\n" % (sddl, path))  # Add-Content, line by line
            hostmod.put_file_state(state, result["files_backup"], hostmod.file_entry("".join(lines).encode("ascii")))
            if not acl.granted(state["acls"][path], acl.caller_sids(state), acl.WRITE_DAC):
                _takeown(host, script, path)
                owned += 1
            acl.protect(state, path)
            protected.append(path)
            if inherited == total:
                only.append(path)
            if not acl.granted(state["acls"][path], _KEY_READERS, acl.FILE_READ_DATA):
                unreadable.append(path)
        if owned:
            done.append("took ownership of %d key file(s) it could not write" % owned)
        if protected:
            done.append("protected %d key file(s), keeping their inherited ACEs as explicit ones" % len(protected))
        if not p["Dacl"].startswith("D:"):
            raise ScriptError("The SDDL string contains an invalid sid or a sid that cannot be translated.")
        if not acl.granted(state["acls"][key], acl.caller_sids(state), acl.WRITE_DAC):
            raise ScriptError(acl.UNAUTHORIZED)
        acl.set_dacl(state, key, p["Dacl"])
        done.append("set the DACL of %s" % p["Path"])
    except ScriptError as exc:
        result["error"] = str(exc)
    result["after"] = state["acls"][key]
    result["owner"] = render.parse_sddl(result["after"])["owner"]  # GetOwner(SecurityIdentifier)
    return result


SCRIPTS["machinekeys.read"] = machinekeys_read_counts
SCRIPTS["machinekeys.reset"] = machinekeys_reset_in_place
SCRIPT_TEXT.update(("machinekeys.read", "machinekeys.reset"))


# -- the host read and the run lock (plugin_utils/windows/causes.py, lock.py) ------------------------

REMOTE_MANAGEMENT_USERS = "S-1-5-32-580"
_UAC_POLICY_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"


def _winrm_account(host) -> dict:
    """The account WinRM runs commands as. Default: the VM's admin account, which Azure creates as the built-in
    Administrator (RID 500) under the name given at deployment."""
    account = {"name": getattr(host, "winrm_user", "") or "azureadmin", "rid": 500, "groups": [acl.ADMINISTRATORS], "domain": False}
    account.update(host.state.get("winrm_account") or {})
    return account


def _policy(host, name: str):
    value = host.reg_values(_UAC_POLICY_KEY).get(name) if host.reg_key_exists(_UAC_POLICY_KEY) else None
    return value["data"] if value else None


def _is_in_administrators_role(host, account: dict) -> bool:
    """WindowsPrincipal.IsInRole(Administrator) over WinRM: the token must hold Administrators enabled.
    UAC remote restrictions (learn.microsoft.com, "User Account Control and remote restrictions") filter the token of
    a local account connecting over the network: Administrators becomes deny-only, unless the account is the
    built-in Administrator (RID 500) while FilterAdministratorToken is not 1, or LocalAccountTokenFilterPolicy is 1.
    Domain accounts in Administrators keep a full token."""
    if acl.ADMINISTRATORS not in account["groups"]:
        return False
    if account.get("domain"):
        return True
    if account["rid"] == 500:
        return _policy(host, "FilterAdministratorToken") != 1
    return _policy(host, "LocalAccountTokenFilterPolicy") == 1


def host_read(host, p: dict) -> dict:
    """The host read: the caller's role, then every embedded read, each by its own twin (found by the tag of its
    script) with its own parameters bound to its own param() block; a read's terminating error is its entry's."""
    account = _winrm_account(host)
    administrator = _is_in_administrators_role(host, account)
    # The MARS agent (Get-MarsAgent), looked for only when a read is marked mars.
    marked = any((read or {}).get("mars") for read in (p.get("Reads") or {}).values())
    mars = {"installed": _mars_agent(host)["installed"] if marked else False}
    reads = {}
    for cause, read in ((p.get("Reads") or {}).items() if administrator else ()):
        if (read or {}).get("mars") and not mars["installed"]:
            continue
        script = str((read or {}).get("script") or "")
        tag = SCRIPT_TAG.search(script)
        if tag is None:
            reads[cause] = {"error": "winsim: the simulator cannot run a read without an azure_backup.remediation tag"}
            continue
        try:
            bound = psbind.bind(script, dict((read or {}).get("parameters") or {}), True)
            out = run(host, tag.group(1), bound, script=script)
        except psbind.BindingError as exc:
            reads[cause] = {"error": str(exc)}
            continue
        except LookupError as exc:
            reads[cause] = {"error": "winsim: %s" % exc}
            continue
        if out.get("failed"):
            reads[cause] = {"error": "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in out.get("error") or [])}
        else:
            reads[cause] = {"result": out.get("result", {})}
    return {"host": {"user": "%s\\%s" % (host.name.upper(), account["name"]), "administrator": administrator, "mars": mars},
            "reads": reads}


def _lock_holder(host, path: str) -> dict:
    """Read-Holder: the holder's JSON, since when it holds (its write time when unreadable), and its age."""
    text = (host.read_file(path) or b"").decode("utf-8", "replace")
    try:
        seen = json.loads(text)
    except ValueError:
        seen = None
    since = None
    if isinstance(seen, dict) and seen.get("since"):
        since = _parse_utc(seen["since"])
    if since is None or since.timestamp() - time.time() > 300:  # unreadable, or more than 5 minutes ahead: the write time
        since = _parse_utc(host.find_file(path)[1].get("mtime") or hostmod.now_iso())
    return {"holder": seen, "text": text, "since": since.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "age_seconds": time.time() - since.timestamp()}


def _parse_utc(text: str):
    """[DateTime]::Parse of a round-trip ('o') time, in UTC; None when it is not one."""
    try:
        parsed = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _write_lock_holder(host, path: str, holder: dict) -> None:
    mine = dict(holder or {}, since=hostmod.now_iso(), winrm_user="%s\\%s" % (host.name.upper(), _winrm_account(host)["name"]))
    hostmod.put_file_state(host.state, path, hostmod.file_entry(json.dumps(mine, separators=(",", ":")).encode("utf-8")))


def _lock_file_problem(host, path: str) -> str | None:
    """Assert-LockFile: a link, or a file whose owner (GetAccessControl Owner) is not SYSTEM or Administrators. A file
    the simulation holds no descriptor of was made by an administrator's run: owner Administrators."""
    if _is_reparse_point(host, path):
        return "refusing to use the run lock %s: it is a link (reparse point)" % path
    key = acl.find(host.state, path)
    owner = render.parse_sddl(host.state["acls"][key])["owner"] if key else "S-1-5-32-544"
    if owner not in _TRUSTED_SIDS:
        return "refusing to use the run lock %s: it is owned by %s, not by SYSTEM or Administrators" % (path, owner)
    return None


def host_lock(host, p: dict) -> tuple:
    """The lock script: its folder asserted as the detached runner's (Assert-WorkFolder, refused: the script fails and
    nothing is written); FileMode CreateNew wins when no file is there; an existing lock that is a link or owned by
    anyone else is refused; a holder older than StaleSeconds is deleted (never rewritten) and CreateNew tried again;
    else wait (other commands to this host run meanwhile) until WaitSeconds have passed."""
    _assert_work_folder(host, p["Root"], p["Directory"])
    path, started = p["Path"], time.time()
    deadline = started + int(p.get("WaitSeconds") or 0)
    result = {"acquired": False, "took_over": None, "holder": None, "mine": False, "waited_seconds": 0}
    stale = None
    while True:
        if not host.is_file(path):
            _write_lock_holder(host, path, p.get("Holder"))
            result.update(acquired=True, took_over=stale)
            break
        problem = _lock_file_problem(host, path)
        if problem:
            raise ScriptError(problem)
        seen = _lock_holder(host, path)
        result["holder"] = seen
        stale = None
        token = (p.get("Holder") or {}).get("token")
        if isinstance(seen["holder"], dict) and token and seen["holder"].get("token") == token:
            result.update(acquired=True, mine=True)  # this run's own lock, from a try whose answer was lost
            break
        if seen["age_seconds"] >= int(p.get("StaleSeconds") or 0):
            # File.Delete through the handle opened with FileShare.Delete: removed once that handle closes.
            hostmod.remove_file_state(host.state, path)
            stale = seen
            continue
        if time.time() >= deadline:
            break
        host.pause(1)
    result["waited_seconds"] = int(time.time() - started)
    return result, result["acquired"]


def host_unlock(host, p: dict) -> tuple:
    """Removes the lock file only when it holds this run's token."""
    path = p["Path"]
    result = {"released": False, "held_by": None}
    if host.is_file(path):
        text = (host.read_file(path) or b"").decode("utf-8", "replace")
        try:
            seen = json.loads(text)
        except ValueError:
            seen = None
        if isinstance(seen, dict) and seen.get("token") == p.get("Token"):
            hostmod.remove_file_state(host.state, path)
            result["released"] = True
        else:
            result["held_by"] = text
    return result, result["released"]


SCRIPTS.update({"host.read": host_read, "host.lock": host_lock, "host.unlock": host_unlock})


# -- the log bundle (plugin_utils/windows/log_bundle.py) ------------------------------------------------------------
# Get-WinEvent -FilterXml, Get-Item/Get-ChildItem and FileStream reads over the state's event_log and files.

# The System/Level numbers of an event (learn.microsoft.com, "EventLevel"; the words are the script's own).
_LEVEL_NAMES = {0: "LogAlways", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}
# .NET's messages for a file another process holds open without sharing (ERROR_SHARING_VIOLATION) and for a
# file the caller may not read (UnauthorizedAccessException).
_SHARING_VIOLATION = "The process cannot access the file '%s' because it is being used by another process."
_ACCESS_DENIED = "Access to the path '%s' is denied."


def _event_selected(entry: dict, p: dict, since) -> bool:
    """The script's QueryList: a provider by name, or Application Error 1000 with a faulting image among the data
    items (EventData[Data='...'] matches any item); either within TimeCreated[timediff(@SystemTime) <= window]."""
    if _parse_utc(entry["time"]) < since:
        return False
    if entry["provider"] in (p.get("Providers") or []):
        return True
    return (entry["provider"] == "Application Error" and entry["id"] == 1000
            and any(item in (p.get("FaultingImages") or []) for item in entry.get("data") or []))


def _export_event_log(host, log: str, p: dict) -> tuple:
    """Export-EventLog: (the log's selected entries as the script renders them, oldest first; how many)."""
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=int(p["EventHours"]))
    found = sorted((e for e in host.state.get("event_log", []) if e["log"] == log and _event_selected(e, p, since)),
                   key=lambda e: _parse_utc(e["time"]))
    lines = []
    for event in found:
        message = event.get("message") or " | ".join(event.get("data") or [])
        stamp = _parse_utc(event["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append("%s  %s (%d)  %s  id %d  record %d" % (stamp, _LEVEL_NAMES.get(event["level"], "Level"), event["level"],
                                                            event["provider"], event["id"], event["record"]))
        lines += ["    " + line for line in re.split(r"\r?\n", message)]
        lines.append("")
    return "\r\n".join(lines).encode("utf-8"), len(found)


def _all_dirs(host) -> dict:
    """Every folder of the state (listed ones and the parents of files and folders): lower-case path -> its spelling."""
    dirs = {}
    for path in list(host.state.get("dirs", [])) + list(host.state.get("files", {})):
        parent = path if path in host.state.get("dirs", []) else hostmod.parent_path(path)
        while parent:
            dirs.setdefault(hostmod.path_key(parent), hostmod.norm_path(parent))
            parent = hostmod.parent_path(parent)
    return dirs


def _wildcard_match(path: str, pattern: str) -> bool:
    """A PowerShell wildcard path: each component matched on its own (* never crosses a \\), ignoring case."""
    import fnmatch  # pylint: disable=import-outside-toplevel  # only this twin matches wildcards
    parts, wanted = hostmod.norm_path(path).rstrip("\\").split("\\"), hostmod.norm_path(pattern).rstrip("\\").split("\\")
    return len(parts) == len(wanted) and all(fnmatch.fnmatchcase(a.lower(), b.lower()) for a, b in zip(parts, wanted))


def _bundle_files(host, pattern: str) -> list:
    """Get-BundleFile: Get-Item -Path <pattern> (files and folders, in name order); a folder's files below it
    (Get-ChildItem -File -Recurse); newest first (Sort-Object LastWriteTimeUtc -Descending)."""
    files, dirs = host.state.get("files", {}), _all_dirs(host)
    tops = sorted([p for p in files if _wildcard_match(p, pattern)] + [d for d in dirs.values() if _wildcard_match(d, pattern)],
                  key=str.lower)
    batch = []
    for top in tops:
        if hostmod.path_key(top) in dirs:
            batch += [p for p in files if p.lower().startswith(hostmod.path_key(top) + "\\")]
        else:
            batch.append(top)
    return sorted(batch, key=lambda p: _parse_utc(files[p]["mtime"]), reverse=True)


def _file_bytes(host, path: str) -> bytes:
    """FileStream.Read of the whole file: its kept bytes, or the filler of its size."""
    entry = host.state["files"][path]
    if entry.get("locked"):
        raise ScriptError(_SHARING_VIOLATION % path)
    if entry.get("unreadable"):
        raise ScriptError(_ACCESS_DENIED % path)
    if "content_b64" in entry:
        return base64.b64decode(entry["content_b64"])
    return hostmod.filler_bytes(int(entry.get("size") or 0))


def log_bundle_read(host, p: dict, script: str = "") -> dict:
    """The bundle read: the event exports, then each path's files, then the MARS agent's Temp folder; the cap spent
    in that order (Add-Part), each file's newest part where it cuts; *.settings files with protectedSettings replaced."""
    files, left = [], int(p["MaxBytes"])

    def add_part(entry: dict, data: bytes, size: int) -> None:
        nonlocal left
        take = min(len(data), left)
        entry.update(size=size, offset=size - take, length=take, truncated=0 < take < size, left_out=take == 0 and size > 0)
        if entry["left_out"]:
            entry["skipped"] = "cap reached"
        if take > 0:
            entry["content"] = base64.b64encode(data[len(data) - take:]).decode("ascii")
        left -= take
        files.append(entry)

    now = int(time.time())
    if int(p.get("EventHours") or 0) > 0:
        for log in p.get("EventLogs") or []:
            if host.state.get("event_log_error"):  # any error but "no events found" names the export as unreadable
                files.append({"path": "events\\%s.txt" % log, "mtime": now, "events": 0, "skipped": "unreadable: " + host.state["event_log_error"],
                              "size": 0, "offset": 0, "length": 0, "truncated": False, "left_out": False})
                continue
            data, count = _export_event_log(host, log, p)
            add_part({"path": "events\\%s.txt" % log, "mtime": now, "events": count}, data, len(data))
    agent = _mars_agent(host)
    patterns = list(p.get("Paths") or []) + ([agent["install_path"] + "\\Temp"] if agent["installed"] else [])
    seen = set()
    for pattern in patterns:
        for path in _bundle_files(host, pattern):
            if path.lower() in seen:
                continue
            seen.add(path.lower())
            stored = host.state["files"][path]
            size = int(stored.get("size") or 0)
            entry = {"path": path, "size": size, "offset": 0, "length": 0, "truncated": False, "left_out": False,
                     "mtime": int(_parse_utc(stored["mtime"]).timestamp())}
            if left <= 0:
                entry["left_out"] = size > 0
                if entry["left_out"]:
                    entry["skipped"] = "cap reached"
                files.append(entry)
                continue
            try:
                data = _file_bytes(host, path)
            except ScriptError as exc:
                entry["skipped"] = ("locked: " if stored.get("locked") else "unreadable: ") + str(exc)
                files.append(entry)
                continue
            if path.lower().endswith(".settings"):
                text = re.sub(r'("(?:protectedSettings|objectStr)"\s*:\s*)"[^"]*"', lambda m: m.group(1) + '"%s"' % p["Redacted"],
                              data.decode("utf-8"))
                data = text.encode("utf-8")
                entry["redacted"] = "protectedSettings, objectStr"
                size, part = len(data), data
            else:
                size, part = len(data), data[max(0, len(data) - left):]
            # Hide-Signatures: sig=... masked with '*', byte for byte (only where the script calls it: PowerShell does
            # nothing of the kind on its own).
            masked = part
            if "Hide-Signatures -Data" in _code_only(script, keep_strings=True):
                masked = re.sub(rb"(?i)((?:[?&]|&amp;|\\u0026|%26)sig(?:=|%3D))([^&\"'\s<>\\]+)",
                                lambda m: m.group(1) + b"*" * len(m.group(2)), part)
            if masked != part:
                entry["signatures"] = "masked"
            add_part(entry, masked, size)
    return {"agent": agent, "files": files}


SCRIPTS["log_bundle.read"] = log_bundle_read
SCRIPT_TEXT.add("log_bundle.read")


# -- MARS_SERVICE, MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES, MARS_PREREQS, MARS_RESTORE_MOUNT ---------------------

def _mars_agent(host) -> dict:
    """Get-MarsAgent (plugin_utils/windows/mars.py): the setup key's InstallPath or the obengine service, and the
    FileVersion of Bin\\cbengine.exe (null for a file without one)."""
    setup = host.reg_values(hostmod.MARS_SETUP_KEY)
    name = hostmod.find_key(setup, "InstallPath")
    path = str(setup[name]["data"]).rstrip("\\") if name and setup[name].get("data") else None
    service = hostmod.find_key(host.state["services"], "obengine") is not None
    if not path and not service:
        return {"installed": False}
    if not path:
        path = hostmod.ENVIRONMENT["programfiles"] + "\\Microsoft Azure Recovery Services Agent"
    entry = host.find_file(path + "\\Bin\\cbengine.exe")[1]
    return {"installed": True, "install_path": path, "version": (entry or {}).get("version"), "service": service,
            "dpm": host.reg_key_exists(hostmod.DPM_SETUP_KEY)}


def _mars_job(host, install_path: str) -> dict:
    """Get-MarsJob (mars.py ENGINE_FUNCTIONS): Import-Module of <install>\\Bin\\Modules\\MSOnlineBackup, then Get-OBJob, which
    lists the operations running now (learn.microsoft.com, Get-OBJob). State mars_jobs: the jobs running; mars_module_error:
    the module does not load (a damaged install). Without its .psd1 Import-Module fails as PowerShell words it."""
    module = hostmod.norm_path(install_path).rstrip("\\") + "\\Bin\\Modules\\MSOnlineBackup"
    if host.state.get("mars_module_error"):
        return {"running": None, "count": None, "error": host.state["mars_module_error"]}
    if not host.is_file(module + "\\MSOnlineBackup.psd1"):
        return {"running": None, "count": None, "error": "The specified module '%s' was not loaded because no valid module file was "
                "found in any module directory." % module}
    jobs = host.state.get("mars_jobs") or []
    return {"running": bool(jobs), "count": len(jobs), "error": None}


def _engine_stop(host, key: str) -> dict:
    """Stop-Engine: ServiceController.Stop() and a bounded wait (the wait passes in simulated time)."""
    if host.state["services"][key]["state"] == "stop_pending":
        # A StopPending service refuses SERVICE_CONTROL_STOP (ERROR_SERVICE_CANNOT_ACCEPT_CTRL; learn.microsoft.com, ControlService).
        return {"status": "stop_failed", "state": "StopPending", "error": "The service cannot accept control messages at this time"}
    if not _service_stop(host, key):
        return {"status": "stuck", "state": "StopPending", "error": None}
    return {"status": "stopped", "state": "Stopped", "error": None}


def _engine_start(host, key: str) -> dict:
    """Start-Engine: ServiceController.Start() and a bounded wait."""
    try:
        _service_start(host, key)
    except hostmod.ServiceError as exc:
        return {"status": "start_failed", "state": _SERVICE_STATE.get(host.state["services"][key]["state"]), "error": str(exc)}
    return {"status": "running", "state": "Running", "error": None}


def mars_service_restart(host, p: dict) -> tuple:
    """The engine restart: where it runs, Get-OBJob first (a job, or no answer, leaves it alone), then stop and start."""
    key = host.find_service(p["Service"])[0]
    if key is None:
        raise ScriptError("Cannot find any service with service name '%s'." % p["Service"])
    result = {"job": None, "stop": None, "start": None, "before": _SERVICE_STATE.get(host.state["services"][key]["state"])}
    changed, go = False, True
    if host.state["services"][key]["state"] != "stopped":
        result["job"] = _mars_job(host, p["InstallPath"])
        go = result["job"]["running"] is False
        if go:
            result["stop"] = _engine_stop(host, key)
            go = changed = result["stop"]["status"] == "stopped"
    if go:
        result["start"] = _engine_start(host, key)
        changed = True
    return result, changed


def mars_scratch_set(host, p: dict) -> tuple:
    """Both ScratchLocation values as the FAQ changes the cache location: where the engine runs, Get-OBJob, a bounded stop,
    the values, a bounded start. State registry_denied: keys whose values cannot be set (Set-ItemProperty throws)."""
    key = host.find_service(p["Service"])[0]
    result = {"job": None, "stop": None, "start": None, "written": [], "error": None, "was_running": False}
    changed, go = False, True
    if key is not None and host.state["services"][key]["state"] != "stopped":
        result["was_running"] = True
        result["job"] = _mars_job(host, p["InstallPath"])
        go = result["job"]["running"] is False
        if go:
            result["stop"] = _engine_stop(host, key)
            go = changed = result["stop"]["status"] == "stopped"
    if go:
        denied = [k.lower() for k in host.state.get("registry_denied") or []]
        for one in p["Keys"]:
            if one.lower() in denied:
                result["error"] = "%s: Requested registry access is not allowed." % one
                break
            hostmod.reg_set(host.state, one, p["ValueName"], {v: k for k, v in _VALUE_KIND.items()}[p["Kind"]], p["Value"])
            result["written"].append(one)
            changed = True
        if result["was_running"]:
            result["start"] = _engine_start(host, key)
    return result, changed


def mars_service_read(host, p: dict) -> dict:
    return {"agent": _mars_agent(host), "service": _service_state(host, p["Service"])}


def mars_version_read(host, p: dict) -> dict:  # pylint: disable=unused-argument  # twins take the parameters
    return {"agent": _mars_agent(host)}


# FileAttributes values (learn.microsoft.com, FileAttributes Enum).
_ATTRIBUTES = {"Directory": 0x10, "SparseFile": 0x200, "ReparsePoint": 0x400, "Compressed": 0x800, "Encrypted": 0x4000}


def _registry_string(host, key: str, name: str) -> dict:
    """Get-RegistryString of the scratch read: [string]GetValue(name) and GetValueKind(name), or nulls."""
    if not host.reg_key_exists(key):
        return {"value": None, "kind": None}
    values = host.reg_values(key)
    real = hostmod.find_key(values, name)
    if real is None:
        return {"value": None, "kind": None}
    data = values[real]["data"]
    return {"value": " ".join(data) if isinstance(data, list) else str(data), "kind": _VALUE_KIND[values[real]["type"]]}


def _win32_volume(host, path: str) -> dict | None:
    """The Win32_Volume whose Name (a root like C:\\) is the longest start of ``path``, as the scratch read picks it."""
    full = hostmod.norm_path(path).rstrip("\\").lower() + "\\"
    best = None
    for volume in host.state["volumes"]:
        name = (volume.get("mount") or "").rstrip("\\") + "\\"
        if volume.get("mount") and full.startswith(name.lower()) and (best is None or len(name) > len(best[0])):
            best = (name, volume)
    if best is None:
        return None
    name, volume = best
    return {"name": name, "drive_type": volume.get("drive_type", 3), "file_system": volume.get("file_system", "NTFS"),
            "capacity": _volume_bytes(volume), "free": _volume_free(host, volume),
            "dedup": bool(volume.get("dedup")) if host.state.get("dedup_feature") else None}


def _scratch_folder(host, value: str, kek: str) -> dict:
    path = hostmod.expand_env(value)
    folder = {"path": value, "expanded": path, "exists": False, "accessible": False, "kek": False, "attributes": None, "volume": None,
              "error": None}
    if not host.is_dir(path):
        return folder
    folder["exists"] = True
    names = (host.state.get("folder_attributes") or {}).get(hostmod.find_key(host.state.get("folder_attributes") or {}, path) or "", [])
    folder["attributes"] = _ATTRIBUTES["Directory"] | sum(_ATTRIBUTES[n] for n in names)
    if any(hostmod.path_key(d) == hostmod.path_key(path) for d in host.state.get("denied_dirs", [])):
        # Get-ChildItem under $ErrorActionPreference Stop: the UnauthorizedAccessException's message.
        folder["error"] = "Access to the path '%s' is denied." % hostmod.norm_path(path)
        return folder
    folder["accessible"] = True
    folder["kek"] = host.is_file(hostmod.norm_path(path) + "\\" + kek)
    folder["volume"] = _win32_volume(host, path)
    return folder


def mars_scratch_read(host, p: dict) -> dict:
    config = _registry_string(host, p["ConfigKey"], p["ValueName"])
    provider = _registry_string(host, p["ProviderKey"], p["ValueName"])
    # Sort-Object -Unique compares strings without case.
    paths = {}
    for value in sorted((v for v in (config["value"], provider["value"]) if v), key=str.lower):
        paths.setdefault(value.lower(), value)
    return {"agent": _mars_agent(host), "config": config["value"], "config_kind": config["kind"], "provider": provider["value"],
            "provider_kind": provider["kind"], "folders": [_scratch_folder(host, v, p["KekName"]) for v in paths.values()],
            "service": _service_state(host, p["Service"])}


def _enumerate_files(host, folder: str, pattern: str) -> list:
    """[System.IO.Directory]::EnumerateFiles(folder, pattern) on Windows PowerShell (.NET Framework): [(path, size,
    in_use, bulk entry or None)] of the files directly in ``folder``. Only patterns '*.<ext>' are known here. A pattern
    whose extension has exactly three characters also returns the files whose extension begins with it ("*.xls" returns
    book.xls and book.xlsx: learn.microsoft.com, Directory.EnumerateFiles(String, String), Remarks)."""
    match = re.fullmatch(r"\*\.([^*?.]+)", pattern)
    if not match:
        raise ValueError("the simulator knows only search patterns like *.tmp, not %r" % pattern)
    ext = match.group(1).lower()

    def matches(name: str) -> bool:
        last = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return last == ext or (len(ext) == 3 and last.startswith(ext))

    folder_key = hostmod.path_key(folder)
    out = [(path, entry.get("size", 0), bool(entry.get("in_use")), None) for path, entry in host.state.get("files", {}).items()
           if hostmod.path_key(hostmod.parent_path(path) or "") == folder_key and matches(path.rsplit("\\", 1)[-1])]
    out += [item for item in hostmod.bulk_listing(host.state, folder) if matches(item[0].rsplit("\\", 1)[-1])]
    return out


_EXACT_SUFFIX = ".EndsWith($Extension, [System.StringComparison]::OrdinalIgnoreCase)"


def _temp_files(host, p: dict, script: str) -> tuple:
    """The Windows temp folder and its files as the script picks them: EnumerateFiles with '*' + Extension, then, where
    the script tests each name for the exact suffix, only those that end in it."""
    folder = hostmod.ENVIRONMENT["systemroot"] + "\\Temp"
    files = _enumerate_files(host, folder, "*" + p["Extension"])
    if _EXACT_SUFFIX in _code_only(script, keep_strings=True):
        files = [f for f in files if f[0].lower().endswith(p["Extension"].lower())]
    return folder, files


def _vm_now(host) -> datetime.datetime:
    """[DateTime]::UtcNow on the VM: the real time plus the VM clock's offset (clock_offset_seconds)."""
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=host.state.get("clock_offset_seconds", 0))


def _last_write(host, item: tuple) -> datetime.datetime:
    """FileInfo.LastWriteTimeUtc of a listed file: its files{} entry's or its bulk entry's mtime (now where none is kept)."""
    path, _size, _in_use, entry = item
    mtime = (entry if entry is not None else host.state["files"].get(path) or {}).get("mtime")
    if not mtime:
        return datetime.datetime.now(datetime.timezone.utc)
    return datetime.datetime.fromisoformat(mtime.replace("Z", "+00:00"))


def mars_temp_files_read(host, p: dict, script: str) -> dict:
    folder, files = _temp_files(host, p, script)
    cutoff = _vm_now(host) - datetime.timedelta(hours=int(p.get("MinAgeHours") or 0))
    return {"agent": _mars_agent(host), "folder": folder, "count": len(files), "old": sum(1 for f in files if _last_write(host, f) < cutoff),
            "bytes": sum(f[1] for f in files)}


def mars_temp_files_delete(host, p: dict, script: str) -> tuple:
    """[System.IO.File]::Delete of each file last written before the cutoff; a younger one stays (kept), one open
    elsewhere throws an IOException and stays (kept). A files{} entry with "vanishes": true is deleted by someone else
    between the listing and its delete: FileInfo.Exists is then false, and it counts as gone."""
    folder, files = _temp_files(host, p, script)
    cutoff = _vm_now(host) - datetime.timedelta(hours=int(p.get("MinAgeHours") or 0))
    result = {"folder": folder, "removed": 0, "kept": 0, "young": 0, "gone": 0, "bytes_freed": 0, "kept_examples": []}
    bulk = {}
    for item in files:
        path, size, in_use, entry = item
        if entry is None and (host.state["files"].get(path) or {}).get("vanishes"):
            hostmod.remove_file_state(host.state, path)
            result["gone"] += 1
            continue
        if _last_write(host, item) >= cutoff:
            result["young"] += 1
            result["kept"] += 1
            continue
        if in_use:
            result["kept"] += 1
            if len(result["kept_examples"]) < 5:
                result["kept_examples"].append("%s (The process cannot access the file '%s' because it is being used by another process.)"
                                               % (path, path))
            continue
        if entry is None:
            hostmod.remove_file_state(host.state, path)
        else:
            bulk[id(entry)] = (entry, bulk.get(id(entry), (entry, 0))[1] + 1)
        result["removed"] += 1
        result["bytes_freed"] += size
    for entry, removed in bulk.values():
        hostmod.remove_bulk_files(host.state, entry, removed)
    return result, result["removed"] > 0


def _round_trip_utc(text: str) -> datetime.datetime:
    """[DateTime]::Parse(text, InvariantCulture, AssumeUniversal | AdjustToUniversal) of an ISO 8601 time."""
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ScriptError("Exception calling \"Parse\" with \"3\" argument(s): \"String was not recognized as a valid DateTime.\"") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def mars_prereqs_read(host, p: dict) -> dict:
    sent = _round_trip_utc(p["ControllerUtc"])
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=host.state.get("clock_offset_seconds", 0))
    release = host.reg_values(hostmod.NDP_KEY).get("Release") if host.reg_key_exists(hostmod.NDP_KEY) else None
    zone = dict({"id": "UTC", "display_name": "(UTC) Coordinated Universal Time", "utc_offset_minutes": 0}, **(host.state.get("time_zone") or {}))
    return {"agent": _mars_agent(host), "dotnet_release": release["data"] if release else None,
            # DateTime.ToString('o') of a UTC time: seven fraction digits and Z.
            "vm_utc": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z", "offset_seconds": round((now - sent).total_seconds(), 3),
            "time_zone": zone}


SCRIPTS.update({
    "mars_service.read": mars_service_read,
    "mars_version.read": mars_version_read,
    "mars_scratch.read": mars_scratch_read,
    "mars_temp_files.read": mars_temp_files_read,
    "mars_temp_files.delete": mars_temp_files_delete,
    "mars_prereqs.read": mars_prereqs_read,
    "mars_restore_mount.read": mars_service_read,
    "mars_service.restart": mars_service_restart,
    "mars_scratch.set": mars_scratch_set,
})
SCRIPT_TEXT.update(("mars_temp_files.read", "mars_temp_files.delete"))


# -- the MARS agent: MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL, MARS_ANTIVIRUS -----------------

def mars_connectivity_read(host, p: dict) -> dict:
    agent = _mars_agent(host)
    out = {"agent": agent}
    if agent["installed"]:
        # WinHttpSettings as Get-WinHttpProxy decodes it: flags 3 with a named proxy, 1 for direct access.
        proxy = host.state.get("winhttp_proxy") or {}
        out["winhttp"] = {"proxy": proxy.get("proxy") or "", "bypass": proxy.get("bypass") or "" if proxy.get("proxy") else "",
                          "flags": 3 if proxy.get("proxy") else 1}
        # Get-SystemWinInetProxy: SYSTEM's DefaultConnectionSettings decoded, $null where SYSTEM has none.
        wininet = host.state.get("system_wininet")
        out["wininet"] = None if wininet is None else {
            "flags": int(wininet.get("flags", 1)), "proxy": wininet.get("proxy") or "", "bypass": wininet.get("bypass") or "",
            "autoconfig_url": wininet.get("autoconfig_url") or ""}
        out["tcp"] = network_read(host, {"Names": [], "Endpoints": p["Endpoints"], "TimeoutMs": p["TimeoutMs"]})["tcp"]
    return out


# Made up: the simulated VM's machine SID (a real one is S-1-5-21 and three random numbers); local accounts get RIDs under it.
MACHINE_SID = "S-1-5-21-1004336348-1177238915-682003330"
# Well-known SIDs (learn.microsoft.com, "Well-known SIDs"); NTAccount.Translate takes these names on an English Windows.
_WELL_KNOWN = {"system": "S-1-5-18", "nt authority\\system": "S-1-5-18", "localsystem": "S-1-5-18",
               "local service": "S-1-5-19", "nt authority\\local service": "S-1-5-19",
               "network service": "S-1-5-20", "nt authority\\network service": "S-1-5-20",
               "administrators": "S-1-5-32-544", "builtin\\administrators": "S-1-5-32-544", "users": "S-1-5-32-545"}
_TRIGGER_CLASS = {"weekly": "MSFT_TaskWeeklyTrigger", "daily": "MSFT_TaskDailyTrigger", "time": "MSFT_TaskTimeTrigger",
                  "logon": "MSFT_TaskLogonTrigger", "boot": "MSFT_TaskBootTrigger"}


def _local_accounts(host) -> dict:
    """name -> {sid, groups}: the WinRM administrator (RID 500, in Administrators) and the state's "local_accounts"."""
    admin = _winrm_account(host)
    accounts = {admin["name"].lower(): {"sid": "%s-%d" % (MACHINE_SID, admin["rid"]), "groups": list(admin["groups"])}}
    for name, account in (host.state.get("local_accounts") or {}).items():
        accounts[name.lower()] = account
    return accounts


def _account_sid(host, name: str | None):
    """Get-AccountSid: NTAccount.Translate, $null for a name that maps to no account."""
    if not name:
        return None
    if name.upper().startswith("S-1-"):
        return name
    low = name.lower()
    if low in _WELL_KNOWN:
        return _WELL_KNOWN[low]
    if "\\" in low and low.split("\\", 1)[0] in (host.name.lower(), "."):
        low = low.split("\\", 1)[1]
    account = _local_accounts(host).get(low)
    return account["sid"] if account else None


def _administrators(host) -> tuple:
    """Get-GroupMemberSid on Administrators (ADSI WinNT): (the SIDs of its members, with the members of member groups
    from "domain_groups", each group once; {path, sid} of member groups whose members cannot be read: "members"
    null, as when no domain controller answers). Not readable at all ("administrators_unreadable"): (None, [])."""
    if host.state.get("administrators_unreadable"):
        return None, []
    groups = host.state.get("domain_groups") or {}
    sids = [a["sid"] for a in _local_accounts(host).values() if acl.ADMINISTRATORS in a.get("groups", [])]
    sids += [sid for sid, g in groups.items() if acl.ADMINISTRATORS in g.get("member_of", [])]
    unresolved, seen, queue = [], set(), [sid for sid in sids if sid in groups]
    while queue:
        sid = queue.pop(0)
        group = groups[sid]
        if group["name"] in seen:
            continue
        seen.add(group["name"])
        if group.get("members") is None:
            unresolved.append({"path": "WinNT://%s" % group["name"].replace("\\", "/"), "sid": sid})
            continue
        for member in group["members"]:
            if member not in sids:
                sids.append(member)
            if member in groups:
                queue.append(member)
    return sids, unresolved


def _tasks_in(host, folder: str) -> list:
    """Get-ScheduledTask -TaskPath <folder>: (path, entry) of the tasks right in that folder."""
    folder = folder if folder.endswith("\\") else folder + "\\"
    out = []
    for path, entry in (host.state.get("task_scheduler") or {}).items():
        parent, _sep, _name = path.rpartition("\\")
        if (parent + "\\").lower() == folder.lower():
            out.append((path, entry))
    return out


def _task_state(host, path: str, entry: dict) -> dict:
    """Get-TaskState: one task as the MARS_SCHEDULE scripts report it."""
    parent, _sep, name = path.rpartition("\\")
    return {"path": parent + "\\", "name": name, "state": entry.get("state", "Ready") if entry.get("enabled", True) else "Disabled",
            "enabled": bool(entry.get("enabled", True)), "multiple_instances": entry.get("multiple_instances", "IgnoreNew"),
            "triggers": [{"kind": _TRIGGER_CLASS.get(t.get("kind"), t.get("kind")), "enabled": bool(t.get("enabled"))}
                         for t in entry.get("triggers") or []],
            "user_id": entry.get("user_id"), "group_id": entry.get("group_id"), "logon_type": entry.get("logon_type", "ServiceAccount"),
            "run_level": entry.get("run_level", "Limited"), "sid": _account_sid(host, entry.get("user_id") or entry.get("group_id"))}


def mars_schedule_read(host, p: dict) -> dict:
    agent = _mars_agent(host)
    out = {"agent": agent}
    if agent["installed"]:
        out["administrators"], out["unresolved"] = _administrators(host)
        out["tasks"] = [_task_state(host, path, entry) for path, entry in _tasks_in(host, p["TaskPath"])]
    return out


def mars_schedule_set(host, p: dict) -> dict:
    """Set-ScheduledTask on each named task: enabled with every trigger, IgnoreNew, or SYSTEM (which Get-ScheduledTask
    then shows as UserId SYSTEM, LogonType ServiceAccount)."""
    tasks = dict(_tasks_in(host, p["TaskPath"]))
    out = []
    for name in p.get("TaskNames") or []:
        path = hostmod.find_key(tasks, p["TaskPath"].rstrip("\\") + "\\" + name)
        if path is None:
            raise ScriptError("No MSFT_ScheduledTask objects found with property 'TaskName' equal to '%s'." % name)
        entry = host.state["task_scheduler"][path]
        if (p.get("Enable") or p.get("IgnoreNew")) and entry.get("logon_type") == "Password":
            # Set-ScheduledTask -InputObject re-registers the task, which needs the stored account's password: without it,
            # ERROR_LOGON_FAILURE (1326, 0x8007052E; learn.microsoft.com, System Error Codes). The message is made up after it.
            raise ScriptError("The user name or password is incorrect. (Exception from HRESULT: 0x8007052E)")
        if p.get("Enable"):
            entry["enabled"] = True
            entry["state"] = "Ready" if entry.get("state", "Ready") == "Disabled" else entry.get("state", "Ready")
            for trigger in entry.get("triggers") or []:
                trigger["enabled"] = True
        if p.get("IgnoreNew"):
            entry["multiple_instances"] = "IgnoreNew"
        if p.get("System"):
            entry.update(user_id="SYSTEM", group_id=None, logon_type="ServiceAccount", run_level="Highest")
        out.append(_task_state(host, path, entry))
    return {"tasks": out}


# The Group Policy "Turn on Script Execution" (learn.microsoft.com, about_Group_Policy_Settings): EnableScripts 0 is
# Restricted; 1 with ExecutionPolicy AllSigned, RemoteSigned or Unrestricted.
POWERSHELL_POLICY_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\PowerShell"


def _execution_policy(host, key: str, group_policy: bool) -> str:
    """Get-ExecutionPolicy -Scope MachinePolicy (the policy key) or LocalMachine (ShellIds): Undefined when not set."""
    values = host.reg_values(key) if host.reg_key_exists(key) else {}
    if group_policy:
        enable = (values.get("EnableScripts") or {}).get("data")
        if enable is None:
            return "Undefined"
        if not enable:
            return "Restricted"
    value = values.get(hostmod.find_key(values, "ExecutionPolicy") or "ExecutionPolicy") or {}
    return str(value.get("data") or "Undefined")


def mars_powershell_read(host, p: dict) -> dict:  # pylint: disable=unused-argument  # the script has no parameters
    agent = _mars_agent(host)
    out = {"agent": agent}
    if not agent["installed"]:
        return out
    values = host.reg_values(hostmod.ENVIRONMENT_KEY)
    name = hostmod.find_key(values, "PSModulePath")
    raw = values[name]["data"] if name else None
    modules = agent["install_path"] + "\\Bin\\Modules"
    folder = hostmod.path_key(modules + "\\MSOnlineBackup") + "\\"
    files = [path.rsplit("\\", 1)[1] for path in host.state.get("files", {})
             if path.lower().startswith(folder) and "\\" not in path[len(folder):]]
    out.update(psmodulepath={"raw": raw, "kind": _VALUE_KIND[values[name]["type"]] if name else None,
                             "expanded": [hostmod.expand_env(e) for e in str(raw or "").split(";") if e]},
               module_folder=modules, module_files=sorted(files, key=str.lower),
               execution_policy={"machine_policy": _execution_policy(host, POWERSHELL_POLICY_KEY, True),
                                 "local_machine": _execution_policy(host, hostmod.EXECUTION_POLICY_KEY, False)},
               # Win32_OperatingSystem.ProductType: the simulated Windows Server 2019 is 3 (server) unless the state says otherwise.
               product_type=host.state.get("product_type", 3), powershell=host.state.get("powershell_version", "5.1"))
    return out


def _defender_service(host) -> dict:
    """Get-ServiceState WinDefend: from services when the state lists it, else from "defender" (Defender's service runs
    exactly when its antivirus does)."""
    if hostmod.find_key(host.state["services"], "WinDefend") is not None or "defender" not in host.state:
        return _service_state(host, "WinDefend")
    running = bool(host.state["defender"].get("running"))
    return {"name": "WinDefend", "exists": True, "state": "Running" if running else "Stopped", "start_mode": "Auto" if running else "Disabled",
            "delayed": False, "path": "\"C:\\ProgramData\\Microsoft\\Windows Defender\\platform\\4.18.24090.11-0\\MsMpEng.exe\""}


def mars_antivirus_read(host, p: dict) -> dict:  # pylint: disable=unused-argument  # the script has no parameters
    agent = _mars_agent(host)
    out = {"agent": agent}
    if not agent["installed"]:
        return out
    config = host.reg_values(hostmod.MARS_CONFIG_KEY) if host.reg_key_exists(hostmod.MARS_CONFIG_KEY) else {}
    out["scratch"] = (config.get("ScratchLocation") or {}).get("data") or None
    # Get-ChildItem %windir%\Microsoft.NET\Framework{,64}\v*\csc.exe: Framework first, each in name order.
    csc = []
    for framework in ("Framework", "Framework64"):
        folder = hostmod.path_key(hostmod.ENVIRONMENT["windir"] + "\\Microsoft.NET\\" + framework) + "\\"
        csc += sorted((path for path in host.state.get("files", {}) if path.lower().startswith(folder)
                       and path.lower()[len(folder):].startswith("v") and path.lower()[len(folder):].count("\\") == 1
                       and path.lower().endswith("\\csc.exe")), key=str.lower)
    out["csc"] = csc
    defender = {"service": _defender_service(host)}
    if defender["service"].get("exists") and defender["service"].get("state") == "Running":
        state = host.state.get("defender") or {}
        if state.get("error"):  # Get-MpComputerStatus failed (Defender's antivirus removed or off by policy)
            defender["error"] = state["error"]
        else:
            defender.update(antivirus_enabled=bool(state.get("running")), running_mode=state.get("running_mode", "Normal"),
                            **_exclusions(state))
    out["defender"] = defender
    return out


# What Get-MpPreference shows in place of each list with HideExclusionsFromLocalAdmins (learn.microsoft.com, "Configure
# local administrator merge ... and exclusion visibility"; the text as the MARS review quotes it).
HIDDEN_EXCLUSIONS = "N/A: Must be an administrator to view exclusions"


def _exclusions(state: dict) -> dict:
    """Get-MpPreference's ExclusionPath and ExclusionProcess; hidden ("hide_exclusions"): the one line of text each."""
    if state.get("hide_exclusions"):
        return {"exclusion_path": [HIDDEN_EXCLUSIONS], "exclusion_process": [HIDDEN_EXCLUSIONS]}
    return {"exclusion_path": list(state.get("exclusion_path") or []), "exclusion_process": list(state.get("exclusion_process") or [])}


def mars_antivirus_add(host, p: dict) -> dict:
    """Add-MpPreference: adds what is not listed yet (compared without case); fails while Defender's service is stopped,
    with the error Defender's cmdlets give then (0x800106ba)."""
    state = host.state.get("defender")
    if not state or not state.get("running"):
        raise ScriptError("Operation failed with the following error: 0x800106ba. Operation: Add-MpPreference.")
    have = state.setdefault("exclusion_path", [])
    for item in p.get("Paths") or []:
        if item.lower() not in (h.lower() for h in have):
            have.append(item)
    return _exclusions(state)


SCRIPTS.update({
    "mars_connectivity.read": mars_connectivity_read,
    "mars_schedule.read": mars_schedule_read,
    "mars_schedule.set": mars_schedule_set,
    "mars_powershell.read": mars_powershell_read,
    "mars_antivirus.read": mars_antivirus_read,
    "mars_antivirus.add": mars_antivirus_add,
})
