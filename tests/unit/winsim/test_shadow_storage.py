"""MARS_SHADOW_STORAGE against simulated hosts: the read and resize twins run with the collection's own script text through
the simulated win_powershell (as Ansible sends them), and the action plugin in check and apply mode, its round trips
answered by the simulator."""
from __future__ import annotations

import hashlib
import json

import host as hostmod
import plugin_reads
import render
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import win_shadow_storage as action
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import shadow_storage as shadow

GB, MB = 2 ** 30, 2 ** 20
TENTH = 127 * GB // 10  # 10 % of the simulated C:


def powershell(h, script, check=False, **parameters):
    answer = h.run_module("ansible.windows.win_powershell", {"script": script, "parameters": parameters, "depth": 6,
                                                             "_ansible_check_mode": check})
    assert not answer["failed"], answer
    return answer


def read(h):
    answer = powershell(h, action.READ, check=True)
    assert answer["changed"] is False
    return answer["result"]


def c_storage(h):
    return next(a for a in h.state["shadow_storage"] if a["for"] == "C:")


# -- the twins -----------------------------------------------------------------------------------------------

def test_the_read_gives_numbers_the_product_makes_into_associations():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    state = read(h)
    assert state["source"] == "cim" and state["cim_error"] is None
    [entry], exact = shadow.associations(state)
    assert exact and entry["max"] is None and entry["for"]["letter"] == "C:" and entry["on"]["capacity"] == 127 * GB
    assert entry["used"] == c_storage(h)["used_bytes"] and entry["copies"] == 4 and entry["oldest"] == "2026-11-28T22:00:00Z"
    assert {v["letter"] for v in state["volumes"]} == {"C:", "D:"}


def test_where_win32_shadowstorage_fails_the_read_lists_vssadmin_s_text_in_the_host_s_language():
    for locale in ("en", "de"):
        h = hostmod.SimHost.create("win01", locale, ["shadow-storage-small", "shadow-storage-cim-broken"])
        state = read(h)
        assert state["source"] == "vssadmin" and state["cim_error"] == "Provider load failure" and state["vssadmin"]["exit_code"] == 0
        # As an 80-column console prints it: the storage volume's line is broken inside its GUID.
        assert any(len(line) == 80 for line in state["vssadmin"]["output"].split("\r\n"))
        [entry], exact = shadow.associations(state)
        assert not exact and entry["max"] == GB and entry["used"] == 700 * MB and entry["on"]["letter"] == "C:"
    assert "Maximaler Schattenkopie-Speicherbereich: 1 GB (1%)" in state["vssadmin"]["output"]


def test_vssadmin_with_no_association_prints_no_items_and_the_product_reads_none():
    h = hostmod.SimHost.create("win01", "de", ["shadow-storage-cim-broken"])
    h.state["shadow_storage"] = []
    state = read(h)
    assert shadow.associations(state) == ([], False)
    assert render.SHADOW_TEXT["de"]["none"] in state["vssadmin"]["output"]


def resize(h, **parameters):
    return powershell(h, action.RESIZE, **parameters)


def test_the_resize_twin_grows_and_reads_back():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    answer = resize(h, For="C:", On="C:", MaxSize=str(TENTH))
    result = answer["result"]
    assert answer["changed"] is True and result["exit_code"] == 0
    assert "Successfully resized the shadow copy storage association" in result["output"]
    assert c_storage(h)["max_bytes"] == TENTH and [a["max"] for a in result["associations"]] == [str(TENTH)]
    assert len(c_storage(h)["copies"]) == 4  # growing deletes nothing


def test_the_resize_twin_takes_a_percentage_and_unbounded():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    resize(h, For="C:", On="C:", MaxSize="20%")
    assert c_storage(h)["max_bytes"] == int(127 * GB * 0.2)
    resize(h, For="C:", On="C:", MaxSize="UNBOUNDED")
    assert c_storage(h)["max_bytes"] == "UNBOUNDED"
    assert read(h)["associations"][0]["max"] == str(2 ** 64 - 1)


def test_shrinking_below_the_space_in_use_deletes_the_oldest_copies():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    before = [c["id"] for c in c_storage(h)["copies"]]
    resize(h, For="C:", On="C:", MaxSize=str(TENTH))
    after = c_storage(h)
    assert [c["id"] for c in after["copies"]] == before[1:]  # the oldest went, the newest three fit
    assert after["used_bytes"] == sum(c["bytes"] for c in after["copies"]) <= TENTH and after["allocated_bytes"] <= TENTH


def test_the_resize_twin_refuses_below_the_minimum_an_unknown_association_and_a_bad_size():
    h = hostmod.SimHost.create("win01", "en", [])
    before = json.dumps(h.state["shadow_storage"], sort_keys=True)
    low = resize(h, For="C:", On="C:", MaxSize="300MB")
    assert low["changed"] is False and low["result"]["exit_code"] != 0
    assert "Error: Insufficient storage available to create either the shadow copy storage" in low["result"]["output"]
    missing = resize(h, For="D:", On="D:", MaxSize="1GB")["result"]
    assert missing["exit_code"] != 0 and "association was not found" in missing["output"]
    bad = resize(h, For="C:", On="C:", MaxSize="lots")["result"]
    assert bad["exit_code"] != 0 and "Invalid option value" in bad["output"]
    assert json.dumps(h.state["shadow_storage"], sort_keys=True) == before


def test_the_resize_script_is_not_run_in_check_mode():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    answer = h.run_module("ansible.windows.win_powershell", {"script": action.RESIZE, "parameters": {"For": "C:", "On": "C:", "MaxSize": "20%"},
                                                             "_ansible_check_mode": True})
    assert answer["msg"] == "skipped, running in check mode" and c_storage(h)["max_bytes"] == GB


# -- the action plugin against the simulator ----------------------------------------------------------------

def run(h, check, args=None, diff=True):
    sent = []

    def execute(module_name, module_args, task_vars=None):  # pylint: disable=unused-argument
        sent.append((module_name, (module_args.get("script") or "").split("\n", 1)[0]))
        return h.run_module(module_name, dict(module_args, _ansible_check_mode=check))

    plugin = plugin_reads._plugin(action, args or {}, execute)  # pylint: disable=protected-access
    plugin._task.check_mode = check  # pylint: disable=protected-access
    plugin._task.diff = diff  # pylint: disable=protected-access
    return plugin.run(task_vars={"inventory_hostname": h.name}), [tag for _module, tag in sent]


def state_hash(h):
    return hashlib.sha256(json.dumps(h.state, sort_keys=True).encode()).hexdigest()


def test_a_healthy_host_is_ok():
    result, sent = run(hostmod.SimHost.create("win01", "en", []), check=True)
    assert not result["changed"] and [f["status"] for f in result["findings"]] == ["ok"]
    assert sent == ["#azure_backup.remediation/shadow_storage.read"]


def test_check_finds_and_changes_nothing_apply_fixes_and_a_second_apply_changes_nothing():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    before = state_hash(h)
    result, sent = run(h, check=True)
    [found] = result["findings"]
    assert result["changed"] and found["status"] == "found" and "would resize it to 12.7 GB" in found["summary"]
    assert sent == ["#azure_backup.remediation/shadow_storage.read"] and state_hash(h) == before
    assert result["diff"] == [{"before_header": "shadow storage of C: on C:", "after_header": "shadow storage of C: on C:",
                               "before": "max 1 GB (1073741824 bytes)\n", "after": "max 12.7 GB (%d bytes)\n" % TENTH}]
    result, sent = run(h, check=False)
    [fixed] = result["findings"]
    assert result["changed"] and fixed["status"] == "fixed" and "read back: 12.7 GB" in fixed["summary"]
    # What the fix replaced is kept: the maximum before, and what vssadmin said.
    assert fixed["detail"]["max_before"] == "1 GB" and "Successfully resized" in fixed["detail"]["vssadmin"]
    assert sent == ["#azure_backup.remediation/shadow_storage.read", "#azure_backup.remediation/shadow_storage.resize"]
    assert c_storage(h)["max_bytes"] == TENTH
    result, sent = run(h, check=False)
    assert not result["changed"] and [f["status"] for f in result["findings"]] == ["ok"] and len(sent) == 1


def test_delete_copies_says_it_deletes_the_oldest_copies_and_does():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    result, _sent = run(h, check=True, args={"shrink": "delete_copies"})
    [found] = result["findings"]
    assert "which deletes the oldest shadow copies (4 on C:, the oldest from 2026-11-28T22:00:00Z)" in found["summary"]
    result, _sent = run(h, check=False, args={"shrink": "delete_copies"})
    [fixed] = result["findings"]
    assert fixed["status"] == "fixed" and "Windows deleted the oldest shadow copies to fit" in fixed["summary"]
    assert len(c_storage(h)["copies"]) == 3 and c_storage(h)["max_bytes"] == TENTH
    result, _sent = run(h, check=False, args={"shrink": "delete_copies"})
    assert not result["changed"]


def test_a_refused_resize_fails_with_vssadmin_s_words_and_changes_nothing(monkeypatch):
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])

    def refuse(host, p):  # pylint: disable=unused-argument  # a host whose MinDiffAreaFileSize is set above what is asked
        return render.vssadmin_message("insufficient", "en"), 2
    monkeypatch.setattr(scripts, "_vssadmin_resize", refuse)
    result, _sent = run(h, check=False)
    [entry] = result["findings"]
    assert result["failed"] and entry["status"] == "failed" and not result["changed"] and "diff" not in result
    assert entry["summary"].endswith("vssadmin resize shadowstorage failed (exit code 2): Error: Insufficient storage available to create "
                                     "either the shadow copy storage file or other shadow copy data. Nothing was changed")
    assert entry["detail"]["exit_code"] == 2 and c_storage(h)["max_bytes"] == GB


def test_a_maximum_read_back_other_than_the_one_asked_is_not_fixed(monkeypatch):
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    resize_twin = scripts._vssadmin_resize  # pylint: disable=protected-access

    def short(host, p):  # vssadmin says yes but Windows keeps 5 GB (made up: a provider that caps the size)
        said = resize_twin(host, p)
        c_storage(host)["max_bytes"] = 5 * GB
        return said
    monkeypatch.setattr(scripts, "_vssadmin_resize", short)
    result, _sent = run(h, check=False)
    [entry] = result["findings"]
    assert entry["status"] == "failed" and "its maximum still reads 5 GB, not 12.7 GB, after" in entry["summary"]


def test_a_bad_size_fails_before_anything_is_read():
    result, sent = run(hostmod.SimHost.create("win01", "en", []), check=True, args={"max_size": "10 parsecs"})
    assert result["failed"] and sent == []
    assert result["msg"] == ("MARS_SHADOW_STORAGE on win01: shadow_storage_max_size = '10 parsecs' is not allowed (not a size): set a "
                             "size such as 10GB or 512MB (at least 1MB), or a percentage of the volume such as 10%, or UNBOUNDED. Nothing was "
                             "read or changed.")


def test_a_named_volume_without_an_association_is_reported_not_added():
    h = hostmod.SimHost.create("win01", "en", [])
    result, _sent = run(h, check=False, args={"volumes": ["d", "C:"]})
    checks = {f["check"]: f for f in result["findings"]}
    assert checks["volume_d"]["status"] == "found" and "no shadow copy storage association yet" in checks["volume_d"]["summary"]
    assert checks["volume_c"]["status"] == "ok" and not result["changed"] and len(h.state["shadow_storage"]) == 1


def test_a_german_host_whose_wmi_provider_is_broken_is_read_and_fixed_through_vssadmin():
    h = hostmod.SimHost.create("win01", "de", ["shadow-storage-small", "shadow-storage-cim-broken"])
    result, _sent = run(h, check=False)
    checks = {f["check"]: f for f in result["findings"]}
    assert (checks["source"]["status"], checks["source"]["severity"]) == ("found", "warning") and "Provider load failure" in checks["source"]["summary"]
    assert checks["volume_c"]["status"] == "fixed" and checks["volume_c"]["detail"]["read_back_exact"] is False
    assert c_storage(h)["max_bytes"] == TENTH


def test_where_vss_cannot_start_the_read_fails_with_what_vssadmin_said_and_nothing_is_changed():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    h.state["services"]["VSS"].update(state="stopped", start_mode="disabled")
    state = read(h)
    assert state["cim_error"] == "Generic failure" and state["vssadmin"]["exit_code"] != 0
    result, sent = run(h, check=False)
    [entry] = result["findings"]
    assert result["failed"] and entry["status"] == "failed" and len(sent) == 1
    assert entry["summary"] == ("MARS_SHADOW_STORAGE on win01: Win32_ShadowStorage could not be read (Generic failure), and vssadmin list "
                                "shadowstorage failed (exit code 2): Error: A Volume Shadow Copy Service component encountered an unexpected error. Check "
                                "the Application event log for more information. Is the Volume "
                                "Shadow Copy service (VSS) disabled? Nothing was changed.")


# -- PowerShell's unrolling, evidence, backups, a late read-back (the reviews of issue 12) ---------------------------

def test_the_read_sends_one_association_as_a_list_where_powershell_would_unroll_it():
    h = hostmod.SimHost.create("win01", "en", [])
    assert len(h.state["shadow_storage"]) == 1 and isinstance(read(h)["associations"], list)
    # The twin does what PowerShell does: a bare call assigned gets the one item, and nothing at all as null.
    bare = action.READ.replace("@(Get-ShadowStorage)", "Get-ShadowStorage")
    assert isinstance(scripts.shadow_storage_read(h, {}, bare)["associations"], dict)
    h.state["shadow_storage"] = []
    assert scripts.shadow_storage_read(h, {}, bare)["associations"] is None
    assert read(h)["associations"] == []


def test_the_resize_sends_a_list_and_reads_back_an_empty_one_as_no_such_association(monkeypatch):
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    result = resize(h, For="C:", On="C:", MaxSize=str(TENTH), ForId=_c_id(h), OnId=_c_id(h), Expected=str(TENTH), WaitSeconds=10)["result"]
    assert isinstance(result["associations"], list) and result["reads"] == 1
    resize_twin = scripts._vssadmin_resize  # pylint: disable=protected-access

    def gone(host, p):  # the association vanishes as it is resized (made up: its volume was dismounted)
        said = resize_twin(host, p)
        host.state["shadow_storage"] = []
        return said
    monkeypatch.setattr(scripts, "_vssadmin_resize", gone)
    outcome, _sent = run(hostmod.SimHost.create("win01", "en", ["shadow-storage-small"]), check=False)
    [entry] = outcome["findings"]
    assert entry["status"] == "failed" and entry["summary"].endswith("reading it back found no such association")


def _c_id(h):
    return scripts._volume_id(h, h.state["volumes"][0])  # pylint: disable=protected-access


def test_the_read_reports_volsnap_events_of_the_window_with_their_volume_from_the_data():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small", "shadow-storage-full"])
    hostmod.add_event(h.state, "System", "volsnap", 36, 2, 24 * 40, "too old", ["\\Device\\HarddiskVolumeShadowCopy1", "C:"])
    hostmod.add_event(h.state, "System", "Disk", 36, 2, 1, "another provider's 36", ["x", "C:"])
    answer = powershell(h, action.READ, check=True, EventDays=30)["result"]
    assert sorted((e["id"], e["volume"]) for e in answer["events"]) == [(25, "C:"), (36, "C:")] and answer["events_error"] is None
    assert powershell(h, action.READ, check=True, EventDays=0)["result"]["events"] == []
    h.state["event_log_error"] = "Attempted to perform an unauthorized operation."
    assert powershell(h, action.READ, check=True, EventDays=30)["result"]["events_error"] == "Attempted to perform an unauthorized operation."


def test_a_maximum_sized_by_the_admin_is_ok_without_evidence_and_grown_on_request():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-sized"])
    result, sent = run(h, check=False)
    [entry] = result["findings"]
    assert not result["changed"] and entry["status"] == "ok" and len(sent) == 1 and c_storage(h)["max_bytes"] == 2 * GB
    assert "no volsnap event 25 or 36 in the System log of the last 30 days" in entry["summary"]
    assert entry["detail"]["max"] == 2 * GB and entry["detail"]["used"] == 1200 * MB and entry["detail"]["volsnap_events"] == []
    result, _sent = run(h, check=False, args={"grow": "always"})
    assert result["findings"][0]["status"] == "fixed" and c_storage(h)["max_bytes"] == TENTH


def test_the_small_fault_s_event_is_the_evidence_and_without_it_nothing_grows():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small"])
    [found] = run(h, check=True)[0]["findings"]
    assert found["status"] == "found" and "volsnap event 36 in the System log" in found["summary"] and found["detail"]["volsnap_events"][0]["volume"] == "C:"
    h.state["event_log"] = [e for e in h.state["event_log"] if e["provider"].lower() != "volsnap"]
    [held] = run(h, check=True)[0]["findings"]
    assert held["status"] == "ok" and "left as it is (shadow_storage_grow is evidence" in held["summary"]


def test_the_summary_says_what_the_storage_is_for_on_a_vm_without_mars():
    [entry] = run(hostmod.SimHost.create("win01", "en", []), check=True)[0]["findings"]
    assert entry["id"] == "MARS_SHADOW_STORAGE" and entry["summary"].startswith(
        "shadow copy storage (the storage VSS snapshots need, VM backup and MARS alike) of C: on C::")


def test_no_shrink_while_the_vm_backup_or_a_mars_job_runs():
    for faults in (["shadow-storage-unbounded", "backup-running"], ["shadow-storage-unbounded", "mars-backup-running"]):
        h = hostmod.SimHost.create("win01", "en", faults)
        before = state_hash(h)
        result, sent = run(h, check=False, args={"shrink": "keep_copies"})
        [entry] = result["findings"]
        assert entry["status"] == "found" and "not shrunk while" in entry["summary"] and not result["changed"], faults
        assert len(sent) == 1 and state_hash(h) == before
    busy = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded", "backup-running"])
    assert "IaaSBcdrExtension.exe runs" in run(busy, check=True, args={"shrink": "delete_copies"})[0]["findings"][0]["summary"]
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded", "mars-installed"])
    h.state["mars_jobs_error"] = "The term 'Get-OBJob' is not recognized"
    [entry] = run(h, check=False, args={"shrink": "keep_copies"})[0]["findings"]
    assert entry["status"] == "found" and "could not be told (Get-OBJob: The term" in entry["summary"]


def test_a_backup_that_starts_after_the_read_stops_the_shrink_in_the_resize_script():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    answer = resize(h, For="C:", On="C:", MaxSize=str(TENTH), ForId=_c_id(h), OnId=_c_id(h), Expected=str(TENTH), WaitSeconds=10,
                    Shrink=True, BackupProcesses=["IaaSBcdrExtension"])
    assert answer["changed"] and answer["result"]["exit_code"] == 0  # nothing runs: it shrinks
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    hostmod.add_process(h.state, "IaaSBcdrExtension.exe", None)
    answer = resize(h, For="C:", On="C:", MaxSize=str(TENTH), ForId=_c_id(h), OnId=_c_id(h), Expected=str(TENTH), WaitSeconds=10,
                    Shrink=True, BackupProcesses=["IaaSBcdrExtension"])
    assert not answer["changed"] and answer["result"]["exit_code"] is None and c_storage(h)["max_bytes"] == "UNBOUNDED"
    assert answer["result"]["backup"]["processes"] == ["IaaSBcdrExtension"]


def test_keep_copies_leaves_headroom_and_deletes_no_copy():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-unbounded"])
    [entry] = run(h, check=False, args={"shrink": "keep_copies"})[0]["findings"]
    after = c_storage(h)
    assert entry["status"] == "fixed" and after["max_bytes"] == after["used_bytes"] + after["used_bytes"] // 10 and len(after["copies"]) == 4
    assert not run(h, check=False, args={"shrink": "keep_copies"})[0]["changed"]


def test_a_maximum_that_shows_late_is_polled_for_and_fixed():
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small", "shadow-storage-slow"])
    [entry] = run(h, check=False)[0]["findings"]
    assert entry["status"] == "fixed" and entry["detail"]["read_back_tries"] > 1 and c_storage(h)["max_bytes"] == TENTH
    # The twin: a script that reads once sees the old maximum.
    h = hostmod.SimHost.create("win01", "en", ["shadow-storage-small", "shadow-storage-slow"])
    once = action.RESIZE.replace("Start-Sleep -Seconds 2", "")
    result, _changed = scripts.shadow_storage_resize(h, {"For": "C:", "On": "C:", "MaxSize": str(TENTH), "ForId": _c_id(h), "OnId": _c_id(h),
                                                         "Expected": str(TENTH), "WaitSeconds": 10}, once)
    assert [a["max"] for a in result["associations"]] == [str(GB)]


def test_a_bad_volume_names_the_form_shadow_storage_volumes_takes():
    result, sent = run(hostmod.SimHost.create("win01", "en", []), check=True, args={"volumes": ["C:\\Data"]})
    assert result["failed"] and sent == [] and result["msg"].endswith(
        "set a list of drive letters such as C: (empty: every volume with shadow storage). Nothing was read or changed.")
