from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.azure_backup.remediation.plugins.callback.report import CallbackModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import host_status


def entry(*statuses, errors=(), unreachable=False):
    return {"findings": [{"status": s} for s in statuses], "errors": list(errors), "unreachable": unreachable}


@pytest.mark.parametrize("item, expected", [
    (entry("ok", "ok"), "ok"),
    (entry("ok", "fixed"), "fixed"),
    (entry("fixed", "found"), "found"),
    (entry("found", "failed"), "failed"),
    (entry("ok", errors=[{"msg": "boom"}]), "failed"),
    (entry(errors=[{"msg": "ssh: connect"}], unreachable=True), "unreachable"),
    (entry(), "skipped"),
])
def test_a_host_is_as_bad_as_its_worst_finding(item, expected):
    assert host_status(item) == expected


class _Result:
    """Just what the callback reads of a task result."""

    def __init__(self, data, action="azure_backup.remediation.linux_agent"):
        self._result = data
        self._task = type("Task", (), {"action": action, "_role": None, "get_name": lambda self: "LINUX_AGENT | task"})()
        self._host = type("Host", (), {"get_name": lambda self: "vm01"})()


@pytest.mark.parametrize("findings, errors", [
    # Partial findings, none failed: the failure itself must reach the report.
    ([{"id": "LINUX_AGENT", "check": "agent_python", "status": "found"}], 1),
    # A failed finding tells the story; no second entry.
    ([{"id": "LINUX_AGENT", "check": "agent_service", "status": "failed"}], 0),
    ([], 1),
])
def test_a_failed_task_is_an_error_unless_a_finding_says_failed(findings, errors):
    callback = CallbackModule()
    callback.v2_runner_on_failed(_Result({"failed": True, "msg": "waagent --version failed", "findings": findings}))
    entry = callback.hosts["vm01"]
    assert len(entry["errors"]) == errors and len(entry["findings"]) == len(findings)
    assert host_status(entry) == "failed"


def test_the_log_bundle_path_lands_in_the_host_entry():
    callback = CallbackModule()
    callback.v2_runner_on_ok(_Result({"path": "reports/log-bundles/vm01-x.tar.gz"}, action="azure_backup.remediation.log_bundle"))
    # Absolute, so a merge run from another folder still finds it.
    assert callback.hosts["vm01"]["log_bundle"] == os.path.abspath("reports/log-bundles/vm01-x.tar.gz")


def test_the_windows_log_bundle_path_lands_in_the_host_entry():
    callback = CallbackModule()
    callback.v2_runner_on_ok(_Result({"path": "reports/log-bundles/vm01-w.tar.gz"}, action="azure_backup.remediation.win_log_bundle"))
    assert callback.hosts["vm01"]["log_bundle"] == os.path.abspath("reports/log-bundles/vm01-w.tar.gz")


def test_the_log_bundle_the_remediate_task_wrote_lands_in_the_host_entry():
    callback = CallbackModule()
    callback.v2_runner_on_failed(_Result({"failed": True, "msg": "NETWORK: timeout", "log_bundle": {"path": "b/vm01-y.tar.gz", "reasons": []},
                                          "findings": [{"id": "NETWORK", "check": "wireserver", "status": "failed"}]},
                                         action="azure_backup.remediation.remediate"))
    assert callback.hosts["vm01"]["log_bundle"] == os.path.abspath("b/vm01-y.tar.gz") and callback.hosts["vm01"]["errors"] == []


# -- the run's files, language, AWX, diagnosis and console -----------------------------------------------------------------

class _Display:
    def __init__(self):
        self.lines, self.errors = [], []

    def display(self, text, **_kwargs):
        self.lines.append(text)

    def banner(self, text, **_kwargs):
        self.lines.append(text)

    def error(self, text, **_kwargs):
        self.errors.append(text)

    def warning(self, text, **_kwargs):
        self.errors.append("WARNING " + text)


class _Play:
    def __init__(self, extra_vars):
        self.manager = type("VariableManager", (), {"extra_vars": extra_vars})()

    def get_variable_manager(self):
        return self.manager


def callback_for(tmp_path, extra_vars=None, language="en"):
    callback = CallbackModule()
    # What set_options would leave (env, ini and defaults are ansible-core's part).
    callback._plugin_options = {"report_dir": str(tmp_path), "language": language}
    callback._display = _Display()
    callback.playbook = "fix-backup.yml"
    callback.v2_playbook_on_play_start(_Play(extra_vars or {}))
    return callback


def remediate_result(findings, **extra):
    return _Result(dict({"findings": findings, "causes": {}}, **extra), action="azure_backup.remediation.remediate")


def test_a_run_writes_json_html_and_junit_with_one_name(tmp_path):
    callback = callback_for(tmp_path)
    callback.v2_runner_on_ok(remediate_result([{"id": "LINUX_AGENT", "check": "agent_service", "status": "fixed", "summary": "did start"}]))
    callback.v2_playbook_on_stats(None)
    files = sorted(p.name for p in tmp_path.iterdir())
    stem = files[0].rsplit(".", 1)[0]
    assert files == [stem + ".html", stem + ".json", stem + ".xml"] and stem.startswith("azure-backup-report-2")
    report = json.loads((tmp_path / (stem + ".json")).read_text())
    assert report["hosts"]["vm01"]["fixed"] == 1 and report["language"] == "en" and "awx_job_id" not in report
    assert ET.parse(tmp_path / (stem + ".xml")).getroot().find("testsuite").get("tests") == "1"
    assert "<!DOCTYPE html>" in (tmp_path / (stem + ".html")).read_text()
    base = str(tmp_path / stem)
    assert callback._display.lines[-3:] == ["Report: %s.json" % base, "        %s.html" % base, "        %s.xml" % base]


def test_under_awx_the_name_is_the_job_and_the_ids_are_in_the_json(tmp_path):
    callback = callback_for(tmp_path, {"awx_job_id": 4711, "awx_workflow_job_id": 4700})
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "ok", "summary": ""}]))
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "azure-backup-report-job4711.json").read_text())
    assert report["awx_job_id"] == 4711 and report["awx_workflow_job_id"] == 4700
    assert (tmp_path / "azure-backup-report-job4711.html").exists() and (tmp_path / "azure-backup-report-job4711.xml").exists()


def test_under_awx_the_job_s_report_is_replaced_not_written_beside(tmp_path):
    # The workflow statistics name azure-backup-report-job<id>: an old file of that name (a reinstalled AWX whose IDs
    # started again) must not stay there while this job's goes to -2.
    (tmp_path / "azure-backup-report-job4711.json").write_text("{}")
    callback = callback_for(tmp_path, {"awx_job_id": 4711})
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "ok", "summary": ""}]))
    callback.v2_playbook_on_stats(None)
    assert json.loads((tmp_path / "azure-backup-report-job4711.json").read_text())["awx_job_id"] == 4711
    assert sorted(p.name for p in tmp_path.iterdir()) == ["azure-backup-report-job4711.html", "azure-backup-report-job4711.json",
                                                          "azure-backup-report-job4711.xml"]


def test_the_extra_var_report_dir_wins_over_the_option(tmp_path):
    callback = callback_for(tmp_path / "option", {"azure_backup_report_dir": str(tmp_path / "extra")})
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "ok", "summary": ""}]))
    callback.v2_playbook_on_stats(None)
    assert len(list((tmp_path / "extra").glob("*.json"))) == 1 and not (tmp_path / "option").exists()


def test_under_awx_a_report_folder_deleted_with_the_job_is_warned_of_at_start_and_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    callback = callback_for(tmp_path / "reports", {"awx_job_id": 7})
    assert len(callback._display.errors) == 1 and "which AWX deletes with the job" in callback._display.errors[0]
    assert "azure_backup_report_dir" in callback._display.errors[0] and "docs/awx.md" in callback._display.errors[0]
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "ok", "summary": ""}]))
    callback.v2_playbook_on_stats(None)
    assert len(callback._display.errors) == 2
    # Outside AWX, or a folder outside the job's: no warning.
    assert callback_for(tmp_path / "reports")._display.errors == []
    monkeypatch.chdir(tmp_path / "reports")
    assert callback_for(tmp_path / "elsewhere", {"awx_job_id": 7})._display.errors == []


def test_a_host_no_check_ran_on_is_not_checked_not_all_ok(tmp_path):
    callback = callback_for(tmp_path)
    callback.v2_runner_on_ok(remediate_result([]))
    callback.v2_playbook_on_stats(None)
    assert "vm01: skipped, not checked" in callback._display.lines


def test_an_unreachable_host_s_line_counts_no_open_finding(tmp_path):
    callback = callback_for(tmp_path)
    callback.v2_runner_on_unreachable(remediate_result([], msg="ssh: connect to host vm01 port 22: No route to host"))
    callback.v2_playbook_on_stats(None)
    assert "vm01: unreachable" in callback._display.lines


def test_the_extra_var_language_wins_over_the_option(tmp_path):
    callback = callback_for(tmp_path, {"azure_backup_report_language": "de"}, language="en")
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "found", "summary": "x"}]))
    callback.v2_playbook_on_stats(None)
    [page] = tmp_path.glob("*.html")
    assert '<html lang="de">' in page.read_text() and callback._display.errors == []


@pytest.mark.parametrize("extra_vars, language, names", [
    ({"azure_backup_report_language": "fr"}, "en", "the extra variable azure_backup_report_language = 'fr'"),
    ({}, "english", "the option language (AZURE_BACKUP_REPORT_LANGUAGE, [azure_backup] report_language) = 'english'"),
])
def test_a_bad_language_is_an_error_at_the_start_and_the_end(tmp_path, extra_vars, language, names):
    callback = callback_for(tmp_path, extra_vars, language=language)
    assert callback._display.errors == ["azure_backup.remediation.report: %s is not allowed: en or de; no HTML report is written" % names]
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "dns", "status": "found", "summary": "x"}]))
    callback.v2_playbook_on_stats(None)
    assert len(callback._display.errors) == 2
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".xml"]


def test_the_diagnosis_is_kept_per_host_and_for_the_run(tmp_path):
    callback = callback_for(tmp_path)
    diagnosis = {"codes": ["UserErrorGuestAgentStatusUnavailable"], "causes": ["LINUX_AGENT", "NETWORK"], "not_here": ["WIN_AGENT"],
                 "control_plane": []}
    callback.v2_runner_on_ok(remediate_result([{"id": "LINUX_AGENT", "check": "agent_service", "status": "ok", "summary": ""}],
                                              diagnosis=diagnosis))
    callback.v2_playbook_on_stats(None)
    [path] = tmp_path.glob("*.json")
    report = json.loads(path.read_text())
    assert report["hosts"]["vm01"]["diagnosis"] == diagnosis
    assert report["diagnosis"] == {"codes": ["UserErrorGuestAgentStatusUnavailable"]}
    assert "Error code: UserErrorGuestAgentStatusUnavailable" in callback._display.lines
    assert "  tried   LINUX_AGENT, NETWORK" in callback._display.lines


@pytest.mark.parametrize("statuses, line", [
    (["fixed", "fixed", "found", "ok"], "vm01: found (2 fixed, 1 open)"),
    (["found", "ok"], "vm01: found (0 fixed, 1 open)"),
    (["fixed", "ok"], "vm01: fixed (1 fixed, 0 open)"),
    (["ok", "ok"], "vm01: ok, all checks ok"),
])
def test_a_hosts_line_says_fixed_and_open_apart(tmp_path, statuses, line):
    callback = callback_for(tmp_path)
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "c%d" % i, "status": s, "summary": ""} for i, s in enumerate(statuses)]))
    callback.v2_playbook_on_stats(None)
    assert line in callback._display.lines


def test_the_merge_task_speaks_for_no_host(tmp_path):
    callback = callback_for(tmp_path)
    callback.v2_runner_on_ok(_Result({"changed": True, "paths": {}}, action="azure_backup.remediation.merge_reports"))
    callback.v2_playbook_on_stats(None)
    assert callback.hosts == {} and list(tmp_path.iterdir()) == []


def test_control_characters_from_a_host_never_reach_the_console(tmp_path):
    callback = callback_for(tmp_path)
    hostile = "agent log: \x1b[32mall good\x1b[0m\rvm02: ok\x9b2J\x7f\nfake line"
    callback.v2_runner_on_ok(remediate_result([{"id": "NETWORK", "check": "wireserver", "status": "found", "summary": hostile}]))
    callback.v2_playbook_on_stats(None)
    line = next(text for text in callback._display.lines if "agent log" in text)
    assert not re.search("[\x00-\x1f\x7f-\x9f]", "".join(callback._display.lines))
    assert line == "  found   NETWORK/wireserver: agent log: \ufffd[32mall good\ufffd[0m\ufffdvm02: ok\ufffd2J\ufffd\ufffdfake line"
