# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""What a run tells the next node of an AWX workflow (set_stats, per_host false): each host's status, the fleet
totals and whether anything is still broken, judged as the report judges (core/report.py)."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import host_status, totals

# A host in one of these states needs no one's attention; every other state (found, failed, unreachable,
# and any state the report may add) counts as still broken.
SETTLED = ("ok", "fixed", "skipped")
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


def stats(outcomes: dict, job_id=None, check_mode: bool = False) -> dict:
    """The data of set_stats: ``outcomes`` maps host names to what host_entry takes. Under AWX (``job_id``, the
    extra var awx_job_id) also a key of this job alone, so a workflow node after sliced jobs finds every slice's
    outcome: AWX merges the slices' artifacts key by key, and a later slice overwrites an earlier one's."""
    hosts = {name: host_entry(outcome) for name, outcome in sorted(outcomes.items())}
    status = {name: host_status(entry) for name, entry in hosts.items()}
    counted = totals({name: {"status": s} for name, s in status.items()})
    broken = sorted(name for name, s in status.items() if s not in SETTLED)
    data = {
        "azure_backup_hosts": status,
        "azure_backup_totals": counted,
        "azure_backup_broken": bool(broken),
        "azure_backup_broken_hosts": broken,
        "azure_backup_check_mode": bool(check_mode),
    }
    if job_id not in (None, ""):
        data["azure_backup_job_%s" % job_id] = {
            "hosts": status, "totals": counted, "broken": bool(broken), "broken_hosts": broken,
            "check_mode": bool(check_mode), "report": report_basename(job_id),
        }
    return data


def report_basename(job_id) -> str:
    """The report files' name under AWX (COMMON interface): one name per job, so each slice's report is its own."""
    return "azure-backup-report-job%s" % job_id
