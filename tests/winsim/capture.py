"""Simulated hosts made from captures of real Windows VMs, and the twins checked against them.

A capture (playbooks/capture.yml, format in docs/capture.md) holds what each read script of the
collection answered on one VM, with the parameters it ran with. Here it becomes simulator state
(``state_from_capture``: services, registry values, vssadmin text -> writers, SDDL -> acls,
certificates, volumes, disks, NICs, DNS), and each captured read is run again through its twin
with the captured parameters and the collection's script text (``check``). Where the twin's
answer differs from what Windows answered, the twin is wrong (or the capture is from another
script version: see ``differences``).

  capture.py state CAPTURE.json --dir DIR   write DIR/<host>.json, a state SimHost.load reads
  capture.py check CAPTURE.json ...         run every captured read through its twin; exit 1 on a difference

Which fields are compared how (``NORMALISE``; everything else exactly):
  vss_writers.read text     the writer blocks line by line (CRLF = LF, trailing blank lines dropped);
                            the preamble before the first writer is not compared (copyright years
                            differ by Windows version, and published excerpts leave it out)
  snapshot_status.read      memory_*_kb at MiB (the state keeps MiB); default_route_metric only
                            whether there is one (the state keeps no metrics)
  disk_limits.read          size_bytes at GiB; location not compared (the simulator makes it up); volumes exactly
  network.read              tcp: only which endpoints were tried (the twin dials loopback only)
  mars_connectivity.read    tcp: the same
  capture.read              not compared: the state copies it
A read that failed on Windows must fail in the twin too; the messages are not compared.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import json
import os
import pkgutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import acl  # noqa: E402
import host as hostmod  # noqa: E402
import render  # noqa: E402
import scripts  # noqa: E402

FORMAT = "azure_backup.remediation/capture"
FORMAT_VERSION = 1
TAG_PREFIX = "#azure_backup.remediation/"

_SERVICE_STATE = {v: k for k, v in scripts._SERVICE_STATE.items()}  # pylint: disable=protected-access
_START_MODE = {"Auto": "auto", "Manual": "manual", "Disabled": "disabled"}
_VALUE_TYPE = {v: k for k, v in scripts._VALUE_KIND.items()}  # pylint: disable=protected-access


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise ValueError("%s: not a capture of format %s version %d" % (path, FORMAT, FORMAT_VERSION))
    return doc


# -- capture -> state ------------------------------------------------------------------------------

def parse_vssadmin(text: str) -> tuple[str | None, list[dict]]:
    """Writers from `vssadmin list writers` as printed (render.py's layouts, English or German):
    (locale, [{name, id, instance_id, state, last_error}]). A last-error text render.py does not know
    becomes "unexpected", so the comparison shows the real text against the twin's."""
    lines = text.replace("\r\n", "\n").split("\n")
    for locale, labels in render.VSS_TEXT.items():
        starts = [i for i, line in enumerate(lines) if line.startswith(labels["name"] + ":")]
        if not starts:
            continue
        errors = {words: key for key, words in render.VSS_ERRORS[locale].items()}
        writers = []
        for start in starts:
            name = lines[start].split(":", 1)[1].strip()
            if name[:1] in "'\"" and name[-1:] == name[:1]:
                name = name[1:-1]
            fields = dict(line.strip().split(": ", 1) for line in lines[start + 1:start + 5] if ": " in line)
            state_text = fields.get(labels["state"], "[0]")
            writers.append({"name": name, "id": fields.get(labels["id"], ""), "instance_id": fields.get(labels["instance"], ""),
                            "state": int(state_text[1:state_text.index("]")]),
                            "last_error": errors.get(fields.get(labels["error"], ""), "unexpected")})
        return locale, writers
    return None, []


def _services(state: dict, services: list) -> None:
    """Win32_Service as captured: exists, State, StartMode (+ DelayedAutoStart), PathName."""
    for seen in services or []:
        key = hostmod.find_key(state["services"], seen["name"])
        if not seen.get("exists"):
            if key:
                hostmod.remove_service(state, key)
            continue
        if key is None:
            hostmod.add_service(state, seen["name"], seen["name"], seen.get("path") or "", "manual", False)
            key = seen["name"]
        service = state["services"][key]
        service["path"] = seen.get("path") or service["path"]
        mode = _START_MODE.get(seen.get("start_mode"), "manual")
        service["start_mode"] = "delayed" if mode == "auto" and seen.get("delayed") else mode
        wanted = _SERVICE_STATE.get(seen.get("state"), str(seen.get("state")).lower())
        if wanted == "running":
            hostmod.set_service_running(state, key)
        else:
            hostmod.set_service_stopped(state, key)
            service["state"] = wanted


def _processes(state: dict, names: list) -> None:
    for name in names or []:
        if not any(p["name"].lower() == name.lower() + ".exe" for p in state.get("processes", [])):
            hostmod.add_process(state, name + ".exe")


def _win_agent(state: dict, parameters: dict, result: dict) -> None:
    _services(state, result.get("services"))
    rd = next((s for s in result.get("services") or [] if s["name"] == "RdAgent" and s.get("exists")), None)
    if rd:
        path = rd.get("path", "").strip('"')
        if result.get("version"):
            hostmod.put_file_state(state, path, hostmod.placeholder_binary(path, result["version"]))
        else:
            hostmod.remove_file_state(state, path)
    guest = next((s for s in result.get("services") or [] if s["name"] == "WindowsAzureGuestAgent" and s.get("exists")), None)
    if guest and guest.get("path"):
        path = guest["path"].strip('"')
        if result.get("guest_agent_version"):
            hostmod.put_file_state(state, path, hostmod.placeholder_binary(path, result["guest_agent_version"]))
        else:
            hostmod.remove_file_state(state, path)
    prefix = (parameters.get("ProductName") or "").lower()
    for product in [p for p in state["products"] if p["name"].lower().startswith(prefix)]:
        hostmod.unmirror_product(state, product)
        state["products"].remove(product)
    for seen in result.get("products") or []:
        product = {"name": seen["name"], "product_id": seen["product_id"], "version": seen.get("version") or "",
                   "publisher": "Microsoft Corporation", "uninstall_string": "MsiExec.exe /X" + seen["product_id"],
                   "upgrade_code": None, "installs": {"services": [], "files": [], "dirs": []}}
        state["products"].append(product)
        hostmod.mirror_product(state, product)
    state["dotnet_release"] = result.get("dotnet_release")
    if result.get("dotnet_release") is None:
        hostmod.reg_delete_value(state, hostmod.NDP_KEY, "Release")
    else:
        hostmod.reg_set(state, hostmod.NDP_KEY, "Release", "dword", result["dotnet_release"])
    _processes(state, result.get("backup_processes"))


def _dependants(state: dict, entries: list) -> None:
    """Get-RunningDependent as captured: each service's running dependants run (made, depending on it, when the
    state has no such service) and its other dependants are stopped."""
    for entry in entries or []:
        key = hostmod.find_key(state["services"], entry["name"])
        if key is None:
            continue
        running = [name.lower() for name in entry.get("running") or []]
        for name in hostmod.running_dependants(state, key):
            if name.lower() not in running:
                hostmod.set_service_stopped(state, name)
        for name in entry.get("running") or []:
            dep = hostmod.find_key(state["services"], name)
            if dep is None:
                hostmod.add_service(state, name, name, "", "manual", False, dependencies=[key])
                dep = name
            elif name.lower() not in [d.lower() for d in hostmod.depended_by(state, key)] + [d.lower() for d in hostmod.running_dependants(state, key)]:
                state["services"][dep].setdefault("dependencies", []).append(key)
            hostmod.set_service_running(state, dep)


def _vss_writers(state: dict, parameters: dict, result: dict) -> None:
    _services(state, result.get("services"))
    _processes(state, result.get("backup_processes"))
    _dependants(state, result.get("dependants"))
    if result.get("exit_code"):
        vss = hostmod.find_key(state["services"], "VSS")
        if vss:  # vssadmin cannot start VSS: the one way the simulator makes it fail
            hostmod.set_service_stopped(state, vss)
            state["services"][vss]["start_mode"] = "disabled"
        return
    _locale, writers = parse_vssadmin(result.get("text") or "")
    # What the script merged in with 2>&1 after vssadmin's list: its stderr lines (they follow the last writer's
    # "Last error" line, the fifth of its block).
    lines = [line.strip() for line in (result.get("text") or "").replace("\r\n", "\n").split("\n")]
    last = max((i for i, line in enumerate(lines) if writers and writers[-1]["instance_id"].lower() in line.lower()), default=None)
    stderr = [line for line in lines[last + 3:] if line] if last is not None else []
    state.setdefault("native_stderr", {}).pop("vssadmin.exe", None)
    if stderr:
        state["native_stderr"]["vssadmin.exe"] = stderr
    # Which service hosts a writer is not in the capture: a writer the healthy VM has keeps its service (the
    # simulator's writer -> service map, tests/data/reference/windows/vss-writer-service-map-community.tsv);
    # another has none, and vssadmin's twin always lists it.
    hosts = {w["name"].lower(): w.get("service") for w in state.get("vss_writers", [])}
    state["vss_writers"] = []
    for seen in writers:
        writer = hostmod.add_writer(state, seen["name"], seen["id"], hosts.get(seen["name"].lower()), seen["state"], seen["last_error"])
        writer["instance_id"] = seen["instance_id"]


# A key file Get-Acl could not read: owned by SYSTEM, nothing granted to anyone else (so no READ_CONTROL for the caller).
_UNREADABLE_SDDL = "O:SYG:SYD:P(A;;FA;;;SY)"
# Key files made up to the read's counts: one that only inherits from the folder, one with an own ACE beside an
# inherited one, one protected (its own ACEs only).
_ONLY_INHERITED_SDDL = "O:SYG:SYD:AI(A;ID;0x12019f;;;WD)"
_INHERITING_SDDL = "O:SYG:SYD:AI(A;;FA;;;SY)(A;ID;0x12019f;;;WD)"
_PROTECTED_SDDL = "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"


def _key_files_for(folder: str, counts: dict) -> list:
    """Key files with ACLs that give the read's counts (total, inheriting, only inherited, unreadable)."""
    only = int(counts.get("only_inherited") or 0)
    kinds = ([None] * int(counts.get("unreadable") or 0) + [_ONLY_INHERITED_SDDL] * only
             + [_INHERITING_SDDL] * (int(counts.get("inheriting") or 0) - only))
    kinds += [_PROTECTED_SDDL] * (int(counts.get("total") or 0) - len(kinds))
    return [{"path": "%s\\key-%03d" % (folder, i), "sddl": sddl} for i, sddl in enumerate(kinds)]


def _machinekeys(state: dict, parameters: dict, result: dict) -> None:
    folder = result["path"].lower()
    # The folder and its key files as captured; the capture lists only the key files that inherit or could not be read.
    state["acls"] = {k: v for k, v in state["acls"].items()
                     if k.lower() != folder and not (k.lower().startswith(folder + "\\") and not acl.is_dir(state, k))}
    state["acls"][result["path"]] = result["sddl"]
    key_files = result.get("key_files") or []
    if isinstance(key_files, dict):  # counted, not listed: key files made up to the counts
        key_files = _key_files_for(result["path"], key_files)
    for key_file in key_files:
        state["acls"][key_file["path"]] = key_file.get("sddl") or _UNREADABLE_SDDL
        hostmod.put_file_state(state, key_file["path"], hostmod.file_entry(b""))
    caller = result.get("caller") or {}
    if caller.get("user"):
        state["caller"] = {"user": caller["user"], "groups": list(caller.get("groups") or [])}
    state["certificates"]["LocalMachine\\My"] = [dict(c, has_private_key=True) for c in result.get("certificates") or []]
    if result.get("agent", {}).get("name"):
        _services(state, [result["agent"]])
    _processes(state, result.get("backup_processes"))


def _snapshot_status(state: dict, parameters: dict, result: dict) -> None:
    value = result.get("copy_backup")
    if value:
        hostmod.reg_set(state, parameters["Key"], parameters["ValueName"], _VALUE_TYPE.get(value["type"], value["type"].lower()), value["data"])
    else:
        hostmod.reg_delete_value(state, parameters["Key"], parameters["ValueName"])
    # Per registry view (the script's SqlKeys); a capture by the older script has one list, the 64-bit view.
    found = result.get("sql_instances") or []
    by_key = {parameters["SqlKeys"][view]: names for view, names in found.items()} if isinstance(found, dict) \
        else {hostmod.SQL_INSTANCES_KEY: found}
    for key in {hostmod.SQL_INSTANCES_KEY, hostmod.SQL_INSTANCES_KEY_WOW64} | set(by_key):
        hostmod.reg_delete_tree(state, key)
    for key, names in by_key.items():
        for name in names:
            hostmod.reg_set(state, key, name, "string", "MSSQL." + name)
    state["nics"] = [{"alias": n["alias"], "index": n["index"], "ipv4": (n.get("addresses") or [None])[0], "prefix": 24,
                      # Further addresses of the NIC (Get-NetIPAddress lists the primary first here, as the twin does).
                      "secondary_ipv4": [{"ip": a, "prefix": 24} for a in (n.get("addresses") or [])[1:]],
                      "gateway": "default route" if n.get("default_route_metric") is not None else None,
                      "dhcp": n.get("dhcp") == "Enabled", "primary": i == 0, "dns_servers": list(n.get("dns_servers") or []),
                      # A capture cannot tell who set them; DHCP's only when the NIC takes DHCP.
                      "dns_static": n.get("dhcp") != "Enabled"} for i, n in enumerate(result.get("nics") or [])]
    cpu = result.get("cpu_load_percent")
    state["cpu_load_percent"] = [] if cpu is None else [cpu]
    state["memory"] = {"total_mb": int(result["memory_total_kb"]) // 1024, "free_mb": int(result["memory_free_kb"]) // 1024}


def _backup_extension(state: dict, parameters: dict, result: dict) -> None:
    _services(state, [result["service"]])
    folder = parameters["PluginDir"].rstrip("\\")
    state["dirs"] = [d for d in state["dirs"] if not d.lower().startswith(folder.lower() + "\\")]
    state["files"] = {p: f for p, f in state["files"].items() if not p.lower().startswith(folder.lower() + "\\")}
    state["dirs"] += [folder + "\\" + version for version in result.get("versions") or []]


def _com_msdtc(state: dict, parameters: dict, result: dict) -> None:
    _services(state, result.get("services"))


_CONVERSION = {v: k for k, v in scripts._CONVERSION.items()}  # pylint: disable=protected-access


def _bitlocker(state: dict, parameters: dict, result: dict) -> None:
    """Win32_EncryptableVolume as captured: volume path, letter (none for a volume without one), OS or data volume,
    protection, lock, conversion and auto-unlock; the ADE extension's version folders."""
    old = {v.get("mount", "").upper(): v for v in state["volumes"] if v.get("mount")}
    state["volumes"], keys = [], []
    for v in result.get("volumes") or []:
        mount = (v.get("mount") or "").upper()
        volume = dict(old.get(mount, {"label": "", "size_gb": 127}) if mount else {"label": "", "size_gb": 127},
                      mount=mount, device_id=v.get("device_id"), volume_type="os" if v.get("volume_type") == 0 else "data",
                      bitlocker_protection="on" if v.get("protection_status") == 1 else "off",
                      lock_status="locked" if v.get("lock_status") == 1 else "unlocked")
        if v.get("conversion_status") is not None:
            volume["conversion"] = _CONVERSION.get(v["conversion_status"], "encrypted")
        if v.get("auto_unlock"):
            keys.append(v.get("device_id"))
        state["volumes"].append(volume)
    if not keys and any(v.get("auto_unlock_keys_stored") for v in result.get("volumes") or []):
        keys.append("(a data volume not attached now)")  # IsAutoUnlockKeyStored: some key is stored on the OS volume
    # The count of stored entries the read found (FVEAutoUnlock): keys of volumes not listed now stand in as placeholders.
    keys += ["(a volume not listed now, %d)" % n for n in range(len(keys), int(result.get("auto_unlock_entries") or 0))]
    state["bitlocker_auto_unlock_keys"] = keys
    for number in result.get("offline_disks") or []:
        disk = next((d for d in state["disks"] if str(d["number"]) == str(number)), None)
        if disk is None:
            disk = {"number": int(number), "size_gb": 64, "kind": "data"}
            state["disks"].append(disk)
        disk["offline"] = True
    for bek in result.get("bek_volumes") or []:  # ADE's key volume, by its letter or volume path
        volume = next((v for v in state["volumes"] if bek.upper() in ((v.get("mount") or "").upper(), (v.get("device_id") or "").upper())), None)
        if volume is None:
            volume = {"mount": bek if len(bek) == 2 else "", "device_id": None if len(bek) == 2 else bek, "size_gb": 1, "disk": 0,
                      "bitlocker_protection": "off", "lock_status": "unlocked", "volume_type": "data", "not_encryptable": True}
            state["volumes"].append(volume)
        volume["label"] = parameters.get("BekLabel") or "Bek Volume"
    folder = (parameters.get("AdeDir") or "").rstrip("\\")
    if folder:
        state["dirs"] = [d for d in state["dirs"] if not d.lower().startswith(folder.lower() + "\\")]
        state["files"] = {p: f for p, f in state["files"].items() if not p.lower().startswith(folder.lower() + "\\")}
        state["dirs"] += [folder + "\\" + version for version in result.get("ade_versions") or []]


def _disk_limits(state: dict, parameters: dict, result: dict) -> None:
    """Every disk with its lettered volumes; the marker file where Test-Path found it."""
    offline = {d["number"] for d in state["disks"] if d.get("offline")}  # what the BitLocker read saw offline
    state["disks"], volumes = [], []
    for d in result.get("disks") or []:
        number = int(d["disk"])
        temp = any(v.get("dataloss_warning") for v in d.get("volumes") or [])
        state["disks"].append({"number": number, "size_gb": int(d["size_bytes"]) // 2**30,
                               "kind": "os" if d.get("boot") or d.get("system") else "temp" if temp else "data"})
        if number in offline:
            state["disks"][-1]["offline"] = True
        for v in d.get("volumes") or []:
            old = next((x for x in state["volumes"] if (x["mount"] or "").upper() == v["letter"].upper() + ":"), None)
            if old is None:  # a volume no other read named: after the others
                old = {}
                volumes.append(old)
            old.update(mount=v["letter"] + ":", label=v.get("label") or "", disk=number)
            if v.get("dataloss_warning"):
                hostmod.put_file_state(state, "%s:\\%s" % (v["letter"], parameters["MarkerFile"]), hostmod.file_entry(b""))
    # The volumes keep their order (Win32_EncryptableVolume's, when BitLocker's read came first).
    state["volumes"] += volumes


def _network(state: dict, parameters: dict, result: dict) -> None:
    for seen in result.get("dns") or []:
        key = hostmod.find_key(state["dns"], seen["endpoint"])
        if key:
            del state["dns"][key]
        if seen.get("addresses"):
            state["dns"][seen["endpoint"]] = list(seen["addresses"])


# -- the MARS agent's reads (MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL, MARS_ANTIVIRUS) ----------

def _mars_agent_state(state: dict, agent: dict) -> None:
    """Get-MarsAgent as captured: a healthy install (host.install_mars, once) at the captured folder and engine version,
    the engine service present or not; the reads after it say what differs."""
    if not (agent or {}).get("installed"):
        return
    if not (hostmod.reg_values_of(state, hostmod.MARS_SETUP_KEY).get("InstallPath") or {}).get("data"):
        hostmod.install_mars(state)
    hostmod.reg_set(state, hostmod.MARS_SETUP_KEY, "InstallPath", "string", agent["install_path"] + "\\")
    engine = agent["install_path"] + "\\Bin\\cbengine.exe"
    hostmod.put_file_state(state, engine, hostmod.placeholder_binary(engine, agent.get("version")))
    if not agent.get("service"):
        key = hostmod.find_key(state["services"], "obengine")
        if key:
            hostmod.remove_service(state, key)


def _mars_connectivity(state: dict, parameters: dict, result: dict) -> None:
    _mars_agent_state(state, result.get("agent"))
    if "winhttp" in result:
        winhttp = result["winhttp"] or {}
        state["winhttp_proxy"] = {"proxy": winhttp.get("proxy") or "", "bypass": winhttp.get("bypass") or ""}
    if "wininet" in result:
        state.pop("system_wininet", None)
        if result["wininet"] is not None:
            state["system_wininet"] = dict(result["wininet"])


_TRIGGER_KIND = {v: k for k, v in scripts._TRIGGER_CLASS.items()}  # pylint: disable=protected-access


def _mars_schedule(state: dict, parameters: dict, result: dict) -> None:
    """The tasks of the folder as captured; an account the simulator cannot name becomes a local account with the captured
    SID, in Administrators when the captured members list it."""
    _mars_agent_state(state, result.get("agent"))
    if "tasks" not in result:
        return
    folder = parameters["TaskPath"].rstrip("\\") + "\\"
    tasks = state.setdefault("task_scheduler", {})
    for path in [p for p in tasks if p.lower().startswith(folder.lower()) and "\\" not in p[len(folder):]]:
        del tasks[path]
    host = hostmod.SimHost(state)
    administrators = result.get("administrators") or []
    state.pop("administrators_unreadable", None)
    if result.get("administrators") is None:
        state["administrators_unreadable"] = True
    # Members the simulator's local accounts do not give (domain groups and their members, in the order read): groups of
    # their own in Administrators, with no members; a member group that could not be listed keeps members unknown.
    local = set(scripts._administrators(host)[0] or [])  # pylint: disable=protected-access
    unlisted = {u.get("sid") for u in result.get("unresolved") or []}
    groups = state.setdefault("domain_groups", {})
    for sid in administrators:
        if sid not in local:
            groups[sid] = {"name": "CAPTURED\\%s" % sid, "member_of": [acl.ADMINISTRATORS], "members": [] if sid not in unlisted else None}
    for entry in result.get("unresolved") or []:
        if entry.get("sid") in groups:
            groups[entry["sid"]]["name"] = entry["path"].split("://", 1)[-1].replace("/", "\\")
    for task in result["tasks"]:
        tasks[folder + task["name"]] = {
            "enabled": bool(task.get("enabled")), "state": task.get("state") or "Ready",
            "triggers": [{"kind": _TRIGGER_KIND.get(t.get("kind"), t.get("kind")), "enabled": bool(t.get("enabled"))} for t in task.get("triggers") or []],
            "user_id": task.get("user_id"), "group_id": task.get("group_id"), "logon_type": task.get("logon_type"),
            "run_level": task.get("run_level"), "multiple_instances": task.get("multiple_instances")}
        name = task.get("user_id") or task.get("group_id")
        if task.get("sid") and scripts._account_sid(host, name) != task["sid"]:  # pylint: disable=protected-access
            # In Administrators through a captured group above, not directly.
            groups = [acl.ADMINISTRATORS] if task["sid"] in administrators and task["sid"] not in state["domain_groups"] else ["S-1-5-32-545"]
            # Named as Get-AccountSid's twin looks it up: without this machine's prefix, with a domain's.
            domain, _sep, user = name.rpartition("\\")
            key = user if domain.lower() in ("", ".", host.name.lower()) else name
            state.setdefault("local_accounts", {})[key] = {"sid": task["sid"], "groups": groups}


def _mars_powershell(state: dict, parameters: dict, result: dict) -> None:
    _mars_agent_state(state, result.get("agent"))
    if "psmodulepath" not in result:
        return
    path = result["psmodulepath"] or {}
    if path.get("raw") is None:
        hostmod.reg_delete_value(state, hostmod.ENVIRONMENT_KEY, "PSModulePath")
    else:
        hostmod.reg_set(state, hostmod.ENVIRONMENT_KEY, "PSModulePath", _VALUE_TYPE.get(path.get("kind"), "expandstring"), path["raw"])
    folder = result["module_folder"] + "\\MSOnlineBackup"
    state["files"] = {p: f for p, f in state["files"].items() if not p.lower().startswith(folder.lower() + "\\")}
    for name in result.get("module_files") or []:
        hostmod.put_file_state(state, folder + "\\" + name, hostmod.file_entry(b""))
    policies = result.get("execution_policy") or {}
    gpo = policies.get("machine_policy") or "Undefined"
    hostmod.reg_delete_value(state, scripts.POWERSHELL_POLICY_KEY, "EnableScripts")
    hostmod.reg_delete_value(state, scripts.POWERSHELL_POLICY_KEY, "ExecutionPolicy")
    if gpo != "Undefined":
        hostmod.reg_set(state, scripts.POWERSHELL_POLICY_KEY, "EnableScripts", "dword", 0 if gpo == "Restricted" else 1)
        if gpo != "Restricted":
            hostmod.reg_set(state, scripts.POWERSHELL_POLICY_KEY, "ExecutionPolicy", "string", gpo)
    local = policies.get("local_machine") or "Undefined"
    if local == "Undefined":
        hostmod.reg_delete_value(state, hostmod.EXECUTION_POLICY_KEY, "ExecutionPolicy")
    else:
        hostmod.reg_set(state, hostmod.EXECUTION_POLICY_KEY, "ExecutionPolicy", "string", local)
    state["product_type"] = result.get("product_type")
    if result.get("powershell"):
        state["powershell_version"] = result["powershell"]


def _mars_antivirus(state: dict, parameters: dict, result: dict) -> None:
    _mars_agent_state(state, result.get("agent"))
    if "defender" not in result:
        return
    if result.get("scratch"):
        hostmod.reg_set(state, hostmod.MARS_CONFIG_KEY, "ScratchLocation", "string", result["scratch"])
    else:
        hostmod.reg_delete_value(state, hostmod.MARS_CONFIG_KEY, "ScratchLocation")
    for path in result.get("csc") or []:
        hostmod.put_file_state(state, path, hostmod.placeholder_binary(path, None))
    defender = result["defender"] or {}
    _services(state, [defender["service"]] if defender.get("service") else [])
    hidden = scripts.HIDDEN_EXCLUSIONS in (defender.get("exclusion_path") or [])
    state["defender"] = {"running": bool(defender.get("antivirus_enabled")), "running_mode": defender.get("running_mode") or "Normal",
                         "exclusion_path": [] if hidden else list(defender.get("exclusion_path") or []),
                         "exclusion_process": [] if hidden else list(defender.get("exclusion_process") or [])}
    if hidden:
        state["defender"]["hide_exclusions"] = True
    if defender.get("error"):
        state["defender"]["error"] = defender["error"]


def _shadow_storage(state: dict, parameters: dict, result: dict) -> None:  # pylint: disable=unused-argument  # the read takes none
    """Volumes' size and free space, the associations (from Win32_ShadowStorage, or from vssadmin's text where that failed,
    which then fails here too) and each association's shadow copies by creation time; how much each copy holds is not read,
    so the space in use is shared out evenly among them."""
    collections = os.path.join(ROOT, ".collections")  # the checkout as ansible_collections, when run as a command
    if os.path.isdir(collections) and collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import shadow_storage  # the product's text parser
    by_id = {}
    for seen in result.get("volumes") or []:
        letter = (seen.get("letter") or "").upper()
        volume = next((v for v in state["volumes"] if (letter and (v.get("mount") or "").upper() == letter)
                       or (v.get("device_id") or "").lower() == str(seen["device_id"]).lower()), None)
        if volume is None:
            volume = {"mount": letter, "label": "", "bitlocker_protection": "off", "lock_status": "unlocked", "disk": 0}
            state["volumes"].append(volume)
        volume.update(device_id=seen["device_id"], size_gb=int(seen["capacity"]) // 2**30, free_bytes=int(seen["free"]))
        by_id[str(seen["device_id"]).lower()] = volume
    if result.get("source") == "vssadmin":
        if (result.get("vssadmin") or {}).get("exit_code") != 0:
            return  # neither could read it (VSS cannot start): the associations are not known, the state keeps its own
        state["shadow_storage_cim_error"] = result.get("cim_error") or "Generic failure"
        listed, _exact = shadow_storage.associations(result)
    else:
        listed, _exact = shadow_storage.associations(dict(result, copies=[]))
    copies = {}
    for copy in result.get("copies") or []:
        copies.setdefault(str(copy["volume"]).lower(), []).append(copy["created"])
    state["shadow_storage"] = []
    for a in listed:
        made = sorted(copies.get(a["for"]["device_id"].lower(), []))
        share = a["used"] // len(made) if made else 0
        state["shadow_storage"].append({
            "for": by_id[a["for"]["device_id"].lower()]["mount"], "on": by_id[a["on"]["device_id"].lower()]["mount"],
            "used_bytes": a["used"], "allocated_bytes": a["allocated"], "max_bytes": "UNBOUNDED" if a["max"] is None else a["max"],
            "copies": [{"id": "{%08x-0000-4000-8000-000000000000}" % i, "created": c,
                        "bytes": share + (a["used"] - share * len(made) if i == len(made) - 1 else 0)} for i, c in enumerate(made)]})
    # volsnap's events 25 and 36 as the read saw them: the volume as the second data item (the first, the shadow copy's
    # device, is not read), else the message it was matched in.
    if result.get("events_error"):
        state["event_log_error"] = result["events_error"]
    for event in shadow_storage.items(result.get("events")):
        hostmod.add_event(state, "System", "volsnap", int(event["id"]), 2, 0, event.get("message") or "",
                          ["", event["volume"]] if event.get("volume") else [])["time"] = event["time"]
    backup = result.get("backup") or {}
    for name in shadow_storage.items(backup.get("processes")):
        hostmod.add_process(state, name + ".exe", None)
    if backup.get("mars_error"):
        state["mars_jobs_error"] = backup["mars_error"]
    elif backup.get("mars_jobs"):
        state["mars_jobs"] = [{"type": "Backup", "status": "Running"} for _n in range(int(backup["mars_jobs"]))]


# tag -> how its answer becomes state. A tag without an entry leaves the state alone.
TO_STATE = {
    "win_agent.read": _win_agent,
    "vss_writers.read": _vss_writers,
    "machinekeys.read": _machinekeys,
    "snapshot_status.read": _snapshot_status,
    "backup_extension.read": _backup_extension,
    "com_msdtc.read": _com_msdtc,
    "bitlocker.read": _bitlocker,
    "disk_limits.read": _disk_limits,
    "network.read": _network,
    "mars_connectivity.read": _mars_connectivity,
    "mars_schedule.read": _mars_schedule,
    "mars_powershell.read": _mars_powershell,
    "mars_antivirus.read": _mars_antivirus,


    "shadow_storage.read": _shadow_storage,
}


# tag -> every field its read answers -> what the importer above makes of it. A field missing here is a field a
# capture cannot carry into the simulated host, so a twin's error in it goes unseen: the round-trip test
# (tests/unit/winsim/test_captures.py) names each such read and field. Add a line with the importer's change.
IMPORTED = {
    "win_agent.read": {"services": "services", "version": "RdAgent's image file version", "guest_agent_version":
                       "WindowsAzureGuestAgent's image file version", "products": "Uninstall keys", "dotnet_release": "NDP Release value",
                       "backup_processes": "processes"},
    "vss_writers.read": {"services": "services", "backup_processes": "processes", "dependants": "running dependent services",
                         "text": "writers (vssadmin text parsed); stderr lines merged after them", "exit_code": "VSS disabled when non-zero"},
    "machinekeys.read": {"path": "the folder's ACL key", "sddl": "the folder's ACL", "icacls": "not imported: printed from sddl",
                         "icacls_exit_code": "not imported: the simulated icacls fails only under a fault (native_stderr)",
                         "key_files": "key files' ACLs (listed), or key files made up to the counts",
                         "caller": "the WinRM user's SIDs", "certificates": "LocalMachine\\My",
                         "agent": "services", "backup_processes": "processes"},
    "snapshot_status.read": {"copy_backup": "registry value", "sql_instances": "registry values per view", "nics": "NICs",
                             "cpu_load_percent": "CPU load", "memory_total_kb": "memory (MiB)", "memory_free_kb": "memory (MiB)"},
    "backup_extension.read": {"service": "services", "versions": "version folders"},
    "com_msdtc.read": {"services": "services"},
    "bitlocker.read": {"volumes": "volumes with device id, type, protection, lock, conversion, auto-unlock",
                       "ade_versions": "ADE version folders", "bek_volumes": "the label of ADE's key volume",
                       "offline_disks": "disks marked offline",
                       "auto_unlock_entries": "stored auto-unlock keys (placeholders)"},
    "disk_limits.read": {"disks": "disks and lettered volumes, marker files"},
    "network.read": {"dns": "DNS answers", "tcp": "not imported: the twin dials loopback only (only endpoints are compared)"},
    "mars_connectivity.read": {"agent": "a MARS install (folder, engine version, service)", "winhttp": "WinHTTP's proxy",
                               "wininet": "SYSTEM's LAN settings (DefaultConnectionSettings)",
                               "tcp": "not imported: the twin dials loopback only (only endpoints are compared)"},
    "mars_schedule.read": {"agent": "a MARS install (folder, engine version, service)", "tasks": "the folder's scheduled tasks",
                           "administrators": "local accounts of task principals the simulator cannot name, in Administrators when listed",
                           "unresolved": "member groups of Administrators whose members could not be read (SIDs made up)"},
    "mars_powershell.read": {"agent": "a MARS install (folder, engine version, service)", "psmodulepath": "registry value (raw; expanded is derived)",
                             "module_folder": "not imported: the agent's folder", "module_files": "the module's files",
                             "execution_policy": "registry values (Group Policy and LocalMachine)", "product_type": "product type",
                             "powershell": "PowerShell version"},
    "mars_antivirus.read": {"agent": "a MARS install (folder, engine version, service)", "scratch": "registry value",
                            "csc": "each .NET Framework's csc.exe (placeholder files)",
                            "defender": "the WinDefend service, Defender's state and exclusions"},


    "shadow_storage.read": {"source": "Win32_ShadowStorage broken when vssadmin", "volumes": "volumes' size (GiB) and free space",
                            "associations": "shadow storage", "copies": "shadow copies' creation times (bytes shared out)",
                            "cim_error": "the Win32_ShadowStorage error", "vssadmin": "shadow storage (vssadmin text parsed)",
                            "events": "volsnap events 25 and 36 (System log)", "events_error": "the System log's error",
                            "backup": "backup processes and MARS jobs running"},
}


def locale_of(doc: dict) -> str:
    """The simulator's locale (en or de) for a capture: the UI culture, else vssadmin's labels."""
    environment = (doc.get("environment") or {}).get("result") or {}
    culture = str(environment.get("ui_culture") or "")
    if culture:
        return "de" if culture.lower().startswith("de") else "en"
    for entry in doc.get("reads") or []:
        if entry["tag"] == "vss_writers.read" and entry.get("result"):
            found = parse_vssadmin(entry["result"].get("text") or "")[0]
            if found:
                return found
    return "en"


def state_from_capture(doc: dict) -> dict:
    """A healthy simulated VM (host.default_state) changed to what the capture saw."""
    state = hostmod.default_state(doc["host"], locale_of(doc))
    state["faults"] = []
    environment = (doc.get("environment") or {}).get("result")
    if environment:
        state["environment"] = dict(environment)
        state["os"] = str(environment.get("os_caption") or state["os"]).replace("Microsoft ", "", 1)
    for entry in doc.get("reads") or []:
        if entry["tag"] in TO_STATE and not entry.get("failed"):
            TO_STATE[entry["tag"]](state, entry.get("parameters") or {}, entry["result"] or {})
    return state


def host_from_capture(doc: dict, state_dir: str | None = None):
    host = hostmod.SimHost(state_from_capture(doc), state_dir)
    host.save()
    return host


# -- twin answers against captured answers ---------------------------------------------------------

def _writer_blocks(text: str) -> list:
    lines = [line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")]
    # The first writer block starts at the first unindented line followed by an indented one.
    start = next((i for i in range(len(lines) - 1) if lines[i] and not lines[i][0].isspace() and lines[i + 1].startswith("   ")), len(lines))
    body = lines[start:]
    while body and not body[-1]:
        body.pop()
    return body


def _snapshot(result: dict) -> dict:
    out = dict(result)
    for key in ("memory_total_kb", "memory_free_kb"):
        if out.get(key) is not None:
            out[key.replace("_kb", "_mib")] = int(out.pop(key)) // 1024
    if out.get("cpu_load_percent") is not None:
        out["cpu_load_percent"] = float(out["cpu_load_percent"])
    out["nics"] = [dict({k: v for k, v in n.items() if k != "default_route_metric"}, default_route=n.get("default_route_metric") is not None)
                   for n in out.get("nics") or []]
    return out


NORMALISE = {
    "vss_writers.read": lambda r: dict(r, text=_writer_blocks(r.get("text"))),
    "snapshot_status.read": _snapshot,
    "disk_limits.read": lambda r: dict(r, disks=[dict({k: v for k, v in d.items() if k not in ("size_bytes", "location")},
                                                      size_gib=int(d.get("size_bytes") or 0) // 2**30) for d in r.get("disks") or []]),
    "network.read": lambda r: dict(r, tcp=[t.get("endpoint") for t in r.get("tcp") or []]),
    "mars_connectivity.read": lambda r: dict(r, tcp=[t.get("endpoint") for t in r.get("tcp") or []]) if "tcp" in r else r,
}
NOT_COMPARED = {"capture.read"}


# -- the MARS reads of MARS_SERVICE, MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES, MARS_PREREQS, MARS_RESTORE_MOUNT -----

def _mars_agent(state: dict, agent: dict) -> None:
    """Get-MarsAgent as captured: the setup key's InstallPath, Bin\\cbengine.exe's version, the obengine service."""
    agent = agent or {}
    if not agent.get("installed"):
        hostmod.reg_delete_tree(state, hostmod.MARS_SETUP_KEY)
        if hostmod.find_key(state["services"], "obengine"):
            hostmod.remove_service(state, "obengine")
        return
    path = agent.get("install_path") or hostmod.MARS_DIR
    hostmod.reg_set(state, hostmod.MARS_SETUP_KEY, "InstallPath", "string", path + "\\")
    engine = path + "\\Bin\\cbengine.exe"
    if agent.get("version"):
        hostmod.put_file_state(state, engine, hostmod.placeholder_binary(engine, agent["version"]))
    else:
        hostmod.remove_file_state(state, engine)
    if agent.get("service") and not hostmod.find_key(state["services"], "obengine"):
        hostmod.add_service(state, "obengine", "obengine", '"%s"' % engine, "auto", True)
    if agent.get("dpm"):
        state.setdefault("registry", {}).setdefault(hostmod.DPM_SETUP_KEY, {})
    elif agent.get("dpm") is False:
        hostmod.reg_delete_tree(state, hostmod.DPM_SETUP_KEY)


def _mars_service(state: dict, parameters: dict, result: dict) -> None:
    _mars_agent(state, result.get("agent"))
    _services(state, [result["service"]] if result.get("service") else [])


def _mars_version(state: dict, parameters: dict, result: dict) -> None:
    _mars_agent(state, result.get("agent"))


_FOLDER_ATTRIBUTES = {bit: name for name, bit in scripts._ATTRIBUTES.items() if name != "Directory"}  # pylint: disable=protected-access


def _mars_scratch(state: dict, parameters: dict, result: dict) -> None:
    """Both ScratchLocation values with their kinds; each folder: there or not, listable, its attributes, the key file,
    and its volume's type, file system, size, free space and de-duplication (volumes the state has only)."""
    _mars_agent(state, result.get("agent"))
    _services(state, [result["service"]] if result.get("service") else [])
    for key, field in ((parameters["ConfigKey"], "config"), (parameters["ProviderKey"], "provider")):
        if result.get(field) is None:
            hostmod.reg_delete_value(state, key, parameters["ValueName"])
        else:
            hostmod.reg_set(state, key, parameters["ValueName"], _VALUE_TYPE.get(result.get(field + "_kind"), "string"), result[field])
    for folder in result.get("folders") or []:
        path = hostmod.norm_path(folder.get("expanded") or folder["path"])
        if not folder.get("exists"):
            hostmod.remove_tree_state(state, path)
            continue
        if path not in state["dirs"]:
            state["dirs"].append(path)
        names = [name for bit, name in _FOLDER_ATTRIBUTES.items() if int(folder.get("attributes") or 0) & bit]
        if names:
            state.setdefault("folder_attributes", {})[path] = names
        if not folder.get("accessible"):
            state.setdefault("denied_dirs", []).append(path)
            continue
        kek = path + "\\" + parameters["KekName"]
        if folder.get("kek"):
            hostmod.put_file_state(state, kek, hostmod.file_entry(b"captured key file\r\n"))
        else:
            hostmod.remove_file_state(state, kek)
        seen = folder.get("volume") or {}
        volume = next((v for v in state["volumes"] if v.get("mount") and v["mount"].rstrip("\\").lower() + "\\" == str(seen.get("name")).lower()),
                      None)
        if volume is not None:
            volume.update(drive_type=seen.get("drive_type"), file_system=seen.get("file_system"), capacity_bytes=seen.get("capacity"),
                          free_bytes=seen.get("free"))
            if seen.get("dedup") is not None:
                state["dedup_feature"], volume["dedup"] = True, bool(seen["dedup"])


def _mars_temp_files(state: dict, parameters: dict, result: dict) -> None:
    """The count and size of the *.tmp files in the temp folder, as one bulk entry (and one file for the bytes over)."""
    _mars_agent(state, result.get("agent"))
    folder = result.get("folder") or hostmod.ENVIRONMENT["systemroot"] + "\\Temp"
    suffix = parameters.get("Extension") or ".tmp"
    state["bulk_files"] = [e for e in state.get("bulk_files", []) if not (hostmod.path_key(e["folder"]) == hostmod.path_key(folder)
                                                                          and e["suffix"].lower() == suffix.lower())]
    for path in [p for p in state["files"] if hostmod.path_key(hostmod.parent_path(p) or "") == hostmod.path_key(folder)
                 and p.lower().endswith(suffix.lower())]:
        del state["files"][path]
    count, size = int(result.get("count") or 0), int(result.get("bytes") or 0)
    # The files older than the capture's MinAgeHours (a day more, so they stay old), the rest written now.
    old = min(int(result.get("old") if result.get("old") is not None else count), count)
    hours = int(parameters.get("MinAgeHours") or 0) + 24
    if count:
        each = size // count
        # The one file for the bytes over is old only when every file is.
        last_old = old == count
        for prefix, number, mtime in (("captured-old", old - last_old, hostmod.ago(hours)),
                                      ("captured-new", count - old - (not last_old), hostmod.now_iso())):
            if number > 0:
                state["bulk_files"].append({"folder": folder, "prefix": prefix, "suffix": suffix, "first": 0, "count": number, "size": each,
                                            "in_use": 0, "mtime": mtime})
        last = hostmod.file_entry(b"")
        last["size"] = size - each * (count - 1)
        if last_old:
            last["mtime"] = hostmod.ago(hours)
        hostmod.put_file_state(state, folder + "\\captured-last" + suffix, last)


def _mars_prereqs(state: dict, parameters: dict, result: dict) -> None:
    """.NET's Release value, the clock's offset from the controller's at capture time, the time zone."""
    _mars_agent(state, result.get("agent"))
    if result.get("dotnet_release") is None:
        hostmod.reg_delete_value(state, hostmod.NDP_KEY, "Release")
    else:
        state["dotnet_release"] = int(result["dotnet_release"])
        hostmod.sync_mirrors(state)
    state["clock_offset_seconds"] = round(float(result.get("offset_seconds") or 0))
    if result.get("time_zone"):
        state["time_zone"] = dict(result["time_zone"])


TO_STATE.update({
    "mars_service.read": _mars_service,
    "mars_version.read": _mars_version,
    "mars_scratch.read": _mars_scratch,
    "mars_temp_files.read": _mars_temp_files,
    "mars_prereqs.read": _mars_prereqs,
    "mars_restore_mount.read": _mars_service,
})
_AGENT = "the setup key's InstallPath, cbengine.exe's version, the obengine service, DPM's setup key"
IMPORTED.update({
    "mars_service.read": {"agent": _AGENT, "service": "services"},
    "mars_version.read": {"agent": _AGENT},
    "mars_scratch.read": {"agent": _AGENT, "service": "services", "config": "registry value", "config_kind": "registry value type",
                          "provider": "registry value", "provider_kind": "registry value type",
                          "folders": "dirs, folder_attributes, denied_dirs, the key file, the volume's type, file system, size, free space, "
                                     "de-duplication"},
    "mars_temp_files.read": {"agent": _AGENT, "folder": "where the files go", "count": "bulk_files (and one file)",
                             "bytes": "bulk_files (and one file)", "old": "the bulk files' mtime (older than MinAgeHours, or now)"},
    "mars_prereqs.read": {"agent": _AGENT, "dotnet_release": "NDP Release value", "vm_utc": "not imported: the clock moves on",
                          "offset_seconds": "clock_offset_seconds (from the controller's time at capture)", "time_zone": "time_zone"},
    "mars_restore_mount.read": {"agent": _AGENT, "service": "services"},
})
# The VM's clock is read again when the capture is checked, later than it was captured: only the rest is compared.
NORMALISE["mars_prereqs.read"] = lambda r: {k: v for k, v in r.items() if k not in ("vm_utc", "offset_seconds")}


def _walk(path: str, seen, answered, extra_ok: bool, out: list) -> None:
    if isinstance(seen, dict) and isinstance(answered, dict):
        for key in seen:
            if key not in answered:
                out.append("%s.%s: Windows answered %r, the twin has no such field" % (path, key, seen[key]))
            else:
                _walk("%s.%s" % (path, key), seen[key], answered[key], extra_ok, out)
        if not extra_ok:
            out += ["%s.%s: the twin answers %r, Windows had no such field" % (path, k, answered[k]) for k in answered if k not in seen]
    elif isinstance(seen, list) and isinstance(answered, list):
        if len(seen) != len(answered):
            out.append("%s: Windows answered %d items, the twin %d: %r vs %r" % (path, len(seen), len(answered), seen, answered))
        else:
            for i, (a, b) in enumerate(zip(seen, answered)):
                _walk("%s[%d]" % (path, i), a, b, extra_ok, out)
    elif seen != answered:
        out.append("%s: Windows answered %r, the twin %r" % (path, seen, answered))


def differences(entry: dict, answer: dict, script_sha256: str | None) -> list[str]:
    """How the twin's win_powershell answer differs from the captured one. Fields Windows answered are
    compared always; fields only the twin answers count only when the script is the captured version
    (a newer script may add fields the capture cannot have)."""
    tag = entry["tag"]
    if tag in NOT_COMPARED:
        return []
    if bool(entry.get("failed")) != bool(answer.get("failed")):
        return ["%s: Windows %s, the twin %s (%s)" % (tag, "failed" if entry.get("failed") else "answered",
                                                      "failed" if answer.get("failed") else "answered",
                                                      answer.get("error") or entry.get("error"))]
    if entry.get("failed"):
        return []
    normalise = NORMALISE.get(tag, lambda r: r)
    out: list = []
    same_script = bool(script_sha256) and entry.get("script_sha256") == script_sha256
    _walk(tag, normalise(copy.deepcopy(entry["result"] or {})), normalise(copy.deepcopy(answer.get("result") or {})), not same_script, out)
    return out


def collection_scripts() -> dict:
    """Tag -> script text of every PowerShell script in the collection's action plugins."""
    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    package = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.action")
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module("%s.%s" % (package.__name__, info.name))
        for value in vars(module).values():
            if isinstance(value, str) and value.startswith(TAG_PREFIX):
                found[value.split("\n", 1)[0][len(TAG_PREFIX):].strip()] = value
    return found


def run_read(host, script: str, parameters: dict) -> dict:
    """A read as the action plugins send it: win_powershell in check mode, result depth 6."""
    args = {"script": script, "parameters": dict(parameters or {}), "depth": 6, "_ansible_check_mode": True}
    return host.run_module("ansible.windows.win_powershell", args)


def check(doc: dict, texts: dict | None = None) -> list[str]:
    """Every captured read through its twin on a host made from the capture: the differences."""
    texts = texts if texts is not None else collection_scripts()
    host = host_from_capture(doc)
    out = []
    for entry in doc.get("reads") or []:
        script = texts.get(entry["tag"])
        if script is None:
            out.append("%s: the collection has no script with this tag any more" % entry["tag"])
            continue
        out += differences(entry, run_read(host, script, entry.get("parameters")), hashlib.sha256(script.encode("utf-8")).hexdigest())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    state = sub.add_parser("state", help="write the simulator state of a capture")
    state.add_argument("capture")
    state.add_argument("--dir", required=True)
    checking = sub.add_parser("check", help="compare every captured read with its twin")
    checking.add_argument("captures", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "state":
        host = host_from_capture(load(args.capture), args.dir)
        print(host.state_path())
        return 0
    texts, failed = collection_scripts(), 0
    for path in args.captures:
        found = check(load(path), texts)
        print("%s: %s" % (path, "twins agree" if not found else "%d differences" % len(found)))
        for line in found:
            print("  " + line)
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
