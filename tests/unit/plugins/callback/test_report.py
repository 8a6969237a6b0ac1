from __future__ import annotations

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
    assert callback.hosts["vm01"]["log_bundle"] == "reports/log-bundles/vm01-x.tar.gz"


def test_the_windows_log_bundle_path_lands_in_the_host_entry():
    callback = CallbackModule()
    callback.v2_runner_on_ok(_Result({"path": "reports/log-bundles/vm01-w.tar.gz"}, action="azure_backup.remediation.win_log_bundle"))
    assert callback.hosts["vm01"]["log_bundle"] == "reports/log-bundles/vm01-w.tar.gz"


def test_the_log_bundle_the_remediate_task_wrote_lands_in_the_host_entry():
    callback = CallbackModule()
    callback.v2_runner_on_failed(_Result({"failed": True, "msg": "NETWORK: timeout", "log_bundle": {"path": "b/vm01-y.tar.gz", "reasons": []},
                                          "findings": [{"id": "NETWORK", "check": "wireserver", "status": "failed"}]},
                                         action="azure_backup.remediation.remediate"))
    assert callback.hosts["vm01"]["log_bundle"] == "b/vm01-y.tar.gz" and callback.hosts["vm01"]["errors"] == []
