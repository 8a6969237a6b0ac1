# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Signs of a sick Linux agent: which Python runs it, a noexec /var/lib/waagent,
and what its log says lately."""

from __future__ import annotations

import datetime
import os
import re


def execstart_argv(value: str) -> list[str]:
    """argv of systemd's ExecStart property: '{ path=... ; argv[]=/usr/bin/python3 -u x ; ... }'."""
    match = re.search(r"argv\[\]=([^;]*)", value or "")
    return match.group(1).split() if match else []


def interpreter(argv: list[str], shebang: str | None) -> str | None:
    """The Python that runs the agent: argv[0] itself, or the script's shebang interpreter."""
    if not argv:
        return None
    if os.path.basename(argv[0]).startswith("python"):
        return argv[0]
    if shebang and shebang.startswith("#!"):
        words = shebang[2:].split()
        if words and os.path.basename(words[0]) == "env" and len(words) > 1:
            return words[1]
        return words[0] if words else None
    return None


def mount_of(path: str, mountinfo: str) -> dict | None:
    """The mount (/proc/self/mountinfo) that holds path: the longest mount point that is a prefix."""
    best = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best["mount_point"])):
            best = {"mount_point": point, "options": fields[5].split(",")}
    return best


# Agents before 2.2.x log '2016/04/01 12:34:56.123 ERROR ...', later ones ISO-8601 with Z.
_LOG_LINE = re.compile(r"^(\d{4})[/-](\d{2})[/-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z?\s+(ERROR|WARNING|WARN|INFO|VERBOSE)\s+(.*)$")


def summarize_log(text: str, now: datetime.datetime, hours: float = 24, keep: int = 5) -> dict:
    """Errors and warnings logged in the last `hours` before `now` (UTC), and the latest error texts."""
    since = now - datetime.timedelta(hours=hours)
    errors, warnings, last = 0, 0, []
    newest = None
    for line in text.splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.datetime(*[int(x) for x in match.groups()[:6]])
        newest = stamp
        if stamp < since:
            continue
        level, message = match.group(7), match.group(8)
        if level == "ERROR":
            errors += 1
            last.append("%s %s" % (stamp.isoformat(), message[:240]))
        elif level in ("WARNING", "WARN"):
            warnings += 1
    return {"errors": errors, "warnings": warnings, "hours": hours, "since": since.isoformat(),
            "newest_entry": newest.isoformat() if newest else None, "last_errors": last[-keep:]}
