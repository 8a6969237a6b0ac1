"""The simulated Windows host (tests/winsim/host.py), its module fakes, renderers and faults."""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import types

import pytest

import faults
import host as hostmod
import modules
import render
import wsman
from host import SimHost

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "data", "reference", "windows")
MACHINEKEYS = hostmod.MACHINEKEYS


@pytest.fixture
def sim(tmp_path):
    return SimHost.create("win01", "en", [], state_dir=str(tmp_path))


def make(*names, locale="en", state_dir=None):
    return SimHost.create("win01", locale, list(names), state_dir=state_dir)


def run(h, module, check=False, diff=False, **args):
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    return h.run_module(module, args)


def writer(h, name):
    return hostmod.find_writer(h.state, name)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802  # http.server's naming
        self._answer(True)

    def do_HEAD(self):  # noqa: N802
        self._answer(False)

    def _answer(self, body):
        self.requests.append((self.command, self.path, self.headers.get("Host")))
        entry = self.files.get(self.path)
        if entry is None:
            self.send_error(404, "Not Found")
            return
        if "redirect" in entry:
            self.send_response(302)
            self.send_header("Location", entry["redirect"])
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(entry["data"])))
        if entry.get("last_modified"):
            self.send_header("Last-Modified", entry["last_modified"])
        self.end_headers()
        if body:
            self.wfile.write(entry["data"])

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def web():
    """A loopback HTTP server with a dict of path -> {"data": bytes}; only loopback is ever used."""
    handler = type("Handler", (_Handler,), {"files": {}, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.files = handler.files
    server.requests = handler.requests
    server.base = "http://127.0.0.1:%d" % server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


# -- the host and its state -------------------------------------------------------------------------


def test_default_state_is_a_healthy_azure_vm(sim):
    state = sim.state
    for key in ("name", "locale", "os", "services", "registry", "files", "dirs", "acls", "certificates",
                "vss_writers", "products", "msi_catalog", "processes", "volumes", "disks", "nics",
                "cpu_load_percent", "memory", "dotnet_release", "sql_server", "winhttp_proxy", "dns", "reachable"):
        assert key in state, key
    agent = state["services"]["WindowsAzureGuestAgent"]
    assert agent["display_name"] == "Windows Azure Guest Agent"
    assert agent["path"] == hostmod.GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe"
    assert state["services"]["RdAgent"]["path"].endswith("Packages_20240123_194431\\WaAppAgent.exe")
    assert sim.find_file(state["services"]["RdAgent"]["path"])[1]["version"] == "2.7.41491.1102"
    assert {s: state["services"][s]["start_mode"] for s in ("IaaSVmProvider", "VSS", "COMSysApp", "MSDTC")} == \
        {"IaaSVmProvider": "auto", "VSS": "manual", "COMSysApp": "manual", "MSDTC": "auto"}
    for name in ("WindowsAzureGuestAgent", "RdAgent", "IaaSVmProvider", "VSS", "COMSysApp", "MSDTC", "CryptSvc",
                 "Winmgmt", "EventSystem"):
        assert state["services"][name]["state"] == "running", name
    assert "SQLWriter" not in state["services"] and not state["sql_server"]
    assert [p["name"] for p in state["products"]] == ["Windows Azure VM Agent - 2.7.41491.1102"]
    assert state["acls"][MACHINEKEYS] == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
    assert all(w["state"] == 1 and w["last_error"] == "none" for w in state["vss_writers"])
    assert writer(sim, "System Writer")["service"] == "CryptSvc"
    assert writer(sim, "Task Scheduler Writer")["service"] == "Schedule"
    assert sim.is_file(hostmod.VMSNAPSHOT_DIR + "\\iaasvmprovider.dll")
    assert [d["kind"] for d in state["disks"]] == ["os", "temp"]
    assert state["nics"][0]["dhcp"] and state["nics"][0]["primary"]
    assert sim.reg_values(hostmod.NDP_KEY)["Release"] == {"type": "dword", "data": 528040}
    assert not any("CRP" in c["subject"] for c in state["certificates"]["LocalMachine\\My"])
    # Every running service has its process; a stopped one has none.
    running = {k for k, s in state["services"].items() if s["state"] == "running"}
    assert {p["service"] for p in state["processes"]} == running
    json.dumps(state)


def test_state_is_saved_atomically_after_changes_and_loads_back(sim, tmp_path):
    path = tmp_path / "win01.json"
    assert json.loads(path.read_text())["name"] == "win01"
    run(sim, "ansible.windows.win_service", name="RdAgent", state="stopped")
    assert json.loads(path.read_text())["services"]["RdAgent"]["state"] == "stopped"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    again = SimHost.load(str(path))
    assert again.name == "win01" and again.state == sim.state and again.state_dir == str(tmp_path)


def test_put_file_keeps_small_content_and_only_hashes_of_big_files(sim, tmp_path):
    sim.put_file("C:/Temp/small.txt", b"hello")
    assert sim.read_file("c:\\temp\\SMALL.TXT") == b"hello"
    assert sim.is_dir("C:\\Temp") and sim.is_dir("c:\\temp")
    big = b"x" * (hostmod.SMALL_FILE_LIMIT + 1)
    sim.put_file("C:\\Temp\\big.bin", big)
    entry = sim.find_file("C:\\Temp\\big.bin")[1]
    assert "content_b64" not in entry and entry["size"] == len(big)
    assert entry["sha256"] == hashlib.sha256(big).hexdigest()
    assert sim.file_hash("C:\\Temp\\big.bin", "md5") == hashlib.md5(big).hexdigest()
    assert json.loads((tmp_path / "win01.json").read_text())["files"]["C:\\Temp\\small.txt"]["size"] == 5


def test_log_appends_json_lines_and_keeps_them(sim, tmp_path):
    sim.log({"kind": "module", "module": "ansible.windows.win_ping"})
    sim.log({"kind": "put_file"})
    lines = [json.loads(x) for x in (tmp_path / "win01.log.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["module", "put_file"] and len(sim.calls) == 2
    assert lines[0]["host"] == "win01" and "ts" in lines[0]


def test_unknown_module_fails_saying_the_simulator_does_not_implement_it(sim):
    result = run(sim, "ansible.windows.win_feature", name="x")
    assert result["failed"] and "does not implement module 'ansible.windows.win_feature'" in result["msg"]


def test_args_are_validated_like_ansible_basic(sim):
    result = run(sim, "win_service")
    assert result["failed"] and result["msg"] == "missing required arguments: name"
    result = run(sim, "win_service", name="RdAgent", bogus=1)
    assert result["msg"].startswith("Unsupported parameters for (win_service) module: bogus. Supported parameters include:")
    result = run(sim, "win_get_url", url="http://x/", dest="C:\\x", checksum="a", checksum_url="http://x/s")
    assert result["msg"] == "parameters are mutually exclusive: checksum, checksum_url"
    result = run(sim, "win_package", state="present")
    assert result["msg"] == "state is present but all of the following are missing: path"
    result = run(sim, "win_service", name="RdAgent", desktop_interact="maybe")
    assert result["msg"].startswith("argument for desktop_interact is of type System.String and we were unable to "
                                    "convert to bool: The value 'maybe' is not a valid boolean.")
    # Choices match case-insensitively, as Ansible.Basic does.
    assert not run(sim, "win_service", name="RdAgent", state="Started").get("failed")


# -- win_ping ---------------------------------------------------------------------------------------


def test_win_ping(sim):
    assert run(sim, "ansible.windows.win_ping") == {"changed": False, "ping": "pong",
                                                    "invocation": {"module_args": {"data": "pong"}}}
    assert run(sim, "win_ping", data="hi")["ping"] == "hi"
    crash = run(sim, "win_ping", data="crash")
    assert crash["failed"] and crash["msg"] == "Unhandled exception while executing module: boom"


# -- win_service ------------------------------------------------------------------------------------


def test_win_service_query_returns_the_real_keys(sim):
    result = run(sim, "ansible.windows.win_service", name="windows azure guest agent")  # display name, any case
    assert result["changed"] is False and result["exists"] is True
    assert result["name"] == "WindowsAzureGuestAgent" and result["state"] == "running"
    assert result["start_mode"] == "auto" and result["username"] == "LocalSystem"
    for key in ("display_name", "path", "dependencies", "depended_by", "can_pause_and_continue", "description",
                "desktop_interact"):
        assert key in result
    assert run(sim, "win_service", name="EventSystem")["depended_by"] == ["COMSysApp"]
    assert run(sim, "win_service", name="MSDTC")["username"] == "NT AUTHORITY\\NETWORK SERVICE"
    missing = run(sim, "win_service", name="NoSuchService")
    assert missing == {"changed": False, "exists": False, "invocation": missing["invocation"]}


def test_win_service_start_check_mode_then_apply_then_idempotent():
    h = make("agent-stopped")
    before = copy.deepcopy(h.state)
    check = run(h, "win_service", check=True, diff=True, name="RdAgent", state="started")
    assert check["changed"] is True and check["state"] == "running"
    assert check["diff"]["before"]["state"] == "stopped" and check["diff"]["after"]["state"] == "started"
    assert h.state == before
    applied = run(h, "win_service", name="RdAgent", state="started")
    assert applied["changed"] is True and h.state["services"]["RdAgent"]["state"] == "running"
    assert any(p["name"] == "WaAppAgent.exe" for p in h.state["processes"])
    assert run(h, "win_service", name="RdAgent", state="started")["changed"] is False
    assert run(h, "win_service", check=True, name="RdAgent", state="started")["changed"] is False


def test_win_service_disabled_service_fails_to_start_until_enabled():
    h = make("agent-disabled")
    result = run(h, "win_service", name="WindowsAzureGuestAgent", state="started")
    assert result["failed"] and result["msg"] == (
        "Unhandled exception while executing module: Service 'Windows Azure Guest Agent (WindowsAzureGuestAgent)' "
        "cannot be started due to the following error: Cannot start service WindowsAzureGuestAgent on computer '.'.")
    # In check mode Start-Service -WhatIf never tries, so nothing fails.
    assert run(h, "win_service", check=True, name="WindowsAzureGuestAgent", state="started")["changed"] is True
    fixed = run(h, "win_service", name="WindowsAzureGuestAgent", start_mode="auto", state="started")
    assert fixed["changed"] and fixed["start_mode"] == "auto" and fixed["state"] == "running"


def test_win_service_invalid_state_choice(sim):
    result = run(sim, "win_service", name="RdAgent", state="running")
    assert result["failed"] and result["msg"] == (
        "value of state must be one of: started, stopped, restarted, absent, paused. Got no match for: running")


def test_win_service_stop_with_dependents_needs_force(sim):
    result = run(sim, "win_service", name="EventSystem", state="restarted")
    assert "because it has dependent services. It can only be stopped if the Force flag is set." in result["msg"]
    forced = run(sim, "win_service", name="EventSystem", state="restarted", force_dependent_services=True)
    assert forced["changed"] and sim.state["services"]["COMSysApp"]["state"] == "running"
    stopped = run(sim, "win_service", name="EventSystem", state="stopped", force_dependent_services=True)
    assert stopped["state"] == "stopped" and sim.state["services"]["COMSysApp"]["state"] == "stopped"


def test_win_service_create_and_remove(sim):
    created = run(sim, "win_service", name="MySvc", path="%SystemRoot%\\my.exe", start_mode="manual")
    assert created["changed"] and created["path"] == "C:\\Windows\\my.exe" and created["start_mode"] == "manual"
    assert sim.state["services"]["MySvc"]["state"] == "stopped"
    removed = run(sim, "win_service", name="MySvc", state="absent")
    assert removed["changed"] and removed["exists"] is False and "MySvc" not in sim.state["services"]
    assert run(sim, "win_service", name="MySvc", state="absent")["changed"] is False


def test_win_service_start_mode_and_display_name_changes(sim):
    result = run(sim, "win_service", diff=True, name="IaaSVmProvider", start_mode="delayed", display_name="X")
    assert result["changed"] and result["display_name"] == "X" and result["start_mode"] == "delayed"
    assert result["diff"]["after"]["start_mode"] == "delayed" and result["diff"]["before"]["start_mode"] == "auto"
    assert run(sim, "win_service", name="IaaSVmProvider", start_mode="delayed", display_name="X")["changed"] is False


# -- VSS writers and their services -----------------------------------------------------------------


def test_restarting_the_writers_service_heals_the_writer():
    h = make("vss-writer-failed")
    assert (writer(h, "System Writer")["state"], writer(h, "System Writer")["last_error"]) == (7, "retryable")
    old_instance = writer(h, "System Writer")["instance_id"]
    run(h, "win_service", check=True, name="CryptSvc", state="restarted")
    assert writer(h, "System Writer")["state"] == 7
    run(h, "win_service", name="CryptSvc", state="restarted")
    assert writer(h, "System Writer")["state"] == 1 and writer(h, "System Writer")["last_error"] == "none"
    assert writer(h, "System Writer")["instance_id"] != old_instance


def test_stop_then_start_heals_too_and_a_stopped_service_hides_its_writer():
    h = make("vss-writer-failed")
    run(h, "win_service", name="CryptSvc", state="stopped")
    assert "System Writer" not in [w["name"] for w in h.visible_writers()]
    assert writer(h, "System Writer")["state"] == 7  # nothing heals while it is stopped
    run(h, "win_service", name="CryptSvc", state="started")
    assert writer(h, "System Writer")["state"] == 1
    assert "System Writer" in [w["name"] for w in h.visible_writers()]


def test_a_stuck_writer_stays_failed_after_a_restart():
    h = make("vss-writer-stuck")
    stuck = writer(h, "WMI Writer")
    run(h, "win_service", name="Winmgmt", state="restarted")
    assert writer(h, "WMI Writer")["state"] == stuck["state"] != 1
    assert writer(h, "WMI Writer")["last_error"] == "timeout"


def test_restarting_an_unrelated_service_does_not_heal():
    h = make("vss-writer-failed", "vss-writer-unknown-service")
    run(h, "win_service", name="VSS", state="restarted")
    assert writer(h, "System Writer")["state"] == 7 and writer(h, "NTDS")["state"] == 9


# -- win_regedit ------------------------------------------------------------------------------------

BCDR = "HKLM:\\SOFTWARE\\Microsoft\\BCDRAGENT"


def test_win_regedit_create_value_check_apply_idempotent_with_diff():
    h = make("sql-no-copy-backup")
    before = copy.deepcopy(h.state)
    check = run(h, "ansible.windows.win_regedit", check=True, diff=True, path=BCDR, name="USEVSSCOPYBACKUP", data="TRUE")
    assert check["changed"] and h.state == before
    assert check["diff"] == {"before": {}, "after": {BCDR: {}}}  # check mode stops once the key would be created
    applied = run(h, "win_regedit", diff=True, path=BCDR, name="USEVSSCOPYBACKUP", data="TRUE", type="string")
    assert applied["changed"] and applied["data_changed"] is False and applied["data_type_changed"] is False
    assert applied["diff"] == {"before": {}, "after": {BCDR: {"USEVSSCOPYBACKUP": {"type": "String", "value": "TRUE"}}}}
    assert h.reg_values(BCDR)["USEVSSCOPYBACKUP"] == {"type": "string", "data": "TRUE"}
    again = run(h, "win_regedit", diff=True, path=BCDR, name="usevsscopybackup", data="TRUE")
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    changed = run(h, "win_regedit", path=BCDR, name="USEVSSCOPYBACKUP", data="true")  # -cne: case matters
    assert changed["changed"] and changed["data_changed"]


def test_win_regedit_types_and_type_change():
    h = make()
    key = "HKLM:\\SOFTWARE\\Test"
    dword = run(h, "win_regedit", diff=True, path=key, name="d", data="0xff2500ae", type="dword")
    assert h.reg_values(key)["d"] == {"type": "dword", "data": 0xFF2500AE}
    assert dword["diff"]["after"][key]["d"] == {"type": "DWord", "value": "0xff2500ae"}
    assert run(h, "win_regedit", path=key, name="d", data=4280615086, type="dword")["changed"] is False
    too_big = run(h, "win_regedit", path=key, name="d", data=2**32, type="dword")
    assert too_big["failed"] and too_big["msg"] == "data cannot be larger than 0xffffffff when type is dword"
    run(h, "win_regedit", path=key, name="b", data="hex:be,ef", type="binary")
    assert h.reg_values(key)["b"]["data"] == [0xBE, 0xEF]
    run(h, "win_regedit", path=key, name="m", data=["a", "b"], type="multistring")
    assert h.reg_values(key)["m"]["data"] == ["a", "b"]
    retyped = run(h, "win_regedit", diff=True, path=key, name="d", data="1", type="string")
    assert retyped["changed"] and retyped["data_type_changed"] and retyped["data_changed"]
    assert retyped["diff"]["before"][key]["d"]["type"] == "DWord"


def test_win_regedit_absent_value_and_key():
    h = make()
    key = "HKLM:\\SOFTWARE\\Test\\Sub"
    run(h, "win_regedit", path=key, name="v", data="x")
    check = run(h, "win_regedit", check=True, diff=True, path=key, name="v", state="absent")
    assert check["changed"] and "v" in h.reg_values(key)
    gone = run(h, "win_regedit", diff=True, path=key, name="v", state="absent")
    assert gone["diff"] == {"before": {key: {"v": {"type": "String", "value": "x"}}}, "after": {key: {}}}
    assert run(h, "win_regedit", path=key, name="v", state="absent")["changed"] is False
    tree = run(h, "win_regedit", path="HKLM:\\SOFTWARE\\Test", state="absent")
    assert tree["changed"] and not h.reg_key_exists(key)
    bad = run(h, "win_regedit", path="HKLM\\SOFTWARE\\Test")
    assert bad["msg"] == "path: HKLM\\SOFTWARE\\Test is not a valid powershell path, see module documentation for examples."


# -- win_package ------------------------------------------------------------------------------------

NEW_AGENT = "2.7.41491.1193"
NEW_AGENT_ID = "{A1B2C3D4-0000-4000-8000-000000001193}"


def agent_msi_entry(version=NEW_AGENT, product_id=NEW_AGENT_ID, rc=0):
    gadir = "C:\\WindowsAzure\\GuestAgent_%s_2026-01-26_000000" % version
    return {"product_id": product_id, "name": "Windows Azure VM Agent - " + version, "version": version,
            "publisher": "Microsoft Corporation", "upgrade_code": hostmod.AGENT_UPGRADE_CODE, "rc": rc,
            "installs": {
                "services": {
                    "WindowsAzureGuestAgent": {"display_name": "Windows Azure Guest Agent",
                                               "path": gadir + "\\WindowsAzureGuestAgent.exe"},
                    "RdAgent": {"display_name": "RdAgent", "path": "C:\\WindowsAzure\\Packages\\WaAppAgent.exe"}},
                "files": {gadir + "\\WindowsAzureGuestAgent.exe": {"version": version},
                          "C:\\WindowsAzure\\Packages\\WaAppAgent.exe": {"version": version}},
                "dirs": [gadir, "C:\\WindowsAzure\\Packages"]}}


def add_msi(h, path, data=b"fake agent msi", **kw):
    h.state["msi_catalog"][hashlib.sha256(data).hexdigest()] = agent_msi_entry(**kw)
    h.put_file(path, data)
    return data


def test_win_package_uninstall_by_product_id_removes_what_it_installed():
    h = make("agent-outdated")
    product_id = h.state["products"][0]["product_id"]
    before = copy.deepcopy(h.state)
    check = run(h, "ansible.windows.win_package", check=True, product_id=product_id, state="absent")
    assert check["changed"] and check["rc"] == 0 and h.state == before
    done = run(h, "win_package", product_id=product_id, state="absent")
    assert done["changed"] and done["reboot_required"] is False and done["rc"] == 0
    assert h.state["products"] == [] and "RdAgent" not in h.state["services"]
    assert not h.reg_key_exists(hostmod.UNINSTALL_KEY + "\\" + product_id)
    assert not any(p["service"] == "RdAgent" for p in h.state["processes"])
    assert run(h, "win_package", product_id=product_id, state="absent")["changed"] is False


def test_win_package_installs_a_catalogued_msi_and_is_idempotent():
    h = make("agent-absent")
    add_msi(h, "C:\\Windows\\Temp\\agent.msi")
    before = copy.deepcopy(h.state)
    check = run(h, "win_package", check=True, path="C:\\Windows\\Temp\\agent.msi")
    assert check["changed"] and "checksum" not in check and h.state == before
    done = run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi", arguments="/quiet")
    assert done["changed"] and done["rc"] == 0
    assert done["checksum"] == hashlib.sha1(b"fake agent msi").hexdigest().upper()
    assert h.state["services"]["WindowsAzureGuestAgent"]["state"] == "running"
    assert h.find_file("C:\\WindowsAzure\\Packages\\WaAppAgent.exe")[1]["version"] == NEW_AGENT
    assert h.reg_values(hostmod.UNINSTALL_KEY + "\\" + NEW_AGENT_ID)["DisplayVersion"]["data"] == NEW_AGENT
    assert run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi")["changed"] is False


def test_win_package_major_upgrade_replaces_the_old_agent():
    h = make("agent-outdated")
    add_msi(h, "C:\\Windows\\Temp\\agent.msi")
    run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi")
    assert [p["version"] for p in h.state["products"]] == [NEW_AGENT]
    assert not h.is_file(hostmod.PACKAGES_DIR + "\\WaAppAgent.exe")


def test_win_package_agent_registered_but_missing_is_not_reinstalled():
    """The MSI's product code is still registered: Windows Installer says installed."""
    h = make("agent-missing")
    add_msi(h, "C:\\Windows\\Temp\\agent.msi", product_id=hostmod.AGENT_PRODUCT_ID, version="2.7.41491.1102")
    assert run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi")["changed"] is False
    assert "RdAgent" not in h.state["services"]


def test_win_package_failures():
    h = make("agent-absent")
    missing = run(h, "win_package", path="C:\\nope.msi")
    assert missing["failed"] and missing["msg"] == "the file at the path 'C:\\nope.msi' cannot be reached"
    assert run(h, "win_package", check=True, path="C:\\nope.msi")["changed"] is True  # not checked in check mode
    add_msi(h, "C:\\Windows\\Temp\\agent.msi")
    wrong = run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi", checksum="00", checksum_algorithm="sha256")
    assert wrong["failed"] and wrong["msg"].startswith("The checksum for C:\\Windows\\Temp\\agent.msi did not match '00'")
    assert h.state["products"] == []
    h.put_file("C:\\Windows\\Temp\\setup.exe", b"MZ not an msi")
    exe = run(h, "win_package", path="C:\\Windows\\Temp\\setup.exe", product_id="{X}")
    assert exe["failed"] and "simulator cannot run" in exe["msg"]
    add_msi(h, "C:\\Windows\\Temp\\bad.msi", data=b"bad msi", rc=1603)
    bad = run(h, "win_package", path="C:\\Windows\\Temp\\bad.msi")
    assert bad["failed"] and bad["rc"] == 1603 and bad["msg"].startswith("unexpected rc from '")
    assert h.state["products"] == []


def test_win_package_reboot_required_on_3010():
    h = make("agent-absent")
    add_msi(h, "C:\\Windows\\Temp\\agent.msi", rc=3010)
    done = run(h, "win_package", path="C:\\Windows\\Temp\\agent.msi")
    assert done["changed"] and done["rc"] == 3010 and done["reboot_required"] is True


def test_win_package_from_a_loopback_url(web):
    h = make("agent-absent")
    data = b"agent msi over http"
    h.state["msi_catalog"][hashlib.sha256(data).hexdigest()] = agent_msi_entry()
    web.files["/WindowsAzureVmAgent.msi"] = {"data": data}
    done = run(h, "win_package", path=web.base + "/WindowsAzureVmAgent.msi")
    assert done["changed"] and h.state["products"][0]["product_id"] == NEW_AGENT_ID
    # With product_id given and installed, nothing is downloaded.
    count = len(web.requests)
    again = run(h, "win_package", path=web.base + "/WindowsAzureVmAgent.msi", product_id=NEW_AGENT_ID)
    assert again["changed"] is False and len(web.requests) == count
    nowhere = run(make("agent-absent"), "win_package", path="http://download.example.invalid/a.msi")
    assert nowhere["failed"] and nowhere["msg"] == (
        "Unhandled exception while executing module: Exception calling \"GetResponse\" with \"0\" argument(s): "
        "\"The remote name could not be resolved: 'download.example.invalid'\"")


# -- win_certificate_store --------------------------------------------------------------------------


def test_win_certificate_store_removes_by_thumbprint():
    h = make("crp-cert")
    crp = next(c for c in h.state["certificates"]["LocalMachine\\My"] if "CRP" in c["subject"])
    before = copy.deepcopy(h.state)
    check = run(h, "ansible.windows.win_certificate_store", check=True, state="absent", thumbprint=crp["thumbprint"])
    assert check["changed"] and check["thumbprints"] == [crp["thumbprint"]] and h.state == before
    done = run(h, "win_certificate_store", state="absent", thumbprint=crp["thumbprint"].lower(),
               store_location="LocalMachine", store_name="My")
    assert done["changed"]
    assert [c["subject"] for c in h.state["certificates"]["LocalMachine\\My"]] == ["CN=win01"]
    assert run(h, "win_certificate_store", state="absent", thumbprint=crp["thumbprint"])["changed"] is False
    bad = run(h, "win_certificate_store", state="absent", thumbprint="AB", store_location="Nowhere")
    assert bad["msg"] == "value of store_location must be one of: CurrentUser, LocalMachine. Got no match for: Nowhere"


def test_win_certificate_store_imports_a_certificate_file(sim):
    cert = {"thumbprint": "AA" * 20, "subject": "CN=x", "issuer": "CN=x", "not_after": "2030-01-01T00:00:00Z",
            "has_private_key": False}
    sim.put_file("C:\\Temp\\x.cer", b"0\x82")
    sim.state["files"]["C:\\Temp\\x.cer"]["certificates"] = [cert]
    done = run(sim, "win_certificate_store", path="C:\\Temp\\x.cer", store_name="Root")
    assert done["changed"] and done["thumbprints"] == ["AA" * 20]
    assert sim.state["certificates"]["LocalMachine\\Root"] == [cert]
    assert run(sim, "win_certificate_store", path="C:\\Temp\\x.cer", store_name="Root")["changed"] is False


# -- win_get_url ------------------------------------------------------------------------------------


def test_win_get_url_downloads_from_loopback_and_is_idempotent_with_checksum(web):
    h = make()
    data = b"payload"
    web.files["/f.bin"] = {"data": data}
    check = run(h, "ansible.windows.win_get_url", check=True, url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin")
    assert check["changed"] and not h.is_file("C:\\Windows\\Temp\\f.bin") and check["status_code"] == 200
    done = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp")  # a directory: name from the url
    assert done["changed"] and done["dest"] == "C:\\Windows\\Temp\\f.bin" and done["msg"] == "OK"
    assert done["checksum_src"] == done["checksum_dest"] == hashlib.sha1(data).hexdigest() and done["size"] == len(data)
    assert h.read_file("C:\\Windows\\Temp\\f.bin") == data
    count = len(web.requests)
    same = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin",
               checksum=hashlib.sha256(data).hexdigest().upper(), checksum_algorithm="sha256", force=False)
    assert same["changed"] is False and len(web.requests) == count  # no request at all
    forced = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin")
    assert forced["changed"] is False and forced["checksum_src"] == forced["checksum_dest"]


def test_win_get_url_force_false_asks_for_last_modified(web):
    h = make()
    web.files["/f.bin"] = {"data": b"old", "last_modified": "Mon, 01 Jan 2001 00:00:00 GMT"}
    run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin")
    kept = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin", force=False)
    assert kept["changed"] is False and web.requests[-1][0] == "HEAD"


def test_win_get_url_failures_are_the_ones_dotnet_reports(web):
    h = make()
    web.files["/f.bin"] = {"data": b"payload"}
    mismatch = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\Windows\\Temp\\f.bin", checksum="abc")
    assert mismatch["failed"] and mismatch["msg"] == "The checksum for %s/f.bin did not match 'abc', it was '%s'" % (
        web.base, hashlib.sha1(b"payload").hexdigest())
    assert not h.is_file("C:\\Windows\\Temp\\f.bin")
    absent = run(h, "win_get_url", url=web.base + "/nope", dest="C:\\Windows\\Temp\\x")
    assert absent["status_code"] == 404 and absent["msg"].endswith(
        "\"The remote server returned an error: (404) Not Found.\"")
    nodir = run(h, "win_get_url", url=web.base + "/f.bin", dest="C:\\No\\Such\\f.bin")
    assert nodir["msg"].startswith("The path 'C:\\No\\Such' does not exist for destination 'C:\\No\\Such\\f.bin'")
    unknown = run(h, "win_get_url", url="https://go.microsoft.com/fwlink/?LinkID=394789", dest="C:\\Windows\\Temp\\a.msi")
    assert unknown["msg"].endswith("\"The remote name could not be resolved: 'go.microsoft.com'\"")


def test_win_get_url_never_leaves_loopback(web):
    h = make()
    h.state["dns"]["wireserver.test"] = ["168.63.129.16"]
    out = run(h, "win_get_url", url="http://wireserver.test/x", dest="C:\\Windows\\Temp\\x", url_timeout=5)
    assert out["failed"] and out["msg"].endswith("\"The operation has timed out\"") and out["elapsed"] == 5
    # A name the VM resolves to loopback reaches the test server, with the name in the Host header.
    h.state["dns"]["download.test"] = ["127.0.0.1"]
    web.files["/a"] = {"data": b"a"}
    port = web.server_address[1]
    assert run(h, "win_get_url", url="http://download.test:%d/a" % port, dest="C:\\Windows\\Temp\\a")["changed"]
    assert web.requests[-1][2] == "download.test:%d" % port
    # Blocked ports time out even on loopback.
    h.state["blocked_ports"] = [port]
    blocked = run(h, "win_get_url", url=web.base + "/a", dest="C:\\Windows\\Temp\\b")
    assert blocked["msg"].endswith("\"The operation has timed out\"")
    h.state["blocked_ports"] = []
    h.state["reachable"]["127.0.0.1:%d" % port] = False
    assert run(h, "win_get_url", url=web.base + "/a", dest="C:\\Windows\\Temp\\b")["failed"]


def test_win_get_url_redirect_to_outside_is_not_followed_out(web):
    h = make()
    web.files["/r"] = {"redirect": "http://198.51.100.7/evil"}
    out = run(h, "win_get_url", url=web.base + "/r", dest="C:\\Windows\\Temp\\r", url_timeout=3)
    assert out["failed"] and "timed out" in out["msg"]


# -- win_http_proxy ---------------------------------------------------------------------------------


def test_win_http_proxy_set_diff_idempotent_and_remove():
    h = make()
    check = run(h, "ansible.windows.win_http_proxy", check=True, diff=True, proxy="proxy.corp:8080", bypass=["<local>"])
    assert check["changed"] and h.state["winhttp_proxy"] == {"proxy": "", "bypass": ""}
    assert check["diff"] == {"before": {"proxy": None, "bypass": None},
                             "after": {"proxy": "proxy.corp:8080", "bypass": "<local>"}}
    assert run(h, "win_http_proxy", proxy="proxy.corp:8080", bypass=["<local>"])["changed"]
    assert h.state["winhttp_proxy"] == {"proxy": "proxy.corp:8080", "bypass": "<local>"}
    assert run(h, "win_http_proxy", proxy="PROXY.corp:8080", bypass=["<local>"])["changed"] is False
    cleared = run(h, "win_http_proxy", diff=True)
    assert cleared["changed"] and h.state["winhttp_proxy"] == {"proxy": "", "bypass": ""}
    assert cleared["diff"]["after"] == {"proxy": None, "bypass": None}
    run(h, "win_http_proxy", proxy={"https": "p:3128", "http": "p:3128"})
    assert h.state["winhttp_proxy"]["proxy"] == "http=p:3128;https=p:3128"
    bad = run(h, "win_http_proxy", proxy={"gopher": "x"})
    assert bad["msg"] == "Invalid keys found in proxy: gopher. Valid keys are http, https, ftp, socks."
    assert run(h, "win_http_proxy", proxy="", bypass=["a"])["msg"] == "missing parameter(s) required by ''bypass'': proxy"


def test_win_http_proxy_wrong_fault_and_source_ie():
    h = make("winhttp-proxy-wrong")
    h.state["ie_proxy"] = {"proxy": "ie.corp:80", "bypass": ""}
    done = run(h, "win_http_proxy", diff=True, source="ie")
    assert done["changed"] and done["diff"]["before"]["proxy"] == "oldproxy.corp.invalid:3128"
    assert h.state["winhttp_proxy"] == {"proxy": "ie.corp:80", "bypass": ""}


# -- win_powershell ---------------------------------------------------------------------------------


@pytest.fixture
def fake_scripts(monkeypatch):
    """A stand-in for scripts.py so these tests do not depend on the product's scripts."""
    calls = []
    module = types.ModuleType("scripts")

    def run_script(h, tag, parameters):
        calls.append((tag, parameters))
        if tag == "deep":
            return {"result": {"a": {"b": {"c": {"d": 1}}}, "l": [[1, [2, 3]]]}, "output": [{"x": {"y": 1}}]}
        if tag == "boom":
            raise ValueError("twin broke")
        if tag == "fix":
            h.state["fixed"] = True
            return {"result": {"done": True}, "diff": {"before": "a", "after": "b"},
                    "error": [{"message": "warned"}], "warning": ["w"]}
        raise LookupError("no simulated script '%s'" % tag)

    module.run = run_script
    module.calls = calls
    monkeypatch.setattr(modules, "scripts", module)
    return module


SHOULD_PROCESS = "[CmdletBinding(SupportsShouldProcess)]\nparam([string]$Path)\n# azure_backup.remediation/fix\n"


def test_win_powershell_check_mode_skips_scripts_without_should_process(fake_scripts):
    h = make()
    plain = "param([string]$Path)\n# azure_backup.remediation/fix\n"
    skipped = run(h, "ansible.windows.win_powershell", check=True, script=plain)
    assert skipped["changed"] is True and skipped["msg"] == "skipped, running in check mode"
    assert skipped["result"] == {} and skipped["output"] == [] and fake_scripts.calls == []
    checked = run(h, "win_powershell", check=True, diff=True, script=SHOULD_PROCESS, parameters={"Path": "x"})
    # It runs in check mode: what it does then is the script's (here the stand-in's) business.
    assert fake_scripts.calls == [("fix", {"Path": "x"})]
    assert checked["result"] == {"done": True} and checked["diff"] == {"before": "a", "after": "b"}
    applied = run(h, "win_powershell", script=SHOULD_PROCESS)
    assert applied["changed"] and applied["failed"] is False and h.state["fixed"] is True
    assert applied["error"][0]["exception"]["message"] == "warned" and applied["warning"] == ["w"]
    for key in ("result", "host_out", "host_err", "output", "error", "warning", "verbose", "debug", "information"):
        assert key in applied


@pytest.mark.parametrize("text, supports", [
    ("[CmdletBinding(SupportsShouldProcess)]\nparam()", True),
    ("[CmdletBinding(SupportsShouldProcess=$true)]\nparam()", True),
    ("[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]\n[OutputType([int])]\nparam()", True),
    ("# leading comment\n[CmdletBinding(SupportsShouldProcess)]param($a)", True),
    ("[CmdletBinding(SupportsShouldProcess=$false)]\nparam()", False),
    ("[CmdletBinding()]\nparam()", False),
    ("# [CmdletBinding(SupportsShouldProcess)]\nparam()", False),
    ("param()\nWrite-Output 1", False),
])
def test_should_process_detection(text, supports):
    assert modules.supports_should_process(text) is supports


def test_win_powershell_depth_truncates_like_convert_output_object(fake_scripts):
    h = make()
    out = run(h, "win_powershell", script="# azure_backup.remediation/deep")
    assert out["result"] == {"a": {"b": {"c": "System.Collections.Hashtable"}}, "l": [[1, "2 3"]]}
    # The output list itself takes one level: its items are converted at depth - 1.
    assert out["output"] == [{"x": {"y": 1}}]
    shallow = run(h, "win_powershell", script="# azure_backup.remediation/deep", depth=0)
    assert shallow["output"] == ["System.Collections.Hashtable"] and shallow["result"]["a"] == "System.Collections.Hashtable"
    deeper = run(h, "win_powershell", script="# azure_backup.remediation/deep", depth=5)
    assert deeper["result"]["a"]["b"]["c"] == {"d": 1}
    # $Ansible.Changed starts true; only the script itself says it changed nothing.
    assert out["changed"] is True
    assert run(h, "win_powershell", script="# azure_backup.remediation/deep\n$Ansible.Changed = $false\n")["changed"] is False


def test_win_powershell_cannot_run_arbitrary_scripts(fake_scripts):
    h = make()
    untagged = run(h, "win_powershell", script="Get-Service | Restart-Service")
    assert untagged["failed"] and "cannot run arbitrary PowerShell" in untagged["msg"]
    unknown = run(h, "win_powershell", script="# azure_backup.remediation/nope")
    assert unknown["failed"] and "no simulated script 'nope'" in unknown["msg"]
    boom = run(h, "win_powershell", script="# azure_backup.remediation/boom")
    assert boom["failed"] and "twin broke" in boom["msg"]


def test_win_powershell_creates_removes_and_path(fake_scripts):
    h = make()
    assert run(h, "win_powershell", script="x", creates="C:\\Windows\\Temp")["msg"] == "skipped, since C:\\Windows\\Temp exists"
    assert run(h, "win_powershell", script="x", removes="C:\\Nope")["msg"] == "skipped, since C:\\Nope does not exist"
    missing = run(h, "win_powershell", path="C:\\s.ps1", remote_src=True)
    assert missing["msg"] == "Could not find or access 'C:\\s.ps1' on Windows host"
    h.put_file("C:\\s.ps1", b"\xef\xbb\xbf# azure_backup.remediation/fix\r\n")
    assert run(h, "win_powershell", path="C:\\s.ps1", remote_src=True)["result"] == {"done": True}


# -- renderers --------------------------------------------------------------------------------------

WRITER_BLOCK = re.compile(
    r"^(?P<label>[^:\r\n]+): (?P<q>['\"])(?P<name>[^\r\n]*)(?P=q)\r?\n"
    r"   [^:\r\n]+: (?P<id>\{[0-9a-f-]{36}\})\r?\n"
    r"   [^:\r\n]+: (?P<inst>\{[0-9a-f-]{36}\})\r?\n"
    r"   [^:\r\n]+: \[(?P<state>\d+)\] (?P<text>[^\r\n]+)\r?\n"
    r"   [^:\r\n]+: (?P<error>[^\r\n]+)\r?\n\r?\n", re.M)


def parse_writers(text):
    return [m.groupdict() for m in WRITER_BLOCK.finditer(text)]


def test_vssadmin_english_matches_the_real_format():
    with open(os.path.join(REFERENCE, "vssadmin-writers-en-1.txt"), encoding="ascii") as handle:
        real = handle.read()
    real_writers = parse_writers(real)
    assert len(real_writers) == 5
    sim_writers = [{"name": w["name"], "id": w["id"], "instance_id": w["inst"], "state": int(w["state"]),
                    "last_error": {"No error": "none", "Retryable error": "retryable"}[w["error"]]} for w in real_writers]
    text = render.vssadmin_list_writers(sim_writers, "en")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    lines = text.split("\r\n")
    assert lines[:3] == ["vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
                         "(C) Copyright 2001-2013 Microsoft Corp.", ""]
    # Apart from the preamble and CRLF, the listing is the reference file byte for byte.
    assert "\r\n".join(lines[3:]).replace("\r\n", "\n") == real
    assert parse_writers(text) == real_writers


def test_vssadmin_german_and_state_texts():
    h = make("vss-writer-failed", locale="de")
    text = render.vssadmin_list_writers(h.visible_writers(), h.state["locale"])
    writers = parse_writers(text)
    assert len(writers) == 7 and all(w["label"] == "Verfassername" and w["q"] == '"' for w in writers)
    system = next(w for w in writers if w["name"] == "System Writer")
    assert (system["state"], system["text"], system["error"]) == ("7", "Fehlgeschlagen", "Wiederholbarer Fehler")
    assert "   Verfasserkennung: {e8132975-6f93-4464-a53e-1050253ae220}\r\n" in text
    assert "   Status: [1] Stabil\r\n   Letzter Fehler: Kein Fehler\r\n" in text
    assert [render.vss_state_text(n) for n in (0, 1, 3, 5, 6, 9, 14, 15, 16)] == [
        "Unknown", "Stable", "Frozen", "Waiting for completion", "Failed", "Failed", "Failed", "Failed", "Unknown"]
    banner = render.vssadmin_list_writers([], "en", waiting=True).split("\r\n")
    assert banner[3:5] == ["Waiting for responses. ", "These may be delayed if a shadow copy is being prepared."]


def test_icacls_of_the_default_machinekeys_acl():
    text = render.icacls(MACHINEKEYS, hostmod.MACHINEKEYS_DEFAULT_SDDL, "en")
    assert text.split("\r\n") == [
        MACHINEKEYS + " Everyone:(R,W)",
        " " * (len(MACHINEKEYS) + 1) + "BUILTIN\\Administrators:(F)",
        "",
        "Successfully processed 1 files; Failed processing 0 files",
        "",
    ]
    german = render.icacls(MACHINEKEYS, hostmod.MACHINEKEYS_DEFAULT_SDDL, "de").split("\r\n")
    assert german[0] == MACHINEKEYS + " Jeder:(R,W)"
    assert german[1].strip() == "VORDEFINIERT\\Administratoren:(F)"
    assert german[3] == "1 Dateien erfolgreich verarbeitet, bei 0 Dateien ist ein Verarbeitungsfehler aufgetreten."


@pytest.mark.parametrize("mask, text", [
    (0x1F01FF, "F"), (0x1301BF, "M"), (0x1200A9, "RX"), (0x120089, "R"), (0x12019F, "R,W"), (0x1201BF, "RX,W"),
    (0x1301FF, "M,DC"), (0x120116, "W,Rc"), (0x1F019F, "R,W,D,WDAC,WO"), (0x100026, "S,WD,AD,X"),
    (0x10000000, "F"), (0xA0000000, "GR,GE"), (0x10000, "DE"),
])
def test_icacls_rights_letters(mask, text):
    assert render.icacls_rights(mask) == text


def test_icacls_flags_deny_and_names():
    sddl = "O:BAG:SYD:PAI(A;OICIID;FA;;;SY)(D;OICI;0x10040;;;BU)(A;OICIIO;GXGR;;;CO)(A;;FA;;;S-1-5-21-1-2-3-1001)"
    lines = render.icacls("C:\\D", sddl, "en").split("\r\n")
    assert lines[:4] == ["C:\\D NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)", "     BUILTIN\\Users:(OI)(CI)(DENY)(DE,DC)",
                         "     CREATOR OWNER:(OI)(CI)(IO)(GR,GE)", "     S-1-5-21-1-2-3-1001:(F)"]
    parsed = render.parse_sddl(hostmod.MACHINEKEYS_DEFAULT_SDDL)
    assert parsed["owner"] == "S-1-5-18" and parsed["dacl_flags"] == "PAI"
    assert [(a["sid"], a["mask"]) for a in parsed["aces"]] == [("S-1-1-0", 0x12019F), ("S-1-5-32-544", 0x1F01FF)]


# -- faults ------------------------------------------------------------------------------------------


def _svc(state, name):
    return state["services"].get(name)


FAULT_CHECKS = {
    "powershell-4": lambda s: s["powershell_version"] == "4.0" and s["os_build"].startswith("6.3."),
    "agent-stopped": lambda s: all(_svc(s, n)["state"] == "stopped" and _svc(s, n)["start_mode"] == "auto"
                                   for n in ("WindowsAzureGuestAgent", "RdAgent"))
    and not any(p["service"] in ("WindowsAzureGuestAgent", "RdAgent") for p in s["processes"]),
    "agent-disabled": lambda s: all(_svc(s, n)["state"] == "stopped" and _svc(s, n)["start_mode"] == "disabled"
                                    for n in ("WindowsAzureGuestAgent", "RdAgent")),
    "agent-missing": lambda s: _svc(s, "RdAgent") is None and _svc(s, "WindowsAzureGuestAgent") is None
    and not any("WindowsAzure\\Packages_" in f or "GuestAgent_" in f for f in s["files"]) and len(s["products"]) == 1,
    "agent-absent": lambda s: _svc(s, "RdAgent") is None and s["products"] == []
    and not any(k.startswith(hostmod.UNINSTALL_KEY + "\\") for k in s["registry"]),
    "agent-outdated": lambda s: s["files"][hostmod.PACKAGES_DIR + "\\WaAppAgent.exe"]["version"] == "2.7.41491.949"
    and s["products"][0]["name"] == "Windows Azure VM Agent - 2.7.41491.949",
    "backup-running": lambda s: any(p["name"] == "IaaSBcdrExtension.exe" for p in s["processes"]),
    "dotnet-old": lambda s: s["dotnet_release"] < 378389
    and s["registry"][hostmod.NDP_KEY]["Release"]["data"] == s["dotnet_release"],
    "vss-writer-failed": lambda s: hostmod.find_writer(s, "System Writer")["state"] == 7
    and hostmod.find_writer(s, "System Writer")["last_error"] == "retryable",
    "vss-writer-stuck": lambda s: any(w.get("stuck") and w["state"] != 1 for w in s["vss_writers"]),
    "vss-writer-unknown-service": lambda s: (hostmod.find_writer(s, "NTDS") or {}).get("state") == 9
    and hostmod.find_writer(s, "NTDS")["service"] is None,
    "machinekeys-acl": lambda s: "(A;;0x120089;;;WD)" in s["acls"][MACHINEKEYS] and s["acls"][MACHINEKEYS].count("(A;") == 3,
    "bitlocker-auto-unlock": lambda s: len(s.get("bitlocker_auto_unlock_keys", [])) == 1
    and [v["mount"] for v in s["volumes"] if v["bitlocker_protection"] == "on"] == ["C:", "", "E:"],
    "ade-installed": lambda s: any("Microsoft.Azure.Security.AzureDiskEncryption" in d for d in s["dirs"]),
    "machinekeys-no-write-dac": lambda s: s["acls"][MACHINEKEYS] == "O:SYG:SYD:PAI(A;OICI;0x120089;;;WD)"
    and sum(1 for p in s["acls"] if p.lower().startswith(MACHINEKEYS.lower() + "\\")) == 2,
    "crp-cert": lambda s: any("Windows Azure CRP Certificate Generator" in c["issuer"]
                              for c in s["certificates"]["LocalMachine\\My"]),
    "mgmt-cert": lambda s: any(c["subject"] == "CN=Windows Azure Service Management for Extensions"
                               for c in s["certificates"]["LocalMachine\\My"]),
    "sql-no-copy-backup": lambda s: s["sql_server"] and "MSSQLSERVER" in s["services"] and "SQLWriter" in s["services"]
    and "MSSQLSERVER" in s["registry"][hostmod.SQL_INSTANCES_KEY]
    and "USEVSSCOPYBACKUP" not in s["registry"].get(hostmod.BCDRAGENT_KEY, {})
    and hostmod.find_writer(s, "SqlServerWriter")["service"] == "SQLWriter",
    "no-dhcp": lambda s: not next(n for n in s["nics"] if n["primary"])["dhcp"],
    "admin-dns": lambda s: next(n for n in s["nics"] if n["primary"])["dns_servers"] == ["10.0.0.10", "10.0.0.11"],
    "sql-32bit": lambda s: "SQLEXPRESS" in s["registry"].get(hostmod.SQL_INSTANCES_KEY_WOW64, {}) and hostmod.SQL_INSTANCES_KEY not in s["registry"],
    "high-cpu": lambda s: min(s["cpu_load_percent"]) >= 97,
    "low-memory": lambda s: s["memory"]["free_mb"] == s["memory"]["total_mb"] * 3 // 100,
    "iaasvmprovider-disabled": lambda s: _svc(s, "IaaSVmProvider")["start_mode"] == "disabled"
    and _svc(s, "IaaSVmProvider")["state"] == "stopped",
    "iaasvmprovider-missing": lambda s: _svc(s, "IaaSVmProvider") is None,
    "msdtc-stopped": lambda s: _svc(s, "MSDTC")["state"] == "stopped",
    "comsysapp-stopped": lambda s: _svc(s, "COMSysApp")["state"] == "stopped",
    "bitlocker-locked": lambda s: any(v["mount"] == "F:" and v["lock_status"] == "locked"
                                      and v["bitlocker_protection"] == "on" for v in s["volumes"]),
    "bitlocker-on": lambda s: next(v for v in s["volumes"] if v["mount"] == "C:")["bitlocker_protection"] == "on"
    and next(v for v in s["volumes"] if v["mount"] == "C:")["lock_status"] == "unlocked",
    "temp-disk-german": lambda s: next(v for v in s["volumes"] if v["mount"] == "D:")["label"] == "Temporärer Speicher",
    "too-many-disks": lambda s: sum(d["kind"] == "data" for d in s["disks"]) == 17,
    "disk-too-big": lambda s: any(d["size_gb"] == 4096 and d["kind"] == "data" for d in s["disks"]),
    "winhttp-proxy-wrong": lambda s: s["winhttp_proxy"]["proxy"] != "",
    "wireserver-blocked": lambda s: {80, 32526} <= set(s["blocked_ports"]),
    "dns-broken": lambda s: s["dns"] == {},
    "vss-wmi-writer-failed": lambda s: hostmod.find_writer(s, "WMI Writer")["state"] == 7
    and not hostmod.find_writer(s, "WMI Writer")["stuck"] and hostmod.depended_by(s, "Winmgmt") == ["iphlpsvc"],
    "vss-service-hangs": lambda s: hostmod.find_writer(s, "System Writer")["state"] == 7 and _svc(s, "CryptSvc").get("stop_hangs") is True,
    "vss-registry-writer-failed": lambda s: hostmod.find_writer(s, "Registry Writer")["state"] == 8,
    "vss-exchange-writer-failed": lambda s: (hostmod.find_writer(s, "Microsoft Exchange Writer") or {}).get("service") == "MSExchangeIS"
    and _svc(s, "MSExchangeIS")["state"] == "running" and hostmod.find_writer(s, "Microsoft Exchange Writer")["state"] == 7,
}


# The agent install faults (issue 10).


FAULT_CHECKS.update({
    "agent-guest-service-missing": lambda s: _svc(s, "WindowsAzureGuestAgent") is None and _svc(s, "RdAgent")["state"] == "running"
    and hostmod.GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe" in s["files"],
    "agent-leftovers": lambda s: _svc(s, "RdAgent") is None and len(s["products"]) == 1 and s.get("agent_hangs_with_leftovers")
    and faults.LEFTOVER_GUEST_AGENT_DIR + "\\WindowsAzureGuestAgent.exe" in s["files"],
    "msi-busy": lambda s: s.get("msi_busy_attempts") == 2,
    "msi-fails": lambda s: {e.get("rc") for e in s["msi_catalog"].values()} == {1603},
    "msi-reboot-required": lambda s: {e.get("rc") for e in s["msi_catalog"].values()} == {3010},
    "agent-same-version-registered": lambda s: [p["product_id"] for p in s["products"] if p["name"].startswith("Windows Azure VM Agent")]
    == [hostmod.NEW_AGENT_PRODUCT_ID] and not {"WindowsAzureGuestAgent", "RdAgent"} & set(s["services"]),
    "agent-service-hangs": lambda s: all(_svc(s, n).get("stop_hangs") for n in ("WindowsAzureGuestAgent", "RdAgent")),
    "agent-delete-pending": lambda s: all(_svc(s, n).get("handle_held") for n in ("WindowsAzureGuestAgent", "RdAgent")),
    "msi-unsigned": lambda s: all(e.get("signature") is None for e in s["msi_catalog"].values()),
})


FAULT_CHECKS.update({
    "winrm-user-not-admin": lambda s: "S-1-5-32-544" not in s.get("winrm_account", {}).get("groups", ["S-1-5-32-544"]),
    "winrm-user-uac-filtered": lambda s: "S-1-5-32-544" in s.get("winrm_account", {}).get("groups", []) and s["winrm_account"]["rid"] != 500,
    "run-lock-held": lambda s: any(p.lower().endswith("\\azure-backup\\lock\\run.lock") for p in s["files"]),
    "run-lock-stale": lambda s: any(p.lower().endswith("\\azure-backup\\lock\\run.lock") for p in s["files"]),
})

# The MARS faults: each installs the agent first. A MARS fault's check may assume it is installed.
FAULT_CHECKS.update({
    "mars-installed": lambda s: "obengine" in s["services"] and s["services"]["MSiSCSI"]["start_mode"] == "manual",
})

_C = "C:\\Program Files\\Microsoft Azure Recovery Services Agent"
FAULT_CHECKS.update({
    "mars-service-stopped": lambda s: s["services"].get("obengine", {}).get("state") == "stopped",
    "mars-version-old": lambda s: s["files"].get(_C + "\\Bin\\cbengine.exe", {}).get("version") == faults.MARS_OLD_VERSION,
    "mars-scratch-mismatch": lambda s: (s["registry"].get(hostmod.MARS_PROVIDER_KEY, {}).get("ScratchLocation", {}).get("data")
                                        == faults.MARS_ELSEWHERE and (_C + "\\Scratch\\OnlineBackup.KEK") in s["files"]),
    "mars-scratch-missing-kek": lambda s: "obengine" in s["services"] and (_C + "\\Scratch\\OnlineBackup.KEK") not in s["files"],
    "mars-scratch-low-space": lambda s: s["volumes"][0].get("free_bytes", 2**60) * 100 < s["volumes"][0]["size_gb"] * 2**30 * 5,
    "mars-temp-files": lambda s: (sum(e["count"] for e in s.get("bulk_files", []) if e["suffix"] == ".tmp") == 61000
                                  and "C:\\Windows\\Temp\\x.tmpl" in s["files"]),
    "mars-dotnet-old": lambda s: s["registry"][hostmod.NDP_KEY]["Release"]["data"] == 378675,
    "mars-clock-skew": lambda s: s.get("clock_offset_seconds") == 900,
    "mars-iscsi-stopped": lambda s: s["services"]["MSiSCSI"]["state"] == "stopped" and "obengine" in s["services"],
    "mars-iscsi-disabled": lambda s: s["services"]["MSiSCSI"]["start_mode"] == "disabled" and "obengine" in s["services"],
    "mars-job-running": lambda s: bool(s.get("mars_jobs")) and s["services"]["obengine"]["state"] == "running",
    "mars-dpm-server": lambda s: hostmod.DPM_SETUP_KEY in s["registry"] and "obengine" in s["services"],
})


FAULT_CHECKS.update({
    "vss-errors-logged": lambda s: {(e["provider"], e["id"]) for e in s["event_log"]} >= {("VSS", 8193), ("VSS", 12289), ("Application Error", 1000)}
    and any(e["data"][:1] == ["IaaSBcdrExtension.exe"] for e in s["event_log"]),
    "agent-logs-big": lambda s: sum(f["size"] for p, f in s["files"].items() if p.startswith("C:\\WindowsAzure\\Logs\\Big")) == 32 * 2**20,
})


# MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL, MARS_ANTIVIRUS: each needs the agent installed (a healthy VM has none).
def _mars_task(s):
    return (s.get("task_scheduler") or {}).get(hostmod.MARS_TASK) or {"triggers": [{}]}


def _registry_data(s, key, name):
    return ((s["registry"].get(key) or {}).get(name) or {}).get("data")


FAULT_CHECKS.update({
    "mars-endpoint-blocked": lambda s: s["dns"].get("login.microsoftonline.com") == ["20.190.128.1"]
    and s["dns"].get("www.msftncsi.com") == ["127.0.0.1"],
    "mars-system-proxy": lambda s: "obengine" in s["services"] and s["winhttp_proxy"] == {"proxy": "", "bypass": ""}
    and s["system_wininet"]["proxy"] == "oldproxy.corp.invalid:3128",
    "mars-schedule-disabled": lambda s: _mars_task(s)["triggers"][0].get("enabled") is False,
    "mars-schedule-parallel": lambda s: _mars_task(s).get("multiple_instances") == "Parallel",
    "mars-schedule-user": lambda s: _mars_task(s).get("user_id") == "backupuser"
    and "S-1-5-32-544" not in s["local_accounts"]["backupuser"]["groups"],
    "mars-schedule-domain-admin": lambda s: _mars_task(s).get("user_id") == "CONTOSO\\backupsvc"
    and s["domain_groups"][faults.DOMAIN_ADMINS_SID]["members"] == [faults.DOMAIN_BACKUP_SID],
    "mars-schedule-dc-unreachable": lambda s: _mars_task(s).get("user_id") == "CONTOSO\\backupsvc"
    and s["domain_groups"][faults.DOMAIN_ADMINS_SID]["members"] is None,
    "mars-psmodulepath": lambda s: "obengine" in s["services"]
    and "Recovery Services" not in _registry_data(s, hostmod.ENVIRONMENT_KEY, "PSModulePath"),
    "mars-execution-policy-restricted": lambda s: _registry_data(s, hostmod.EXECUTION_POLICY_KEY, "ExecutionPolicy") == "Restricted",
    "mars-execution-policy-gpo": lambda s: (s["registry"].get(faults.POWERSHELL_POLICY_KEY) or {}).get("EnableScripts")
    == {"type": "dword", "data": 0},
    "mars-defender-exclusions": lambda s: "obengine" in s["services"] and s["defender"]["exclusion_path"] == []
    and s["defender"]["exclusion_process"] == ["cbengine.exe"],
    "mars-defender-hidden": lambda s: "obengine" in s["services"] and s["defender"]["hide_exclusions"] is True,
    "mars-defender-off": lambda s: "obengine" in s["services"] and s["defender"]["running"] is False,
})


def test_every_fault_has_a_check():
    assert set(FAULT_CHECKS) == set(faults.FAULTS)


@pytest.mark.parametrize("name", sorted(FAULT_CHECKS))
def test_fault_applies_and_changes_what_it_says(name):
    healthy = make().state
    assert not FAULT_CHECKS[name](healthy)
    broken = make(name).state
    assert FAULT_CHECKS[name](broken), name
    json.dumps(broken)


def test_unknown_fault_is_an_error():
    with pytest.raises(KeyError, match="unknown fault 'nope'"):
        make("nope")


def test_faults_combine():
    h = make("agent-stopped", "vss-writer-failed", "dns-broken", locale="de")
    assert h.state["locale"] == "de" and h.state["dns"] == {}
    assert writer(h, "System Writer")["state"] == 7 and h.state["services"]["RdAgent"]["state"] == "stopped"


# -- through Ansible and the WinRM server ------------------------------------------------------------

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, ".collections")
PLAYBOOK = r"""
- hosts: all
  gather_facts: false
  tasks:
    - name: agent in check mode
      ansible.windows.win_service: {name: RdAgent, state: started}
      check_mode: true
      register: check
    - name: agent started
      ansible.windows.win_service: {name: RdAgent, state: started}
      register: started
    - name: writer's service restarted
      ansible.windows.win_service: {name: CryptSvc, state: restarted}
    - name: copy backup value
      ansible.windows.win_regedit: {path: 'HKLM:\SOFTWARE\Microsoft\BCDRAGENT', name: USEVSSCOPYBACKUP, data: 'TRUE'}
      diff: true
      register: reg
    - name: results are the real modules' results
      ansible.builtin.assert:
        that:
          - check is changed and check.state == 'running'
          - started is changed and started.exists and started.start_mode == 'auto'
          - reg is changed and reg.diff.after['HKLM:\\SOFTWARE\\Microsoft\\BCDRAGENT'].USEVSSCOPYBACKUP.value == 'TRUE'
"""


def test_real_ansible_drives_the_simulated_host_over_winrm(tmp_path):
    # Fails, never skips, without ansible.windows: make setup installs it.
    assert os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "ansible", "windows")), \
        "ansible.windows missing: run tests/winsim/install-ansible-windows"
    h = SimHost.create("win01", "en", ["agent-stopped", "vss-writer-failed"], state_dir=str(tmp_path / "state"))
    srv = wsman.serve(h, 0, "ansible", "Passw0rd!")
    try:
        (tmp_path / "site.yml").write_text(PLAYBOOK)
        (tmp_path / "inventory.yml").write_text(
            "all:\n  hosts:\n    win01:\n      ansible_host: 127.0.0.1\n      ansible_port: %d\n"
            "      ansible_connection: winrm\n      ansible_winrm_transport: basic\n      ansible_winrm_scheme: http\n"
            "      ansible_winrm_proxy: null\n      ansible_user: ansible\n      ansible_password: Passw0rd!\n" % srv.port)
        (tmp_path / "ansible.cfg").write_text("[defaults]\n")
        env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
                   ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1",
                   NO_PROXY="*")
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                               str(tmp_path / "inventory.yml"), str(tmp_path / "site.yml")],
                              env=env, capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path)
    finally:
        srv.stop()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    saved = json.loads((tmp_path / "state" / "win01.json").read_text())
    assert saved["services"]["RdAgent"]["state"] == "running"
    assert hostmod.find_writer(saved, "System Writer")["state"] == 1
    assert saved["registry"][BCDR]["USEVSSCOPYBACKUP"] == {"type": "string", "data": "TRUE"}


def test_shadowstorage_renders_like_the_reference_capture():
    guid = "\\\\?\\Volume{278ce142-19d8-11e1-9176-806e6f6e6963}\\"
    association = {"for": "C:", "on": "C:", "for_id": guid, "on_id": guid, "volume_bytes": 40 * 2**30, "used_bytes": 3017089024,
                   "allocated_bytes": 3520851968, "max_bytes": 4 * 2**30}
    with open(os.path.join(REFERENCE, "vssadmin-shadowstorage-en-2-4gb.txt"), encoding="utf-8") as handle:
        reference = handle.read().splitlines()[4:]  # after the command echo, the tool's banner and a blank line
    # The capture lost the message file's three-space indent (MSG_INFO_SNAPSHOT_STORAGE_CONTENTS); without it, and
    # without a console's line wrap, the lines are the same.
    text = render.vssadmin_list_shadowstorage([association], "en", width=None)
    assert [line.strip() for line in text.split("\r\n")[3:9]] == reference[:6]
    # In an 80-column console the storage volume's indented line (84 characters) breaks inside its GUID, as a capture
    # from the same blog shows ("...806e6f6e69" / "63}\\").
    wrapped = render.vssadmin_list_shadowstorage([dict(association, max_bytes="UNBOUNDED")], "en").split("\r\n")
    assert wrapped[5:9] == ["   Shadow Copy Storage volume: (C:)\\\\?\\Volume{278ce142-19d8-11e1-9176-806e6f6e69", "63}\\",
                            "   Used Shadow Copy Storage space: 2.81 GB (7%)", "   Allocated Shadow Copy Storage space: 3.279 GB (8%)"]
    assert wrapped[9] == "   Maximum Shadow Copy Storage space: UNBOUNDED (100%)"
    assert render.vssadmin_list_shadowstorage([], "en").split("\r\n")[3] == "No items found that satisfy the query."


def test_win_service_fails_on_a_service_that_hangs_stopping_and_on_winmgmt_with_dependants():
    h = make("vss-service-hangs")
    answer = h.run_module("ansible.windows.win_service", {"name": "CryptSvc", "state": "restarted"})
    assert answer["failed"] and "stays in StopPending" in answer["msg"]
    assert h.state["services"]["CryptSvc"]["state"] == "stop_pending"
    # Restart-Service without -Force refuses a service with a running dependant (PowerShell Service.cs, DoStopService).
    answer = h.run_module("ansible.windows.win_service", {"name": "Winmgmt", "state": "restarted"})
    assert answer["failed"] and "because it has dependent services" in answer["msg"]
    assert h.state["services"]["iphlpsvc"]["state"] == "running"


# The detached runner's and the DHCP switch's faults (issue 10, second round).


FAULT_CHECKS.update({
    "nic-secondary-address": lambda s: [a["ip"] for a in s["nics"][0].get("secondary_ipv4", [])] == ["10.0.0.5"],
    "dhcp-other-address": lambda s: s["nics"][0].get("platform_ipv4") not in (None, s["nics"][0]["ipv4"]),
    "allsigned-policy": lambda s: (s.get("execution_policy") or {}).get("MachinePolicy") == "AllSigned",
    "foreign-workdir": lambda s: (s.get("acls") or {}).get("C:\\ProgramData\\azure-backup", "").startswith("O:" + faults.LOCAL_USER),
})
# Faults of the second round on issue 10 (disks, BitLocker, VSS, MachineKeys).


FAULT_CHECKS.update({
    "vssadmin-stderr": lambda s: bool(s.get("native_stderr", {}).get("vssadmin.exe")),
    "takeown-denied": lambda s: s.get("takeown_denied") is True,
    "agent-stop-hangs": lambda s: _svc(s, "WindowsAzureGuestAgent").get("stop_hangs") is True,
    "backup-starts-during-restart": lambda s: s.get("backup_starts_after_stops") == 1,
    "vss-restart-connection-lost": lambda s: s.get("restart_connection_lost") is True,
    "bek-volume": lambda s: [v["label"] for v in s["volumes"] if v.get("disk") == 0] == ["Windows", "Bek Volume"],
    "bitlocker-auto-unlock-detached": lambda s: len(s.get("bitlocker_auto_unlock_keys", [])) == 2
    and s["bitlocker_auto_unlock_keys"][1] not in [v.get("device_id") for v in s["volumes"]],
    "bitlocker-wmi-error": lambda s: [v["mount"] for v in s["volumes"] if v.get("wmi_error")] == ["E:"],
    "generation-1": lambda s: s.get("generation") == 1,
})


# Shadow copy storage (issue 12): every Windows VM, no MARS agent needed.


def _c_storage(s):
    return next(a for a in s["shadow_storage"] if a["for"] == "C:")


FAULT_CHECKS.update({
    "shadow-storage-small": lambda s: _c_storage(s)["max_bytes"] == 2**30 and _c_storage(s)["used_bytes"] == 700 * 2**20,
    "shadow-storage-full": lambda s: _c_storage(s)["max_bytes"] - _c_storage(s)["used_bytes"] == 256 * 2**20,
    "shadow-storage-unbounded": lambda s: _c_storage(s)["max_bytes"] == "UNBOUNDED" and _c_storage(s)["used_bytes"] > 15 * 2**30,
    "shadow-storage-cim-broken": lambda s: s.get("shadow_storage_cim_error") == "Provider load failure",
    "shadow-storage-sized": lambda s: _c_storage(s)["max_bytes"] == 2 * 2**30 and not [e for e in s.get("event_log", []) if e["provider"].lower() == "volsnap"],
    "shadow-storage-slow": lambda s: s.get("shadow_storage_lag_seconds") == 4,
    "mars-backup-running": lambda s: s.get("mars_jobs") and "obengine" in s["services"],
})
