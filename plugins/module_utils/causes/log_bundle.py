# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The log bundle: when a host needs one, how big it may be, and what goes in it.

Microsoft support asks for the agent's goal-state XML, its log and the extensions'
logs when a backup failure persists. These functions decide; the log_bundle
module reads the files and the action plugin writes the archive on the controller.
"""

from __future__ import annotations

import re

# What CAUSES.md says to collect when a failure persists.
DEFAULT_PATHS = ("/var/lib/waagent/*.xml", "/var/log/waagent.log", "/var/log/azure/*")
# The same on Windows, smallest and most telling first: the backup extension's status and settings, its logs, then
# the agent's (WaAppAgent.log, TransparentInstaller.log: "Troubleshoot Azure Windows VM Agent issues", Step 5; the
# extension's folders: azure-docs backup-azure-vms-troubleshoot.md). The MARS agent's Temp folder is added where
# the agent is installed, and the event log entries go first (plugin_utils/windows/log_bundle.py).
DEFAULT_WINDOWS_PATHS = (
    "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\*\\Status",
    "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\*\\RuntimeSettings",
    "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot",
    "C:\\WindowsAzure\\Logs\\*.log",
)
# Hours of event log entries a Windows bundle exports.
DEFAULT_EVENT_HOURS = 72
WHEN = ("problems", "always", "never")


def argument_spec() -> dict:
    """One spec for the module on the VM and its action plugin on the controller."""
    return dict(
        dest=dict(type="path", required=True),
        when=dict(type="str", choices=list(WHEN), default="problems"),
        findings=dict(type="list", elements="dict", default=[]),
        failures=dict(type="list", elements="dict", default=[]),
        # Paths on the VM: "str", so the controller does not expand ~ or $VARS with its own environment.
        paths=dict(type="list", elements="str", default=list(DEFAULT_PATHS)),
        max_size=dict(type="str", default="20M"),
    )


def windows_argument_spec() -> dict:
    """The Windows bundle's options (the win_log_bundle action plugin): Windows paths, and the hours of events."""
    return dict(argument_spec(), paths=dict(type="list", elements="str", default=list(DEFAULT_WINDOWS_PATHS)),
                event_hours=dict(type="int", default=DEFAULT_EVENT_HOURS))


_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def parse_size(text) -> int:
    """Bytes from '20M', '512 KiB', '1G', '2.5MB' or a plain number of bytes (binary units)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$", str(text), re.IGNORECASE)
    if not match:
        raise ValueError("%r is not a size: write a number with an optional unit K, M or G, for example 20M" % (text,))
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise ValueError("%r is not a size above zero" % (text,))
    return size


def persisting(findings: list, failures: list) -> list[str]:
    """What is still wrong at the end of the run: failed checks, critical problems found,
    and causes whose task failed without a finding. Empty means no bundle is needed."""
    reasons = ["%s/%s: %s" % (f["id"], f["check"], f["status"]) for f in findings
               if f.get("status") == "failed" or (f.get("status") == "found" and f.get("severity") == "critical")]
    failed_ids = {f["id"] for f in findings if f.get("status") == "failed"}
    reasons += ["%s: %s" % (f["id"], f["msg"]) for f in failures if f["id"] not in failed_ids]
    return reasons


def wanted(when: str, findings: list, failures: list) -> list[str]:
    """The reasons to collect a bundle under the `when` policy; empty means none."""
    if when == "never":
        return []
    reasons = persisting(findings, failures)
    if when == "always":
        return reasons or ["log_bundle_when=always"]
    return reasons


def plan(files: list[dict], max_bytes: int) -> list[dict]:
    """Spend the size cap on files in the order given: each whole while it fits, then the
    newest part (its tail) of the first one that does not; the rest are left out.

    ``files``: ``{path, size}``; returns them with ``offset`` and ``length`` to read, and
    ``truncated`` or ``left_out`` set where the cap bit.
    """
    left = max_bytes
    planned = []
    for item in files:
        take = min(item["size"], left)
        entry = dict(item, offset=item["size"] - take, length=take, truncated=0 < take < item["size"],
                     left_out=take == 0 and item["size"] > 0)
        left -= take
        planned.append(entry)
    return planned
