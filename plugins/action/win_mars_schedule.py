# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SCHEDULE: the MARS agent's backup tasks under \\Microsoft\\OnlineBackup\\ fire (every trigger enabled), run as
SYSTEM or a local administrator, and start no second instance while one runs (article 004). Triggers (unless
enable_tasks is off) and the instance rule are fixed, except on a task saved with a password; another principal
is set to SYSTEM only on request, an unknown one never; no task at all is reported; DPM/MABS has none."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_schedule as sched
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

# One task as both scripts report it: triggers by CIM class, the principal with its SID (names are localised).
_DESCRIBE_TASK = r"""
function Get-AccountSid {
    param([string]$Name)
    if (-not $Name) { return $null }
    if ($Name -match '^S-1-') { return $Name }
    try {
        ([System.Security.Principal.NTAccount]$Name).Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch {
        $null
    }
}

function Get-TaskState {
    param($Task)
    $account = if ($Task.Principal.UserId) { $Task.Principal.UserId } else { $Task.Principal.GroupId }
    @{
        path = $Task.TaskPath; name = $Task.TaskName; state = [string]$Task.State; enabled = [bool]$Task.Settings.Enabled
        multiple_instances = [string]$Task.Settings.MultipleInstances
        triggers = @(foreach ($trigger in $Task.Triggers) { @{ kind = $trigger.CimClass.CimClassName; enabled = [bool]$trigger.Enabled } })
        user_id = $Task.Principal.UserId; group_id = $Task.Principal.GroupId; logon_type = [string]$Task.Principal.LogonType
        run_level = [string]$Task.Principal.RunLevel; sid = Get-AccountSid -Name $account
    }
}
"""

READ = r"""#azure_backup.remediation/mars_schedule.read
# The MARS agent, its scheduled tasks under TaskPath and the members of BUILTIN\Administrators (S-1-5-32-544), by SID,
# nested members included.
# Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$TaskPath
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + _DESCRIBE_TASK + r"""
# The SIDs of a group's members, and of their members where a member is a group (a domain's Domain Admins in
# Administrators), each group once. A member that cannot be read, or a member group that cannot be listed (no
# domain controller), goes to $Unresolved as its ADsPath and SID (null where unknown); the top group failing throws.
function Get-GroupMemberSid {
    param([string]$Path, [string]$Sid, [hashtable]$Seen, [System.Collections.ArrayList]$Sids, [System.Collections.ArrayList]$Unresolved, [switch]$Top)
    if ($Seen.ContainsKey($Path)) { return }
    $Seen[$Path] = $true
    try {
        $members = @(([ADSI]$Path).psbase.Invoke('Members'))
    }
    catch {
        if ($Top) { throw }
        $null = $Unresolved.Add(@{ path = $Path; sid = $Sid })
        return
    }
    foreach ($member in $members) {
        $type = $member.GetType()
        $memberPath = [string]$type.InvokeMember('ADsPath', 'GetProperty', $null, $member, $null)
        try {
            $class = [string]$type.InvokeMember('Class', 'GetProperty', $null, $member, $null)
            $bytes = [byte[]]$type.InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
            $memberSid = [System.Security.Principal.SecurityIdentifier]::new($bytes, 0).Value
        }
        catch {
            $null = $Unresolved.Add(@{ path = $memberPath; sid = $null })
            continue
        }
        $null = $Sids.Add($memberSid)
        if ($class -eq 'Group') {
            Get-GroupMemberSid -Path $memberPath -Sid $memberSid -Seen $Seen -Sids $Sids -Unresolved $Unresolved
        }
    }
}

$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    # Through ADSI's WinNT provider, on every Windows version: Get-LocalGroupMember needs the LocalAccounts module
    # (Windows Server 2016 and later) and lists no nested members. The group's name is looked up by SID (it is
    # localised). Not read at all: $null; a member group not read (no domain controller): in unresolved.
    $Ansible.Result.administrators = $null
    $Ansible.Result.unresolved = @()
    try {
        $name = ([System.Security.Principal.SecurityIdentifier]'S-1-5-32-544').Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
        $sids = [System.Collections.ArrayList]::new()
        $unresolved = [System.Collections.ArrayList]::new()
        Get-GroupMemberSid -Path ('WinNT://{0}/{1},group' -f $env:COMPUTERNAME, $name) -Sid 'S-1-5-32-544' -Seen @{} -Sids $sids -Unresolved $unresolved -Top
        $Ansible.Result.administrators = @($sids)
        $Ansible.Result.unresolved = @($unresolved)
    }
    catch {
        Write-Warning ('the members of Administrators could not be read: {0}' -f $_.Exception.Message)
    }
    $Ansible.Result.tasks = @(Get-ScheduledTask -TaskPath $TaskPath -ErrorAction SilentlyContinue | ForEach-Object { Get-TaskState -Task $_ })
}
"""

SET = r"""#azure_backup.remediation/mars_schedule.set
# Changes the named tasks under TaskPath: enables the task and every trigger, sets "Do not start a new instance"
# (MultipleInstances IgnoreNew), or runs the task as SYSTEM, as asked; then reads each back.
[CmdletBinding()]
param(
    [string]$TaskPath,
    [string[]]$TaskNames,
    [bool]$Enable,
    [bool]$IgnoreNew,
    [bool]$System
)
$ErrorActionPreference = 'Stop'
""" + _DESCRIBE_TASK + r"""
$Ansible.Result = @{
    tasks = @(foreach ($name in $TaskNames) {
            $task = Get-ScheduledTask -TaskPath $TaskPath -TaskName $name
            if ($Enable -or $IgnoreNew) {
                if ($Enable) {
                    $task.Settings.Enabled = $true
                    foreach ($trigger in $task.Triggers) { $trigger.Enabled = $true }
                }
                if ($IgnoreNew) {
                    $task.Settings.MultipleInstances = 'IgnoreNew'
                }
                $null = Set-ScheduledTask -InputObject $task
                if ($Enable -and [string]$task.State -eq 'Disabled') {
                    # Enable-ScheduledTask is the documented way to turn a disabled task on; Settings.Enabled alone is not relied on.
                    $null = Enable-ScheduledTask -TaskPath $TaskPath -TaskName $name
                }
            }
            if ($System) {
                # UserId may be a SID (Task Scheduler schema, Principal/UserId); SYSTEM needs no password.
                $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
                $null = Set-ScheduledTask -TaskPath $TaskPath -TaskName $name -Principal $principal
            }
            Get-TaskState -Task (Get-ScheduledTask -TaskPath $TaskPath -TaskName $name)
        })
}
"""

PURPOSE = "the MARS agent's scheduled tasks"


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_SCHEDULE"
    ARGUMENT_SPEC = {
        "fix_principal": {"type": "bool", "default": False},
        "enable_tasks": {"type": "bool", "default": True},
    }

    def first_read(self) -> tuple:
        return READ, PURPOSE, {"TaskPath": sched.TASK_PATH}

    def steps(self):
        state = self.read(READ, PURPOSE, TaskPath=sched.TASK_PATH)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        if (state.get("agent") or {}).get("dpm"):
            yield Step("tasks", "skipped", sched.DPM, {"dpm": True})
            return
        tasks, administrators, unresolved = state.get("tasks") or [], state.get("administrators"), state.get("unresolved") or []
        detail = {"tasks": tasks, "administrators": administrators, "unresolved": unresolved}
        if not tasks:
            yield Step("tasks", "found", "no scheduled task under %s: the MARS agent has no backup schedule. Create one in the MARS console "
                       "(Schedule Backup); it registers the task" % sched.TASK_PATH, detail)
            return
        yield Step("tasks", "ok", "%d MARS task(s) under %s: %s" % (len(tasks), sched.TASK_PATH, ", ".join(t["name"] for t in tasks)), detail)
        yield self.triggers_step(tasks)
        yield self.instances_step(tasks)
        yield self.principal_step(tasks, administrators, unresolved)

    def triggers_step(self, tasks: list[dict]) -> Step:
        off = {t["name"]: sched.disabled(t) for t in tasks if sched.disabled(t)}
        detail = {"disabled": off}
        if not off:
            return Step("triggers", "ok", "every task and trigger is enabled", detail)
        words = "disabled, so scheduled backups do not run: %s" % "; ".join("%s: %s" % (name, ", ".join(what)) for name, what in off.items())
        if not self.args["enable_tasks"]:
            return Step("triggers", "found", "%s. mars_agent_enable_tasks is false (backups may be off on purpose): reported only" % words, detail)
        fixable, locked = self.settable([t for t in tasks if t["name"] in off], detail)
        words += locked
        if not fixable:
            return Step("triggers", "found", words, detail)
        diff = text_diff("MARS tasks", "".join("%s: %s disabled\n" % (n, ", ".join(off[n])) for n in fixable),
                         "".join("%s: enabled\n" % n for n in fixable))
        return Step("triggers", "found", words, detail,
                    change=Change("enable %s" % ", ".join(fixable), lambda: self.set_tasks("triggers", fixable, locked, Enable=True), diff))

    def instances_step(self, tasks: list[dict]) -> Step:
        other = {t["name"]: sched.instances(t.get("multiple_instances")) for t in tasks if sched.instances(t.get("multiple_instances")) != sched.IGNORE_NEW}
        detail = {"multiple_instances": {t["name"]: sched.instances(t.get("multiple_instances")) for t in tasks}}
        if not other:
            return Step("instances", "ok", "every task starts no new instance while one runs (IgnoreNew)", detail)
        words = "a second instance may start while a backup runs (%s): \"Job could not be started as another job was in progress\"" % (
            ", ".join("%s: %s" % item for item in other.items()))
        fixable, locked = self.settable([t for t in tasks if t["name"] in other], detail)
        words += locked
        if not fixable:
            return Step("instances", "found", words, detail)
        diff = text_diff("MARS tasks, if the task is already running", "".join("%s: %s\n" % (n, other[n]) for n in fixable),
                         "".join("%s: IgnoreNew\n" % n for n in fixable))
        change = Change("set \"Do not start a new instance\" (IgnoreNew)", lambda: self.set_tasks("instances", fixable, locked, IgnoreNew=True), diff)
        return Step("instances", "found", words, detail, change=change)

    @staticmethod
    def settable(tasks: list[dict], detail: dict) -> tuple[list[str], str]:
        """(the names Set-ScheduledTask can save, what to say of those it cannot: saved with a password it does not have)."""
        locked = [t["name"] for t in tasks if sched.stored_password(t)]
        detail["stored_password"] = locked
        words = ("; %s run%s as an account with a stored password, which Set-ScheduledTask cannot save the task without "
                 "(0x8007052E): %s" % (", ".join(locked), "s" if len(locked) == 1 else "", sched.REENTER)) if locked else ""
        return [t["name"] for t in tasks if not sched.stored_password(t)], words

    def principal_step(self, tasks: list[dict], administrators: list | None, unresolved: list) -> Step:
        verdicts = {t["name"]: sched.principal(t, administrators, unresolved) for t in tasks}
        detail = {"principals": {t["name"]: sched.account(t) for t in tasks}, "verdicts": verdicts}
        other = [t for t in tasks if verdicts[t["name"]] == "other"]
        unknown = [t for t in tasks if verdicts[t["name"]] == "unknown"]
        if not other and not unknown:
            return Step("principal", "ok", "every task runs as SYSTEM or a local administrator", detail)
        parts = []
        if other:
            parts.append("%s, neither SYSTEM nor a member of Administrators: scheduled backups fail" % ", ".join(
                "%s runs as %s" % (t["name"], sched.account(t)) for t in other))
        if unknown:
            why = "the members of Administrators could not be read, or the account has no SID"
            if unresolved and administrators is not None:
                why = "the members of %s could not be read" % ", ".join(u.get("path") or "?" for u in unresolved)
            parts.append("%s: whether it is an administrator is unknown (%s), so it is left as it is" % (", ".join(
                "%s runs as %s" % (t["name"], sched.account(t)) for t in unknown), why))
        words = "; ".join(parts)
        if not other or not self.args["fix_principal"]:
            remedy = (". Set mars_agent_schedule_fix_principal to run it as SYSTEM, or make the account a local administrator"
                      if other else "")
            return Step("principal", "found", words + remedy, detail)
        names = [t["name"] for t in other]
        diff = text_diff("MARS tasks, run as", "".join("%s: %s\n" % (t["name"], sched.account(t)) for t in other),
                         "".join("%s: SYSTEM (S-1-5-18)\n" % n for n in names))
        return Step("principal", "found", words, detail,
                    change=Change("run %s as SYSTEM" % ", ".join(names), lambda: self.set_tasks("principal", names, "", System=True), diff))

    def set_tasks(self, check: str, names: list[str], locked: str, **what) -> Step:
        """Runs SET for ``names`` and judges what it read back with the same rule as the read."""
        answer = self.apply("win_powershell", "changing the MARS tasks %s" % ", ".join(names), script=SET, depth=6,
                            parameters=dict({"TaskPath": sched.TASK_PATH, "TaskNames": names, "Enable": False, "IgnoreNew": False,
                                             "System": False}, **what))
        after = (answer.get("result") or {}).get("tasks") or []
        detail = {"after": after}
        if check == "triggers":
            left = ["%s: %s" % (t["name"], ", ".join(sched.disabled(t))) for t in after if sched.disabled(t)]
        elif check == "instances":
            left = ["%s: %s" % (t["name"], sched.instances(t.get("multiple_instances"))) for t in after
                    if sched.instances(t.get("multiple_instances")) != sched.IGNORE_NEW]
        else:
            left = ["%s: %s" % (t["name"], sched.account(t)) for t in after if t.get("sid") != sched.SYSTEM]
        if left or len(after) != len(names):
            return Step(check, "failed", "the MARS tasks still read back as %s after the change" % ("; ".join(left) or "missing"), detail)
        done = {"triggers": "enabled", "instances": "set to start no new instance (IgnoreNew)", "principal": "set to run as SYSTEM"}[check]
        return Step(check, "fixed", "%s %s%s" % (", ".join(names), done, locked), detail)
