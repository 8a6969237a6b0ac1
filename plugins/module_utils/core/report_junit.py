# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The fleet report as JUnit XML, which CI systems and dashboards read: one test case per host and cause
(classname = host with its dots as _, since Jenkins splits a classname at its last dot into package and class;
name = cause ID; the host's real name leads the case's system-out or failure text).

A cause is judged by its worst finding, as a host is:
- ``ok``, ``fixed``: passed (fixed says what was done in system-out);
- ``found``: a failure, in check mode and when applied alike: the cause is present on the VM at the end of the
  run (check mode changed nothing; an applied run left it because the check only reports or the fix was refused).
  The failure's type says which (``found-check-mode``, ``found-not-fixed``), so a dashboard can tell them apart;
- ``failed``: a failure (the check or fix itself failed), type ``failed``;
- ``skipped``: skipped.
A host that could not be reached, or a task that failed without a finding, is a test case named ``HOST``
(type ``unreachable`` or ``error``).
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import by_cause, cause_status

# Characters XML 1.0 does not allow (control characters a host's output may carry): a parser rejects the whole file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def _lines(items: list) -> str:
    return "\n".join("%s/%s: %s: %s" % (f["id"], f.get("check", ""), f["status"], f.get("summary", "")) for f in items)


def _case(suite, host: str, name: str, outcome: str, kind: str = "", message: str = "", text: str = ""):
    case = ET.SubElement(suite, "testcase", classname=_text(host).replace(".", "_"), name=_text(name))
    text = "host: %s\n%s" % (host, text)
    if outcome == "failure":
        ET.SubElement(case, "failure", type=kind, message=_text(message)).text = _text(text)
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message=_text(message))
    if outcome != "failure":
        ET.SubElement(case, "system-out").text = _text(text)
    return outcome


def _time(value):
    """An ISO time from the report in UTC, None where missing or unreadable (a merge of old reports)."""
    try:
        when = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when.astimezone(datetime.timezone.utc) if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def render_junit(report: dict) -> str:
    """The JUnit XML document of a report (a run's, or a merge of several)."""
    root = ET.Element("testsuites", name="azure_backup.remediation")
    suite = ET.SubElement(root, "testsuite", name=_text(report.get("playbook") or "azure_backup.remediation"))
    # JUnit's timestamp is a plain time without zone or fractions (UTC here); time is the run's length in seconds.
    started, finished = _time(report.get("started")), _time(report.get("finished"))
    if started:
        suite.set("timestamp", started.strftime("%Y-%m-%dT%H:%M:%S"))
    if started and finished:
        suite.set("time", "%.3f" % max(0.0, (finished - started).total_seconds()))
    outcomes = []
    for host, entry in report["hosts"].items():
        # A merged report keeps each host's own mode; a run's report has one.
        check_mode = entry.get("check_mode", report.get("check_mode")) is True
        for cause, items in by_cause(entry).items():
            status = cause_status(items)
            summary = "; ".join(f.get("summary", "") for f in items if f["status"] == status)
            if status == "failed":
                outcomes.append(_case(suite, host, cause, "failure", "failed", summary, _lines(items)))
            elif status == "found":
                kind = "found-check-mode" if check_mode else "found-not-fixed"
                outcomes.append(_case(suite, host, cause, "failure", kind, summary, _lines(items)))
            elif status == "skipped":
                outcomes.append(_case(suite, host, cause, "skipped", message=summary))
            else:
                outcomes.append(_case(suite, host, cause, "passed", text=_lines(items)))
        if entry.get("errors"):
            kind = "unreachable" if entry.get("unreachable") else "error"
            messages = "\n".join("%s: %s" % (e.get("task", ""), e.get("msg", "")) for e in entry["errors"])
            outcomes.append(_case(suite, host, "HOST", "failure", kind, messages.splitlines()[0] if messages else kind, messages))
    suite.set("tests", str(len(outcomes)))
    suite.set("failures", str(outcomes.count("failure")))
    suite.set("errors", "0")
    suite.set("skipped", str(outcomes.count("skipped")))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, suite.get(key))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
