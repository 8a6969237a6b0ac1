"""The Windows log bundle: its one read (the collection's own script text, run by the simulator's win_powershell
through its twin) and the controller's side (plugin_utils/log_bundle.py, plugin_utils/windows/log_bundle.py):
what is gathered and in which order, the size cap, truncation, skipped files, redaction and the manifest."""

import base64
import io
import json
import os
import stat
import tarfile

import host as hostmod
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import log_bundle as controller
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import log_bundle as winbundle

STATUS = hostmod.VMSNAPSHOT_DIR + "\\Status\\0.status"
RUNTIME = hostmod.VMSNAPSHOT_DIR + "\\RuntimeSettings\\0.settings"
EXTENSION_LOG = hostmod.VMSNAPSHOT_LOG_DIR + "\\IaaSBcdrExtension.log"
WAAPPAGENT = "C:\\WindowsAzure\\Logs\\WaAppAgent.log"
INSTALLER = "C:\\WindowsAzure\\Logs\\TransparentInstaller.log"
MARS_LOG = hostmod.MARS_DIR + "\\Temp\\CBEngineCurr.errlog"
PERSISTS = [{"id": "VSS_WRITERS", "check": "writer_wmi_writer", "status": "failed", "severity": "critical"}]


def read(h, **options):
    """The bundle read as the controller sends it, in check mode (it runs there too): its result."""
    args = dict({"max_size": "20M", "event_hours": 72}, **options)
    answer = h.run_module("ansible.windows.win_powershell", {"script": winbundle.READ, "parameters": winbundle.parameters(args),
                                                             "depth": 4, "_ansible_check_mode": True})
    assert not answer["failed"] and answer["changed"] is False, answer
    return answer["result"]


def content(entry) -> bytes:
    return base64.b64decode(entry.get("content") or "")


def test_events_first_then_each_path_newest_first_then_the_mars_temp_folder():
    h = hostmod.SimHost.create("win01", "en", ["vss-errors-logged", "mars-installed"])
    hostmod.put_file_state(h.state, "C:\\WindowsAzure\\Logs\\AppAgentRuntime.log", hostmod.log_file(b"older\r\n", 40 * 24))
    result = read(h)
    assert [f["path"] for f in result["files"]] == [
        "events\\Application.txt", "events\\System.txt", STATUS, RUNTIME, EXTENSION_LOG,
        WAAPPAGENT, INSTALLER, "C:\\WindowsAzure\\Logs\\AppAgentRuntime.log", MARS_LOG]
    assert result["agent"]["installed"] is True
    by_path = {f["path"]: f for f in result["files"]}
    assert content(by_path[WAAPPAGENT]) == h.read_file(WAAPPAGENT)
    assert not any(f["truncated"] or f["left_out"] or f.get("skipped") for f in result["files"])


def test_without_the_mars_agent_no_temp_folder_is_read():
    result = read(hostmod.SimHost.create("win01", "en", []))
    assert result["agent"] == {"installed": False}
    assert not any("Recovery Services Agent" in f["path"] for f in result["files"])


def test_the_events_are_exported_with_time_level_provider_id_and_message_within_the_window():
    h = hostmod.SimHost.create("win01", "en", ["vss-errors-logged"])
    files = {f["path"]: f for f in read(h)["files"]}
    application = content(files["events\\Application.txt"]).decode("utf-8")
    blocks = [b for b in application.split("\r\n\r\n") if b.strip()]
    # Oldest first, so that the tail the cap keeps is the newest; one block per event.
    assert [b.split("  ")[3] for b in blocks] == ["id 8193", "id 12289", "id 1000", "id 8224"]
    first = blocks[0].split("\r\n")
    assert first[0].endswith("  Error (2)  VSS  id 8193  record %d" % h.state["event_log"][3]["record"])
    assert first[1] == "    Volume Shadow Copy Service error: Unexpected error calling routine CoCreateInstance.  hr = 0x80040154, " \
                       "Class not registered."
    assert "IaaSBcdrExtension.exe" in blocks[2] and "notepad.exe" not in application
    assert files["events\\Application.txt"]["events"] == 4
    system = content(files["events\\System.txt"]).decode("utf-8")
    assert "volsnap  id 25" in system and "Service Control Manager" not in system
    # A month back brings the old VSS entry in; 0 hours leaves the events out.
    longer = {f["path"]: f for f in read(h, event_hours=24 * 40)["files"]}
    assert longer["events\\Application.txt"]["events"] == 5
    assert not [f for f in read(h, event_hours=0)["files"] if f["path"].startswith("events\\")]


def test_an_event_without_its_message_file_gets_its_data_items():
    h = hostmod.SimHost.create("win01", "en", [])
    hostmod.add_event(h.state, "Application", "SQLVDI", 1, 2, 1, None, ["SQLVDI: Loc=SignalAbort", "Desc=Client initiates abort"])
    files = {f["path"]: f for f in read(h)["files"]}
    assert "    SQLVDI: Loc=SignalAbort | Desc=Client initiates abort" in content(files["events\\Application.txt"]).decode()


def test_event_logs_that_cannot_be_read_are_named_and_the_files_still_come():
    h = hostmod.SimHost.create("win01", "en", [])
    # Made up for the test: the words Get-WinEvent would use when the Windows Event Log service does not answer.
    h.state["event_log_error"] = "The RPC server is unavailable."
    files = read(h)["files"]
    assert [(f["path"], f["skipped"]) for f in files[:2]] == [("events\\Application.txt", "unreadable: The RPC server is unavailable."),
                                                              ("events\\System.txt", "unreadable: The RPC server is unavailable.")]
    assert all("content" not in f for f in files[:2]) and content(next(f for f in files if f["path"] == WAAPPAGENT))


def test_the_cap_takes_whole_entries_then_the_newest_part_of_one_then_names_the_rest_as_left_out():
    h = hostmod.SimHost.create("win01", "en", ["vss-errors-logged"])
    whole = read(h)["files"]
    cap = sum(f["size"] for f in whole[:5]) + 40  # the events, status, settings, extension log, and 40 bytes of WaAppAgent.log
    files = read(h, max_size=str(cap))["files"]
    assert sum(f["length"] for f in files) == cap
    assert [f["truncated"] for f in files[:5]] == [False] * 5
    cut = files[5]
    assert cut["path"] == WAAPPAGENT and cut["truncated"] and (cut["length"], cut["offset"]) == (40, cut["size"] - 40)
    assert content(cut) == h.read_file(WAAPPAGENT)[-40:]
    assert [(f["path"], f["left_out"], f["skipped"], f["length"]) for f in files[6:]] == [(INSTALLER, True, "cap reached", 0)]
    assert "content" not in files[6]


def test_a_locked_or_unreadable_file_is_named_and_costs_nothing_of_the_cap():
    h = hostmod.SimHost.create("win01", "en", [])
    h.state["files"][hostmod.find_key(h.state["files"], EXTENSION_LOG)]["locked"] = True
    h.state["files"][hostmod.find_key(h.state["files"], STATUS)]["unreadable"] = True
    files = {f["path"]: f for f in read(h)["files"]}
    assert files[EXTENSION_LOG]["skipped"] == "locked: The process cannot access the file '%s' because it is being used by another " \
                                              "process." % EXTENSION_LOG
    assert files[STATUS]["skipped"] == "unreadable: Access to the path '%s' is denied." % STATUS
    assert files[EXTENSION_LOG]["length"] == 0 and "content" not in files[EXTENSION_LOG]
    assert content(files[WAAPPAGENT]) == h.read_file(WAAPPAGENT)


def test_protected_settings_are_replaced_and_the_public_ones_kept():
    h = hostmod.SimHost.create("win01", "en", [])
    files = {f["path"]: f for f in read(h)["files"]}
    settings_file = json.loads(content(files[RUNTIME]))
    handler = settings_file["runtimeSettings"][0]["handlerSettings"]
    assert handler["protectedSettings"] == winbundle.REDACTED
    assert handler["publicSettings"]["commandToExecute"] == "snapshot" and handler["protectedSettingsCertThumbprint"]
    assert files[RUNTIME]["redacted"] == "protectedSettings, objectStr" and files[RUNTIME]["size"] == len(content(files[RUNTIME]))


def test_a_sas_signature_is_masked_in_every_file_and_the_object_string_left_out():
    h = hostmod.SimHost.create("win01", "en", [])
    status = hostmod.VMSNAPSHOT_DIR + "\\Status\\9.status"
    url = b"https://acct.blob.core.windows.net/c/status?sv=2020-08-04&sr=b&sig=AbC%2Bsecret%3D&se=2026-12-03&sp=rw"
    # The same URL as XML and JSON serialisers write it.
    escaped = b' <Uri>https://a/b?sv=1&amp;sig=xmlsecret&amp;se=2</Uri> "https://a/b?sv=1\\u0026sig=jsonsecret\\u0026se=2"'
    hostmod.put_file_state(h.state, status, hostmod.file_entry(b'{"statusBlobUri": "' + url + b'"}' + escaped + b'\r\n'))
    settings_text = json.loads(h.read_file(RUNTIME))
    settings_text["runtimeSettings"][0]["handlerSettings"]["publicSettings"]["objectStr"] = "c2VjcmV0IGJhY2t1cCBzZXR0aW5ncw=="
    hostmod.put_file_state(h.state, RUNTIME, hostmod.file_entry(json.dumps(settings_text).encode("utf-8")))
    files = {f["path"]: f for f in read(h)["files"]}
    got = content(files[status])
    assert b"secret" not in got and b"sig=" + b"*" * len("AbC%2Bsecret%3D") + b"&se=" in got and len(got) == files[status]["size"]
    assert b"&amp;sig=*********&amp;se=2" in got and b"\\u0026sig=**********\\u0026se=2" in got
    assert files[status]["signatures"] == "masked"
    handler = json.loads(content(files[RUNTIME]))["runtimeSettings"][0]["handlerSettings"]
    assert handler["publicSettings"]["objectStr"] == winbundle.REDACTED


def test_wildcards_match_one_folder_level_each_and_a_folder_brings_everything_below_it():
    h = hostmod.SimHost.create("win01", "en", [])
    hostmod.put_file_state(h.state, hostmod.VMSNAPSHOT_LOG_DIR + "\\sub\\deep.log", hostmod.log_file(b"deep\r\n", 50))
    paths = [f["path"] for f in read(h, paths=["C:\\WindowsAzure\\Logs\\Plugins\\*"], event_hours=0)["files"]]
    assert paths == [EXTENSION_LOG, hostmod.VMSNAPSHOT_LOG_DIR + "\\sub\\deep.log"]
    assert [f["path"] for f in read(h, paths=["c:\\windowsazure\\*.log"], event_hours=0)["files"]] == []


class Action:
    """The remediate task as plugin_utils/log_bundle.py sees it: _execute_module answered by a simulated host."""

    def __init__(self, h):
        self.host, self.sent = h, []

    def _execute_module(self, module_name=None, module_args=None, task_vars=None):
        self.sent.append(module_name)
        return self.host.run_module(module_name, dict(module_args, _ansible_check_mode=True))


def role_values(tmp_path, **values) -> dict:
    """The log_bundle role's variables at their defaults, the archives going to tmp_path."""
    role = {n: settings.default_of(n, s) for n, s in settings.role_options(settings.LOG_BUNDLE).items()}
    return dict(role, log_bundle_dir=str(tmp_path), **values)


def windows_args(tmp_path, **values):
    return settings.cause_args(settings.LOG_BUNDLE, "windows", role_values(tmp_path, **values))


def test_a_healthy_host_costs_no_execution(tmp_path):
    action = Action(hostmod.SimHost.create("win01", "en", []))
    out = controller.collect_after_causes(action, {"inventory_hostname": "win01"}, "windows", role_values(tmp_path),
                                          [{"id": "VSS_WRITERS", "check": "writers", "status": "ok"}], [])
    assert out["skipped"] and action.sent == [] and os.listdir(tmp_path) == []


def test_the_windows_variables_reach_the_read(tmp_path):
    action = Action(hostmod.SimHost.create("win01", "en", []))
    out = controller.collect_after_causes(action, {"inventory_hostname": "win01"}, "windows",
                                          role_values(tmp_path, log_bundle_windows_paths=[WAAPPAGENT], log_bundle_event_hours=0,
                                                      log_bundle_max_size="10"), PERSISTS, [])
    assert [(f["path"], f["length"], f["truncated"]) for f in out["files"]] == [(WAAPPAGENT, 10, True)]


def test_the_archive_has_the_linux_bundle_s_form_and_a_manifest_naming_every_entry(tmp_path):
    h = hostmod.SimHost.create("win01", "en", ["vss-errors-logged", "mars-installed"])
    action = Action(h)
    out = controller.collect(action, {"inventory_hostname": "win01"}, dict(windows_args(tmp_path), findings=PERSISTS, failures=[]), "windows")
    assert action.sent == ["ansible.windows.win_powershell"] and out["changed"] is False
    assert os.path.basename(out["path"]).startswith("win01-") and out["path"].endswith(".tar.gz")
    assert stat.S_IMODE(os.stat(out["path"]).st_mode) == 0o600
    with tarfile.open(out["path"]) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        waappagent = tar.extractfile("C/WindowsAzure/Logs/WaAppAgent.log").read()
        modes = {m.mode for m in tar.getmembers()}
    assert names[0] == "events/Application.txt" and names[-1] == "MANIFEST.json" and modes == {0o600}
    assert "C/Program Files/Microsoft Azure Recovery Services Agent/Temp/CBEngineCurr.errlog" in names
    assert waappagent == h.read_file(WAAPPAGENT)
    assert set(manifest) >= {"reasons", "collected", "max_bytes", "files", "events", "redacted"}
    assert manifest["reasons"] == ["VSS_WRITERS/writer_wmi_writer: failed"] and manifest["max_bytes"] == 20 * 2**20
    assert [f["path"] for f in manifest["files"]] == [f["path"] for f in out["files"]]
    assert not any("content" in f for f in manifest["files"])
    assert manifest["mars_agent"]["install_path"] == hostmod.MARS_DIR


def test_a_failed_read_says_how_to_make_the_answer_smaller(tmp_path):
    class Refused(Action):
        def _execute_module(self, module_name=None, module_args=None, task_vars=None):
            self.sent.append(module_name)
            return {"failed": True, "msg": "Exception of type 'System.OutOfMemoryException' was thrown."}

    out = controller.collect(Refused(None), {"inventory_hostname": "win01"}, dict(windows_args(tmp_path), findings=PERSISTS, failures=[]),
                             "windows")
    assert out["failed"] and "reading the logs on win01 failed: Exception of type 'System.OutOfMemoryException'" in out["msg"]
    assert "lower log_bundle_max_size" in out["msg"] and os.listdir(tmp_path) == []


def test_event_hours_out_of_range_fail_before_anything_is_sent(tmp_path):
    action = Action(hostmod.SimHost.create("win01", "en", []))
    out = controller.collect(action, {"inventory_hostname": "win01"},
                             dict(windows_args(tmp_path), event_hours=9000, findings=PERSISTS, failures=[]), "windows")
    assert out["failed"] and "event_hours (log_bundle_event_hours) = 9000 is not allowed on win01" in out["msg"] and action.sent == []


def test_member_names_drop_the_drive_colon_and_use_slashes():
    assert winbundle.member_name("C:\\WindowsAzure\\Logs\\WaAppAgent.log") == "C/WindowsAzure/Logs/WaAppAgent.log"
    assert winbundle.member_name("events\\System.txt") == "events/System.txt"


def test_the_archive_holds_exactly_the_parts_the_read_took():
    files = [{"path": "C:\\a.log", "mtime": 5, "length": 3, "content": base64.b64encode(b"abc").decode()},
             {"path": "C:\\b.log", "mtime": 5, "length": 0, "left_out": True}]
    with tarfile.open(fileobj=io.BytesIO(winbundle.archive(files, {"files": []}))) as tar:
        assert tar.getnames() == ["C/a.log", "MANIFEST.json"] and tar.extractfile("C/a.log").read() == b"abc"


def test_the_windows_options_default_as_the_role_does():
    spec = bundle.windows_argument_spec()
    options = settings.role_options(settings.LOG_BUNDLE)
    assert spec["paths"]["default"] == options["log_bundle_windows_paths"]["default"]
    assert spec["event_hours"]["default"] == options["log_bundle_event_hours"]["default"] == bundle.DEFAULT_EVENT_HOURS
