# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The Windows guest agent (cause WIN_AGENT): what is wrong and what may be done about it."""

from __future__ import annotations

import re

from ansible_collections.azure_backup.remediation.plugins.module_utils._agent_version import older, version_tuple

SERVICES = ("WindowsAzureGuestAgent", "RdAgent")
PRODUCT_NAME = "Windows Azure VM Agent"
# Current guidance (Microsoft's guest agent support article); the 2016 article said 2.6.1198.718.
MIN_VERSION = "2.7.41491.1010"
# The download link of article 000 ("Agent-MSI").
MSI_URL = "https://go.microsoft.com/fwlink/?LinkID=394789&clcid=0x409"
# The backup extension's process: while it runs, a snapshot is being taken (shared/reference/windows).
BACKUP_PROCESSES = ("IaaSBcdrExtension",)

# Release values of HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full, lowest of each version
# (Microsoft's "How to determine which .NET Framework versions are installed").
DOTNET_RELEASES = (
    (533320, "4.8.1"), (528040, "4.8"), (461808, "4.7.2"), (461308, "4.7.1"), (460798, "4.7"),
    (394802, "4.6.2"), (394254, "4.6.1"), (393295, "4.6"), (379893, "4.5.2"), (378675, "4.5.1"), (378389, "4.5"),
)


def dotnet_version(release) -> str | None:
    """'4.8' for Release 528040; None when .NET 4.5 or later is not installed (no value, or below 378389)."""
    if release is None or not str(release).isdigit():
        return None
    for lowest, name in DOTNET_RELEASES:
        if int(release) >= lowest:
            return name
    return None


def file_version(text: str | None) -> str | None:
    """The numeric part of a file's ProductVersion ('2.7.41491.1102 (rd_art_stable...)' -> '2.7.41491.1102')."""
    match = re.match(r"^\s*(\d+(?:\.\d+){1,3})", text or "")
    return match.group(1) if match else None


def validate_minimum(minimum: str) -> None:
    try:
        version_tuple(minimum)
    except ValueError:
        raise ValueError("win_agent_min_version %r is not a version like %s" % (minimum, MIN_VERSION)) from None


def needs_install(services: list[dict], version: str | None, minimum: str) -> str | None:
    """Why the agent MSI must be (re)installed, or None: a service is missing, or the agent is older than ``minimum``."""
    missing = [s["name"] for s in services if not s.get("exists")]
    if missing:
        return "service%s %s missing" % ("s" if len(missing) > 1 else "", " and ".join(missing))
    if version and older(version, minimum):
        return "agent %s is older than %s" % (version, minimum)
    return None


def backup_running(processes: list[str]) -> list[str]:
    """The backup processes among running process names (without .exe, any case)."""
    wanted = [p.lower() for p in BACKUP_PROCESSES]
    return [p for p in processes if re.sub(r"\.exe$", "", p.lower()) in wanted]
