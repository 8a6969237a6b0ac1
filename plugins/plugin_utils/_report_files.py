# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internal use only: reading the fleet reports of several runs from files, for the merge_reports action."""

from __future__ import annotations

import glob
import json
import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import ReportError


def read_reports(sources: list) -> tuple:
    """([(path, report)], [(path, why it was left out)]) from files and folders (every *.json in a folder). A merged
    report found in a folder is left out, and said so: its runs' own reports are what a folder of slices holds, and
    taking both would count every host twice. Named as a file, a merged report is merged."""
    reports, ignored = [], []
    for source in sources:
        if os.path.isdir(source):
            files = sorted(glob.glob(os.path.join(source, "*.json")))
            if not files:
                raise ReportError("%s: no *.json report in this folder" % source)
        elif os.path.isfile(source):
            files = [source]
        else:
            raise ReportError("%s: no such file or folder" % source)
        for path in files:
            try:
                with open(path, encoding="utf-8") as handle:
                    report = json.load(handle)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise ReportError("%s: not a readable JSON report: %s" % (path, exc)) from exc
            if os.path.isdir(source) and isinstance(report, dict) and "merged" in report:
                ignored.append((path, "a merged report; the reports of its runs are merged instead"))
                continue
            reports.append((path, report))
    return reports, ignored
