# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SCHEDULE: the MARS agent's backup tasks under \\Microsoft\\OnlineBackup\\ fire (every trigger enabled), run as
SYSTEM or a local administrator, and start no second instance while one runs (article 004). Triggers and the
instance rule are fixed; another principal is set to SYSTEM only on request; no task at all is reported."""

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
# The MARS agent, its scheduled tasks under TaskPath and the members of BUILTIN\Administrators (S-1-5-32-544), by SID.
# Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$TaskPath
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + _DESCRIBE_TASK + r"""
$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    # Get-LocalGroupMember fails on a group holding an orphaned SID: membership is then unknown, not empty.
    $Ansible.Result.administrators = $null
    try {
        $Ansible.Result.administrators = @(Get-LocalGroupMember -SID 'S-1-5-32-544' | ForEach-Object { $_.SID.Value })
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
    }

    def first_read(self) -> tuple:
        return READ, PURPOSE, {"TaskPath": sched.TASK_PATH}

    def steps(self):
        state = self.read(READ, PURPOSE, TaskPath=sched.TASK_PATH)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        tasks, administrators = state.get("tasks") or [], state.get("administrators")
        detail = {"tasks": tasks, "administrators": administrators}
        if not tasks:
            yield Step("tasks", "found", "no scheduled task under %s: the MARS agent has no backup schedule. Create one in the MARS console "
                       "(Schedule Backup); it registers the task" % sched.TASK_PATH, detail)
            return
        yield Step("tasks", "ok", "%d MARS task(s) under %s: %s" % (len(tasks), sched.TASK_PATH, ", ".join(t["name"] for t in tasks)), detail)
        yield self.triggers_step(tasks)
        yield self.instances_step(tasks)
        yield self.principal_step(tasks, administrators)

    def triggers_step(self, tasks: list[dict]) -> Step:
        off = {t["name"]: sched.disabled(t) for t in tasks if sched.disabled(t)}
        detail = {"disabled": off}
        if not off:
            return Step("triggers", "ok", "every task and trigger is enabled", detail)
        words = "; ".join("%s: %s" % (name, ", ".join(what)) for name, what in off.items())
        diff = text_diff("MARS tasks", "".join("%s: %s disabled\n" % (n, ", ".join(w)) for n, w in off.items()),
                         "".join("%s: enabled\n" % n for n in off))
        return Step("triggers", "found", "disabled, so scheduled backups do not run: %s" % words, detail,
                    change=Change("enable them", lambda: self.set_tasks("triggers", list(off), Enable=True), diff))

    def instances_step(self, tasks: list[dict]) -> Step:
        other = {t["name"]: sched.instances(t.get("multiple_instances")) for t in tasks if sched.instances(t.get("multiple_instances")) != sched.IGNORE_NEW}
        detail = {"multiple_instances": {t["name"]: sched.instances(t.get("multiple_instances")) for t in tasks}}
        if not other:
            return Step("instances", "ok", "every task starts no new instance while one runs (IgnoreNew)", detail)
        words = ", ".join("%s: %s" % item for item in other.items())
        diff = text_diff("MARS tasks, if the task is already running", "".join("%s: %s\n" % item for item in other.items()),
                         "".join("%s: IgnoreNew\n" % n for n in other))
        return Step("instances", "found", "a second instance may start while a backup runs (%s): \"Job could not be started as another job "
                    "was in progress\"" % words, detail,
                    change=Change("set \"Do not start a new instance\" (IgnoreNew)", lambda: self.set_tasks("instances", list(other), IgnoreNew=True), diff))

    def principal_step(self, tasks: list[dict], administrators: list | None) -> Step:
        verdicts = {t["name"]: sched.principal(t, administrators) for t in tasks}
        detail = {"principals": {t["name"]: sched.account(t) for t in tasks}, "verdicts": verdicts}
        other = [t for t in tasks if verdicts[t["name"]] in ("other", "unknown")]
        if not other:
            return Step("principal", "ok", "every task runs as SYSTEM or a local administrator", detail)
        unknown = " (whether it is an administrator could not be read)"
        words = ", ".join("%s runs as %s%s" % (t["name"], sched.account(t), "" if verdicts[t["name"]] == "other" else unknown) for t in other)
        if not self.args["fix_principal"]:
            return Step("principal", "found", "%s, neither SYSTEM nor a member of Administrators: scheduled backups fail. Set "
                        "mars_agent_schedule_fix_principal to run it as SYSTEM, or make the account a local administrator" % words, detail)
        names = [t["name"] for t in other]
        diff = text_diff("MARS tasks, run as", "".join("%s: %s\n" % (t["name"], sched.account(t)) for t in other),
                         "".join("%s: SYSTEM (S-1-5-18)\n" % n for n in names))
        return Step("principal", "found", "%s, neither SYSTEM nor a member of Administrators" % words, detail,
                    change=Change("run it as SYSTEM", lambda: self.set_tasks("principal", names, System=True), diff))

    def set_tasks(self, check: str, names: list[str], **what) -> Step:
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
        return Step(check, "fixed", "%s %s" % (", ".join(names), done), detail)
