# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The Linux agent's version and where its update comes from."""

from __future__ import annotations

import re

# Microsoft's agent support matrix: older agents are not supported for backup.
MIN_SUPPORTED = "2.2.53.1"

# Package names per distribution, by os-release ID or ID_LIKE. The article insists
# on the distribution's package, never an agent downloaded from GitHub.
_PACKAGE_BY_ID = (
    ("ubuntu", "walinuxagent"),
    ("debian", "waagent"),
    ("rhel", "WALinuxAgent"), ("centos", "WALinuxAgent"), ("fedora", "WALinuxAgent"), ("almalinux", "WALinuxAgent"),
    ("rocky", "WALinuxAgent"), ("ol", "WALinuxAgent"), ("mariner", "WALinuxAgent"), ("azurelinux", "WALinuxAgent"),
    ("sles", "WALinuxAgent"), ("suse", "WALinuxAgent"), ("opensuse", "WALinuxAgent"),
)


def version_tuple(text: str) -> tuple:
    """'2.2.53.1' -> (2, 2, 53, 1); raise ValueError for anything else."""
    if not re.match(r"^\d+(\.\d+)*$", text or ""):
        raise ValueError("%r is not a version like 2.2.53.1" % text)
    return tuple(int(p) for p in text.split("."))


def older(version: str, minimum: str) -> bool:
    a, b = version_tuple(version), version_tuple(minimum)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) < b + (0,) * (width - len(b))


def parse_waagent_version(text: str) -> dict:
    """`waagent --version`: the daemon's version (first line) and the goal-state agent's.

    The daemon is what the distribution installed; the goal-state agent is what it
    runs after auto-update, and may be newer.
    """
    daemon = re.search(r"WALinuxAgent-(\d+(?:\.\d+)*)", text)
    goal = re.search(r"Goal state agent:\s*(\d+(?:\.\d+)*)", text)
    if not daemon:
        raise ValueError("no 'WALinuxAgent-<version>' in waagent --version output: %r" % text[:200])
    return {"daemon": daemon.group(1), "goal_state": goal.group(1) if goal else None}


def parse_os_release(text: str) -> dict:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def agent_package(os_release: dict) -> str | None:
    """The distribution's package name for the agent, or None if the distribution is unknown."""
    ids = [os_release.get("ID", "").lower()] + os_release.get("ID_LIKE", "").lower().split()
    for wanted in ids:
        for known, package in _PACKAGE_BY_ID:
            if wanted == known:
                return package
    return None
