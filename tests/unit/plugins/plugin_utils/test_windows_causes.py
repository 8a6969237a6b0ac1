"""run_windows_causes against a simulated host, in process: every module run the cause plugins make goes
through ActionBase._execute_module, answered by the simulator (tests/winsim) as the WinRM path would.

Read once per host (a healthy host in check mode costs one PowerShell execution, and the findings are the ones
each cause finds alone), one HOST finding for a PowerShell or an account the checks cannot use, each cause
isolated, and the VM's run lock around a host's changes."""

from __future__ import annotations

import copy
import os
import sys
from unittest.mock import MagicMock, patch

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.plugins.action import ActionBase
from ansible.template import Templar

WINSIM = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "winsim"))
if WINSIM not in sys.path:
    sys.path.insert(0, WINSIM)

import dispatch  # noqa: E402
import host as hostmod  # noqa: E402
import scripts as twins  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import causes as wincauses  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import lock as vmlock  # noqa: E402

# The causes as fix-backup.yml runs them, with the arguments their roles' defaults give (network: the
# simulator's storage and wireserver unreachable ports are not probed: no storage host, a short timeout).
CAUSES = [("win_agent", {}), ("snapshot_status", {}), ("backup_extension", {}),
          ("network", {"wireserver": "127.0.0.1", "wireserver_port": 9, "hostplugin_port": 9, "dns_names": [], "timeout": 0.2}),
          ("vss_writers", {}), ("shadow_storage", {}), ("machinekeys", {}), ("bitlocker", {}), ("com_msdtc", {}), ("disk_limits", {})]
IDS = ["WIN_AGENT", "SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK", "VSS_WRITERS", "MARS_SHADOW_STORAGE", "MACHINEKEYS", "BITLOCKER",
       "COM_MSDTC", "DISK_LIMITS"]


class Sim:
    """A simulated host behind ActionBase._execute_module, with a log of what was run on it."""

    def __init__(self, faults=(), name="win01"):
        self.host = hostmod.SimHost.create(name, "en", list(faults))
        self.host.winrm_user = "azureadmin"
        self.sent: list[tuple[str, str | None]] = []  # (module, script tag)

    def execute(self, plugin, module_name=None, module_args=None, *args, **kwargs):  # pylint: disable=unused-argument
        module_args = dict(module_args or {})
        self.sent.append((module_name, dispatch.script_tag(module_name, module_args)))
        if not dispatch.host_runs_ansible(self.host):
            return {"failed": True, "msg": "Ansible requires PowerShell v5.1"}
        return self.host.run_module(module_name, dict(module_args, _ansible_check_mode=plugin._task.check_mode, _ansible_diff=True))

    def raw(self, plugin, cmd, *args, **kwargs):  # pylint: disable=unused-argument
        self.sent.append(("raw", "host.powershell_version"))
        return {"rc": 0, "stdout": self.host.run_raw("host.powershell_version"), "stderr": ""}

    def executions(self):
        return len(self.sent)

    def tags(self):
        return [tag or module for module, tag in self.sent]


def remediate_action(check_mode):
    """What the remediate action is to run_windows_causes: a task, a connection, loaders."""
    task = MagicMock(Task)
    task.args = {}
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = True
    task.get_search_path.return_value = []
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value, *a, **kw: value
    action = MagicMock()
    action._task, action._connection, action._play_context = task, MagicMock(), MagicMock()
    action._loader, action._templar, action._shared_loader_obj = DataLoader(), templar, None
    return action


def run(sim, check_mode=True, causes=None, lock_wait=2):
    def execute(plugin, *args, **kwargs):
        return sim.execute(plugin, *args, **kwargs)

    def raw(plugin, *args, **kwargs):
        return sim.raw(plugin, *args, **kwargs)

    with patch.object(ActionBase, "_execute_module", execute), patch.object(ActionBase, "_low_level_execute_command", raw):
        return wincauses.run_windows_causes(remediate_action(check_mode), {"inventory_hostname": sim.host.name},
                                            copy.deepcopy(causes or CAUSES), lock_wait=lock_wait)


def alone(sim, role, args, check_mode=True):
    """One cause through its own win_* task, as the roles run it today: its findings."""
    def execute(plugin, *a, **kw):
        return sim.execute(plugin, *a, **kw)

    action = remediate_action(check_mode)
    action._task.args = dict(args)
    plugin = wincauses.new_cause(action, wincauses.action_class(role))
    with patch.object(ActionBase, "_execute_module", execute), patch.object(ActionBase, "run", lambda *a, **k: {}):
        return plugin.run(task_vars={"inventory_hostname": sim.host.name})


def seen(findings):
    return [(f["id"], f["check"], f["status"], f["summary"]) for f in findings]


def test_a_healthy_host_in_check_mode_costs_one_execution_and_reads_what_each_cause_reads_alone():
    sim = Sim()
    result = run(sim)
    assert sim.tags() == ["host.read"]
    assert not result["failed"] and not result["changed"], result["msg"]
    assert set(result["causes"]) == set(IDS) and not any(c["failed"] for c in result["causes"].values())
    each = Sim()
    assert seen(result["findings"]) == [f for role, args in CAUSES for f in seen(alone(each, role, args)["findings"])]
    assert each.executions() == 10  # what the host read replaces


def test_a_broken_host_in_check_mode_is_read_once_and_finds_what_each_cause_finds_alone():
    broken = ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert", "sql-no-copy-backup", "msdtc-stopped", "bitlocker-on",
              "shadow-storage-small"]
    sim = Sim(broken)
    before = copy.deepcopy(sim.host.state)
    result = run(sim)
    assert sim.tags() == ["host.read"]
    assert result["changed"] and not result["failed"]
    each = Sim(broken)
    assert seen(result["findings"]) == [f for role, args in CAUSES for f in seen(alone(each, role, args)["findings"])]
    assert {f["status"] for f in result["findings"]} >= {"found", "ok"}
    assert sim.host.state == before


def test_the_host_read_runs_each_cause_s_own_read_script_with_its_parameters():
    sim = Sim()
    run(sim)
    [(module, tag)] = sim.sent
    assert (module, tag) == ("ansible.windows.win_powershell", "host.read")


def test_a_failing_read_is_an_error_for_its_cause_only(monkeypatch):
    def refuse(host, p, script=None):  # pylint: disable=unused-argument
        raise twins.ScriptError("Access to the path 'C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys' is denied.")
    monkeypatch.setitem(twins.SCRIPTS, "machinekeys.read", refuse)
    sim = Sim()
    result = run(sim)
    assert sim.tags() == ["host.read"]
    assert result["failed"] and result["causes"]["MACHINEKEYS"]["failed"]
    assert "MACHINEKEYS: reading the MachineKeys folder's ACL on win01 failed: Access to the path" in result["causes"]["MACHINEKEYS"]["msg"]
    assert [c for c, r in result["causes"].items() if r["failed"]] == ["MACHINEKEYS"]
    assert {f["id"] for f in result["findings"]} >= {"COM_MSDTC", "DISK_LIMITS", "BITLOCKER"}


def test_a_cause_with_bad_arguments_fails_alone_and_the_others_run():
    sim = Sim()
    causes = [("vss_writers", {"service_timeout": "soon"})] + CAUSES[-2:]
    result = run(sim, causes=causes)
    assert result["causes"]["VSS_WRITERS"]["failed"] and "service_timeout" in result["causes"]["VSS_WRITERS"]["msg"]
    assert not result["causes"]["COM_MSDTC"]["failed"] and not result["causes"]["DISK_LIMITS"]["failed"]
    assert sim.tags() == ["host.read"]


@pytest.mark.parametrize("fault", ["winrm-user-not-admin", "winrm-user-uac-filtered"])
def test_a_winrm_user_without_an_administrator_token_is_one_host_finding_and_the_causes_are_skipped(fault):
    sim = Sim([fault])
    result = run(sim, check_mode=False)
    [entry] = result["findings"]
    assert (entry["id"], entry["check"], entry["status"]) == ("HOST", "privileges", "failed")
    assert entry["summary"].startswith("WIN01\\azureadmin is not a member of the local Administrators group (or UAC filtered its token")
    assert "use such an account" in entry["summary"]
    assert result["failed"] and result["unsupported_host"] and not result["changed"]
    assert all(c["skipped"] and not c["failed"] for c in result["causes"].values()) and len(result["causes"]) == len(CAUSES)
    assert sim.tags() == ["host.read"]  # checked inside the host read: no execution of its own, no cause read


def test_the_built_in_administrator_and_an_allowed_local_admin_pass_the_host_check():
    sim = Sim(["winrm-user-uac-filtered"])
    hostmod.reg_set(sim.host.state, twins._UAC_POLICY_KEY, "LocalAccountTokenFilterPolicy", "dword", 1)  # pylint: disable=protected-access
    assert not run(sim, causes=CAUSES[-1:])["failed"]
    built_in = Sim()
    hostmod.reg_set(built_in.host.state, twins._UAC_POLICY_KEY, "FilterAdministratorToken", "dword", 1)  # pylint: disable=protected-access
    assert run(built_in, causes=CAUSES[-1:])["findings"][0]["check"] == "privileges"


def test_powershell_below_5_1_is_one_host_finding_and_the_causes_are_skipped():
    sim = Sim(["powershell-4"])
    result = run(sim)
    [entry] = result["findings"]
    assert (entry["id"], entry["check"]) == ("HOST", "powershell") and entry["summary"].startswith("PowerShell 4.0 on win01")
    assert result["unsupported_host"] and all(c["skipped"] for c in result["causes"].values())
    assert sim.tags() == ["host.read", "host.powershell_version"]


def test_apply_takes_the_run_lock_before_the_first_change_and_removes_it_after_the_last():
    sim = Sim(["agent-stopped", "msdtc-stopped", "vss-writer-failed"])
    result = run(sim, check_mode=False)
    assert not result["failed"], result["msg"]
    tags = sim.tags()
    assert tags[0] == "host.read" and tags[1] == "host.lock" and tags[-1] == "host.unlock"
    assert tags.count("host.lock") == 1 and tags.count("host.unlock") == 1
    assert "ansible.windows.win_service" in tags[2:-1]
    # Reads after a change are fresh: the VSS writers are listed again after their restart.
    assert tags.count("vss_writers.read") == 1
    assert not sim.host.is_file(vmlock.PATH)
    assert {f["status"] for f in result["findings"] if f["id"] in ("WIN_AGENT", "COM_MSDTC") and f["check"].startswith("service_")} == {"fixed", "ok"}


def test_a_healthy_host_in_apply_mode_takes_no_lock():
    sim = Sim()
    result = run(sim, check_mode=False)
    assert not result["changed"] and sim.tags() == ["host.read"]


def test_another_run_holding_the_lock_makes_the_changes_fail_with_its_holder_and_nothing_changes():
    sim = Sim(["agent-stopped", "msdtc-stopped", "run-lock-held"])
    services = copy.deepcopy(sim.host.state["services"])
    result = run(sim, check_mode=False, lock_wait=1)
    assert result["failed"]
    failed = [f for f in result["findings"] if f["status"] == "failed"]
    assert {f["id"] for f in failed} == {"WIN_AGENT", "COM_MSDTC"}
    for entry in failed:
        assert "another run holds the lock since " in entry["summary"] or "another run holds the lock since " in result["msg"]
    assert "(pid 4242 on awx-node-1, user awx, WinRM user WIN01\\azureadmin)" in result["msg"]
    assert sim.tags().count("host.lock") == 1  # the second cause does not wait again
    assert sim.host.state["services"] == services
    assert sim.host.is_file(vmlock.PATH) and b"another-run" in sim.host.read_file(vmlock.PATH)
    assert "host.unlock" not in sim.tags()


def test_a_stale_lock_is_taken_over_said_in_a_finding_and_removed():
    sim = Sim(["msdtc-stopped", "run-lock-stale"])
    result = run(sim, check_mode=False)
    assert not result["failed"], result["msg"]
    [entry] = [f for f in result["findings"] if f["id"] == "HOST"]
    assert (entry["check"], entry["status"]) == ("lock", "ok")
    assert entry["summary"].startswith("took over a stale run lock held since ") and "pid 4242 on awx-node-1" in entry["summary"]
    assert not sim.host.is_file(vmlock.PATH)


def test_the_lock_of_another_run_is_never_removed():
    sim = Sim()
    holder = {"token": "mine"}
    where = {"Root": vmlock.ROOT, "Directory": vmlock.DIRECTORY, "Path": vmlock.PATH}
    lock = twins.host_lock(sim.host, dict(where, Holder=holder, WaitSeconds=0, StaleSeconds=60))
    assert lock[0]["acquired"]
    assert twins.host_lock(sim.host, dict(where, Holder={"token": "other"}, WaitSeconds=0, StaleSeconds=60))[0]["acquired"] is False
    assert twins.host_unlock(sim.host, {"Path": vmlock.PATH, "Token": "other"})[0]["released"] is False
    assert twins.host_unlock(sim.host, {"Path": vmlock.PATH, "Token": "mine"})[0]["released"] is True
    assert not sim.host.is_file(vmlock.PATH)


def test_a_lock_got_after_waiting_makes_the_cause_read_again_before_it_changes_anything():
    sim = Sim(["msdtc-stopped", "run-lock-held"])

    def other_run_finishes(seconds):  # while this run waits, the other one fixes MSDTC and lets go of the lock
        hostmod.set_service_running(sim.host.state, "MSDTC")
        hostmod.remove_file_state(sim.host.state, vmlock.PATH)

    sim.host.pause = other_run_finishes
    result = run(sim, check_mode=False, causes=[("com_msdtc", {}), ("disk_limits", {})], lock_wait=30)
    assert not result["failed"], result["msg"]
    assert sim.tags() == ["host.read", "host.lock", "com_msdtc.read", "disk_limits.read", "host.unlock"]
    assert {f["status"] for f in result["findings"] if f["id"] == "COM_MSDTC"} == {"ok"}
    assert not result["causes"]["COM_MSDTC"]["changed"]


def test_a_lock_folder_someone_else_made_is_refused_as_a_host_finding_and_nothing_is_written():
    sim = Sim(["foreign-workdir", "msdtc-stopped"])  # C:\ProgramData\azure-backup made and owned by a local user
    services = copy.deepcopy(sim.host.state["services"])
    result = run(sim, check_mode=False, causes=[("com_msdtc", {})])
    assert result["failed"]
    [entry] = [f for f in result["findings"] if f["id"] == "HOST"]
    assert (entry["check"], entry["status"]) == ("lock", "failed")
    assert "refusing to use C:\\ProgramData\\azure-backup\\lock for what runs as SYSTEM: C:\\ProgramData\\azure-backup is owned by " \
        "S-1-5-21-3623811015-3361044348-30300820-1013" in entry["summary"]
    assert not sim.host.exists(vmlock.DIRECTORY) and not sim.host.is_file(vmlock.PATH)
    assert sim.host.state["services"] == services
    assert "host.unlock" not in sim.tags()


def test_the_lock_folder_is_made_for_system_and_administrators_only():
    sim = Sim(["msdtc-stopped"])
    assert not run(sim, check_mode=False, causes=[("com_msdtc", {})])["failed"]
    assert sim.host.state["acls"][vmlock.DIRECTORY] == twins.PROTECTED_FOLDER_SDDL
    assert vmlock.PATH.startswith(vmlock.DIRECTORY + "\\")


@pytest.mark.parametrize("plant", ["link", "foreign_owner"])
def test_an_existing_lock_that_is_a_link_or_owned_by_another_user_is_refused_and_left_as_it_is(plant):
    sim = Sim(["msdtc-stopped", "run-lock-stale"])
    if plant == "link":
        sim.host.state["reparse_points"] = [vmlock.PATH]
    else:
        sim.host.state["acls"][vmlock.PATH] = "O:S-1-5-21-3623811015-3361044348-30300820-1013D:(A;;FA;;;WD)"
    before = sim.host.read_file(vmlock.PATH)
    result = run(sim, check_mode=False, causes=[("com_msdtc", {})])
    [entry] = [f for f in result["findings"] if f["id"] == "HOST"]
    assert (entry["check"], entry["status"]) == ("lock", "failed") and "refusing to use the run lock " in entry["summary"]
    assert ("it is a link" if plant == "link" else "it is owned by S-1-5-21-") in entry["summary"]
    assert sim.host.read_file(vmlock.PATH) == before


def test_a_stale_lock_is_deleted_and_created_anew_never_rewritten_in_place(monkeypatch):
    sim = Sim()
    twins.host_lock(sim.host, {"Root": vmlock.ROOT, "Directory": vmlock.DIRECTORY, "Path": vmlock.PATH, "Holder": {"token": "old"},
                               "WaitSeconds": 0, "StaleSeconds": 60})
    writes = []
    put = hostmod.put_file_state

    def watch(state, path, entry):
        writes.append((path, state["files"].get(path) is not None))  # (where, over an existing file)
        return put(state, path, entry)

    monkeypatch.setattr(hostmod, "put_file_state", watch)
    result, _changed = twins.host_lock(sim.host, {"Root": vmlock.ROOT, "Directory": vmlock.DIRECTORY, "Path": vmlock.PATH,
                                                  "Holder": {"token": "new"}, "WaitSeconds": 0, "StaleSeconds": 0})
    assert result["acquired"] and result["took_over"]["holder"]["token"] == "old"
    assert writes == [(vmlock.PATH, False)]
    assert b'"token":"new"' in sim.host.read_file(vmlock.PATH)


def test_the_lock_script_asserts_its_folder_as_the_detached_runner_does_and_never_rewrites_a_lock():
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
    assert detached.WORK_FOLDER in vmlock.ACQUIRE and "Assert-WorkFolder -Root $Root -Directory $Directory" in vmlock.ACQUIRE
    assert "New-Item" not in vmlock.ACQUIRE and "SetLength" not in vmlock.ACQUIRE
    assert "[System.IO.FileShare]::Delete)" in vmlock.ACQUIRE and "[System.IO.File]::Delete($Path)" in vmlock.ACQUIRE


def failing(sim, when, error, times=1):
    """sim.execute raising ``error`` instead of the first ``times`` runs that ``when(module, tag, args)`` picks: what a lost
    connection or a task timeout does to a module run."""
    execute, left = sim.execute, [times]

    def run_or_fail(plugin, module_name=None, module_args=None, *args, **kwargs):
        if left[0] and when(module_name, dispatch.script_tag(module_name, dict(module_args or {})), dict(module_args or {})):
            left[0] -= 1
            sim.sent.append((module_name, "raised"))
            raise error
        return execute(plugin, module_name, module_args, *args, **kwargs)

    sim.execute = run_or_fail


def test_the_lock_is_released_when_the_task_times_out_or_is_interrupted():
    from ansible._internal._errors._task_timeout import TaskTimeoutError  # a BaseException, as KeyboardInterrupt
    sim = Sim(["agent-stopped", "msdtc-stopped"])
    failing(sim, lambda module, tag, args: module == "ansible.windows.win_service", TaskTimeoutError(60))
    with pytest.raises(TaskTimeoutError):
        run(sim, check_mode=False)
    assert "host.lock" in sim.tags() and sim.tags()[-1] == "host.unlock"
    assert not sim.host.is_file(vmlock.PATH)


def test_a_connection_lost_while_releasing_is_reset_and_retried_once():
    from ansible.errors import AnsibleConnectionFailure
    sim = Sim(["msdtc-stopped"])
    failing(sim, lambda module, tag, args: tag == "host.unlock", AnsibleConnectionFailure("winrm send_input failed"))
    result = run(sim, check_mode=False, causes=[("com_msdtc", {})])
    assert not result["failed"], result["msg"]
    assert sim.tags()[-2:] == ["raised", "host.unlock"] and not sim.host.is_file(vmlock.PATH)


def test_a_release_that_cannot_reach_the_host_is_a_host_lock_finding_and_the_host_s_findings_are_kept():
    from ansible.errors import AnsibleConnectionFailure
    sim = Sim(["msdtc-stopped"])
    failing(sim, lambda module, tag, args: tag == "host.unlock", AnsibleConnectionFailure("winrm connection error"), times=2)
    result = run(sim, check_mode=False, causes=[("com_msdtc", {})])
    assert result["failed"]
    [entry] = [f for f in result["findings"] if f["id"] == "HOST"]
    assert (entry["check"], entry["status"]) == ("lock", "failed")
    assert entry["summary"].startswith("could not remove the run lock C:\\ProgramData\\azure-backup\\lock\\run.lock on win01: the connection failed "
                                       "(winrm connection error)")
    assert {f["status"] for f in result["findings"] if f["id"] == "COM_MSDTC"} == {"fixed", "ok"}


def test_a_connection_failure_in_a_cause_ends_the_host_as_unreachable_with_its_findings_so_far_and_releases_the_lock():
    from ansible.errors import AnsibleConnectionFailure
    sim = Sim(["agent-stopped", "msdtc-stopped"])
    failing(sim, lambda module, tag, args: str(args.get("name")).upper() == "MSDTC", AnsibleConnectionFailure("winrm connection error"))
    result = run(sim, check_mode=False)
    assert result["unreachable"] and result["failed"]
    assert "COM_MSDTC on win01: the connection failed: winrm connection error" in result["msg"]
    assert list(result["causes"]) == IDS[:IDS.index("COM_MSDTC") + 1]
    assert any(f["id"] == "WIN_AGENT" and f["status"] == "fixed" for f in result["findings"])
    assert sim.tags()[-1] == "host.unlock" and not sim.host.is_file(vmlock.PATH)
    assert sim.tags()[-2:] == ["raised", "host.unlock"]  # DISK_LIMITS is not run


def test_an_unexpected_error_in_a_cause_is_its_failed_result_and_the_next_cause_runs():
    sim = Sim(["agent-stopped", "msdtc-stopped"])
    failing(sim, lambda module, tag, args: str(args.get("name")).upper() == "MSDTC", ValueError("a bug"))
    result = run(sim, check_mode=False)
    assert result["causes"]["COM_MSDTC"]["failed"] and "COM_MSDTC on win01: ValueError: a bug" in result["causes"]["COM_MSDTC"]["msg"]
    assert not result["causes"]["DISK_LIMITS"]["failed"] and "unreachable" not in result
    assert sim.tags()[-1] == "host.unlock"


def test_the_lock_script_takes_a_lock_that_holds_this_run_s_own_token():
    sim = Sim()
    where = {"Root": vmlock.ROOT, "Directory": vmlock.DIRECTORY, "Path": vmlock.PATH, "WaitSeconds": 0, "StaleSeconds": 3600}
    assert twins.host_lock(sim.host, dict(where, Holder={"token": "mine"}))[0]["acquired"]
    again = twins.host_lock(sim.host, dict(where, Holder={"token": "mine"}))[0]
    assert again["acquired"] and again["mine"] and not again["took_over"]
    assert "$seen.holder.token -eq $Holder['token']" in vmlock.ACQUIRE


def test_a_lock_whose_answer_was_lost_is_taken_again_as_this_run_s_own_and_released():
    from ansible.errors import AnsibleConnectionFailure
    sim = Sim(["msdtc-stopped"])
    execute = sim.execute
    lost = [True]

    def lose_first_lock_answer(plugin, module_name=None, module_args=None, *args, **kwargs):
        answer = execute(plugin, module_name, module_args, *args, **kwargs)
        if lost[0] and dispatch.script_tag(module_name, dict(module_args or {})) == "host.lock":
            lost[0] = False
            raise AnsibleConnectionFailure("winrm receive failed")  # the lock was taken; its answer never came back
        return answer

    sim.execute = lose_first_lock_answer
    result = run(sim, check_mode=False, causes=[("com_msdtc", {})], lock_wait=0)
    assert not result["failed"], result["msg"]
    assert sim.tags() == ["host.read", "host.lock", "host.lock", "ansible.windows.win_service", "host.unlock"]
    assert {f["status"] for f in result["findings"] if f["id"] == "COM_MSDTC"} == {"fixed", "ok"}
    assert not sim.host.is_file(vmlock.PATH)


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59.0000000Z", "2126-01-01T00:00:00Z", "not a time", "0001-01-01T00:00:00Z"])
def test_a_lock_whose_time_is_far_ahead_or_unreadable_is_aged_by_its_write_time(since):
    import datetime
    import json
    sim = Sim(["run-lock-stale"])
    holder = dict(json.loads(sim.host.read_file(vmlock.PATH)), since=since)
    written = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    hostmod.put_file_state(sim.host.state, vmlock.PATH, dict(hostmod.file_entry(json.dumps(holder).encode()), mtime=written))
    seen = twins._lock_holder(sim.host, vmlock.PATH)  # pylint: disable=protected-access
    assert isinstance(seen["age_seconds"], float)
    if since.startswith("0001"):  # in the past: taken as it says, however old
        assert seen["age_seconds"] > 6e10
    else:
        assert 5 * 3600 - 60 < seen["age_seconds"] < 5 * 3600 + 60
    where = {"Root": vmlock.ROOT, "Directory": vmlock.DIRECTORY, "Path": vmlock.PATH, "WaitSeconds": 0, "StaleSeconds": 3 * 3600}
    assert twins.host_lock(sim.host, dict(where, Holder={"token": "new"}))[0]["took_over"]["holder"]["token"] == "another-run"


def test_the_lock_script_ages_as_a_double_and_waits_only_for_another_run_at_the_file():
    assert "age_seconds = [double]" in vmlock.ACQUIRE and "[int]([DateTime]::UtcNow - $since)" not in vmlock.ACQUIRE
    assert "TotalSeconds -gt 300) { $since = [System.IO.File]::GetLastWriteTimeUtc($Path) }" in vmlock.ACQUIRE
    # Only ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION, ERROR_FILE_EXISTS, ERROR_ALREADY_EXISTS, a file gone, and
    # access denied a few times (a delete pending) loop; the rest is thrown with its own message.
    assert "@(32, 33, 80, 183) -contains ($exception.HResult -band 0xFFFF)" in vmlock.ACQUIRE
    assert vmlock.ACQUIRE.count("if (-not (Test-Busy -Record $_)) { throw }") == 2
    assert "catch [System.IO.IOException], [System.UnauthorizedAccessException]" not in vmlock.ACQUIRE


def test_a_host_read_that_fails_as_a_whole_is_a_host_read_warning_with_its_reason_and_each_cause_reads_for_itself(monkeypatch):
    def broken(host, p):  # pylint: disable=unused-argument
        raise twins.ScriptError('Exception calling "GetCurrent": the token cannot be read')
    monkeypatch.setitem(twins.SCRIPTS, "host.read", broken)
    sim = Sim()
    result = run(sim, causes=CAUSES[-2:])
    [entry] = [f for f in result["findings"] if f["id"] == "HOST"]
    assert (entry["check"], entry["status"], entry["severity"]) == ("read", "found", "warning")
    assert entry["summary"].startswith('the host read on win01 failed: Exception calling "GetCurrent": the token cannot be read. ')
    assert "administrator was not checked" in entry["summary"]
    assert sim.tags() == ["host.read", "com_msdtc.read", "disk_limits.read"]
    assert not result["failed"]
