# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SCHEDULE's decisions over the tasks under \\Microsoft\\OnlineBackup\\ (article 004, "Backups don't run
according to schedule" and "Job could not be started as another job was in progress").

Each task must have its triggers enabled (and the task itself), run as SYSTEM or a local administrator, and
start no second instance while one runs (Settings.MultipleInstances = IgnoreNew, "Do not start a new instance").
Accounts are compared by SID: SYSTEM is S-1-5-18 and BUILTIN\\Administrators S-1-5-32-544 on every Windows
language (learn.microsoft.com, "Well-known SIDs"). Membership of Administrators is read through ADSI, nested groups
included; where part of it cannot be read (a domain group while no domain controller answers), an account found
nowhere in the rest is "unknown", and an unknown principal is never changed.

A task that runs as an account with a stored password (LogonType Password) cannot be changed by
Set-ScheduledTask without that password (it fails with 0x8007052E, ERROR_LOGON_FAILURE): such a task is reported.
DPM and MABS servers run the agent under their own scheduler, with no task here.
"""

from __future__ import annotations

TASK_PATH = "\\Microsoft\\OnlineBackup\\"
PASSWORD = "Password"
REENTER = "re-enter the task's account in Task Scheduler or the MARS console"
DPM = "DPM/MABS schedules its jobs itself: the MARS agent of a DPM or MABS server has no tasks of its own here"
SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
IGNORE_NEW = "IgnoreNew"
# TASK_INSTANCES_POLICY (learn.microsoft.com, ITaskSettings::MultipleInstances): the number PowerShell shows where
# its enum has no name for it.
_INSTANCES = {"0": "Parallel", "1": "Queue", "2": "IgnoreNew", "3": "StopExisting"}


def instances(value) -> str:
    """Settings.MultipleInstances in words ('IgnoreNew'), from its name or its number."""
    text = "" if value is None else str(value)
    return _INSTANCES.get(text, text or "unknown")


def disabled(task: dict) -> list[str]:
    """What of the task does not fire: 'the task' when it is disabled, then each disabled trigger as 'trigger <n> (<kind>)'."""
    out = [] if task.get("enabled", True) else ["the task"]
    for number, trigger in enumerate(task.get("triggers") or [], 1):
        if not trigger.get("enabled"):
            kind = str(trigger.get("kind") or "").replace("MSFT_Task", "").replace("Trigger", "").lower()
            out.append("trigger %d%s" % (number, " (%s)" % kind if kind else ""))
    return out


def principal(task: dict, administrators: list | None, unresolved: list | None = None) -> str:
    """'system', 'administrator' (the account, or the Administrators group, runs it; nested membership counts),
    'other', or 'unknown' when the account has no SID, the members of Administrators could not be read, or some
    member group's (``unresolved``) could not and the account is not among those that could."""
    sid = task.get("sid")
    if sid == SYSTEM:
        return "system"
    if sid == ADMINISTRATORS:
        return "administrator"
    if not sid or administrators is None:
        return "unknown"
    if sid in administrators:
        return "administrator"
    return "unknown" if unresolved else "other"


def stored_password(task: dict) -> bool:
    """Whether Set-ScheduledTask needs the account's password to save the task (LogonType Password)."""
    return str(task.get("logon_type") or "") == PASSWORD


def account(task: dict) -> str:
    """The task's principal as people read it: 'backupuser (S-1-5-21-...-1001)'."""
    name = task.get("user_id") or task.get("group_id") or "?"
    return "%s (%s)" % (name, task["sid"]) if task.get("sid") and task.get("sid") != name else name
