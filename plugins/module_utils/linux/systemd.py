# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Pure decisions about systemd units: parse ``systemctl show``, pick the
agent's unit, and plan the calls that make a unit enabled and running."""

from __future__ import annotations

# Properties read in one ``systemctl show`` call for every candidate unit.
SHOW_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "Result",
    "MainPID",
    "Restart",
    "NRestarts",
    "FragmentPath",
    "DropInPaths",
    "ExecStart",
    "Environment",
)

# The Linux agent's unit: walinuxagent on Debian and Ubuntu, waagent on the
# RHEL family, SUSE and Azure Linux. Which one a VM has is read, not guessed.
AGENT_UNITS = ("walinuxagent.service", "waagent.service")

# Unit file states where `systemctl enable` has nothing to do or cannot help.
_ENABLE_NOT_APPLICABLE = ("enabled", "static", "indirect", "generated", "alias", "linked", "transient")


def parse_show(text: str) -> list[dict]:
    """Split ``systemctl show`` output for several units into one dict each.

    systemd prints the units in the order asked, separated by a blank line;
    values may themselves contain ``=``.
    """
    units: list[dict] = []
    current: dict = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        units.append(current)
    return units


def exists(props: dict) -> bool:
    return props.get("LoadState", "not-found") not in ("not-found", "")


def is_masked(props: dict) -> bool:
    return props.get("LoadState") == "masked" or props.get("UnitFileState", "").startswith("masked")


def is_running(props: dict) -> bool:
    return props.get("ActiveState") in ("active", "reloading")


def candidate_units(requested: str = "auto") -> list[str]:
    """The unit names to look for: both agent names, or the one asked for."""
    if requested == "auto":
        return list(AGENT_UNITS)
    return [requested if requested.endswith(".service") else requested + ".service"]


def select_agent_unit(units: list[dict]) -> dict | None:
    """Return the props of the agent unit to manage, or None if none exists.

    When both names exist (a half-migrated image), the one in use wins:
    running, then enabled, then the first in AGENT_UNITS order.
    """
    candidates = [u for u in units if exists(u)]
    if not candidates:
        return None

    def rank(props: dict) -> tuple:
        order = AGENT_UNITS.index(props["Id"]) if props.get("Id") in AGENT_UNITS else 0
        return (not is_running(props), props.get("UnitFileState") != "enabled", order)

    return sorted(candidates, key=rank)[0]


def plan_running_enabled(props: dict) -> list[str]:
    """The systemctl verbs, in order, that leave the unit enabled and running.

    A masked unit is unmasked and enabled (enable is a no-op when its wants
    symlinks survived the mask). A failed unit gets ``reset-failed`` first:
    after a start-limit hit systemd refuses a plain ``start``.
    """
    verbs: list[str] = []
    state = props.get("UnitFileState", "")
    if is_masked(props):
        verbs.append("unmask-runtime" if state == "masked-runtime" else "unmask")
        verbs.append("enable")
    elif state not in _ENABLE_NOT_APPLICABLE:
        verbs.append("enable")
    if props.get("ActiveState") == "failed":
        verbs.append("reset-failed")
    if not is_running(props):
        verbs.append("start")
    return verbs


# The agent must come back by itself after a crash (WALinuxAgent Known-Issues,
# mitigate_agent_crash); upstream units say so, Debian's ships Restart=no.
RESTART_DROPIN_NAME = "90-azure-backup-restart.conf"
RESTART_DROPIN = (
    "# Managed by azure_backup.remediation (cause LINUX_AGENT): restart the Azure agent after a crash.\n"
    "# A drop-in, so the vendor unit stays untouched and package upgrades keep it.\n"
    "[Service]\n"
    "Restart=always\n"
    "RestartSec=5\n"
)


def restart_dropin_path(unit: str) -> str:
    # /etc/systemd/system, not beside the vendor unit: RHEL's agent package deletes its own drop-ins on upgrade.
    return "/etc/systemd/system/%s.d/%s" % (unit, RESTART_DROPIN_NAME)


def restarts_itself(props: dict) -> bool:
    return props.get("Restart") == "always"


def describe(props: dict) -> str:
    """A one-line state as an operator reads it in `systemctl status`."""
    text = "%s (%s), unit file %s" % (
        props.get("ActiveState", "unknown"),
        props.get("SubState", "unknown"),
        props.get("UnitFileState") or "unknown",
    )
    if props.get("Result") not in (None, "", "success"):
        text += ", last result %s" % props["Result"]
    return text


def state_summary(props: dict) -> dict:
    """The properties a finding reports, with systemd's own names."""
    keys = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result", "MainPID", "Restart", "NRestarts", "FragmentPath", "DropInPaths")
    return {k: props.get(k, "") for k in keys}
