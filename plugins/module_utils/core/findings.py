# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Findings: the result shape every check returns, and the cause catalogue.

A finding is a plain dict so it travels unchanged through module results,
host facts, callbacks and AWX artifacts:
``{id, check, host, status, severity, summary, detail, doc}``.
``check`` names the single check inside a cause (a cause has several).
``host`` is left empty by modules (they do not know the inventory name);
roles and the report fill it in.
"""

from __future__ import annotations

STATUSES = ("ok", "fixed", "found", "skipped", "failed")
SEVERITIES = ("info", "warning", "critical")

_TROUBLESHOOT_AGENT = "https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout"
_TROUBLESHOOT_VM = "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot"
_TROUBLESHOOT_MARS = "https://learn.microsoft.com/azure/backup/backup-azure-mars-troubleshoot"

# Cause IDs from CAUSES.md with the article a finding points the operator to.
CAUSES = {
    "LINUX_AGENT": {"severity": "critical", "doc": _TROUBLESHOOT_AGENT},
    "WIN_AGENT": {"severity": "critical", "doc": _TROUBLESHOOT_AGENT},
    "SNAPSHOT_STATUS": {"severity": "warning", "doc": _TROUBLESHOOT_AGENT},
    "BACKUP_EXTENSION": {"severity": "critical", "doc": _TROUBLESHOOT_AGENT},
    "NETWORK": {"severity": "critical", "doc": _TROUBLESHOOT_AGENT},
    "VSS_WRITERS": {"severity": "critical", "doc": _TROUBLESHOOT_VM},
    "MACHINEKEYS": {"severity": "critical", "doc": _TROUBLESHOOT_VM},
    "BITLOCKER": {"severity": "warning", "doc": _TROUBLESHOOT_VM},
    "COM_MSDTC": {"severity": "critical", "doc": _TROUBLESHOOT_VM},
    "DISK_LIMITS": {"severity": "warning", "doc": _TROUBLESHOOT_VM},
    "RP_LOCK": {"severity": "warning", "doc": _TROUBLESHOOT_AGENT + "#remove_lock_from_the_recovery_point_resource_group"},
    # The MARS agent (article 004). MARS_SHADOW_STORAGE also serves the VM backup's VSS snapshots.
    "MARS_SERVICE": {"severity": "critical", "doc": _TROUBLESHOOT_MARS},
    "MARS_VERSION": {"severity": "warning", "doc": _TROUBLESHOOT_MARS},
    "MARS_CONNECTIVITY": {"severity": "critical", "doc": _TROUBLESHOOT_MARS},
    "MARS_SCRATCH": {"severity": "critical", "doc": _TROUBLESHOOT_MARS},
    "MARS_SHADOW_STORAGE": {"severity": "critical", "doc": _TROUBLESHOOT_MARS + "#increase-shadow-copy-storage"},
    "MARS_TEMP_FILES": {"severity": "warning", "doc": _TROUBLESHOOT_MARS},
    "MARS_SCHEDULE": {"severity": "critical", "doc": _TROUBLESHOOT_MARS + "#backups-dont-run-according-to-schedule"},
    "MARS_POWERSHELL": {"severity": "warning", "doc": _TROUBLESHOOT_MARS + "#backups-dont-run-according-to-schedule"},
    "MARS_ANTIVIRUS": {"severity": "warning", "doc": _TROUBLESHOOT_MARS},
    "MARS_PREREQS": {"severity": "warning", "doc": _TROUBLESHOOT_MARS},
    "MARS_RESTORE_MOUNT": {"severity": "warning", "doc": _TROUBLESHOOT_MARS},
    # Not a cause of the articles: what an error code given to the run (azure_backup_error) asks beyond the
    # host's causes: a step in Azure or by a person, or that the code is not one of this host's operating system.
    "ERROR_CODE": {"severity": "warning", "doc": _TROUBLESHOOT_VM},
    # Not a cause of the articles: the host cannot be checked at all (too old a PowerShell, ...).
    "HOST": {"severity": "critical", "doc": "https://learn.microsoft.com/powershell/scripting/windows-powershell/wmf/setup/install-configure"},
}


def finding(
    cause: str,
    check: str,
    status: str,
    summary: str,
    detail: dict | None = None,
    severity: str | None = None,
) -> dict:
    """Build one finding; unknown causes or statuses are programming errors."""
    if cause not in CAUSES:
        raise ValueError("unknown cause %r" % cause)
    if status not in STATUSES:
        raise ValueError("unknown status %r" % status)
    if status in ("ok", "skipped"):
        severity = "info"
    severity = severity or CAUSES[cause]["severity"]
    if severity not in SEVERITIES:
        raise ValueError("unknown severity %r" % severity)
    return {
        "id": cause,
        "check": check,
        "host": None,
        "status": status,
        "severity": severity,
        "summary": summary,
        "detail": detail or {},
        "doc": CAUSES[cause]["doc"],
    }
