"""The decisions of MARS_VERSION, MARS_SCRATCH, MARS_TEMP_FILES and MARS_PREREQS (plugin_utils/windows/mars_causes.py)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes

SCRATCH = "C:\\Program Files\\Microsoft Azure Recovery Services Agent\\Scratch"
UTC = datetime.timezone.utc


def test_a_version_below_the_minimum_or_unreadable_is_a_problem():
    assert causes.version_problem("2.0.9262.0", "2.0.9249.0") is None
    assert causes.version_problem("2.0.9249.0", "2.0.9249.0") is None
    assert causes.version_problem("2.0.9145.0", "2.0.9249.0") == "MARS agent 2.0.9145.0 is older than 2.0.9249.0"
    # Compared as numbers, not as text.
    assert causes.version_problem("2.0.10000.0", "2.0.9249.0") is None
    assert "could not be read" in causes.version_problem(None, "2.0.9249.0")
    with pytest.raises(ValueError, match="mars_agent_min_version 'newest'"):
        causes.validate_version("newest")


def folder(path, exists=True, kek=True):
    return {"path": path, "exists": exists, "kek": kek, "accessible": exists}


def test_values_that_name_the_same_folder_agree_whatever_the_case_or_trailing_backslash():
    decision = causes.location_decision({"config": SCRATCH, "provider": SCRATCH.upper() + "\\", "folders": [folder(SCRATCH)]})
    assert decision["status"] == "agree" and decision["folder"] == SCRATCH and decision["change"] == []


@pytest.mark.parametrize("config_ok,provider_ok,status,changed", [
    (True, False, "fix", [causes.PROVIDER_KEY]),
    (False, True, "fix", [causes.CONFIG_KEY]),
    (False, False, "report", []),
    (True, True, "report", []),
])
def test_a_mismatch_is_fixed_only_towards_the_one_folder_that_holds_the_key(config_ok, provider_ok, status, changed):
    state = {"config": SCRATCH, "provider": "D:\\Scratch",
             "folders": [folder(SCRATCH, kek=config_ok), folder("D:\\Scratch", exists=provider_ok, kek=provider_ok)]}
    decision = causes.location_decision(state)
    assert decision["status"] == status and [key for key, _old in decision["change"]] == changed
    if status == "fix":
        assert decision["target"] == (SCRATCH if config_ok else "D:\\Scratch")
    else:
        assert decision["folder"] is None


def test_a_value_that_is_not_set_is_set_to_the_other_when_its_folder_qualifies():
    decision = causes.location_decision({"config": SCRATCH, "provider": None, "folders": [folder(SCRATCH)]})
    assert decision["status"] == "fix" and decision["change"] == [(causes.PROVIDER_KEY, None)]
    assert "ScratchLocation = not set (no folder)" in decision["why"]
    assert causes.location_decision({"config": None, "provider": "", "folders": []})["status"] == "missing"


def test_unsupported_attributes_are_named_and_others_ignored():
    assert causes.bad_attributes(0x10 | 0x20) == []
    assert causes.bad_attributes(0x10 | 0x800 | 0x4000) == ["Encrypted", "Compressed"]
    assert causes.bad_attributes(0x400 | 0x200) == ["SparseFile", "ReparsePoint"]
    assert causes.bad_attributes(None) == [] and causes.bad_attributes("x") == []


def test_volume_problems():
    local = {"name": "C:\\", "drive_type": 3, "file_system": "NTFS", "dedup": None}
    assert causes.volume_problems(local) == [] and causes.volume_problems(dict(local, file_system="ReFS")) == []
    assert causes.volume_problems(dict(local, drive_type=2)) == ["it is on a removable disk, not a local disk"]
    assert causes.volume_problems(dict(local, dedup=True)) == ["its volume C:\\ is de-duplicated"]
    assert causes.volume_problems(dict(local, file_system="exFAT")) == ["its volume's file system is exFAT, not NTFS or ReFS"]
    assert causes.volume_problems({}) == ["the folder is not on a volume of this server (a network path?)"]


def test_free_percent_is_of_the_volume_size():
    assert causes.free_percent({"capacity": 200, "free": 9}) == 4.5
    assert causes.free_percent({"capacity": 0, "free": 9}) is None and causes.free_percent({}) is None


def test_the_delete_outcome_in_words():
    assert causes.temp_summary({"folder": "C:\\Windows\\Temp", "removed": 3, "kept": 0, "bytes_freed": 3 * 2**20}) == (
        "fixed", "removed 3 .tmp file(s) from C:\\Windows\\Temp (3.0 MB freed)")
    assert causes.temp_summary({"folder": "C:\\Windows\\Temp", "removed": 0, "kept": 2, "bytes_freed": 0})[1].endswith(
        "; 2 kept (in use or access denied)")
    assert causes.temp_summary({"folder": "C:\\Windows\\Temp", "error": "Access denied"})[0] == "failed"


def test_dotnet_4_5_2_or_later():
    assert causes.dotnet_problem(379893) is None and causes.dotnet_problem("528040") is None
    assert causes.dotnet_problem(378675) == ".NET Framework Release 378675 is below 379893 (4.5.2)"
    assert "not installed" in causes.dotnet_problem(None)


def test_round_trip_times_are_read_as_utc():
    assert causes.parse_utc("2026-12-02T16:44:25.1234567Z") == datetime.datetime(2026, 12, 2, 16, 44, 25, 123456, tzinfo=UTC)
    assert causes.parse_utc("2026-12-02T17:44:25+01:00") == datetime.datetime(2026, 12, 2, 16, 44, 25, tzinfo=UTC)
    with pytest.raises(ValueError):
        causes.parse_utc("02.12.2026 16:44")


def test_only_a_skew_beyond_the_limit_for_the_whole_round_trip_is_a_problem():
    sent = datetime.datetime(2026, 12, 2, 16, 0, 0, tzinfo=UTC)
    received = sent + datetime.timedelta(seconds=20)
    low, high = causes.skew_range("2026-12-02T16:05:10.0000000Z", sent, received)
    assert (low, high) == (290.0, 310.0)
    # Between 290 and 310 s ahead: not certainly more than 300.
    assert causes.clock_problem(low, high, 300) is None
    assert causes.clock_problem(low, high, 280) == "the VM's clock is at least 290 s ahead of the controller's (more than 280 s)"
    low, high = causes.skew_range("2026-12-02T15:50:00.0000000Z", sent, received)
    assert causes.clock_problem(low, high, 300) == "the VM's clock is at least 600 s behind the controller's (more than 300 s)"
