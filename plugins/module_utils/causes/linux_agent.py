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

# What a line means for extensions, the backup extension (VMSnapshotLinux) among them: they run only when the agent
# fetches its goal state and its extension handler process runs. The texts are the messages WALinuxAgent logs
# (github.com/Azure/WALinuxAgent, file:line at tag v2.15.0.1 unless an older tag is named). A missing part of the
# goal state ("ExtensionsGoalState is not in goal state properties", protocol/goal_state.py:132) ends up in the
# "Error fetching the goal state: ..." line. The first kind that matches a line wins.
_GOAL_STATE = (r"Error fetching the goal state"                   # ga/update.py:588; "... certificates" protocol/goal_state.py:541
               r"|Fetching the goal state is still failing"       # ga/update.py:593 (after max_errors_to_log = 3 errors, then once every 6 h)
               r"|Fetching the goal state failed"                 # protocol/goal_state.py:494
               r"|An error occurred while retrieving the goal state"  # v2.2.53 protocol/wire.py:744
               r"|Exceeded max retry updating goal state"         # v2.2.46 protocol/wire.py:845 (retries exhausted)
               r"|IOError processing goal state")                 # v2.2.46 protocol/wire.py:834

# (kind, what it means, pattern, only at level ERROR)
LOG_MEANINGS = (
    # protocol/util.py:231 logs "not responding" for any ProtocolError of protocol detection: no answer, but also an
    # error answer of the WireServer or of the HostGAPlugin's vmSettings (issue 3256: HTTP 500 from the HostGAPlugin).
    ("wireserver", "the agent's requests to 168.63.129.16 (WireServer/HostGAPlugin) failed: no answer or an error answer",
     re.compile(r"WireServer is not responding"                   # protocol/util.py:231 (INFO)
                r"|(?:%s).*(?:\[Wireserver Exception\]|//168\.63\.129\.16/machine)" % _GOAL_STATE), False),
    ("goal_state", "the agent could not fetch its goal state", re.compile(_GOAL_STATE), False),
    ("agent_failed", "the agent's extension handler process failed",
     re.compile(r"Agent \S+ launched with command '.*' (?:failed with return code|failed with exception|returned code)"
                # ga/update.py:294, :309; v2.2.46 ga/update.py:216
                r"|ExtHandler process \S+ launched with command '.*' exited with return code"  # ga/update.py:287
                r"|Agent \S+ failed with exception"),             # ga/update.py:434
     False),
    ("processing_stopped", "the agent stopped processing extensions",
     re.compile(r"ProcessExtensionsGoalState failed"              # ga/exthandlers.py:356
                r"|Exception processing extension handlers"       # ga/exthandlers.py:361; v2.2.46 ga/exthandlers.py:269
                r"|Unexpected error when processing goal state"   # ga/exthandlers.py:390
                r"|Extension handling is on hold"                 # ga/exthandlers.py:471
                r"|will not be processed since extension processing is disabled"), False),  # ga/exthandlers.py:541
    ("extensions_pending", "extensions of an earlier goal state had not completed when a new one came",
     re.compile(r"not all the extensions in the previous goal state have completed"), False),  # ga/update.py:642
    # common/event.py:46 _EVENT_MSG, logged as ERROR when an operation failed (event.py:305); the agent's own
    # telemetry events (name=WALinuxAgent) are not an extension's.
    ("extension_failed", "an extension's handler failed",
     re.compile(r"Event: name=(?!WALinuxAgent,)([^,\s]+), op=([^,\s]+), message="), True),
)
BACKUP_EXTENSION = "VMSnapshotLinux"  # Microsoft.Azure.RecoveryServices.VMSnapshotLinux

# The lines that show the agent working again (agents before 2.4 log none). A goal state fetched after errors
# (ga/update.py:571; 2.5 to 2.7 "Retrieving ...", v2.6.0.2 ga/update.py:410); a run of the extension handlers that started
# after a problem and completed (ga/exthandlers.py:339 and :353; 2.4 to 2.7 "ProcessExtensionsInGoalState ...",
# v2.6.0.2 ga/exthandlers.py:351 and :362). Only the start counts: "Unexpected error when processing goal state"
# (:390) falls inside a run that still "completed".
# A run starts only after the goal state was fetched (ga/update.py _process_goal_state), so it ends fetch problems too.
_FETCHED = re.compile(r"(?:Fetching|Retrieving) the goal state recovered from previous errors")
_RUN_STARTED = re.compile(r"ProcessExtensions(?:In)?GoalState started")
_RUN_COMPLETED = re.compile(r"ProcessExtensions(?:In)?GoalState completed")
# Which success ends which kind; an extension's failure ends only with that extension's next success, not read here.
_RECOVERS = {"wireserver": ("fetched", "run"), "goal_state": ("fetched", "run"), "agent_failed": ("run",),
             "processing_stopped": ("run",), "extensions_pending": ("run",)}

# The HTTP answer in a failed request's text: protocol/wire.py:560 "[HTTP Failed] Status Code 500",
# utils/restutil.py:662 "[HTTP Failed] [410: Gone] ...", and the 410 hostplugin.py:510 raises without a text
# (exception.py:255 "Resource is gone").
_HTTP_STATUS = re.compile(r"\[HTTP Failed\] \[(\d{3}): ([^\]]*)\]|Status Code (\d{3})|\[ResourceGoneError\] Resource is gone")
# protocol/util.py:236 follows util.py:231 with the error itself, the HTTP status among it; counted no further.
_ENDPOINT_NOT_FOUND = "Protocol endpoint not found: "


def http_status(message: str) -> str | None:
    """The HTTP answer a failed request got, as 'HTTP 500 Internal Server Error', or None when it got none."""
    match = _HTTP_STATUS.search(message)
    if not match:
        return None
    if match.group(1):
        return "HTTP %s %s" % (match.group(1), match.group(2).strip())
    return "HTTP %s" % match.group(3) if match.group(3) else "HTTP 410 Gone"


def classify_line(level: str, message: str) -> tuple[str, re.Match] | None:
    """The kind (LOG_MEANINGS) of one log message, or None for a line of no known meaning."""
    for kind, _meaning, pattern, errors_only in LOG_MEANINGS:
        if errors_only and level != "ERROR":
            continue
        match = pattern.search(message)
        if match:
            return kind, match
    return None


def summarize_log(text: str, now: datetime.datetime, hours: float = 24, keep: int = 5) -> dict:
    """Errors and warnings logged in the last `hours` before `now` (UTC), the latest error texts, and the lines of
    known meaning (`meanings`: one entry per kind found, in LOG_MEANINGS order, with a count, the latest line, the
    HTTP answers quoted and `recovered`: when the agent logged working again after the kind's latest line, else None).
    `open_errors`: the errors not of a kind the agent recovered from."""
    since = now - datetime.timedelta(hours=hours)
    errors, warnings, last = 0, 0, []
    newest = None
    found = {}
    fetched = None        # the latest "recovered" line
    run = None            # (start, end) of the latest completed run of the extension handlers
    started = None
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
        if _FETCHED.search(message):
            fetched = max(fetched or stamp, stamp)
        elif _RUN_STARTED.search(message):
            started = stamp
        elif _RUN_COMPLETED.search(message) and started is not None:
            run = (started, stamp)
        elif _ENDPOINT_NOT_FOUND in message and "wireserver" in found:
            _add_status(found["wireserver"], message)
        known = classify_line(level, message)
        if known:
            entry = found.setdefault(known[0], {"count": 0, "extensions": [], "errors": 0, "statuses": [], "last": stamp})
            entry["count"] += 1
            entry["errors"] += level == "ERROR"
            if stamp >= entry["last"]:
                entry["last"] = stamp
                entry["example"] = "%s %s %s" % (stamp.isoformat(), level, message[:240])
            if known[0] in ("wireserver", "goal_state"):
                _add_status(entry, message)
            if known[0] == "extension_failed":
                failed = "%s (%s)" % known[1].groups()
                if failed not in entry["extensions"]:
                    entry["extensions"].append(failed)
    meanings, open_errors = [], errors
    for kind, meaning, _pattern, _errors_only in LOG_MEANINGS:
        if kind in found:
            entry = dict(kind=kind, meaning=meaning, **found[kind])
            ends = [fetched if "fetched" in _RECOVERS.get(kind, ()) else None,
                    run[1] if run and "run" in _RECOVERS.get(kind, ()) and run[0] > entry["last"] else None]
            ends = [end for end in ends if end is not None and end > entry["last"]]
            entry["recovered"] = max(ends).isoformat() if ends else None
            if entry["recovered"]:
                open_errors -= entry["errors"]
            for key in ("last", "errors") + (() if kind == "extension_failed" else ("extensions",)):
                del entry[key]
            if kind not in ("wireserver", "goal_state"):
                del entry["statuses"]
            meanings.append(entry)
    return {"errors": errors, "warnings": warnings, "hours": hours, "since": since.isoformat(), "open_errors": open_errors,
            "newest_entry": newest.isoformat() if newest else None, "last_errors": last[-keep:], "meanings": meanings}


def _add_status(entry: dict, message: str) -> None:
    status = http_status(message)
    if status and status not in entry["statuses"]:
        entry["statuses"].append(status)


def log_status(summary: dict) -> str:
    """agent_log's status: `found` while an error or a line of known meaning stands that the agent did not recover
    from, else `ok` (a goal state change's 410 Gone, fetched again a minute later, is no finding)."""
    standing = [m for m in summary["meanings"] if not m.get("recovered")]
    return "found" if summary.get("open_errors", summary["errors"]) or standing else "ok"


def backup_extension_failed(meanings: list) -> bool:
    """Whether the backup extension is among the failed extensions of summarize_log's meanings."""
    return any(name.split(" ")[0].rsplit(".", 1)[-1] == BACKUP_EXTENSION
               for entry in meanings for name in entry.get("extensions", []))


def describe_log(summary: dict, path: str) -> str:
    """One line for the agent_log finding: what the lines mean for extensions first, then the counts."""
    counts = "%d errors, %d warnings in the last %g h of %s" % (summary["errors"], summary["warnings"], summary["hours"], path)
    meanings = summary["meanings"]
    if not meanings:
        return "%s; latest: %s" % (counts, summary["last_errors"][-1]) if summary["last_errors"] else counts
    kinds = "; ".join("%s (%s)" % (m["meaning"], ", ".join(_notes(m))) for m in meanings)
    standing = [m for m in meanings if not m.get("recovered")]
    if backup_extension_failed(meanings):
        what = "the backup extension (%s) failed, says the agent's log" % BACKUP_EXTENSION
    elif any(m["kind"] != "extension_failed" for m in standing):
        what = "the agent's log shows extensions, the backup extension (%s) too, were not being processed" % BACKUP_EXTENSION
    elif standing:
        what = "the agent's log shows extension handlers failing, so extensions were not processed as asked"
    else:
        what = "the agent's log shows extensions were held up, but the agent recovered"
    return "%s: %s; %s" % (what, kinds, counts)


def _notes(meaning: dict) -> list[str]:
    """'2 lines: <extensions>', the HTTP answers, 'recovered at <time>'."""
    notes = ["%d line%s%s" % (meaning["count"], "" if meaning["count"] == 1 else "s",
                              ": " + ", ".join(meaning["extensions"]) if meaning.get("extensions") else "")]
    notes += meaning.get("statuses", [])
    if meaning.get("recovered"):
        notes.append("recovered at %s" % meaning["recovered"])
    return notes
