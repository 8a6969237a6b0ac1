# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The fleet report's judgement of a host, shared by the report callback, the workflow statistics and the merge
of sliced runs' reports, so that all three say the same about a host."""

from __future__ import annotations

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
