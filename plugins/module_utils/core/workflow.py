# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""What a run tells the next node of an AWX workflow (set_stats, per_host false): each host's status, the fleet
totals and whether anything is still broken, judged as the report judges (core/report.py)."""

from __future__ import annotations

import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import host_status, report_basename, totals

# A host in one of these states needs no one's attention; every other state (found, failed, unreachable,
# and any state the report may add) counts as still broken.
SETTLED = ("ok", "fixed", "skipped")
# The cause ID of the findings an error code leaves (core/diagnosis.py), not a cause in the VM.
CONTROL_PLANE = "ERROR_CODE"
NO_RESULT = "no result from this run (unreachable, or the run stopped before its task)"


def host_entry(outcome: dict | None) -> dict:
    """A report entry ({findings, errors, unreachable}) from what the playbook kept of a host in this run:
    None (no result: the host was unreachable or never got there), {"findings": [...]} of a host whose task
    succeeded, or {"findings": [...], "msg": "..."} of a host whose task failed."""
    if outcome is None:
        return {"findings": [], "errors": [{"task": "", "msg": NO_RESULT}], "unreachable": True}
    findings = [f for f in outcome.get("findings") or [] if isinstance(f, dict) and "status" in f]
    errors = []
    # As the report callback does: a failure its findings do not show is an error of the host.
    if outcome.get("msg") is not None and not any(f["status"] == "failed" for f in findings):
        errors.append({"task": "", "msg": outcome["msg"] or "failed"})
    return {"findings": findings, "errors": errors, "unreachable": False}


def summary(hosts: dict) -> dict:
    """What a workflow's next node decides on, from report entries ({name: {findings, errors, unreachable}}): each
    host's status, the totals, whether anything is still broken and which hosts. Judged on what is in the VM: the
    finding an error code leaves where its remedy is a step in Azure (cause ERROR_CODE) breaks no host; its codes
    are published apart, as azure_backup_azure_steps."""
    status = {name: host_status(in_guest(entry)) for name, entry in sorted(hosts.items())}
    counted = totals({name: {"status": s} for name, s in status.items()})
    broken = sorted(name for name, s in status.items() if s not in SETTLED)
    steps = []
    for entry in hosts.values():
        steps += [f.get("detail", {}).get("code") for f in entry.get("findings") or []
                  if f.get("id") == CONTROL_PLANE and f.get("status") == "found" and f.get("detail", {}).get("code") not in steps]
    return {"azure_backup_hosts": status, "azure_backup_totals": counted, "azure_backup_broken": bool(broken),
            "azure_backup_broken_hosts": broken, "azure_backup_azure_steps": [c for c in steps if c]}


def in_guest(entry: dict) -> dict:
    """A report entry without the error code's own findings (cause ERROR_CODE): they say what to do in Azure."""
    return dict(entry, findings=[f for f in entry.get("findings") or [] if f.get("id") != CONTROL_PLANE])


def stats(outcomes: dict, job_id=None, check_mode: bool = False) -> dict:
    """The data of set_stats: ``outcomes`` maps host names to what host_entry takes. Under AWX (``job_id``, the
    extra var awx_job_id) also a key of this job alone, so a workflow node after sliced jobs finds every slice's
    outcome: AWX merges the slices' artifacts key by key, and a later slice overwrites an earlier one's."""
    data = summary({name: host_entry(outcome) for name, outcome in outcomes.items()})
    data["azure_backup_check_mode"] = bool(check_mode)
    if job_id not in (None, ""):
        data["azure_backup_job_%s" % job_id] = {
            "hosts": data["azure_backup_hosts"], "totals": data["azure_backup_totals"], "broken": data["azure_backup_broken"],
            "broken_hosts": data["azure_backup_broken_hosts"], "azure_steps": data["azure_backup_azure_steps"],
            "check_mode": bool(check_mode), "report": report_basename(None, job_id),
        }
    return data


def temporary_under_awx(folder: str, project: str, private_data_dir: str | None = None) -> str:
    """Which folder AWX deletes with the job holds ``folder`` ('' if none): the project checkout the playbook runs in,
    the job's private data directory (/runner in an execution environment, AWX_PRIVATE_DATA_DIR outside one)."""
    path = os.path.realpath(folder)
    for name, root in (("the project", project), ("the job's private data directory", private_data_dir), ("the job's private data directory", "/runner")):
        if root and (path == os.path.realpath(root) or path.startswith(os.path.realpath(root).rstrip("/") + "/")):
            return "%s (%s)" % (name, root)
    return ""
