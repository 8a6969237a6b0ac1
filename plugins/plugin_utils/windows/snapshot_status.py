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


# SQL Server registers its instances here; a 32-bit SQL Server on 64-bit Windows writes to the
# 32-bit view of HKLM\SOFTWARE, which 64-bit PowerShell sees under WOW6432Node (Microsoft Learn,
# "Registry Redirector": 32-bit HKLM\Software goes to HKLM\Software\WOW6432Node).
SQL_INSTANCE_KEYS = {
    "64-bit": r"HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL",
    "32-bit": r"HKLM:\SOFTWARE\WOW6432Node\Microsoft\Microsoft SQL Server\Instance Names\SQL",
}


def sql_instances(by_view: dict | None) -> list[str]:
    """The instance names of both registry views, once each; a 32-bit one says so."""
    names: list[str] = []
    for view in SQL_INSTANCE_KEYS:
        for name in (by_view or {}).get(view) or []:
            label = name if view == "64-bit" else "%s (32-bit)" % name
            if name not in names and label not in names:
                names.append(label)
    return names


def dhcp_switch_refusal(addresses: list[str]) -> str | None:
    """Why a static interface must not be switched to DHCP, or None. netsh ... source=dhcp removes every static
    IPv4 address of the interface, and Azure's DHCP hands out the primary address only: secondary IP
    configurations are set statically in the guest ("Assign multiple IP addresses to virtual machines",
    Microsoft Learn). Such an interface stays as it is."""
    if len(addresses) > 1:
        return ("it has %d IPv4 addresses (%s); switching to DHCP would remove all of them and DHCP gives back only the primary one, "
                "so it was not switched. Keep it static, with every address also set as an IP configuration of the NIC in Azure"
                % (len(addresses), ", ".join(addresses)))
    return None


def _ips(side: dict) -> list[str]:
    return [a.get("ip") if isinstance(a, dict) else str(a) for a in side.get("addresses") or []]


def dhcp_switch_outcome(result: dict) -> tuple[str, str, dict]:
    """(status, what happened, detail) from what the switch task reported.

    fixed: DHCP is on and handed out the address the interface had statically. failed: the task stopped
    with an error, netsh failed, or DHCP gave no address or another one (then the task put the static
    configuration back: the result says whether that worked)."""
    before, after = result.get("before") or {}, result.get("after") or {}
    detail = {
        "before": {"dhcp": before.get("dhcp"), "addresses": _ips(before), "gateways": before.get("gateways") or [],
                   "dns_servers": before.get("dns_servers") or []},
        "after": {"dhcp": after.get("dhcp"), "addresses": _ips(after), "gateways": after.get("gateways") or [],
                  "dns_servers": after.get("dns_servers") or []},
        "netsh": result.get("netsh"), "leased": bool(result.get("leased")), "lease_address": result.get("lease_address"),
        "same_address": bool(result.get("same_address")),
        "dns_kept": (before.get("dns_servers") or []) == (after.get("dns_servers") or []) or not before.get("dns_servers"),
        "dns_restored": bool(result.get("dns_restored")), "rollback": result.get("rollback"), "error": result.get("error"),
    }
    was = "%s -> %s" % (", ".join(detail["before"]["addresses"]) or "no address", ", ".join(detail["after"]["addresses"]) or "no address")
    dns = "DNS servers kept (%s)" % (", ".join(detail["after"]["dns_servers"]) or "none")
    if detail["dns_restored"]:
        dns = "DNS servers put back (%s)" % ", ".join(detail["after"]["dns_servers"])
    if not detail["dns_kept"]:
        dns = "DNS servers changed: %s -> %s" % (", ".join(detail["before"]["dns_servers"]), ", ".join(detail["after"]["dns_servers"]) or "none")
    if detail["error"]:
        return "failed", "the switch task stopped with an error (%s); IPv4 now: DHCP %s, %s; %s" % (
            detail["error"], after.get("dhcp") or "unknown", was, dns), detail
    netsh = result.get("netsh") or {}
    if netsh.get("exit_code") not in (0, None):
        return "failed", "netsh failed (exit code %s: %s); IPv4 now: DHCP %s, %s; %s" % (
            netsh.get("exit_code"), (netsh.get("output") or "").strip() or "no output", after.get("dhcp"), was, dns), detail
    if after.get("dhcp") == "Enabled" and detail["same_address"]:
        return ("fixed" if detail["dns_kept"] else "failed"), "switched to DHCP: %s; %s" % (was, dns), detail
    static = ", ".join(detail["before"]["addresses"]) or "the static address"
    why = ("DHCP handed out %s, not %s (the address Azure has for the NIC differs: set it in Azure, then run again)"
           % (detail["lease_address"], static) if detail["leased"] else "DHCP gave no address in time")
    rollback = result.get("rollback")
    if rollback and rollback.get("exit_code") == 0:
        return "failed", "%s, so the static configuration was put back (%s); %s" % (why, was, dns), detail
    return "failed", "%s and putting the static configuration back %s; IPv4 now: DHCP %s, %s; %s" % (
        why, "failed (exit code %s: %s)" % (rollback.get("exit_code"), (rollback.get("output") or "").strip() or "no output")
        if rollback else "was not tried", after.get("dhcp"), was, dns), detail
