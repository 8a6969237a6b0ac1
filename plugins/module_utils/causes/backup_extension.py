# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The Linux backup extension (VMSnapshotLinux): which one is installed, its
handler state, its last status, and /etc/azure/vmbackup.conf."""

from __future__ import annotations

import configparser
import json
import re

NAME = "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"
# The agent's handler states (WALinuxAgent); only Enabled runs backups.
HANDLER_STATES = ("NotInstalled", "Installed", "Enabled", "FailedUpgrade")

_STATUS = re.compile(r"^(\d+)\.status$")


def latest_version(names: list[str], prefix: str = "") -> tuple | None:
    """(name, version) of the highest version among folder names ``<prefix><version>``; None when there is none."""
    pattern = re.compile(r"^" + re.escape(prefix) + r"(\d+(?:\.\d+)*)$")
    found = [(tuple(int(p) for p in m.group(1).split(".")), name, m.group(1)) for name in names for m in [pattern.match(name)] if m]
    if not found:
        return None
    _key, name, version = max(found)
    return name, version


def latest_extension(names: list[str]) -> tuple | None:
    """(folder, version) of the newest VMSnapshotLinux folder among /var/lib/waagent's entries."""
    return latest_version(names, NAME + "-")


def latest_status_file(names: list[str]) -> str | None:
    """The status file of the highest sequence number (<seq>.status)."""
    numbered = [(int(m.group(1)), name) for name in names for m in [_STATUS.match(name)] if m]
    return max(numbered)[1] if numbered else None


def parse_status(text: str) -> dict:
    """The top status of an extension status file: status, code, operation, message, time."""
    try:
        data = json.loads(text)
        top = data[0] if isinstance(data, list) else data
        status = top["status"]
    except (ValueError, LookupError, TypeError) as exc:
        raise ValueError("not an extension status file: %s" % exc)
    message = (status.get("formattedMessage") or {}).get("message")
    return {
        "status": status.get("status"),
        "code": status.get("code"),
        "operation": status.get("operation"),
        "message": message.strip() if isinstance(message, str) else message,
        "timestamp": top.get("timestampUTC"),
    }


def parse_vmbackup_conf(text: str) -> dict:
    """/etc/azure/vmbackup.conf as {section: {key: value}}; accepts 'key: v' and 'key = v'."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep MountsToSkip, SafeFreezeWaitInSeconds as written
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(str(exc).splitlines()[0])
    return {section: dict(parser[section]) for section in parser.sections()}


# What reloads a failed extension: the platform installs it again with the next backup.
RELOAD = ("uninstall the extension from the platform (Azure portal: VM > Extensions, or the Azure API) "
          "so that the next backup installs it again")


def state_verdict(version: str, state: str | None) -> tuple:
    """(status, summary) of the handler state (config/HandlerState); only Enabled runs backups."""
    if state == "Enabled":
        return "ok", "VMSnapshotLinux %s is Enabled" % version
    return "found", "VMSnapshotLinux %s handler state is %s, not Enabled: %s" % (version, state or "missing", RELOAD)


def status_verdict(status: dict) -> tuple:
    """(status, summary) of the extension's last status (parse_status's answer)."""
    said = "last %s of VMSnapshotLinux at %s: %s (code %s)%s" % (
        status["operation"], status["timestamp"], status["status"], status["code"],
        ": %s" % status["message"] if status["message"] and status["status"] == "error" else "")
    if status["status"] == "error":
        return "found", "%s; %s" % (said, RELOAD)
    return "ok", said
