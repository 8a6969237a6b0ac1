# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The fleet report's judgement of a host, shared by the report callback, the workflow statistics and the merge
of sliced runs' reports, so that all three say the same about a host."""

from __future__ import annotations

import re

# Worst first: a host's status is the first of these that any of its findings has.
HOST_ORDER = ("unreachable", "failed", "found", "fixed", "ok", "skipped")


def host_status(entry: dict) -> str:
    """The worst of a report entry's findings ({findings, errors, unreachable})."""
    seen = {f["status"] for f in entry["findings"]}
    if entry.get("unreachable"):
        seen.add("unreachable")
    if entry.get("errors"):
        seen.add("failed")
    return next((s for s in HOST_ORDER if s in seen), "skipped")


def totals(hosts: dict) -> dict:
    """How many hosts have each status; ``hosts`` maps names to entries that carry their ``status``."""
    return {status: sum(1 for entry in hosts.values() if entry["status"] == status) for status in HOST_ORDER}


# A finding still to be dealt with: present and not changed (check mode, report-only, refused), or its check failed.
OPEN = ("found", "failed")


# C0 and C1 control characters and DEL: from a host's output (agent log lines) they could recolour, hide or fake lines
# in a terminal or in AWX's job output.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def console_text(value) -> str:
    """``value`` fit for one console line: every control character (escape, CR, newline, tab) shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", "" if value is None else str(value))


def host_counts(entry: dict) -> dict:
    """What the run did on a host apart from what is left: {"fixed": n, "open": n}. A task error without a failed
    finding is open too (the host's status says failed for it)."""
    statuses = [f["status"] for f in entry["findings"]]
    return {"fixed": statuses.count("fixed"), "open": sum(statuses.count(s) for s in OPEN) + len(entry.get("errors") or [])}


def cause_status(findings: list) -> str:
    """The worst status among one cause's findings on one host (same order as a host's)."""
    seen = {f["status"] for f in findings}
    return next((s for s in HOST_ORDER if s in seen), "skipped")


def by_cause(entry: dict) -> dict:
    """A host's findings grouped by cause ID, in the order the causes first appear."""
    causes: dict = {}
    for item in entry["findings"]:
        causes.setdefault(item["id"], []).append(item)
    return causes


def report_basename(started, awx_job_id=None) -> str:
    """The file name (no suffix) of a run's report. Under AWX the job's ID: each job, and each slice of a sliced job
    (a job of its own), has its own, and the workflow's next node can find it; otherwise the run's start in UTC."""
    if awx_job_id not in (None, ""):
        job = str(awx_job_id)
        if not job.isdigit():
            raise ReportError("awx_job_id = %r is not a job ID (digits, as AWX sets it)" % (awx_job_id,))
        return "azure-backup-report-job%s" % job
    return "azure-backup-report-%s" % started.strftime("%Y%m%dT%H%M%S")


class ReportError(Exception):
    """A report that cannot be read or merged; the message names the file and what is wrong."""


_REQUIRED = {"playbook": str, "started": str, "finished": str, "hosts": dict}
_ENTRY = {"findings": list, "errors": list}


def check_report(source: str, report) -> None:
    """Raise ReportError unless ``report`` has the shape the report callback writes."""
    if not isinstance(report, dict):
        raise ReportError("%s: not a fleet report (a JSON object with playbook, started, hosts)" % source)
    for key, kind in _REQUIRED.items():
        if not isinstance(report.get(key), kind):
            raise ReportError("%s: not a fleet report of azure_backup.remediation: '%s' is missing or not a %s"
                              % (source, key, kind.__name__))
    for name, entry in report["hosts"].items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), kind) for k, kind in _ENTRY.items()):
            raise ReportError("%s: host %s has no findings and errors lists" % (source, name))
        for item in entry["findings"]:
            if not isinstance(item, dict) or item.get("status") not in HOST_ORDER or not isinstance(item.get("id"), str):
                raise ReportError("%s: host %s has a finding without a known status or a cause id: %.200r" % (source, name, item))


def _codes(diagnoses) -> list:
    """The error codes of several diagnoses, each once, in the order first given."""
    codes: list = []
    for diagnosis in diagnoses:
        for code in (diagnosis or {}).get("codes") or []:
            if code not in codes:
                codes.append(code)
    return codes


def merge(reports: list) -> dict:
    """One fleet report from the reports of several runs (the slices of an AWX job): ``reports`` is a list of
    (source, report), source naming the file for messages. All must be reports of the same playbook. A host in
    more than one report is taken from the run that started last, and ``merged.replaced`` says so."""
    if not reports:
        raise ReportError("no reports to merge")
    for source, report in reports:
        check_report(source, report)
    playbooks = {report["playbook"] for _source, report in reports}
    if len(playbooks) > 1:
        first = reports[0]
        other = next((s, r) for s, r in reports if r["playbook"] != first[1]["playbook"])
        raise ReportError("%s is a report of %s, %s one of %s: only reports of the same playbook are merged"
                          % (other[0], other[1]["playbook"], first[0], first[1]["playbook"]))
    # Oldest first, so that a later run's host replaces an earlier one's (ISO timestamps in UTC sort as text).
    ordered = sorted(reports, key=lambda pair: pair[1]["started"])
    hosts: dict = {}
    replaced = []
    sources = []
    for source, report in ordered:
        sources.append({key: report[key] for key in ("started", "finished", "check_mode", "awx_job_id", "diagnosis") if key in report})
        sources[-1]["file"] = source
        sources[-1]["hosts"] = sorted(report["hosts"])
        for name, entry in report["hosts"].items():
            if name in hosts:
                replaced.append({"host": name, "kept": source, "dropped": hosts[name]["source"]})
            hosts[name] = dict(entry, source=source, check_mode=report.get("check_mode"))
    for entry in hosts.values():
        entry["status"] = host_status(entry)
        entry.update(host_counts(entry))
    modes = {s.get("check_mode") for s in sources}
    merged = {
        "playbook": playbooks.pop(),
        "started": ordered[0][1]["started"],
        "finished": max(report["finished"] for _source, report in reports),
        # Runs in check mode and runs that applied do not make one mode: "mixed", and each host says its own.
        "check_mode": modes.pop() if len(modes) == 1 else "mixed",
        "totals": totals(hosts),
        "hosts": dict(sorted(hosts.items())),
        "merged": {"sources": sources, "replaced": replaced},
    }
    workflows = {r.get("awx_workflow_job_id") for _s, r in reports} - {None}
    if len(workflows) == 1:
        merged["awx_workflow_job_id"] = workflows.pop()
    codes = _codes(r.get("diagnosis") for _s, r in ordered)
    if codes:
        merged["diagnosis"] = {"codes": codes}
    return merged
