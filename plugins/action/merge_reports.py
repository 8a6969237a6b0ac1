# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""merge_reports: the fleet reports of several runs (the slices of an AWX job) as one, on the controller."""

from __future__ import annotations

import datetime
import json
import os
import re

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import ReportError, merge
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_html import LANGUAGES, render_html
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_junit import render_junit
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.workflow import summary
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_atomically
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._report_files import read_reports

ARGUMENT_SPEC = {
    "src": {"type": "list", "elements": "path", "required": True},
    "dest": {"type": "path", "required": True},
    "name": {"type": "str"},
    "language": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}
# A plain file name: no folder, no leading dot.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ActionModule(ActionBase):
    _supports_check_mode = True
    # Runs on the controller only: nothing is sent to a host.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        name = args["name"] or default_name((task_vars or {}).get("awx_workflow_job_id"))
        if not _NAME.match(name):
            return dict(result, failed=True, changed=False,
                        msg="name = '%s' is not allowed: a file name without folder or suffix (letters, digits, . _ -)" % name)
        try:
            reports, ignored = read_reports(args["src"])
            merged = merge(reports)
        except ReportError as exc:
            return dict(result, failed=True, changed=False, msg="merge_reports: %s" % exc)
        merged["language"] = args["language"]
        base = os.path.join(args["dest"], name)
        paths = {"json": base + ".json", "html": base + ".html", "xml": base + ".xml"}
        if not self._task.check_mode:
            write_atomically(paths["json"], json.dumps(merged, indent=2, default=str).encode("utf-8"))
            write_atomically(paths["html"], render_html(merged, args["language"], base_dir=args["dest"]).encode("utf-8"))
            write_atomically(paths["xml"], render_junit(merged).encode("utf-8"))
        hosts_replaced = len({r["host"] for r in merged["merged"]["replaced"]})
        msg = "%d hosts from %d reports" % (len(merged["hosts"]), len(reports))
        if hosts_replaced:
            msg += "; %d hosts reported by more than one run, the latest kept" % hosts_replaced
        if self._task.check_mode:
            msg += " (check mode: nothing written)"
        # The workflow's statistics over the merged report: AWX hands the node after this one the slices' artifacts
        # merged in the order the slices finished, so their azure_backup_broken is the last slice's alone.
        data = summary(merged["hosts"])
        return dict(result, changed=not self._task.check_mode, paths=paths,
                    ansible_stats={"data": data, "per_host": False, "aggregate": False},
                    totals=merged["totals"], sources=[s["file"] for s in merged["merged"]["sources"]],
                    ignored=[{"path": path, "why": why} for path, why in ignored], replaced=merged["merged"]["replaced"], msg=msg)


def default_name(workflow_job_id=None) -> str:
    """In an AWX workflow the workflow job's ID, so the node after the slices writes a name the next can know;
    else the time of the merge in UTC."""
    if workflow_job_id not in (None, "") and str(workflow_job_id).isdigit():
        return "azure-backup-fleet-workflow%s" % workflow_job_id
    return "azure-backup-fleet-%s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
