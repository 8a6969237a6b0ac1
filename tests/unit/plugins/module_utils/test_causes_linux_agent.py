from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent as h

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")

# ExecStart as systemd 252 prints it on the fleet's Debian and RHEL-style units.
DEBIAN = "{ path=/usr/sbin/waagent ; argv[]=/usr/sbin/waagent -daemon ; ignore_errors=no ; start_time=[n/a] ; pid=84 ; code=(null) ; status=0/0 }"
RHEL = "{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -u /usr/sbin/waagent -daemon ; ignore_errors=no ; start_time=[n/a] ; pid=0 }"


def reference(name):
    with open(os.path.join(REFERENCE, name)) as handle:
        return handle.read()


@pytest.mark.parametrize("execstart, shebang, expected", [
    (DEBIAN, "#!/usr/bin/python3", "/usr/bin/python3"),
    (RHEL, None, "/usr/bin/python3"),
    (DEBIAN, "#!/usr/bin/env python3", "python3"),
    (DEBIAN, None, None),
    ("", None, None),
])
def test_interpreter(execstart, shebang, expected):
    assert h.interpreter(h.execstart_argv(execstart), shebang) == expected


MOUNTINFO = """\
22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw
30 22 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw
41 22 0:21 /var/lib/waagent /var/lib/waagent rw,noexec,relatime - overlay overlay rw
42 22 0:21 /var/lib/waagent-old /var/lib/waagent-old rw,relatime - overlay overlay rw
"""


def test_mount_of_picks_the_longest_covering_mount():
    assert h.mount_of("/var/lib/waagent", MOUNTINFO) == {"mount_point": "/var/lib/waagent", "options": ["rw", "noexec", "relatime"]}
    assert h.mount_of("/var/lib/waagent/x", MOUNTINFO)["mount_point"] == "/var/lib/waagent"
    # A sibling whose name merely starts the same is not a parent.
    assert h.mount_of("/var/lib/waagent-older", MOUNTINFO)["mount_point"] == "/"


def test_log_summary_of_a_real_log():
    text = reference("waagent-log-issue-2521-ubuntu2204-2.2.46.log")
    summary = h.summarize_log(text, now=datetime.datetime(2022, 10, 27, 12, 0, 0))
    assert summary["errors"] == 1 and summary["warnings"] == 3
    assert summary["last_errors"][0].startswith("2022-10-27T05:53:48 Daemon Event: name=WALinuxAgent, op=Enable")
    assert summary["newest_entry"].startswith("2022-10-27T05:53")


def test_log_summary_only_counts_the_window():
    text = reference("waagent-log-issue-2521-ubuntu2204-2.2.46.log")
    assert h.summarize_log(text, now=datetime.datetime(2022, 11, 30))["errors"] == 0


def test_old_timestamp_format_and_crlf():
    text = "2016/04/01 12:34:56.123 ERROR Event: old agent failed\r\n2016/04/01 12:35:00.000 WARNING something\r\nnoise\r\n"
    summary = h.summarize_log(text, now=datetime.datetime(2016, 4, 1, 13, 0))
    assert (summary["errors"], summary["warnings"]) == (1, 1)
    assert summary["last_errors"] == ["2016-04-01T12:34:56 Event: old agent failed"]


def test_keeps_only_the_latest_errors():
    lines = "".join("2024-01-01T00:00:%02d.0Z ERROR ExtHandler failure %d\n" % (i, i) for i in range(9))
    summary = h.summarize_log(lines, now=datetime.datetime(2024, 1, 1, 1), keep=3)
    assert summary["errors"] == 9
    assert [e.rsplit(" ", 1)[1] for e in summary["last_errors"]] == ["6", "7", "8"]


@pytest.mark.parametrize("execstart, shebang, expected", [
    (RHEL, None, ("/usr/bin/python3", ["-u"])),
    ("{ argv[]=/usr/bin/python3 -S -u /usr/sbin/waagent -daemon ; }", None, ("/usr/bin/python3", ["-S", "-u"])),
    ("{ argv[]=/usr/bin/python3 -W ignore -I /usr/sbin/waagent -daemon ; }", None, ("/usr/bin/python3", ["-W", "ignore", "-I"])),
    ("{ argv[]=/usr/bin/env python3 -E /usr/sbin/waagent -daemon ; }", None, ("python3", ["-E"])),
    ("{ argv[]=/usr/bin/python3 -m azurelinuxagent.agent -daemon ; }", None, ("/usr/bin/python3", [])),
    (DEBIAN, "#!/usr/bin/python3 -Es", ("/usr/bin/python3", ["-Es"])),
    (DEBIAN, "#!/usr/bin/python3", ("/usr/bin/python3", [])),
    (DEBIAN, None, (None, [])),
])
def test_agent_python_keeps_the_interpreter_flags_up_to_the_script(execstart, shebang, expected):
    assert h.agent_python(h.execstart_argv(execstart), shebang) == expected


def test_unit_environment():
    assert h.unit_environment('PYTHONPATH=/opt/a "LANG=C.UTF-8" X=') == {"PYTHONPATH": "/opt/a", "LANG": "C.UTF-8", "X": ""}
    assert h.unit_environment("") == {}


def test_parse_probe():
    ok = h.parse_probe(0, '{"version": "WALinuxAgent-2.7.3.0 running on debian 12\\n", "configuration": "Logs.Verbose = False\\n"}', "")
    assert ok["imports"] and ok["version"].startswith("WALinuxAgent-2.7.3.0") and ok["configuration"] == "Logs.Verbose = False\n"
    broken = h.parse_probe(3, "", "Traceback (most recent call last):\n  ...\nModuleNotFoundError: No module named 'azurelinuxagent'\n")
    assert broken == {"imports": False, "error": "ModuleNotFoundError: No module named 'azurelinuxagent'", "version": None, "configuration": None}
    assert h.parse_probe(0, "not json", "")["imports"] is False
    assert h.parse_probe(-9, "", "")["error"] == "exit code -9, no output"


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs python3")
def test_the_probe_runs_against_a_fake_agent_package(tmp_path):
    """The probe's own code, in a real interpreter: version() as waagent prints it, the configuration as -show-configuration."""
    import subprocess
    pkg = tmp_path / "azurelinuxagent"
    (pkg / "common").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "common" / "__init__.py").write_text("")
    (pkg / "agent.py").write_text("def version():\n    print('WALinuxAgent-9.9.9.9 running on test 1')\n    print('Goal state agent: 9.9.9.9')\n")
    (pkg / "common" / "conf.py").write_text(
        "_v = {}\ndef load_conf_from_file(path):\n    _v.update(l.strip().split('=', 1) for l in open(path) if '=' in l)\n"
        "def get_configuration():\n    return {'Logs.Verbose': _v.get('Logs.Verbose') == 'y', 'HttpProxy.Host': None}\n")
    (tmp_path / "waagent.conf").write_text("Logs.Verbose=y\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(["/usr/bin/python3", "-c", h.PROBE, str(tmp_path / "waagent.conf")], capture_output=True, text=True, env=env, check=False)
    answer = h.parse_probe(run.returncode, run.stdout, run.stderr)
    assert answer["imports"] and "WALinuxAgent-9.9.9.9" in answer["version"]
    assert answer["configuration"] == "HttpProxy.Host = None\nLogs.Verbose = True\n"
    # -I ignores PYTHONPATH, as it would for an agent installed only through it.
    run = subprocess.run(["/usr/bin/python3", "-I", "-c", h.PROBE, str(tmp_path / "waagent.conf")], capture_output=True, text=True, env=env, check=False)
    assert h.parse_probe(run.returncode, run.stdout, run.stderr)["error"] == "ModuleNotFoundError: No module named 'azurelinuxagent'"


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs python3")
def test_the_probe_does_not_import_from_its_working_folder(tmp_path):
    """`-c` puts the working folder first on sys.path: a json.py or azurelinuxagent/ there must not run (as root)."""
    import subprocess
    (tmp_path / "json.py").write_text("raise SystemExit('imported json.py from the working folder')\n")
    (tmp_path / "azurelinuxagent").mkdir()
    (tmp_path / "azurelinuxagent" / "__init__.py").write_text("raise SystemExit('imported the working folder\'s agent')\n")
    run = subprocess.run(["/usr/bin/python3", "-c", h.PROBE, "/nonexistent.conf"], capture_output=True, text=True, cwd=str(tmp_path),
                         env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.PIPE, check=False)
    assert "working folder" not in run.stderr + run.stdout
    assert h.parse_probe(run.returncode, run.stdout, run.stderr)["error"] == "ModuleNotFoundError: No module named 'azurelinuxagent'"


@pytest.mark.parametrize("execstart, expected", [
    # "@": path= is the program, argv[0] only its name.
    ("{ path=/usr/bin/python3 ; argv[]=waagent-daemon -u /usr/sbin/waagent -daemon ; ignore_errors=no }", ("/usr/bin/python3", ["-u"])),
    ("{ argv[]=@/usr/bin/python3 waagent-daemon -u /usr/sbin/waagent -daemon ; }", ("/usr/bin/python3", ["-u"])),
    ("{ argv[]=-/usr/bin/python3 -E /usr/sbin/waagent -daemon ; }", ("/usr/bin/python3", ["-E"])),
    ("{ argv[]=!!/usr/bin/python3 -s /usr/sbin/waagent -daemon ; }", ("/usr/bin/python3", ["-s"])),
    # Interpreters not named python*: everything before the waagent script.
    ("{ path=/usr/libexec/platform-python ; argv[]=/usr/libexec/platform-python -s -E /usr/sbin/waagent -daemon ; }",
     ("/usr/libexec/platform-python", ["-s", "-E"])),
    ("{ argv[]=/opt/pypy/bin/pypy3 -X dev /usr/sbin/waagent -daemon ; }", ("/opt/pypy/bin/pypy3", ["-X", "dev"])),
    # env with options and assignments in front.
    ("{ argv[]=/usr/bin/env -S LANG=C.UTF-8 python3 -u /usr/sbin/waagent -daemon ; }", ("python3", ["-u"])),
    ("{ argv[]=/usr/bin/env -i PYTHONPATH=/opt/a /usr/bin/python3 -I /usr/sbin/waagent -daemon ; }", ("/usr/bin/python3", ["-I"])),
    # Variables from the unit's environment.
    ("{ argv[]=/usr/bin/python3 $AGENT_FLAGS ${ONE} /usr/sbin/waagent -daemon ; }", ("/usr/bin/python3", ["-s", "-E", "-W ignore"])),
])
def test_agent_python_from_execstart_as_systemd_runs_it(execstart, expected):
    env = {"AGENT_FLAGS": "-s -E", "ONE": "-W ignore"}
    assert h.agent_python(h.execstart_argv(execstart), None, env) == expected


def test_an_unset_variable_in_execstart_is_cannot_tell():
    with pytest.raises(ValueError, match=r"\$FLAGS"):
        h.agent_python(h.execstart_argv("{ argv[]=/usr/bin/python3 $FLAGS /usr/sbin/waagent -daemon ; }"), None, {})


def test_env_assignments_in_execstart():
    argv = h.execstart_argv("{ argv[]=/usr/bin/env -u X LANG=C PYTHONPATH=/opt/a python3 /usr/sbin/waagent ; }")
    assert h.env_assignments(argv) == {"LANG": "C", "PYTHONPATH": "/opt/a"}


# -- what the log lines mean -------------------------------------------------------------------------------------

FOREVER = dict(now=datetime.datetime(2026, 1, 1), hours=24 * 365 * 10)


def kinds(summary):
    return {m["kind"]: m["count"] for m in summary["meanings"]}


def test_meanings_of_the_e2e_capture():
    summary = h.summarize_log(reference("waagent-log-e2e-ignore-rules.log"), **FOREVER)
    # 2 goal state errors name the WireServer; 8 other goal state lines (vmSettings 403/502/timeout, 410 Gone, the
    # Daemon's "Fetching the goal state failed", the 2.2.53 "An error occurred while retrieving the goal state").
    assert kinds(summary) == {"wireserver": 2, "goal_state": 8, "extensions_pending": 1, "extension_failed": 4}
    assert [m["kind"] for m in summary["meanings"]] == ["wireserver", "goal_state", "extensions_pending", "extension_failed"]
    failed = summary["meanings"][-1]
    assert failed["extensions"] == ["Microsoft.EnterpriseCloud.Monitoring.OmsAgentForLinux (Install)",
                                    "Microsoft.GuestConfiguration.ConfigurationforLinux (Install)"]
    assert failed["example"].startswith("2025-01-07T11:32:28 ERROR ExtHandler ExtHandler Event: name=Microsoft.GuestConfiguration")
    assert summary["meanings"][0]["example"].endswith("GET http://168.63.129.16/machine/ -- IOError timed out -- 6 attempts made")
    # Lines of no known meaning still count as errors and warnings.
    assert (summary["errors"], summary["warnings"]) == (15, 19)
    # The WireServer lines got no answer (timeout, reset); the goal state lines quote the answers they got.
    assert summary["meanings"][0]["statuses"] == []
    assert summary["meanings"][1]["statuses"] == ["HTTP 403 Forbidden", "HTTP 502 Bad Gateway", "HTTP 410 Gone"]
    assert [m["recovered"] for m in summary["meanings"]] == [None] * 4 and h.log_status(summary) == "found"


def test_meanings_of_the_agent_crash_capture():
    summary = h.summarize_log(reference("waagent-log-issue-2521-ubuntu2204-2.2.46.log"), **FOREVER)
    # 'failed with return code', 'returned code' (2.2.46) and 'failed with exception'; the agent's own
    # Event: name=WALinuxAgent is not an extension's failure.
    assert kinds(summary) == {"agent_failed": 3}
    assert summary["meanings"][0]["example"] == ("2022-10-27T05:53:49 WARNING ExtHandler Agent WALinuxAgent-2.2.46 failed with exception: "
                                                 "str expected, not NoneType")


def test_wireserver_not_responding_is_found_though_logged_as_info():
    summary = h.summarize_log(reference("waagent-log-issue-3256-wireserver-not-responding.log"), **FOREVER)
    assert (summary["errors"], summary["warnings"]) == (0, 0)
    assert kinds(summary) == {"wireserver": 1}
    text = h.describe_log(summary, "/var/log/waagent.log")
    # "not responding" is logged for any error of protocol detection: the words claim no silence of the WireServer.
    assert text.startswith("the agent's log shows extensions, the backup extension (VMSnapshotLinux) too, were not being processed: "
                           "the agent's requests to 168.63.129.16 (WireServer/HostGAPlugin) failed: no answer or an error answer "
                           "(1 line); 0 errors")
    assert h.log_status(summary) == "found"


# The line that follows in issue 3256 (protocol/util.py:236): the WireServer had answered, the HostGAPlugin's vmSettings gave 500.
ISSUE_3256_NEXT = ("2024-10-31T01:35:37.027408Z INFO Daemon Daemon Protocol endpoint not found: [ProtocolError] GET vmSettings "
                   "[correlation ID: a5d3ad6c-1393-4013-89fc-893801463715 eTag: None]: [HTTP Failed] [500: Internal Server Error] b'Server\n")


def test_wireserver_quotes_the_http_answer_of_the_line_that_follows():
    summary = h.summarize_log(reference("waagent-log-issue-3256-wireserver-not-responding.log") + ISSUE_3256_NEXT, **FOREVER)
    assert kinds(summary) == {"wireserver": 1}
    assert summary["meanings"][0]["statuses"] == ["HTTP 500 Internal Server Error"]
    assert ("failed: no answer or an error answer (1 line, HTTP 500 Internal Server Error); 0 errors"
            in h.describe_log(summary, "/var/log/waagent.log"))
    # Alone (a DHCP failure, no request made) it is no meaning and quotes nothing.
    assert h.summarize_log(ISSUE_3256_NEXT, **FOREVER)["meanings"] == []


@pytest.mark.parametrize("message, status", [
    ("[ProtocolError] [Wireserver Failed] URI http://168.63.129.16/machine/?comp=goalstate  [HTTP Failed] Status Code 500", "HTTP 500"),
    ("[ProtocolError] GET vmSettings [correlation ID: x eTag: 1]: [Internal error in HostGAPlugin] [HTTP Failed] [502: Bad Gateway] b''",
     "HTTP 502 Bad Gateway"),
    ("[ProtocolError] Error fetching goal state Inner error: [ResourceGoneError] Resource is gone", "HTTP 410 Gone"),
    ("[ProtocolError] [Wireserver Exception] [HttpError] [HTTP Failed] GET http://168.63.129.16/machine/ -- IOError timed out -- "
     "6 attempts made", None),
])
def test_http_status(message, status):
    assert h.http_status(message) == status


def test_meanings_only_count_the_window():
    summary = h.summarize_log(reference("waagent-log-e2e-ignore-rules.log"), now=datetime.datetime(2025, 9, 6, 12), hours=6)
    assert kinds(summary) == {"wireserver": 1, "goal_state": 1}  # 2025-09-06 08:47 and 08:48


# Lines in the message formats of the agent's source (file:line in causes/linux_agent.py), not in the captures.
@pytest.mark.parametrize("line, kind", [
    ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler ProcessExtensionsGoalState failed [incarnation_2 120 ms]", "processing_stopped"),
    ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler ProcessExtensionsInGoalState - Exception processing extension handlers:x",
     "processing_stopped"),
    ("2025-05-01T10:00:00.0Z WARNING ExtHandler ExtHandler Unexpected error when processing goal state:x", "processing_stopped"),
    ("2025-05-01T10:00:00.0Z INFO ExtHandler ExtHandler Extension handling is on hold", "processing_stopped"),
    ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Event: name=Microsoft.Azure.RecoveryServices.VMSnapshotLinux, "
     "op=ExtensionProcessing, message=Extension 'Microsoft.Azure.RecoveryServices.VMSnapshotLinux' will not be processed since "
     "extension processing is disabled. To enable extension processing, set Extensions.Enabled=y", "processing_stopped"),
    ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Fetching the goal state is still failing: [ProtocolError] x", "goal_state"),
    ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Error fetching the goal state certificates: x", "goal_state"),
    ("2019/05/01 10:00:00.123 ERROR ExtHandler Exceeded max retry updating goal state", "goal_state"),
    ("2019/05/01 10:00:00.123 WARNING ExtHandler IOError processing goal state (attempt 3/6) [timed out]", "goal_state"),
    ("2025-05-01T10:00:00.0Z WARNING ExtHandler ExtHandler ExtHandler process WALinuxAgent-2.15.0.1 launched with command "
     "'python3 -u bin/WALinuxAgent-2.15.0.1-py3.12.egg -run-exthandlers' exited with return code: 1", "agent_failed"),
])
def test_meanings_of_source_message_formats(line, kind):
    assert kinds(h.summarize_log(line + "\n", **FOREVER)) == {kind: 1}


@pytest.mark.parametrize("line", [
    # From the captures: logged, but no sign that extensions stop.
    "2023-01-18T02:58:25.589492Z ERROR SendTelemetryHandler ExtHandler Event: name=WALinuxAgent, op=ReportEventErrors, message=DroppedEventsCount: 1",
    "2022-03-08T03:03:23.036161Z WARNING ExtHandler ExtHandler Fetch failed from [http://168.63.129.16:32526/extensionArtifact]: "
    "[HTTP Failed] [400: Bad Request] b''",
    "2025-09-06T08:47:42.367645Z WARNING MonitorHandler ExtHandler Error in SendHostPluginHeartbeat: [ProtocolError] [Wireserver Exception] "
    "[HttpError] [HTTP Failed] GET http://168.63.129.16/machine/ -- IOError timed out -- 6 attempts made",
    "2024-08-08T22:05:26.561896Z WARNING EnvHandler ExtHandler The firewall is not configured correctly. The following rules are missing: "
    "['ACCEPT DNS']. Will reset it.",
    "2021-07-29T04:40:17.190879Z WARNING EnvHandler ExtHandler Dhcp client is not running.",
    "2025-01-06T09:32:44.641948Z INFO ExtHandler ExtHandler [CGW] Disabling resource usage monitoring. Reason: Failed to start "
    "Microsoft.Azure.Extensions.CustomScript-2.1.10 using systemd-run, will try invoking the extension directly.",
    "2024-10-31T01:35:36.947560Z INFO Daemon Fetched a new incarnation for the WireServer goal state [incarnation 1]",
    "2024-10-31T01:35:36.876949Z INFO Daemon Daemon Initializing goal state during protocol detection",
    # Formats of the source that are no failure: a successful extension event, the recovery, an agent update's install.
    "2025-05-01T10:00:00.0Z INFO ExtHandler ExtHandler Event: name=Microsoft.Azure.RecoveryServices.VMSnapshotLinux, op=Enable, "
    "message=Launch command succeeded, duration=10",
    "2025-05-01T10:00:00.0Z INFO ExtHandler ExtHandler Fetching the goal state recovered from previous errors. Fetched incarnation_3",
    "2019/05/01 10:00:00.123 WARNING ExtHandler Agent WALinuxAgent-2.2.40 install failed with exception: x",
    "2025-05-01T10:00:00.0Z INFO ExtHandler ExtHandler ProcessExtensionsGoalState completed [incarnation_2 1250 ms]",
    # Not a log line of the agent at all.
    "Error fetching the goal state: [ProtocolError] without a timestamp",
])
def test_lines_of_no_known_meaning(line):
    summary = h.summarize_log(line + "\n", **FOREVER)
    assert summary["meanings"] == []
    assert h.describe_log(summary, "/var/log/waagent.log").startswith("%d errors" % summary["errors"])


def test_the_backup_extension_failing_is_named():
    line = ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Event: name=Microsoft.Azure.RecoveryServices.VMSnapshotLinux, op=Enable, "
            "message=[ExtensionOperationError] Non-zero exit code: 1, /var/lib/waagent/x/main/handle.sh enable\n")
    summary = h.summarize_log(line * 2, now=datetime.datetime(2025, 5, 1, 11))
    assert summary["meanings"][0]["extensions"] == ["Microsoft.Azure.RecoveryServices.VMSnapshotLinux (Enable)"]
    assert h.describe_log(summary, "/var/log/waagent.log") == (
        "the backup extension (VMSnapshotLinux) failed, says the agent's log: an extension's handler failed (2 lines: "
        "Microsoft.Azure.RecoveryServices.VMSnapshotLinux (Enable)); 2 errors, 0 warnings in the last 24 h of /var/log/waagent.log")


def test_other_extensions_failing_alone():
    line = ("2024-12-26T06:35:24.233438Z ERROR ExtHandler ExtHandler Event: name=Microsoft.GuestConfiguration.ConfigurationforLinux, "
            "op=Install, message=[ExtensionOperationError] Non-zero exit code: 51\n")
    text = h.describe_log(h.summarize_log(line, now=datetime.datetime(2024, 12, 26, 8)), "/var/log/waagent.log")
    assert text.startswith("the agent's log shows extension handlers failing, so extensions were not processed as asked: ")


def test_no_meaning_keeps_the_latest_error():
    line = "2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Something else broke\n"
    assert h.describe_log(h.summarize_log(line, now=datetime.datetime(2025, 5, 1, 11)), "/var/log/waagent.log") == (
        "1 errors, 0 warnings in the last 24 h of /var/log/waagent.log; latest: 2025-05-01T10:00:00 ExtHandler ExtHandler Something else broke")


# -- recovery: the agent logged working again after a problem --------------------------------------------------------

GONE = ("2025-05-01T10:00:00.0Z ERROR ExtHandler ExtHandler Error fetching the goal state: [ProtocolError] Error fetching goal state "
        "Inner error: [ResourceGoneError] [HTTP Failed] [410: Gone] The page you requested was removed.\n")
FETCHED = ("2025-05-01T10:01:00.0Z INFO ExtHandler ExtHandler Fetching the goal state recovered from previous errors. "
           "Fetched incarnation_3 (certificates: [])\n")


def run_lines(minute, failed=False):
    """A run of the extension handlers at 10:<minute> in v2.15.0.1's texts (ga/exthandlers.py:339, :353, :356)."""
    stamp = "2025-05-01T10:%02d:%%02d.0Z" % minute
    end = ("ERROR ExtHandler ExtHandler ProcessExtensionsGoalState failed [incarnation_3 90 ms]" if failed
           else "INFO ExtHandler ExtHandler ProcessExtensionsGoalState completed [incarnation_3 90 ms]")
    return ("%s INFO ExtHandler ExtHandler ProcessExtensionsGoalState started [incarnation_3 channel: WireServer source: Fabric "
            "activity: x correlation y created: 2025-05-01T10:00:00.0Z]\n" % (stamp % 10)) + ("%s %s\n" % (stamp % 20, end))


AFTER = dict(now=datetime.datetime(2025, 5, 1, 11))


def test_a_goal_state_error_the_agent_recovered_from_is_no_finding():
    summary = h.summarize_log(GONE + FETCHED + run_lines(1), **AFTER)
    [gone] = summary["meanings"]
    assert gone["kind"] == "goal_state" and gone["recovered"] == "2025-05-01T10:01:20"
    assert (summary["errors"], summary["open_errors"]) == (1, 0) and h.log_status(summary) == "ok"
    assert h.describe_log(summary, "/var/log/waagent.log") == (
        "the agent's log shows extensions were held up, but the agent recovered: the agent could not fetch its goal state "
        "(1 line, HTTP 410 Gone, recovered at 2025-05-01T10:01:20); 1 errors, 0 warnings in the last 24 h of /var/log/waagent.log")
    # The "recovered" line alone is enough for a fetch problem.
    assert h.summarize_log(GONE + FETCHED, **AFTER)["meanings"][0]["recovered"] == "2025-05-01T10:01:00"


def test_without_a_success_line_or_with_the_problem_again_it_stands():
    for text in (GONE, FETCHED + run_lines(1) + GONE.replace("10:00:00", "10:05:00")):
        summary = h.summarize_log(text, **AFTER)
        assert summary["meanings"][0]["recovered"] is None and h.log_status(summary) == "found"
        assert h.describe_log(summary, "x").startswith(
            "the agent's log shows extensions, the backup extension (VMSnapshotLinux) too, were not being processed: "
            "the agent could not fetch its goal state (1 line, HTTP 410 Gone); ")


def test_a_run_that_completed_after_an_error_inside_it_is_no_recovery():
    # ga/exthandlers.py:390 logs the error inside the run, which then still logs "completed" (:353).
    inside = run_lines(1).replace("\n", "\n2025-05-01T10:01:15.0Z WARNING ExtHandler ExtHandler Unexpected error when processing "
                                  "goal state:[ExtensionError] x\n", 1)
    assert h.summarize_log(inside, **AFTER)["meanings"][0]["recovered"] is None
    summary = h.summarize_log(inside + run_lines(2), **AFTER)
    assert summary["meanings"][0]["kind"] == "processing_stopped" and summary["meanings"][0]["recovered"] == "2025-05-01T10:02:20"
    assert h.log_status(summary) == "ok"


def test_a_fetched_goal_state_does_not_end_processing_problems():
    crashed = ("2025-05-01T10:00:00.0Z WARNING ExtHandler ExtHandler ExtHandler process WALinuxAgent-2.15.0.1 launched with command "
               "'python3 -u bin/WALinuxAgent-2.15.0.1-py3.12.egg -run-exthandlers' exited with return code: 1\n")
    assert h.summarize_log(crashed + FETCHED, **AFTER)["meanings"][0]["recovered"] is None
    assert h.summarize_log(crashed + run_lines(1, failed=True), **AFTER)["meanings"][0]["recovered"] is None
    assert h.summarize_log(crashed + run_lines(1), **AFTER)["meanings"][0]["recovered"] == "2025-05-01T10:01:20"


def test_older_agents_recovery_texts():
    # 2.4 to 2.7: v2.6.0.2 ga/update.py:410 and ga/exthandlers.py:351, :362.
    old = (GONE + "2025-05-01T10:01:00.0Z INFO ExtHandler ExtHandler Retrieving the goal state recovered from previous errors\n")
    assert h.summarize_log(old, **AFTER)["meanings"][0]["recovered"] == "2025-05-01T10:01:00"
    runs = run_lines(1).replace("ProcessExtensionsGoalState", "ProcessExtensionsInGoalState")
    assert h.summarize_log(GONE + runs, **AFTER)["meanings"][0]["recovered"] == "2025-05-01T10:01:20"


def test_what_was_not_recovered_still_makes_the_finding():
    other = ("2025-05-01T10:30:00.0Z ERROR ExtHandler ExtHandler Event: name=Microsoft.GuestConfiguration.ConfigurationforLinux, "
             "op=Install, message=[ExtensionOperationError] Non-zero exit code: 51\n")
    summary = h.summarize_log(GONE + FETCHED + other, **AFTER)
    assert [m["recovered"] is None for m in summary["meanings"]] == [False, True] and summary["open_errors"] == 1
    assert h.log_status(summary) == "found"
    assert h.describe_log(summary, "x").startswith("the agent's log shows extension handlers failing, so extensions were not processed as asked: ")
    # An error of no known meaning is not covered by the recovery either.
    unknown = "2025-05-01T10:30:00.0Z ERROR ExtHandler ExtHandler Something else broke\n"
    summary = h.summarize_log(GONE + FETCHED + unknown, **AFTER)
    assert summary["open_errors"] == 1 and h.log_status(summary) == "found"
