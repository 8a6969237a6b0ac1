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
    plus the hosts that could not be reached, and writes them as one JSON file per run.
  - Only tasks of this collection's modules and roles count; other plays in the same run are left out.
  - Prints a line per host and the path of the report at the end of the run.
  - Where a host's logs were collected (the remediate task, the log_bundle or win_log_bundle module), the host's entry names the archive
    (C(log_bundle)).
  - Hosts are judged by their worst finding; an unreachable host or a task that failed without a
    finding counts as C(failed).
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = azure_backup.remediation.report)); the collection's ansible.cfg does.
options:
  report_dir:
    description: Folder the JSON report is written to. Created if missing.
    type: path
    default: ./reports
    env:
      - name: AZURE_BACKUP_REPORT_DIR
    ini:
      - section: azure_backup
        key: report_dir
"""

import datetime
import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import STATUSES
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import host_status, totals
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_new

_PREFIX = "azure_backup.remediation."

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

    def _host(self, name: str) -> dict:
        return self.hosts.setdefault(name, {"findings": [], "errors": [], "unreachable": False})

    @staticmethod
    def _ours(task) -> bool:
        """Only the collection's own tasks speak for a host in the report."""
        role = task._role.get_name() if task._role else ""
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
            entry["log_bundle"] = data["path"]
        # The remediate task collects the bundle after the causes and says where it went.
        if isinstance(data.get("log_bundle"), dict) and data["log_bundle"].get("path"):
            entry["log_bundle"] = data["log_bundle"]["path"]
        # A failed task whose findings do not say so themselves (none is `failed`) is an error of the host.
        if failed and not any(f["status"] == "failed" for f in findings):
            entry["errors"].append({"task": result._task.get_name(), "msg": data.get("msg", "")})

    def v2_playbook_on_start(self, playbook) -> None:
        self.playbook = os.path.basename(playbook._file_name)

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
        report = {
            "playbook": self.playbook,
            "started": self.started.isoformat(),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "check_mode": bool(context.CLIARGS.get("check")),
            "totals": totals(self.hosts),
            "hosts": dict(sorted(self.hosts.items())),
        }
        path = self._write(report)
        self._display.banner("AZURE BACKUP REPORT")
        for name, entry in report["hosts"].items():
            # A line per host, then one per finding worth reading: everything but ok.
            notable = [f for f in entry["findings"] if f["status"] != "ok"]
            self._display.display("%s: %s%s" % (name, entry["status"], "" if notable or entry["errors"] else ", all checks ok"))
            for f in notable:
                self._display.display("  %-7s %s/%s: %s" % (f["status"], f["id"], f["check"], f["summary"]))
            for error in entry["errors"]:
                self._display.display("  error   %s: %s" % (error["task"], error["msg"]))
            if entry.get("log_bundle"):
                self._display.display("  logs    %s" % entry["log_bundle"])
        self._display.display("Report: %s" % path)

    def _write(self, report: dict) -> str:
        # A new name for every run: two runs started in the same second both keep their report.
        return write_new(self.get_option("report_dir"), "azure-backup-report-%s" % self.started.strftime("%Y%m%dT%H%M%S"), ".json",
                         json.dumps(report, indent=2, default=str).encode("utf-8"))
