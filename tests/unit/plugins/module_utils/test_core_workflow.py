"""The workflow statistics (core/workflow.py): each host judged as the report judges it, and a key per AWX job."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.workflow import stats, temporary_under_awx


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
                                             "broken_hosts": ["a"], "azure_steps": [], "check_mode": False,
                                             "report": "azure-backup-report-job4711"}


def test_an_error_code_whose_remedy_is_in_azure_breaks_no_host_and_is_published_apart():
    # The finding an error code leaves (cause ERROR_CODE) says what to do in Azure; the VM itself is fine.
    azure = dict(finding("found"), id="ERROR_CODE", check="error_code_ExtensionSnapshotFailedNoSecureNetwork",
                 detail={"code": "ExtensionSnapshotFailedNoSecureNetwork", "message": ""})
    data = stats({"a": {"findings": [finding("ok"), azure]}, "b": {"findings": [finding("found"), azure]}}, job_id=5)
    assert data["azure_backup_hosts"] == {"a": "ok", "b": "found"}
    assert data["azure_backup_broken_hosts"] == ["b"]
    assert data["azure_backup_azure_steps"] == ["ExtensionSnapshotFailedNoSecureNetwork"]
    assert data["azure_backup_job_5"]["azure_steps"] == ["ExtensionSnapshotFailedNoSecureNetwork"]
    assert stats({"a": {"findings": [finding("ok")]}})["azure_backup_azure_steps"] == []


def test_a_report_folder_awx_deletes_with_the_job_is_named(tmp_path):
    project, private = tmp_path / "project", tmp_path / "private"
    assert temporary_under_awx(str(project / "reports"), str(project)) == "the project (%s)" % project
    assert temporary_under_awx(str(private / "artifacts"), str(project), str(private)).startswith("the job's private data directory")
    # In an execution environment the private data directory is /runner, the project /runner/project.
    assert temporary_under_awx("/runner/project/reports", "/elsewhere") == "the job's private data directory (/runner)"
    assert temporary_under_awx(str(tmp_path / "mnt" / "reports"), str(project), str(private)) == ""
    assert temporary_under_awx(str(tmp_path / "project2"), str(project)) == ""
