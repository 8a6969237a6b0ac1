"""merge_reports on the controller: files and folders in, one JSON, HTML and JUnit out; check mode writes nothing;
a file that is not a report fails the task naming it and nothing is written."""
from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import merge_reports

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "report-windows-apply.json")


def action(args, check_mode=False):
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value: value
    return merge_reports.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=templar, shared_loader_obj=None)


@pytest.fixture
def slices(tmp_path):
    """The fixture's hosts in two slices' reports, as two AWX jobs of one workflow would write them."""
    with open(FIXTURE, encoding="utf-8") as handle:
        report = json.load(handle)
    names = sorted(report["hosts"])
    folder = tmp_path / "reports"
    folder.mkdir()
    for number, part in ((101, names[:4]), (102, names[4:])):
        data = copy.deepcopy(report)
        data["hosts"] = {n: data["hosts"][n] for n in part}
        data.update(awx_job_id=number, awx_workflow_job_id=100)
        (folder / ("azure-backup-report-job%d.json" % number)).write_text(json.dumps(data))
    return folder, report


def test_a_folder_of_slices_becomes_one_fleet_report(tmp_path, slices):
    folder, report = slices
    result = action({"src": [str(folder)], "dest": str(tmp_path / "fleet"), "language": "de"}).run(task_vars={"awx_workflow_job_id": 100})
    assert not result.get("failed"), result
    stem = str(tmp_path / "fleet" / "azure-backup-fleet-workflow100")
    assert result["paths"] == {"json": stem + ".json", "html": stem + ".html", "xml": stem + ".xml"}
    assert result["totals"] == report["totals"] and result["changed"] is True
    merged = json.loads(open(stem + ".json", encoding="utf-8").read())
    assert sorted(merged["hosts"]) == sorted(report["hosts"]) and merged["language"] == "de"
    assert '<html lang="de">' in open(stem + ".html", encoding="utf-8").read()
    cases = ET.parse(stem + ".xml").getroot().findall("./testsuite/testcase")
    assert {c.get("classname") for c in cases} == set(report["hosts"])

    # Run again over the same folder with the fleet report in it: the merged report is left out, and said so.
    (folder / "azure-backup-fleet-workflow100.json").write_text(open(stem + ".json", encoding="utf-8").read())
    again = action({"src": [str(folder)], "dest": str(tmp_path / "fleet"), "name": "again"}).run(task_vars={})
    assert again["totals"] == report["totals"] and again["replaced"] == []
    assert again["ignored"] == [{"path": str(folder / "azure-backup-fleet-workflow100.json"),
                                 "why": "a merged report; the reports of its runs are merged instead"}]


def test_check_mode_writes_nothing(tmp_path, slices):
    folder, report = slices
    result = action({"src": [str(folder)], "dest": str(tmp_path / "fleet"), "name": "x"}, check_mode=True).run(task_vars={})
    assert result["changed"] is False and result["totals"] == report["totals"]
    assert not (tmp_path / "fleet").exists() and result["msg"].endswith("(check mode: nothing written)")


def test_the_merged_outcome_is_published_for_the_next_workflow_node(tmp_path, slices):
    # AWX hands the node after the merge the slices' artifacts merged in the order they finished: the merge's own
    # statistics, over every slice's hosts, are what that node must read.
    folder, report = slices
    result = action({"src": [str(folder)], "dest": str(tmp_path / "fleet")}).run(task_vars={"awx_workflow_job_id": 100})
    stats = result["ansible_stats"]
    assert stats["per_host"] is False and stats["aggregate"] is False
    data = stats["data"]
    assert data["azure_backup_hosts"] == {name: entry["status"] for name, entry in report["hosts"].items()}
    assert data["azure_backup_totals"] == report["totals"]
    broken = sorted(n for n, e in report["hosts"].items() if e["status"] not in ("ok", "fixed", "skipped"))
    assert broken and data["azure_backup_broken_hosts"] == broken and data["azure_backup_broken"] is True


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON report"),
    (json.dumps({"playbook": "fix-backup.yml"}), "not a fleet report of azure_backup.remediation: 'started' is missing"),
])
def test_a_file_that_is_not_a_report_fails_naming_it(tmp_path, slices, content, message):
    folder, _report = slices
    (folder / "other.json").write_text(content)
    result = action({"src": [str(folder)], "dest": str(tmp_path / "fleet"), "name": "x"}).run(task_vars={})
    assert result["failed"] and result["msg"].startswith("merge_reports: %s: " % (folder / "other.json")) and message in result["msg"]
    assert not (tmp_path / "fleet").exists()


@pytest.mark.parametrize("args, message", [
    ({"src": ["missing"], "name": "x"}, "merge_reports: missing: no such file or folder"),
    ({"src": ["."], "name": "../x"}, "name = '../x' is not allowed"),
])
def test_bad_arguments_are_named(tmp_path, args, message):
    result = action(dict(args, dest=str(tmp_path / "fleet"))).run(task_vars={})
    assert result["failed"] and message in result["msg"]
