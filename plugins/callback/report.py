# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: report
type: aggregate
short_description: Writes the fleet report of an azure_backup.remediation run
version_added: 0.1.0
description:
  - Collects the findings every check of the collection returns, from successful and failed tasks,
    plus the hosts that could not be reached, and writes them per run as three files with one name in O(report_dir),
    JSON (for machines), HTML (one self-contained page for people) and JUnit XML (one test case per host and cause).
  - The name is C(azure-backup-report-<UTC start, YYYYMMDDTHHMMSS>); under AWX (extra variable C(awx_job_id))
    C(azure-backup-report-job<awx_job_id>), so each job and each slice of a sliced job has its own. The JSON then
    holds C(awx_job_id) and C(awx_workflow_job_id). Under AWX a report of the same name is replaced (an AWX whose job
    IDs started again, two AWX sharing the folder), since the workflow statistics name that file and it must be this job's.
  - Where the run was asked for an error code (C(azure_backup_error)), each host's entry holds the C(diagnosis) the
    remediate task returned (codes, causes tried in order), and the report the codes of the run.
  - Only tasks of this collection's modules and roles count; other plays in the same run are left out.
  - Prints a line per host that says what was fixed apart from what is still open, for example C(found (2 fixed, 1 open)),
    and the paths of the report at the end of the run.
  - Where a host's logs were collected (the remediate task, the log_bundle or win_log_bundle module), the host's entry names the archive
    (C(log_bundle)).
  - Hosts are judged by their worst finding; an unreachable host counts as C(unreachable), a task that failed without a
    finding as C(failed). A host no check ran on (only its settings were checked) is printed as C(not checked).
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = azure_backup.remediation.report)); the collection's ansible.cfg does.
    Without it no report is written, though the workflow statistics still name one (docs/awx.md).
options:
  report_dir:
    description:
      - Folder the report files are written to. Created if missing.
      - The extra variable C(azure_backup_report_dir) wins over this option, so an AWX job template can set it
        (AWX job templates set no environment variables).
      - Under AWX a folder inside the project or the job's private data directory is deleted with the job, and the run
        warns at its start and its end (docs/awx.md).
    type: path
    default: ./reports
    env:
      - name: AZURE_BACKUP_REPORT_DIR
    ini:
      - section: azure_backup
        key: report_dir
  language:
    description:
      - Language of the HTML report's labels, cause titles and remedies, C(en) or C(de).
      - The extra variable C(azure_backup_report_language) wins over this option, so an AWX survey can choose it.
      - Any other value is an error the run prints at its start and its end; the JSON and JUnit files are still
        written, the HTML file is not.
    type: str
    default: en
    env:
      - name: AZURE_BACKUP_REPORT_LANGUAGE
    ini:
      - section: azure_backup
        key: report_language
"""

import datetime
import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import STATUSES
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import (
    ReportError, console_text, host_counts, host_status, report_basename, totals)
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_html import LANGUAGES, render_html
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_junit import render_junit
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.workflow import temporary_under_awx
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_atomically, write_new

_PREFIX = "azure_backup.remediation."
# Tasks of the collection that speak for no VM: the merge of reports runs on localhost.
_NOT_A_HOST = (_PREFIX + "merge_reports",)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "azure_backup.remediation.report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, dict] = {}
        self.playbook = None
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.extra_vars: dict = {}
        self.warned = False
        self.warned_temporary = False

    def _host(self, name: str) -> dict:
        return self.hosts.setdefault(name, {"findings": [], "errors": [], "unreachable": False})

    @staticmethod
    def _ours(task) -> bool:
        """Only the collection's own tasks speak for a host in the report."""
        role = task._role.get_name() if task._role else ""
        if task.action in _NOT_A_HOST:
            return False
        return task.action.startswith(_PREFIX) or role.startswith(_PREFIX)

    def _collect(self, result, failed: bool) -> None:
        if not self._ours(result._task):
            return
        name, data = result._host.get_name(), result._result
        entry = self._host(name)
        findings = data.get("findings")
        if not (isinstance(findings, list) and all(isinstance(f, dict) and f.get("status") in STATUSES for f in findings)):
            findings = []
        entry["findings"] += [dict(item, host=name) for item in findings]
        if result._task.action in (_PREFIX + "log_bundle", _PREFIX + "win_log_bundle") and data.get("path"):
            entry["log_bundle"] = os.path.abspath(data["path"])
        # The remediate task collects the bundle after the causes and says where it went.
        if isinstance(data.get("log_bundle"), dict) and data["log_bundle"].get("path"):
            entry["log_bundle"] = os.path.abspath(data["log_bundle"]["path"])
        # Only when the run was given an error code: which codes, and the causes tried on this host in order.
        if isinstance(data.get("diagnosis"), dict):
            entry["diagnosis"] = data["diagnosis"]
        # A failed task whose findings do not say so themselves (none is `failed`) is an error of the host.
        if failed and not any(f["status"] == "failed" for f in findings):
            entry["errors"].append({"task": result._task.get_name(), "msg": data.get("msg", "")})

    def v2_playbook_on_start(self, playbook) -> None:
        self.playbook = os.path.basename(playbook._file_name)

    def v2_playbook_on_play_start(self, play) -> None:
        manager = play.get_variable_manager()
        self.extra_vars = dict(manager.extra_vars) if manager is not None else {}
        problem = self.settings_problem()
        if problem and not self.warned:
            self.warned = True
            self._display.error("azure_backup.remediation.report: %s" % problem)
        self.warn_temporary()

    def language(self) -> str:
        """The extra variable azure_backup_report_language (an AWX survey sets it), else the option."""
        return str(self.extra_vars.get("azure_backup_report_language") or self.get_option("language") or "en")

    def report_dir(self) -> str:
        """The extra variable azure_backup_report_dir (an AWX job template sets it), else the option."""
        return str(self.extra_vars.get("azure_backup_report_dir") or self.get_option("report_dir"))

    def warn_temporary(self) -> None:
        """Under AWX, a report folder the job's end deletes (the project, the private data dir) is worth a warning."""
        if self.extra_vars.get("awx_job_id") in (None, "") or self.warned_temporary:
            return
        where = temporary_under_awx(self.report_dir(), os.getcwd(), os.environ.get("AWX_PRIVATE_DATA_DIR"))
        if where:
            self.warned_temporary = True
            self._display.warning("azure_backup.remediation.report: the report folder %s is inside %s, which AWX deletes with the job: "
                                  "set the extra variable azure_backup_report_dir to a mounted folder (docs/awx.md)"
                                  % (os.path.abspath(self.report_dir()), where))

    def settings_problem(self) -> str:
        """What is wrong with the run's report settings (said at the start and the end of the run), or ''."""
        problems = []
        if self.language() not in LANGUAGES:
            source = ("the extra variable azure_backup_report_language" if self.extra_vars.get("azure_backup_report_language")
                      else "the option language (AZURE_BACKUP_REPORT_LANGUAGE, [azure_backup] report_language)")
            problems.append("%s = '%s' is not allowed: %s; no HTML report is written" % (source, self.language(), " or ".join(LANGUAGES)))
        try:
            report_basename(self.started, self.extra_vars.get("awx_job_id"))
        except ReportError as exc:
            problems.append("%s; the report is named by its start instead" % exc)
        return "; ".join(problems)

    def v2_runner_on_ok(self, result) -> None:
        self._collect(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._collect(result, failed=not ignore_errors)

    def v2_runner_on_unreachable(self, result) -> None:
        if not self._ours(result._task):
            return
        entry = self._host(result._host.get_name())
        entry["unreachable"] = True
        entry["errors"].append({"task": result._task.get_name(), "msg": result._result.get("msg", "")})

    def v2_playbook_on_stats(self, stats) -> None:
        if not self.hosts:
            return
        for entry in self.hosts.values():
            entry["status"] = host_status(entry)
            entry.update(host_counts(entry))
        report = {
            "playbook": self.playbook,
            "started": self.started.isoformat(),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "check_mode": bool(context.CLIARGS.get("check")),
            "language": self.language(),
        }
        for key in ("awx_job_id", "awx_workflow_job_id"):
            if self.extra_vars.get(key) not in (None, ""):
                report[key] = self.extra_vars[key]
        codes = []
        for entry in self.hosts.values():
            codes += [c for c in (entry.get("diagnosis") or {}).get("codes") or [] if c not in codes]
        if codes:
            report["diagnosis"] = {"codes": codes}
        report.update(totals=totals(self.hosts), hosts=dict(sorted(self.hosts.items())))
        paths = self._write(report)
        self._display.banner("AZURE BACKUP REPORT")
        # Every line below carries text from hosts: console_text keeps their control characters off the terminal.
        say = self._display.display
        if codes:
            say(console_text("Error code: %s" % ", ".join(codes)))
        for name, entry in report["hosts"].items():
            # A line per host, then one per finding worth reading: everything but ok.
            notable = [f for f in entry["findings"] if f["status"] != "ok"]
            say(console_text("%s: %s%s" % (name, entry["status"], self._counts(entry, notable))))
            if (entry.get("diagnosis") or {}).get("causes"):
                say(console_text("  tried   %s" % ", ".join(entry["diagnosis"]["causes"])))
            for f in notable:
                say(console_text("  %-7s %s/%s: %s" % (f["status"], f["id"], f["check"], f["summary"])))
            for error in entry["errors"]:
                say(console_text("  error   %s: %s" % (error["task"], error["msg"])))
            if entry.get("log_bundle"):
                say(console_text("  logs    %s" % entry["log_bundle"]))
        problem = self.settings_problem()
        if problem:
            self._display.error("azure_backup.remediation.report: %s" % problem)
        self.warned_temporary = False
        self.warn_temporary()
        # The JSON's path alone on the first line, as before; the page for people and the JUnit file below it.
        self._display.display("Report: %s" % paths[0])
        for path in paths[1:]:
            self._display.display("        %s" % path)

    @staticmethod
    def _counts(entry: dict, notable: list) -> str:
        """What was fixed apart from what is still open, so a host with fixes and one warning left does not read like
        a host nobody touched."""
        if not entry["findings"] and not entry["errors"]:
            return ", not checked"
        if entry.get("unreachable"):  # its connection error is no open finding
            return ""
        if not notable and not entry["errors"]:
            return ", all checks ok"
        if entry["fixed"] or entry["open"]:
            return " (%d fixed, %d open)" % (entry["fixed"], entry["open"])
        return ""

    def _write(self, report: dict) -> list:
        """report_dir/<name>.json, .html, .xml. The JSON claims the name (write_new: never over another run's, a
        second run in the same second gets -2); the HTML and XML take the name it got. Under AWX the job's name is
        replaced whole instead: the workflow statistics name it, and a -2 would leave them naming another job's."""
        folder = self.report_dir()
        data = json.dumps(report, indent=2, default=str).encode("utf-8")
        try:
            stem = report_basename(self.started, report.get("awx_job_id"))
        except ReportError:
            stem = None
        if stem and report.get("awx_job_id") not in (None, ""):
            path = os.path.join(folder, stem + ".json")
            write_atomically(path, data)
        else:
            path = write_new(folder, report_basename(self.started), ".json", data)
        paths = [path]
        base = path[:-len(".json")]
        if report["language"] in LANGUAGES:
            write_atomically(base + ".html", render_html(report, report["language"], base_dir=folder).encode("utf-8"))
            paths.append(base + ".html")
        write_atomically(base + ".xml", render_junit(report).encode("utf-8"))
        paths.append(base + ".xml")
        return paths
