# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Read /etc/waagent.conf as the agent reads it, and edit it in place.

The agent's rules (WALinuxAgent ConfigurationProvider.load): a line is a
comment only when ``#`` is its first character; otherwise, if it has ``=``,
the key is the text before the first ``=`` (stripped) and the value the text
after it up to the first ``#``, with quotes and spaces stripped; a later line
wins over an earlier one; the value ``None`` means unset.

Edits keep every other byte: comments, order, blank lines, duplicates, the
line endings (LF or CRLF) and any inline comment after the value.
"""

from __future__ import annotations

import re

# Settings the agent reads as switches: only y or n are meaningful.
SWITCHES = ("Extensions.Enabled", "Logs.Verbose", "AutoUpdate.Enabled", "OS.EnableFirewall", "Provisioning.Enabled")
# Which cause a setting belongs to, for findings; the rest are the agent's own.
CAUSE_OF = {"HttpProxy.Host": "NETWORK", "HttpProxy.Port": "NETWORK"}


def _lines(text: str) -> list[str]:
    """Split after each LF, keeping the ends (str.splitlines also splits on \\x0c and others)."""
    parts = re.split(r"(?<=\n)", text)
    return [p for p in parts if p]


def _body(line: str) -> tuple[str, str]:
    """A line without its end, and the end (LF, CRLF or nothing)."""
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def _active_key(body: str) -> str | None:
    if body.startswith("#") or "=" not in body:
        return None
    return body.split("=", 1)[0].strip()


def _agent_value(body: str) -> str:
    return body.split("=", 1)[1].split("#")[0].strip('" ').strip()


def effective(text: str) -> dict:
    """Every setting as the agent would read it (None for the literal None)."""
    values: dict = {}
    for line in _lines(text):
        body, _end = _body(line)
        key = _active_key(body)
        if key:
            value = _agent_value(body)
            values[key] = None if value == "None" else value
    return values


def not_settings(text: str) -> list[str]:
    """Lines the agent ignores that are neither comments nor blank: worth reporting."""
    return [b for b in (_body(line)[0] for line in _lines(text)) if b.strip() and not b.startswith("#") and "=" not in b]


def validate(key: str, value: str) -> str:
    """Return the value to write, or raise ValueError saying what is wrong with it."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_.]*$", key):
        raise ValueError("%r is not a waagent.conf setting name" % key)
    if key in SWITCHES and value not in ("y", "n"):
        raise ValueError("%s must be y or n, not %r" % (key, value))
    if key == "HttpProxy.Port" and not (value.isdigit() and 1 <= int(value) <= 65535):
        raise ValueError("HttpProxy.Port must be a port number from 1 to 65535, not %r" % value)
    if key == "HttpProxy.Host" and not re.match(r"^[A-Za-z0-9.:\-\[\]]+$", value):
        raise ValueError("HttpProxy.Host must be a host name or IP address, not %r" % value)
    # The agent cuts values at '#' and strips quotes: such a value would not read back.
    if value != value.strip() or any(c in value for c in '#"\r\n') or not value:
        raise ValueError("%s=%r cannot be written: empty, or has a quote, '#', a line break or outer spaces" % (key, value))
    return value


def _rewrite_value(body: str, value: str) -> str:
    """Replace the value of an active line, keeping spacing, quotes and an inline comment."""
    before, after = body.split("=", 1)
    head, hash_, comment = after.partition("#")
    lead = head[: len(head) - len(head.lstrip())]
    trail = head[len(head.rstrip()):]
    old = head.strip()
    quote = '"' if len(old) >= 2 and old[0] == old[-1] == '"' else ""
    return before + "=" + lead + quote + value + quote + trail + hash_ + comment


def set_values(text: str, desired: dict) -> str:
    """Return text with each desired setting in force, changing as little as possible.

    An active line (all of them, if duplicated) gets the new value; else the first
    commented-out line for the key (``# Logs.Verbose=n``) is uncommented in place;
    else the setting is appended, in the file's own line ending.
    """
    lines = _lines(text)
    newline = "\r\n" if "\r\n" in text and text.count("\r\n") * 2 >= text.count("\n") else "\n"
    for key, value in desired.items():
        active = [i for i, line in enumerate(lines) if _active_key(_body(line)[0]) == key]
        for i in active:
            body, end = _body(lines[i])
            if _agent_value(body) != value:
                lines[i] = _rewrite_value(body, value) + end
        if active:
            continue
        commented = re.compile(r"^#\s*" + re.escape(key) + r"\s*=")
        spot = next((i for i, line in enumerate(lines) if commented.match(line)), None)
        if spot is not None:
            lines[spot] = "%s=%s%s" % (key, value, _body(lines[spot])[1] or newline)
            continue
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
        lines.append("%s=%s%s" % (key, value, newline))
    return "".join(lines)


def parse_show_configuration(text: str) -> dict:
    """`waagent -show-configuration`: every option as the agent reads it, defaults included,
    printed `Key = value` with Python's True/False/None. Returned in the file's terms (y/n, None)."""
    words = {"True": "y", "False": "n", "None": None}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key.strip() and " " not in key.strip():
            values[key.strip()] = words.get(value.strip(), value.strip())
    return values
