"""The detached runner (plugin_utils/windows/detached.py) with its round trips replaced by recorded answers:
what it sends, how it reads back through lost connections, and what it returns for each ending."""
from __future__ import annotations

import base64
import json
from unittest.mock import MagicMock

import pytest
import requests
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
from winrm.exceptions import WinRMError, WinRMTransportError

VARS = {"inventory_hostname": "win01"}
PROBE = "#azure_backup.remediation/probe.task\n[CmdletBinding()]\nparam([int]$Index)\n@{ index = $Index }\n"


class Probe(detached.WinDetachedAction):
    CAUSE = "SNAPSHOT_STATUS"  # a cause the findings know: a failed run becomes one of its findings
    outcome: dict = {}

    def steps(self):
        self.outcome = self.run_detached("probe.task", PROBE, {"Index": 5}, "the probe", 30)
        yield from ()


def probe(answers, check_mode=False):
    task = MagicMock(Task)
    task.args, task.async_val, task.check_mode, task.diff = {}, 0, check_mode, True
    plugin = Probe(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=MagicMock(Templar), shared_loader_obj=None)
    plugin._execute_module = MagicMock(side_effect=list(answers))
    plugin._connection = MagicMock()
    plugin._sleep = lambda seconds: None
    clock = iter(range(0, 10000, 3))
    plugin._now = lambda: next(clock)
    plugin._stamp = lambda: "20260101T000000Z"
    return plugin


REGISTERED = {"changed": True, "result": {"task": "azure-backup-probe-task-20260101T000000Z"}}


def read(marker=None, task_state="Ready", started=False, last_result=267011):
    return {"changed": False, "result": {"marker": marker, "task_state": task_state, "started": started, "last_result": last_result}}


def marker(**outcome):
    return "\ufeff" + json.dumps(dict({"started": "2026-01-01T00:00:05Z", "finished": "2026-01-01T00:00:09Z"}, **outcome))


def scripts(plugin):
    return [c.kwargs["module_args"]["script"] for c in plugin._execute_module.call_args_list]


def test_a_detached_run_registers_once_and_returns_the_scripts_result():
    plugin = probe([REGISTERED, read(), read(marker=marker(state="done", result={"index": 5}))])
    result = plugin.run(task_vars=VARS)
    assert not result.get("failed") and result["changed"]
    assert plugin.outcome["state"] == "done" and plugin.outcome["result"] == {"index": 5}
    assert plugin.outcome["marker"] == "C:\\ProgramData\\azure-backup\\tasks\\azure-backup-probe-task-20260101T000000Z.json"
    assert scripts(plugin) == [detached.REGISTER, detached.READ, detached.READ]
    sent = plugin._execute_module.call_args_list[0].kwargs["module_args"]["parameters"]
    assert sent["Script"] == PROBE and sent["Parameters"] == {"Index": 5} and sent["Bootstrap"] == detached.BOOTSTRAP
    assert sent["Directory"] == detached.WORK_DIR and sent["Directory"].startswith(sent["Root"] + "\\")
    assert sent["TimeLimitSeconds"] == 30 + detached.TIME_LIMIT_MARGIN and sent["CommandLimit"] == 32767


@pytest.mark.parametrize("lost", [AnsibleConnectionFailure("winrm connection error"), AnsibleError("winrm send_input failed"),
                                  WinRMTransportError("http", 500, "Bad HTTP response"), WinRMError("invalid shell id"),
                                  requests.exceptions.ConnectionError("Connection refused"), ConnectionResetError(104, "reset")],
                         ids=lambda e: type(e).__name__)
def test_every_kind_of_lost_connection_is_reset_and_read_again(lost):
    # The registering call and two read-backs lose their answers; the next read finds the marker.
    plugin = probe([lost, lost, lost, read(marker=marker(state="done", result={"index": 5}))])
    plugin.run(task_vars=VARS)
    assert plugin.outcome["state"] == "done" and plugin.outcome["register_answer_lost"]
    assert plugin._connection.reset.call_count == 3 and len(scripts(plugin)) == 4


def test_a_script_that_threw_is_failed_with_its_message():
    plugin = probe([REGISTERED, read(marker=marker(state="failed", error="Access is denied."))])
    plugin.run(task_vars=VARS)
    assert plugin.outcome["state"] == "failed" and plugin.outcome["error"] == "Access is denied."


def test_a_marker_that_is_not_json_is_a_failure_not_a_guess():
    plugin = probe([REGISTERED, read(marker="{half")])
    plugin.run(task_vars=VARS)
    assert plugin.outcome["state"] == "failed" and "is not JSON" in plugin.outcome["error"]


def test_no_marker_within_the_timeout_is_unknown_and_bounded():
    plugin = probe([REGISTERED] + [read(started=True, task_state="Running", last_result=267009)] * 100)
    plugin.run(task_vars=VARS)
    outcome = plugin.outcome
    assert outcome["state"] == "unknown" and outcome["registered"] is True and outcome["started"] is True
    assert outcome["task_state"] == "Running" and outcome["last_result"] == 267009 and outcome["marker"].endswith(".json")
    assert 5 < plugin._execute_module.call_count < 20  # every 3 s for 30 s


def test_a_lost_registration_that_never_shows_up_is_unknown_and_not_registered():
    plugin = probe([AnsibleConnectionFailure("timed out")] + [read(task_state=None)] * 100)
    plugin.run(task_vars=VARS)
    assert plugin.outcome["state"] == "unknown" and plugin.outcome["registered"] is False
    assert plugin.outcome["register_answer_lost"] == "timed out"


def test_a_refused_registration_raises_and_says_nothing_ran():
    refused = {"failed": True, "error": [{"exception": {"message": "refusing to run a SYSTEM task from C:\\ProgramData\\azure-backup\\tasks: "
                                                                   "C:\\ProgramData\\azure-backup is owned by S-1-5-21-1-2-3-1013"}}]}
    plugin = probe([refused])
    result = plugin.run(task_vars=VARS)
    assert result["failed"] and not result["changed"] and "Nothing was run" in result["msg"]
    assert "is owned by S-1-5-21-1-2-3-1013" in result["msg"] and len(scripts(plugin)) == 1


def test_never_in_check_mode():
    plugin = probe([])
    with pytest.raises(RuntimeError):
        plugin.check_mode = True
        plugin.task_vars, plugin.findings = VARS, []
        plugin.run_detached("probe.task", PROBE, {}, "the probe", 30)
    assert not plugin._execute_module.called


def test_the_encoded_bootstrap_fits_a_command_line_with_room_to_spare():
    # What the register script builds, for the longest names a run gets.
    names = detached.run_names("snapshot_status.dhcp_task", "20261231T235959Z")
    command = "& {\n" + detached.BOOTSTRAP + "\n} -JobPath '" + names["job"] + "' -Sha256 '" + "f" * 64 + "' -MarkerPath '" + \
        names["marker"] + "' -DelaySeconds 5"
    arguments = "-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand " + base64.b64encode(command.encode("utf-16-le")).decode()
    length = len("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe") + 3 + len(arguments)
    assert length < detached.COMMAND_LINE_LIMIT // 2


def test_the_task_runs_as_system_by_sid_started_at_once_and_without_a_script_file():
    assert "-UserId 'S-1-5-18'" in detached.REGISTER and "Start-ScheduledTask" in detached.REGISTER
    assert "-EncodedCommand" in detached.REGISTER and "-File" not in detached.REGISTER
