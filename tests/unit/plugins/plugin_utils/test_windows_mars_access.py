"""The pure decisions of MARS_CONNECTIVITY, MARS_SCHEDULE, MARS_POWERSHELL and MARS_ANTIVIRUS."""
from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_antivirus as av
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_connectivity as conn
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_powershell as mps
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_schedule as sched

INSTALL = "C:\\Program Files\\Microsoft Azure Recovery Services Agent"


# -- MARS_CONNECTIVITY ------------------------------------------------------------------------------------

def test_an_endpoint_without_a_port_is_on_443_and_each_is_probed_once():
    assert conn.endpoints(["www.msftncsi.com", "login.microsoftonline.com:8443", "WWW.msftncsi.com:443", "10.0.0.4"]) == [
        "www.msftncsi.com:443", "login.microsoftonline.com:8443", "10.0.0.4:443"]


@pytest.mark.parametrize("bad,why", [("*.windows.net", "wildcard"), ("*blob.core.windows.net", "wildcard"), ("host:0", "host:port"),
                                     ("host:70000", "host:port"), ("https://login.microsoftonline.com", "host:port"), ("", "host:port")])
def test_a_wildcard_or_a_url_is_refused_with_why(bad, why):
    with pytest.raises(ValueError, match=why):
        conn.endpoint(bad)


def test_the_proxy_is_compared_as_win_http_proxy_compares_it():
    assert not conn.proxy_differs({"proxy": "PROXY.corp:3128", "bypass": "<local>;*.corp"}, "proxy.corp:3128", ["<local>", "*.corp"])
    assert conn.proxy_differs({"proxy": "proxy.corp:3128", "bypass": ""}, "proxy.corp:3128", ["<local>"])
    assert conn.proxy_differs({"proxy": "", "bypass": ""}, "proxy.corp:3128", [])
    assert not conn.proxy_differs({}, "", [])


def test_system_s_lan_settings_in_words_and_against_winhttp():
    direct = {"proxy": "", "bypass": ""}
    named = {"flags": 3, "proxy": "proxy.corp:3128", "bypass": "<local>", "autoconfig_url": ""}
    assert conn.wininet_words(None) == "direct access" and conn.wininet_words(named) == "proxy proxy.corp:3128, bypass <local>"
    assert conn.wininet_words({"flags": 13, "proxy": "", "autoconfig_url": "http://wpad/p.pac"}) == "script http://wpad/p.pac; automatic detection"
    # No value for SYSTEM, or automatic detection alone (a new profile's default): nothing to compare.
    assert not conn.system_differs(direct, None) and not conn.system_differs(direct, {"flags": 9})
    assert not conn.wininet_uses_proxy({"flags": 9})
    assert conn.system_differs(direct, named) and not conn.system_differs({"proxy": "PROXY.corp:3128", "bypass": "<local>"}, named)
    assert conn.system_differs({"proxy": "proxy.corp:3128", "bypass": "<local>"}, {"flags": 5, "autoconfig_url": "http://wpad/p.pac"})
    # Typed in, not turned on.
    assert conn.stale_details({"flags": 1, "proxy": "old:8080"}) == "old:8080" and conn.stale_details(named) == ""
    assert not conn.system_differs(direct, {"flags": 1, "proxy": "old:8080"})


# -- MARS_SCHEDULE ----------------------------------------------------------------------------------------

def task(**kw):
    return dict({"name": "Microsoft-OnlineBackup", "enabled": True, "triggers": [{"kind": "MSFT_TaskWeeklyTrigger", "enabled": True}],
                 "multiple_instances": "IgnoreNew", "user_id": "SYSTEM", "sid": "S-1-5-18"}, **kw)


def test_disabled_names_the_task_and_each_disabled_trigger():
    assert sched.disabled(task()) == []
    off = task(enabled=False, triggers=[{"kind": "MSFT_TaskWeeklyTrigger", "enabled": True}, {"kind": "MSFT_TaskDailyTrigger", "enabled": False}])
    assert sched.disabled(off) == ["the task", "trigger 2 (daily)"]


def test_multiple_instances_by_name_or_number():
    seen = [sched.instances(v) for v in ("IgnoreNew", "2", 0, "3", None, "")]
    assert seen == ["IgnoreNew", "IgnoreNew", "Parallel", "StopExisting", "unknown", "unknown"]


def test_the_principal_is_judged_by_sid():
    admins = ["S-1-5-21-1-2-3-500"]
    assert sched.principal(task(), admins) == "system"
    assert sched.principal(task(user_id=None, group_id="Administratoren", sid="S-1-5-32-544"), None) == "administrator"
    assert sched.principal(task(user_id="azureadmin", sid="S-1-5-21-1-2-3-500"), admins) == "administrator"
    assert sched.principal(task(user_id="backupuser", sid="S-1-5-21-1-2-3-1001"), admins) == "other"
    assert sched.principal(task(user_id="backupuser", sid="S-1-5-21-1-2-3-1001"), None) == "unknown"
    assert sched.principal(task(user_id="gone", sid=None), admins) == "unknown"
    # Part of the membership unread (a domain group, no domain controller): unknown unless found in the rest.
    unread = [{"path": "WinNT://CONTOSO/Domain Admins", "sid": "S-1-5-21-9-9-9-512"}]
    assert sched.principal(task(user_id="backupuser", sid="S-1-5-21-1-2-3-1001"), admins, unread) == "unknown"
    assert sched.principal(task(user_id="azureadmin", sid="S-1-5-21-1-2-3-500"), admins, unread) == "administrator"
    assert sched.stored_password(task(logon_type="Password")) and not sched.stored_password(task(logon_type="ServiceAccount"))
    assert sched.account(task(user_id="backupuser", sid="S-1-5-21-1-2-3-1001")) == "backupuser (S-1-5-21-1-2-3-1001)"


# -- MARS_POWERSHELL --------------------------------------------------------------------------------------

def test_the_module_folder_is_found_as_win_path_compares_paths():
    folder = mps.module_folder(INSTALL + "\\")
    assert folder == INSTALL + "\\Bin\\Modules"
    assert mps.on_path(["C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules", folder.lower() + "\\"], folder)
    # The article's literal path, the module's own folder, does not let PowerShell find the module.
    assert not mps.on_path([folder + "\\MSOnlineBackup"], folder)


def test_the_value_win_path_writes_keeps_the_other_elements_unexpanded():
    raw = '%ProgramFiles%\\WindowsPowerShell\\Modules;"C:\\a;b";'
    assert mps.with_folder(raw, "C:\\X\\Bin\\Modules") == '%ProgramFiles%\\WindowsPowerShell\\Modules;"C:\\a;b";C:\\X\\Bin\\Modules'
    assert mps.with_folder(None, "C:\\X") == "C:\\X"
    assert mps.with_folder("C:\\x\\", "C:\\X") == "C:\\x\\"


@pytest.mark.parametrize("machine,local,product,verdict", [
    ("Undefined", "Restricted", 3, "fix"),
    ("Undefined", "Undefined", 1, "fix"),
    ("Undefined", "Undefined", 3, "ok"),
    ("Undefined", "Undefined", 2, "ok"),
    ("Undefined", "AllSigned", 1, "ok"),
    ("Restricted", "RemoteSigned", 3, "gpo"),
    ("RemoteSigned", "Restricted", 3, "ok"),
    (None, None, None, "ok"),
])
def test_the_execution_policy_verdict(machine, local, product, verdict):
    assert mps.policy(machine, local, product)[0] == verdict


# -- MARS_ANTIVIRUS ---------------------------------------------------------------------------------------

CSC = ["C:\\Windows\\Microsoft.NET\\Framework\\v4.0.30319\\csc.exe", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe"]


def test_the_needed_paths_follow_the_scratch_location_and_list_each_csc_exe():
    assert av.needed_paths(INSTALL + "\\", None) == [INSTALL + "\\Scratch", INSTALL + "\\Bin"]
    assert av.needed_paths(INSTALL, "E:\\Cache\\", CSC) == ["E:\\Cache", INSTALL + "\\Bin"] + CSC


def test_what_is_missing_from_defender_is_paths_only():
    defender = {"exclusion_path": [INSTALL.upper() + "\\", CSC[0].upper()], "exclusion_process": ["csc.exe", "cbengine.exe"]}
    # The install folder covers both folders (and cbengine.exe); one csc.exe does not cover the other; a process
    # exclusion by name covers no file.
    assert av.missing(INSTALL, None, defender, CSC) == [CSC[1]]
    assert av.missing(INSTALL, "D:\\Scratch", {"exclusion_path": ["D:\\Scratchy", "C:\\Windows\\Microsoft.NET"]}, CSC) == [
        "D:\\Scratch", INSTALL + "\\Bin"]
    assert av.broad_processes(defender) == ["csc.exe", "cbengine.exe"]
    assert av.broad_processes({"exclusion_process": [INSTALL + "\\Bin\\cbengine.exe"]}) == []


def test_exclusions_hidden_from_local_admins_are_recognised():
    assert av.hidden({"exclusion_path": ["N/A: Must be an administrator to view exclusions"]})
    assert not av.hidden({"exclusion_path": ["C:\\N/A"], "exclusion_process": []})


def test_defender_runs_only_with_its_service_running_and_its_antivirus_on():
    running = {"exists": True, "state": "Running"}
    assert av.running({"service": running, "antivirus_enabled": True})
    assert not av.running({"service": running, "antivirus_enabled": False})
    assert not av.running({"service": {"exists": True, "state": "Stopped"}, "antivirus_enabled": True})
    assert not av.running({"service": {"exists": False}})
