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
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes

import faults
import host as hostmod
import scripts

MARS = (win_mars_service, win_mars_version, win_mars_scratch, win_mars_temp_files, win_mars_prereqs, win_mars_restore_mount)
SCRATCH = hostmod.MARS_DIR + "\\Scratch"


def run(h, module, check=False, **args):
    """The plugin's result, and the module names it sent."""
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
    return plugin.run(task_vars={"inventory_hostname": h.name}), sent


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
    result, sent = run(h, win_mars_service, restart_service=True)
    assert checks(result)["service"]["summary"].endswith("did restart obengine") and sent == ["win_powershell", "win_service"]


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
    pid = next(p["pid"] for p in h.state["processes"] if p["service"] == "obengine")
    result, sent = run(h, win_mars_scratch)
    location = checks(result)["scratch_location"]
    assert location["status"] == "fixed" and result["changed"]
    assert location["summary"] == ("set ScratchLocation to %s (%s\\ScratchLocation was D:\\MARS\\Scratch) and restarted obengine so it "
                                   "uses it" % (SCRATCH, causes.PROVIDER_KEY))
    assert location["detail"]["old"] == {causes.PROVIDER_KEY: faults.MARS_ELSEWHERE}
    assert sent == ["win_powershell", "win_regedit", "win_powershell", "win_service"]
    assert h.reg_values(hostmod.MARS_PROVIDER_KEY)["ScratchLocation"]["data"] == SCRATCH
    assert h.state["services"]["obengine"]["state"] == "running"
    assert all(p["pid"] != pid for p in h.state["processes"] if p["service"] == "obengine")  # a new engine process
    assert {s for c, s in statuses(result).items() if c != "scratch_location"} == {"ok"}
    result, sent = run(h, win_mars_scratch)
    assert set(statuses(result).values()) == {"ok"} and not result["changed"] and sent == ["win_powershell"]


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
    assert sent == ["win_powershell", "win_regedit", "win_powershell"] and h.state["services"]["obengine"]["state"] == "stopped"


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


def test_the_iscsi_initiator_is_started_and_a_missing_one_gets_the_driver_steps():
    h = hostmod.SimHost.create("win01", "en", ["mars-iscsi-stopped"])
    result, sent = run(h, win_mars_restore_mount)
    assert statuses(result) == {"iscsi_initiator": "fixed"} and sent == ["win_powershell", "win_service"]
    assert h.state["services"]["MSiSCSI"]["state"] == "running" and h.state["services"]["MSiSCSI"]["start_mode"] == "manual"
    hostmod.remove_service(h.state, "MSiSCSI")
    result = run(h, win_mars_restore_mount)[0]
    assert checks(result)["iscsi_initiator"]["status"] == "found" and "ROOT\\ISCSIPRT" in checks(result)["iscsi_initiator"]["summary"]


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
