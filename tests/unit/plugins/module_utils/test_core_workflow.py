"""The workflow statistics (core/workflow.py): each host judged as the report judges it, and a key per AWX job."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.workflow import stats


def finding(status):
    return {"id": "WIN_AGENT", "check": "service", "host": "", "status": status, "severity": "critical", "summary": "", "detail": {}, "doc": ""}


OUTCOMES = {
    "ok1": {"findings": [finding("ok")]},
    "fixed1": {"findings": [finding("ok"), finding("fixed")]},
    "found1": {"findings": [finding("fixed"), finding("found")]},
    "failed1": {"findings": [finding("failed")], "msg": "WIN_AGENT: the service did not start"},
    # The task failed with no finding that says so (the execution itself failed): failed, as in the report.
    "error1": {"findings": [finding("ok")], "msg": "MODULE FAILURE"},
    "gone1": None,
}


def test_each_host_is_judged_as_the_report_judges_it_and_anything_unsettled_is_broken():
    data = stats(OUTCOMES)
    assert data["azure_backup_hosts"] == {"ok1": "ok", "fixed1": "fixed", "found1": "found", "failed1": "failed", "error1": "failed",
                                          "gone1": "unreachable"}
    assert data["azure_backup_totals"] == {"unreachable": 1, "failed": 2, "found": 1, "fixed": 1, "ok": 1, "skipped": 0}
    assert data["azure_backup_broken"] is True
    assert data["azure_backup_broken_hosts"] == ["error1", "failed1", "found1", "gone1"]
    assert not [k for k in data if k.startswith("azure_backup_job_")]


def test_a_fleet_with_only_ok_and_fixed_hosts_is_not_broken():
    data = stats({"a": OUTCOMES["ok1"], "b": OUTCOMES["fixed1"]}, check_mode=True)
    assert data["azure_backup_broken"] is False and data["azure_backup_broken_hosts"] == []
    assert data["azure_backup_check_mode"] is True


def test_under_awx_each_job_has_its_own_key_with_its_report_name():
    data = stats({"a": OUTCOMES["found1"]}, job_id=4711)
    assert data["azure_backup_job_4711"] == {"hosts": {"a": "found"}, "totals": data["azure_backup_totals"], "broken": True,
                                             "broken_hosts": ["a"], "check_mode": False, "report": "azure-backup-report-job4711"}
