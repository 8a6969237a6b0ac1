# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Snapshot settings of a Windows VM (cause SNAPSHOT_STATUS)."""

from __future__ import annotations

# Article 001: on VMs with SQL Server backups, take VSS copy backups instead of full ones.
BCDRAGENT_KEY = r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT"
COPY_BACKUP_VALUE = "USEVSSCOPYBACKUP"
COPY_BACKUP_DATA = "TRUE"


def copy_backup_wanted(sql_instances: list[str], requested: bool) -> str | None:
    """Why USEVSSCOPYBACKUP must be TRUE, or None when it need not be."""
    if requested:
        return "requested (snapshot_status_use_vss_copy_backup)"
    if sql_instances:
        return "SQL Server is installed (%s)" % ", ".join(sql_instances)
    return None


def copy_backup_set(value: dict | None) -> bool:
    """The registry value as the gather script read it: {type, data}; set means REG_SZ 'TRUE' (any case)."""
    return bool(value) and value.get("type") == "String" and str(value.get("data", "")).strip().upper() == COPY_BACKUP_DATA


def primary_nic(nics: list[dict]) -> dict | None:
    """The NIC that carries the default route with the lowest metric; the only one when there is one."""
    routed = [n for n in nics if n.get("default_route_metric") is not None]
    if routed:
        return min(routed, key=lambda n: n["default_route_metric"])
    return nics[0] if len(nics) == 1 else None


def memory_percent_used(total_kb, free_kb) -> float | None:
    if not total_kb:
        return None
    return round(100.0 * (int(total_kb) - int(free_kb)) / int(total_kb), 1)
