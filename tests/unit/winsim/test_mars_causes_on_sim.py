"""The MARS causes MARS_SERVICE, MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES, MARS_PREREQS and MARS_RESTORE_MOUNT: each
action plugin run against a simulated host (its scripts through the simulator's win_powershell, its changes through the
fake ansible.windows modules), in check mode and in apply mode, and the state looked at afterwards."""

from __future__ import annotations

import copy
import datetime
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_mars_prereqs, win_mars_restore_mount, win_mars_scratch, win_mars_service, win_mars_temp_files, win_mars_version)
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import causes as wincauses
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes

import faults
import host as hostmod
import scripts

MARS = (win_mars_service, win_mars_version, win_mars_scratch, win_mars_temp_files, win_mars_prereqs, win_mars_restore_mount)
SCRATCH = hostmod.MARS_DIR + "\\Scratch"


def run(h, module, check=False, **args):
    """The plugin's result, and the module names it sent."""
    plugin, sent = plugin_on(h, module, check, **args)
    return plugin.run(task_vars={"inventory_hostname": h.name}), sent


def plugin_on(h, module, check=False, **args):
    """The cause's plugin on the simulated host, and the list of module names it sends."""
    task = MagicMock(Task)
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check
    task.diff = True
    task.get_search_path.return_value = []
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value, *a, **kw: value
    plugin = module.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=templar, shared_loader_obj=None)
    sent = []

    def execute(module_name, module_args, task_vars=None):  # pylint: disable=unused-argument
        sent.append(module_name.rsplit(".", 1)[-1])
        return h.run_module(module_name, dict(module_args, _ansible_check_mode=check))

    plugin._execute_module = execute  # pylint: disable=protected-access
    plugin._connection = MagicMock()  # pylint: disable=protected-access
    return plugin, sent


def engine_pid(h):
    return next(p["pid"] for p in h.state["processes"] if p["service"] == "obengine")


def checks(result):
    return {f["check"]: f for f in result["findings"]}


def statuses(result):
    return {f["check"]: f["status"] for f in result["findings"]}


@pytest.mark.parametrize("module", MARS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_without_the_agent_each_cause_is_skipped_with_no_change(module):
    h = hostmod.SimHost.create("win01", "en", [])
    result, sent = run(h, module)
    assert statuses(result) == {"installed": "skipped"} and not result["changed"] and sent == ["win_powershell"]


@pytest.mark.parametrize("module", MARS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_a_healthy_agent_is_ok_everywhere_in_one_read(module):
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    before = copy.deepcopy(h.state)
    for check in (True, False):
        result, sent = run(h, module, check=check)
        assert set(statuses(result).values()) == {"ok"}, result["findings"]
        assert not result["changed"] and sent == ["win_powershell"]
    assert h.state == before


def test_a_stopped_engine_is_started_and_a_restart_is_done_only_on_request():
    h = hostmod.SimHost.create("win01", "en", ["mars-service-stopped"])
    result, sent = run(h, win_mars_service, check=True)
    assert checks(result)["service"]["summary"] == "obengine: Stopped, Auto; would start obengine" and sent == ["win_powershell"]
    assert h.state["services"]["obengine"]["state"] == "stopped"
    result, sent = run(h, win_mars_service)
    assert statuses(result) == {"service": "fixed"} and sent == ["win_powershell", "win_service"]
    assert h.state["services"]["obengine"]["state"] == "running"
    assert not run(h, win_mars_service)[0]["changed"]
    pid = engine_pid(h)
    result, sent = run(h, win_mars_service, check=True, restart_service=True)
    assert "would restart obengine unless a MARS job runs" in checks(result)["service"]["summary"] and sent == ["win_powershell"]
    result, sent = run(h, win_mars_service, restart_service=True)
    assert checks(result)["service"]["summary"] == "restarted obengine (no MARS job was running)" and result["changed"]
    # One bounded restart script, never win_service state=restarted (which waits without end on StopPending).
    assert sent == ["win_powershell", "win_powershell"] and engine_pid(h) != pid
    assert checks(result)["service"]["detail"]["job"] == {"running": False, "count": 0, "error": None}


def test_a_restart_is_not_done_while_a_mars_job_runs_or_when_that_cannot_be_told():
    h = hostmod.SimHost.create("win01", "en", ["mars-job-running"])
    pid = engine_pid(h)
    result, sent = run(h, win_mars_service, restart_service=True)
    found = checks(result)["service"]
    assert found["status"] == "found" and "the engine is running a job (1 by Get-OBJob); run again later" in found["summary"]
    assert not result["changed"] and "diff" not in result and engine_pid(h) == pid and sent == ["win_powershell", "win_powershell"]
    h.state["mars_jobs"] = []
    h.state["mars_module_error"] = "Could not load file or assembly 'Microsoft.Internal.CloudBackup.Client'"
    result = run(h, win_mars_service, restart_service=True)[0]
    found = checks(result)["service"]
    assert found["status"] == "found" and "whether a MARS job runs is unknown" in found["summary"]
    assert "Could not load file or assembly" in found["summary"] and engine_pid(h) == pid and not result["changed"]


def test_a_restart_is_bounded_and_an_engine_stuck_stopping_is_said():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    h.state["services"]["obengine"]["stop_hangs"] = True
    result = run(h, win_mars_service, restart_service=True)[0]
    failed = checks(result)["service"]
    assert failed["status"] == "failed" and "obengine did not stop within 120 s and is StopPending" in failed["summary"]
    assert h.state["services"]["obengine"]["state"] == "stop_pending"


def test_a_dpm_server_s_engine_is_started_but_not_restarted():
    h = hostmod.SimHost.create("win01", "en", ["mars-dpm-server"])
    result, sent = run(h, win_mars_service, restart_service=True)
    found = checks(result)["service"]
    assert found["status"] == "found" and "this is a DPM or MABS server" in found["summary"] and sent == ["win_powershell"]
    hostmod.set_service_stopped(h.state, "obengine")
    result, sent = run(h, win_mars_service, restart_service=True)
    assert statuses(result) == {"service": "fixed"} and sent == ["win_powershell", "win_service"]


def test_get_mars_agent_says_whether_this_is_a_dpm_server():
    for fault, dpm in (("mars-installed", False), ("mars-dpm-server", True)):
        h = hostmod.SimHost.create("win01", "en", [fault])
        answer = h.run_module("ansible.windows.win_powershell", {"script": win_mars_service.READ, "parameters": {"Service": "obengine"},
                                                                 "_ansible_check_mode": True})
        assert answer["result"]["agent"]["dpm"] is dpm
    assert "Microsoft Data Protection Manager\\Setup" in win_mars_service.READ


def test_an_old_agent_is_reported_with_where_to_get_the_current_one():
    h = hostmod.SimHost.create("win01", "en", ["mars-version-old"])
    result, sent = run(h, win_mars_version)
    found = checks(result)["version"]
    assert found["status"] == "found" and not result["changed"] and sent == ["win_powershell"]
    assert found["summary"] == "MARS agent 2.0.9145.0 is older than 2.0.9249.0: install the current agent from https://aka.ms/azurebackup_agent"
    assert statuses(run(h, win_mars_version, min_version="2.0.9100")[0]) == {"version": "ok"}


def test_a_wrong_minimum_version_fails_before_any_round_trip():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    result, sent = run(h, win_mars_version, min_version="latest")
    assert result["failed"] and "mars_agent_min_version 'latest'" in result["msg"] and "win01" in result["msg"] and sent == []


def test_a_scratch_mismatch_is_set_towards_the_folder_with_the_key_and_the_engine_restarted():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch"])
    result, sent = run(h, win_mars_scratch, check=True)
    location = checks(result)["scratch_location"]
    assert location["status"] == "found" and "would set %s\\ScratchLocation to %s" % (causes.PROVIDER_KEY, SCRATCH) in location["summary"]
    assert result["diff"] == [{"before_header": "ScratchLocation", "after_header": "ScratchLocation",
                               "before": "%s\\ScratchLocation = D:\\MARS\\Scratch\n" % causes.PROVIDER_KEY,
                               "after": "%s\\ScratchLocation = %s\n" % (causes.PROVIDER_KEY, SCRATCH)}]
    assert sent == ["win_powershell"] and h.reg_values(hostmod.MARS_PROVIDER_KEY)["ScratchLocation"]["data"] == faults.MARS_ELSEWHERE
    pid = engine_pid(h)
    result, sent = run(h, win_mars_scratch)
    location = checks(result)["scratch_location"]
    assert location["status"] == "fixed" and result["changed"]
    assert location["summary"] == ("stopped obengine, set ScratchLocation to %s (%s\\ScratchLocation was D:\\MARS\\Scratch) and started it "
                                   "again so it uses it (no MARS job was running)" % (SCRATCH, causes.PROVIDER_KEY))
    assert location["detail"]["old"] == {causes.PROVIDER_KEY: faults.MARS_ELSEWHERE}
    # One change script: job check, stop, both values, start (the FAQ's order); then the values read back.
    assert sent == ["win_powershell", "win_powershell", "win_powershell"]
    assert location["detail"]["written"] == [causes.CONFIG_KEY, causes.PROVIDER_KEY]
    assert location["detail"]["stop"]["status"] == "stopped" and location["detail"]["start"]["status"] == "running"
    assert h.reg_values(hostmod.MARS_PROVIDER_KEY)["ScratchLocation"]["data"] == SCRATCH
    assert h.state["services"]["obengine"]["state"] == "running"
    assert engine_pid(h) != pid  # a new engine process
    assert {s for c, s in statuses(result).items() if c != "scratch_location"} == {"ok"}
    result, sent = run(h, win_mars_scratch)
    assert set(statuses(result).values()) == {"ok"} and not result["changed"] and sent == ["win_powershell"]


def test_a_scratch_mismatch_is_left_alone_while_a_mars_job_runs():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch", "mars-job-running"])
    pid = engine_pid(h)
    result, sent = run(h, win_mars_scratch)
    location = checks(result)["scratch_location"]
    assert location["status"] == "found" and "the engine is running a job" in location["summary"] and "run again later" in location["summary"]
    assert not result["changed"] and "diff" not in result and sent == ["win_powershell", "win_powershell"]
    assert h.reg_values(hostmod.MARS_PROVIDER_KEY)["ScratchLocation"]["data"] == faults.MARS_ELSEWHERE and engine_pid(h) == pid


def test_a_scratch_mismatch_on_a_dpm_server_is_reported_not_changed():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch", "mars-dpm-server"])
    before = copy.deepcopy(h.state)
    result, sent = run(h, win_mars_scratch)
    location = checks(result)["scratch_location"]
    assert location["status"] == "found" and "this is a DPM or MABS server" in location["summary"]
    assert location["detail"]["config"] == SCRATCH and location["detail"]["provider"] == faults.MARS_ELSEWHERE
    assert sent == ["win_powershell"] and h.state == before


def test_a_value_that_cannot_be_set_is_named_with_what_was_already_written_and_the_engine_runs_again():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch"])
    h.state["registry_denied"] = [causes.PROVIDER_KEY]
    result = run(h, win_mars_scratch)[0]
    failed = checks(result)["scratch_location"]
    assert failed["status"] == "failed" and result["failed"]
    assert "failed at %s: Requested registry access is not allowed." % causes.PROVIDER_KEY in failed["summary"]
    assert "already written: %s\\ScratchLocation" % causes.CONFIG_KEY in failed["summary"]
    assert "%s\\ScratchLocation was D:\\MARS\\Scratch" % causes.PROVIDER_KEY in failed["summary"]
    assert h.state["services"]["obengine"]["state"] == "running"


def test_a_mismatch_where_no_folder_holds_the_key_is_only_reported():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch", "mars-scratch-missing-kek"])
    result, sent = run(h, win_mars_scratch)
    location = checks(result)["scratch_location"]
    assert location["status"] == "found" and "neither names a folder that exists and holds OnlineBackup.KEK" in location["summary"]
    assert sent == ["win_powershell"] and not result["changed"]


def test_a_mismatch_is_fixed_but_a_stopped_engine_is_not_started_for_it():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-mismatch", "mars-service-stopped"])
    result, sent = run(h, win_mars_scratch)
    assert checks(result)["scratch_location"]["summary"].endswith("obengine is not running and reads it when it starts")
    assert checks(result)["scratch_location"]["detail"]["job"] is None  # no engine, no job to ask about
    assert sent == ["win_powershell", "win_powershell", "win_powershell"] and h.state["services"]["obengine"]["state"] == "stopped"


def test_the_config_value_is_set_when_it_is_the_one_that_differs_and_keeps_the_provider_s_kind():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    hostmod.reg_set(h.state, hostmod.MARS_PROVIDER_KEY, "ScratchLocation", "expandstring", "%ProgramFiles%\\Microsoft Azure Recovery Services Agent\\Scratch")
    hostmod.reg_set(h.state, hostmod.MARS_CONFIG_KEY, "ScratchLocation", "string", "E:\\Gone")
    result, _sent = run(h, win_mars_scratch)
    assert checks(result)["scratch_location"]["status"] == "fixed"
    assert h.reg_values(hostmod.MARS_CONFIG_KEY)["ScratchLocation"] == {
        "type": "expandstring", "data": "%ProgramFiles%\\Microsoft Azure Recovery Services Agent\\Scratch"}
    assert checks(result)["kek"]["status"] == "ok"


def test_a_missing_key_file_and_low_space_are_reported_not_changed():
    h = hostmod.SimHost.create("win01", "en", ["mars-scratch-missing-kek", "mars-scratch-low-space"])
    before = copy.deepcopy(h.state)
    result, sent = run(h, win_mars_scratch)
    assert statuses(result) == {"scratch_location": "ok", "folder": "ok", "attributes": "ok", "volume": "ok", "free_space": "found",
                                "kek": "found"}
    assert checks(result)["free_space"]["summary"].startswith("3.0 % of volume C:\\ is free (3.8 GB of 127.0 GB), below 5.0 %")
    assert checks(result)["free_space"]["detail"]["free_percent"] == 3.0
    assert sent == ["win_powershell"] and h.state == before
    assert statuses(run(h, win_mars_scratch, min_free_percent=2.5)[0])["free_space"] == "ok"


def test_unsupported_attributes_a_network_volume_and_an_unlistable_folder_are_named():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    h.state["folder_attributes"] = {SCRATCH: ["Compressed", "SparseFile"]}
    h.state["volumes"][0].update(file_system="FAT32", drive_type=4)
    h.state["dedup_feature"], h.state["volumes"][0]["dedup"] = True, True
    result = run(h, win_mars_scratch)[0]
    assert checks(result)["attributes"]["summary"].startswith("the scratch folder %s is Compressed, SparseFile" % SCRATCH)
    assert checks(result)["volume"]["summary"] == (
        "the scratch folder %s: it is on a network drive, not a local disk; its volume C:\\ is de-duplicated; its volume's file system is "
        "FAT32, not NTFS or ReFS (FAQ: Where should the cache folder be located?)" % SCRATCH)
    h.state["denied_dirs"] = [SCRATCH]
    result = run(h, win_mars_scratch)[0]
    assert statuses(result) == {"scratch_location": "ok", "folder": "found"}
    assert "cannot be listed (Access to the path" in checks(result)["folder"]["summary"]


def test_temp_files_over_the_limit_are_deleted_in_one_run_and_other_names_stay():
    h = hostmod.SimHost.create("win01", "en", ["mars-temp-files"])
    result, sent = run(h, win_mars_temp_files, check=True)
    found = checks(result)["temp_files"]
    assert found["status"] == "found" and found["detail"]["count"] == 61000 and found["detail"]["bytes"] == 61000 * 2048
    assert "would delete the 61000 .tmp files" in found["summary"] and sent == ["win_powershell"]
    result, sent = run(h, win_mars_temp_files)
    fixed = checks(result)["temp_files"]
    assert sent == ["win_powershell", "win_powershell"] and result["changed"]
    assert fixed["status"] == "fixed"
    assert fixed["summary"] == "removed 60975 .tmp file(s) from C:\\Windows\\Temp (119.1 MB freed); 25 kept (in use or access denied)"
    assert (fixed["detail"]["removed"], fixed["detail"]["kept"], fixed["detail"]["bytes_freed"]) == (60975, 25, 60975 * 2048)
    for name in ("x.tmpl", "y.log", "z.tmp.bak"):
        assert h.is_file("C:\\Windows\\Temp\\" + name)
    assert [(e["suffix"], e["count"]) for e in h.state["bulk_files"]] == [(".tmp", 25), (".tmpl", 300)]
    result, sent = run(h, win_mars_temp_files)
    assert statuses(result) == {"temp_files": "ok"} and not result["changed"] and sent == ["win_powershell"]


def test_temp_files_kept_above_the_limit_stay_a_finding():
    h = hostmod.SimHost.create("win01", "en", ["mars-temp-files"])
    result = run(h, win_mars_temp_files, limit=10)[0]
    assert checks(result)["temp_files"]["status"] == "found" and checks(result)["temp_files"]["summary"].endswith("still more than 10")
    assert result["changed"]


def test_the_exact_suffix_test_is_what_keeps_x_tmpl():
    # The simulator's EnumerateFiles matches like .NET Framework does; without the script's own test of the name,
    # the 301 .tmpl files would be counted (and deleted) too.
    h = hostmod.SimHost.create("win01", "en", ["mars-temp-files"])
    assert len(scripts._enumerate_files(h, "C:\\Windows\\Temp", "*.tmp")) == 61000 + 301  # pylint: disable=protected-access
    without = win_mars_temp_files.READ.replace(scripts._EXACT_SUFFIX, ".Length")  # pylint: disable=protected-access
    answer = h.run_module("ansible.windows.win_powershell", {"script": without, "parameters": {"Extension": ".tmp"},
                                                             "_ansible_check_mode": True})
    assert answer["result"]["count"] == 61301
    answer = h.run_module("ansible.windows.win_powershell", {"script": win_mars_temp_files.READ, "parameters": {"Extension": ".tmp"},
                                                             "_ansible_check_mode": True})
    assert answer["result"]["count"] == 61000


def test_old_dotnet_and_a_skewed_clock_are_reported_and_the_time_zone_said():
    h = hostmod.SimHost.create("win01", "en", ["mars-dotnet-old", "mars-clock-skew"])
    h.state["time_zone"] = {"id": "W. Europe Standard Time", "display_name": "(UTC+01:00) Amsterdam, Berlin", "utc_offset_minutes": 60}
    before = copy.deepcopy(h.state)
    result, sent = run(h, win_mars_prereqs)
    assert statuses(result) == {"dotnet": "found", "clock": "found", "time_zone": "ok"} and sent == ["win_powershell"]
    assert checks(result)["dotnet"]["summary"].startswith(".NET Framework Release 378675 is below 379893 (4.5.2)")
    assert checks(result)["clock"]["summary"].startswith("the VM's clock is at least 89")
    assert checks(result)["time_zone"]["summary"].startswith("time zone W. Europe Standard Time ((UTC+01:00) Amsterdam, Berlin, UTC+01:00")
    assert checks(result)["time_zone"]["severity"] == "info" and not result["changed"] and h.state == before


def test_a_clock_behind_is_found_and_a_small_offset_is_not():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    h.state["clock_offset_seconds"] = -400
    assert "behind" in checks(run(h, win_mars_prereqs)[0])["clock"]["summary"]
    h.state["clock_offset_seconds"] = 250
    assert statuses(run(h, win_mars_prereqs)[0])["clock"] == "ok"


def test_a_stopped_manual_iscsi_initiator_is_healthy_and_left_alone():
    # Windows installs MSiSCSI Manual and stopped; a restore's mount starts it. Starting it every run would be a change
    # on every healthy server.
    h = hostmod.SimHost.create("win01", "en", ["mars-iscsi-stopped"])
    before = copy.deepcopy(h.state)
    result, sent = run(h, win_mars_restore_mount)
    assert statuses(result) == {"iscsi_initiator": "ok"} and sent == ["win_powershell"] and not result["changed"]
    assert checks(result)["iscsi_initiator"]["summary"] == "MSiSCSI: Stopped, Manual; it starts when a restore mounts its recovery volume"
    assert h.state == before
    result, sent = run(h, win_mars_restore_mount, enable_iscsi=True)
    assert statuses(result) == {"iscsi_initiator": "fixed"} and sent == ["win_powershell", "win_service"]
    assert h.state["services"]["MSiSCSI"]["state"] == "running" and h.state["services"]["MSiSCSI"]["start_mode"] == "manual"


def test_a_disabled_iscsi_initiator_is_reported_and_changed_only_on_request():
    h = hostmod.SimHost.create("win01", "en", ["mars-iscsi-disabled"])
    before = copy.deepcopy(h.state)
    result, sent = run(h, win_mars_restore_mount)
    found = checks(result)["iscsi_initiator"]
    assert found["status"] == "found" and "a restore cannot mount its recovery volume while the service is disabled" in found["summary"]
    assert sent == ["win_powershell"] and h.state == before and not result["changed"]
    result, sent = run(h, win_mars_restore_mount, check=True, enable_iscsi=True)
    assert "would start MSiSCSI and set it to start manually" in checks(result)["iscsi_initiator"]["summary"]
    result, sent = run(h, win_mars_restore_mount, enable_iscsi=True)
    assert statuses(result) == {"iscsi_initiator": "fixed"} and sent == ["win_powershell", "win_service"]
    assert h.state["services"]["MSiSCSI"]["state"] == "running" and h.state["services"]["MSiSCSI"]["start_mode"] == "manual"


def test_a_missing_iscsi_initiator_gets_the_driver_steps():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    hostmod.remove_service(h.state, "MSiSCSI")
    for enable in (False, True):
        result = run(h, win_mars_restore_mount, enable_iscsi=enable)[0]
        assert checks(result)["iscsi_initiator"]["status"] == "found" and "ROOT\\ISCSIPRT" in checks(result)["iscsi_initiator"]["summary"]


def test_temp_files_younger_than_the_minimum_age_stay_and_files_gone_meanwhile_are_not_kept():
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    h.state["bulk_files"] = [
        {"folder": "C:\\Windows\\Temp", "prefix": "old", "suffix": ".tmp", "first": 0, "count": 70, "size": 100, "in_use": 0,
         "mtime": hostmod.ago(48)},
        {"folder": "C:\\Windows\\Temp", "prefix": "new", "suffix": ".tmp", "first": 0, "count": 30, "size": 100, "in_use": 0,
         "mtime": hostmod.ago(2)}]
    for n in range(3):
        hostmod.put_file_state(h.state, "C:\\Windows\\Temp\\gone%d.tmp" % n, dict(hostmod.log_file(b"x", 72), vanishes=True))
    result, sent = run(h, win_mars_temp_files, check=True, limit=50)
    found = checks(result)["temp_files"]
    assert (found["detail"]["count"], found["detail"]["old"]) == (103, 73) and "73 of them last written more than 24 h ago" in found["summary"]
    assert "would delete the 73 .tmp files last written more than 24 h ago" in found["summary"]
    result, sent = run(h, win_mars_temp_files, limit=50)
    fixed = checks(result)["temp_files"]
    assert (fixed["detail"]["removed"], fixed["detail"]["kept"], fixed["detail"]["young"], fixed["detail"]["gone"]) == (70, 30, 30, 3)
    assert fixed["summary"] == ("removed 70 .tmp file(s) from C:\\Windows\\Temp (0.0 MB freed); 30 kept (30 written in the last 24 h); "
                                "3 already gone (removed by someone else meanwhile)")
    assert [(e["prefix"], e["count"]) for e in h.state["bulk_files"]] == [("new", 30)]
    # Only young files over the limit: reported, nothing sent to delete.
    result, sent = run(h, win_mars_temp_files, limit=10)
    assert checks(result)["temp_files"]["status"] == "found" and "none is deleted yet" in checks(result)["temp_files"]["summary"]
    assert sent == ["win_powershell"] and not result["changed"]
    result = run(h, win_mars_temp_files, limit=10, min_age_hours=1)[0]
    assert checks(result)["temp_files"]["detail"]["removed"] == 30


def test_a_file_gone_before_its_delete_is_looked_for_in_the_script():
    # File.Delete does not throw for a missing file, and FileInfo.Length throws FileNotFoundException (an IOException):
    # the script must look for the file, and catch FileNotFoundException before IOException.
    code = win_mars_temp_files.DELETE
    assert "if (-not $info.Exists)" in code
    assert code.index("catch [System.IO.FileNotFoundException]") < code.index("catch [System.IO.IOException]")


def test_a_clock_ahead_is_found_when_the_host_read_answered_long_before_this_cause_s_turn(monkeypatch):
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    plugin, sent = plugin_on(h, win_mars_prereqs)
    plugin.start({"max_clock_skew": 300}, {"inventory_hostname": h.name})
    script, _purpose, parameters = plugin.first_read()
    # The VM's clock 350 s ahead; the host read answered 2 s after it was sent; this cause's turn came 10 minutes later.
    sent_at = plugin.sent
    answer = {"changed": False, "result": {"agent": {"installed": True}, "dotnet_release": 528040,
                                           "vm_utc": win_mars_prereqs.iso(sent_at + datetime.timedelta(seconds=351)),
                                           "time_zone": {"id": "UTC", "display_name": "UTC", "utc_offset_minutes": 0}}}
    prefetched = {"tag": "mars_prereqs.read", "parameters": parameters, "answer": answer, "received": sent_at + datetime.timedelta(seconds=2)}
    monkeypatch.setattr(win_mars_prereqs, "utc_now", lambda: sent_at + datetime.timedelta(seconds=600))
    result = plugin.run_cause({}, {"max_clock_skew": 300}, {"inventory_hostname": h.name}, prefetched=prefetched)
    clock = checks(result)["clock"]
    assert clock["status"] == "found" and clock["summary"].startswith("the VM's clock is at least 349 s ahead of the controller's")
    assert "measured against the controller's clock" in clock["summary"] and sent == [] and script == win_mars_prereqs.READ


def test_the_host_read_stamps_each_served_answer_with_when_it_arrived():
    driver = MagicMock()
    driver.run_script.return_value = {"result": {"host": {"administrator": True}, "reads": {"MARS_PREREQS": {"result": {"a": 1}}}}}
    before = datetime.datetime.now(datetime.timezone.utc)
    seen = wincauses.host_read(driver, {"MARS_PREREQS": {"script": "x", "tag": "mars_prereqs.read", "parameters": {}, "mars": True}})
    received = seen["reads"]["MARS_PREREQS"]["received"]
    assert before <= received <= datetime.datetime.now(datetime.timezone.utc)


def test_the_scratch_minimum_has_the_one_bound_of_the_role_s_rule():
    rule = settings.RULES["mars_agent_scratch_min_free_percent"]
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    for value in (0.5, 50, 50.5, 99):
        result = run(h, win_mars_scratch, min_free_percent=value)[0]
        assert rule.accepts(value) is not bool(result.get("failed")), value
    assert "at most 50" in run(h, win_mars_scratch, min_free_percent=60)[0]["msg"]


def test_the_controller_time_sent_is_read_back_as_the_vm_s_offset():
    h = hostmod.SimHost.create("win01", "en", ["mars-clock-skew"])
    sent = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    answer = h.run_module("ansible.windows.win_powershell", {"script": win_mars_prereqs.READ, "parameters": {"ControllerUtc": sent},
                                                             "_ansible_check_mode": True})
    assert 899 <= answer["result"]["offset_seconds"] <= 905 and answer["result"]["vm_utc"].endswith("Z")


@pytest.mark.parametrize("module,args,variable", [
    (win_mars_scratch, {"min_free_percent": 0}, "mars_agent_scratch_min_free_percent"),
    (win_mars_temp_files, {"limit": 0}, "mars_agent_temp_files_limit"),
    (win_mars_prereqs, {"max_clock_skew": -5}, "mars_agent_max_clock_skew"),
], ids=["scratch", "temp_files", "prereqs"])
def test_a_value_out_of_range_is_refused_by_name_before_anything_is_read(module, args, variable):
    h = hostmod.SimHost.create("win01", "en", ["mars-installed"])
    result, sent = run(h, module, **args)
    assert result["failed"] and variable in result["msg"] and "win01" in result["msg"] and "Nothing was read" in result["msg"]
    assert sent == []


def test_get_dedupvolume_is_called_inside_a_try():
    # Under ErrorActionPreference Stop a terminating error of Get-DedupVolume (its service or WMI provider not answering)
    # would end the whole read; -ErrorAction SilentlyContinue does not hold back terminating errors.
    code = win_mars_scratch.READ
    call = code.index("Get-DedupVolume -Volume")
    assert code.rfind("try {", 0, call) > code.rfind("}", 0, call) and "catch" in code[call:call + 400]
