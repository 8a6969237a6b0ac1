# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""LINUX_AGENT's pure decisions: which Python runs the agent and with which flags, what the one run of
that Python says (import, version, configuration), a noexec /var/lib/waagent, and what its log says lately.
The version comparison and package names are in linux_agent_version (the Windows agent uses them too)."""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex

# Interpreter options that take a value (`-W error`, `-X dev`); -c and -m end the options.
_FLAGS_WITH_VALUE = ("-W", "-X", "-Q")


# ExecStart's prefixes: "@" gives argv[0] apart from the program; "-", ":", "+", "!", "!!" change only how it runs.
_PREFIXES = "@-:+!"
# env(1) options that take a value; -S/--split-string's value is already split in systemctl's argv[] line.
_ENV_WITH_VALUE = ("-u", "--unset", "-C", "--chdir")
_VARIABLE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


def execstart_argv(value: str) -> list[str]:
    """argv of systemd's ExecStart property, '{ path=... ; argv[]=/usr/bin/python3 -u x ; ... }', with argv[0]
    replaced by the program systemd runs (path=, which differs from argv[0] with the "@" prefix)."""
    match = re.search(r"argv\[\]=([^;]*)", value or "")
    argv = match.group(1).split() if match else []
    if not argv:
        return []
    path = re.search(r"path=([^ ;]+)", value or "")
    prefix = len(argv[0]) - len(argv[0].lstrip(_PREFIXES))
    if prefix and "@" in argv[0][:prefix]:  # a unit file's own text: "@/usr/bin/python3 agent-name -u ..."
        argv = [argv[0][prefix:]] + argv[2:]
    elif prefix:
        argv = [argv[0][prefix:]] + argv[1:]
    if path:
        argv = [path.group(1)] + argv[1:]
    return argv


def env_assignments(argv: list[str]) -> dict:
    """NAME=VALUE set by an `env` in front of the interpreter (`/usr/bin/env -S LANG=C python3 ...`)."""
    values: dict = {}
    if argv and os.path.basename(argv[0]) == "env":
        _strip_env(argv, values)
    return values


def _strip_env(words: list[str], values: dict | None = None) -> list[str]:
    """The words after `env`, its options and NAME=VALUE assignments: the interpreter and what follows."""
    rest = list(words[1:])
    while rest:
        word = rest[0]
        if word in _ENV_WITH_VALUE:
            rest = rest[2:]
        elif word.startswith("-"):
            rest = rest[1:]
        elif "=" in word:
            name, _sep, value = word.partition("=")
            if values is not None:
                values[name] = value
            rest = rest[1:]
        else:
            break
    return rest


def expand(words: list[str], env: dict | None) -> list[str]:
    """$VAR (split into words) and ${VAR} (one word) as systemd expands them in ExecStart, from the unit's
    environment; ValueError when a variable is not set there, so nobody guesses which Python runs."""
    out: list[str] = []
    for word in words:
        match = _VARIABLE.match(word)
        if not match:
            if "$" in word and not word.startswith("$$"):
                raise ValueError("cannot tell what %s in ExecStart stands for" % word)
            out.append(word)
            continue
        name = match.group(1) or match.group(2)
        if name not in (env or {}):
            raise ValueError("cannot tell: ExecStart uses %s, which the unit's environment does not set" % word)
        out.extend([env[name]] if match.group(1) else env[name].split())
    return out


def _split_interpreter(words: list[str]) -> tuple[str | None, list[str]]:
    """(python, its flags) from `python3 -S -u script ...` or `/usr/bin/env python3 -u`; flags end at the script."""
    if words and os.path.basename(words[0]) == "env":
        words = _strip_env(words)
    if not words:
        return None, []
    flags: list[str] = []
    rest = words[1:]
    while rest and rest[0].startswith("-") and rest[0] not in ("-", "-c", "-m", "--"):
        flag = rest.pop(0)
        flags.append(flag)
        if flag in _FLAGS_WITH_VALUE and rest:
            flags.append(rest.pop(0))
    return words[0], flags


def agent_python(argv: list[str], shebang: str | None, env: dict | None = None) -> tuple[str | None, list[str]]:
    """The Python that runs the agent and the flags it is started with: ExecStart's own interpreter and the
    options before the script (`python3 -S -u /usr/sbin/waagent -daemon`, `platform-python -E /usr/sbin/waagent`,
    `env LANG=C python3 ...`), else the script's shebang (`#!/usr/bin/python3 -E`). (None, []) when neither says.
    `env`: the unit's environment, for $VAR in the flags; ValueError when one is not set there."""
    if not argv:
        return None, []
    script = next((i for i, word in enumerate(argv[1:], 1) if word == "waagent" or word.endswith("/waagent")), None)
    name = os.path.basename(argv[0])
    if script is not None and name != "env":
        # Whatever its name (platform-python, pypy): everything before the waagent script is interpreter and flags.
        words = expand(argv[:script], env)
        return words[0], words[1:]
    if name.startswith("python") or name == "env":
        python, flags = _split_interpreter(argv)
        return python, expand(flags, env)
    if shebang and shebang.startswith("#!"):
        return _split_interpreter(shebang[2:].split())
    return None, []


def interpreter(argv: list[str], shebang: str | None) -> str | None:
    """The Python that runs the agent: argv[0] itself, or the script's shebang interpreter."""
    return agent_python(argv, shebang)[0]


def unit_environment(value: str) -> dict:
    """systemd's Environment property (`A=1 "B=x y"`) as a dict."""
    env = {}
    for word in shlex.split(value or ""):
        key, sep, val = word.partition("=")
        if sep and key:
            env[key] = val
    return env


# Run once with the agent's own interpreter and flags: imports the agent as `waagent` does, prints what
# `waagent --version` prints and the settings as `waagent -show-configuration` prints them for argv[1].
# Python 2.6+ and 3 (old images run the agent on Python 2); nothing is written, no log is opened.
# It runs as root: first drop the folder `-c` puts on sys.path (a json.py there would run as root), and
# read stdin from /dev/null so nothing the agent imports can wait for input.
PROBE = r"""
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import json, os
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
try:
    import azurelinuxagent.agent as agent
    import azurelinuxagent.common.conf as conf
except BaseException:
    import traceback
    sys.stderr.write(traceback.format_exc())
    sys.exit(3)
if sys.version_info[0] < 3:
    from StringIO import StringIO
else:
    from io import StringIO
out = {"python": sys.executable}
real, sys.stdout = sys.stdout, StringIO()
try:
    agent.version()
    out["version"] = sys.stdout.getvalue()
except Exception as exc:
    out["version_error"] = "%s: %s" % (type(exc).__name__, exc)
finally:
    sys.stdout = real
try:
    conf.load_conf_from_file(sys.argv[1])
    values = conf.get_configuration()
    out["configuration"] = "".join("{0} = {1}\n".format(k, values[k]) for k in sorted(values))
except Exception as exc:
    out["configuration_error"] = "%s: %s" % (type(exc).__name__, exc)
sys.stdout.write(json.dumps(out))
"""


def parse_probe(rc: int, out: str, err: str) -> dict:
    """What the probe said: ``imports`` (bool), ``error`` (the last line of the failure when it did not
    import or answered nonsense), ``version`` and ``configuration`` texts (None when it could not say)."""
    if rc == 0:
        try:
            answer = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            answer = None
        if isinstance(answer, dict):
            return {"imports": True, "error": None, "version": answer.get("version"),
                    "version_error": answer.get("version_error"), "configuration": answer.get("configuration"),
                    "configuration_error": answer.get("configuration_error")}
    lines = (err or out or "").strip().splitlines()
    return {"imports": False, "error": lines[-1] if lines else "exit code %d, no output" % rc,
            "version": None, "configuration": None}


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
