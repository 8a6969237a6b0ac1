# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Windows cause of one host in one task: read once, decide per cause, change under the VM's run lock.

``run_windows_causes(action, task_vars, causes)`` is what the remediate action calls for a Windows host.
ONE win_powershell execution (HOST_READ) runs every cause's first read, each isolated from the others,
and checks the host: a PowerShell Ansible cannot use, or a WinRM user without an administrator's token,
is one HOST finding and every cause is skipped. Then each cause runs on its own (one cause's failure never
stops the next), its first read served from the host read; reads after a change are fresh, fixes add only
what they change. A healthy host in check mode costs one execution (two with a WinHTTP proxy named: that
cause's win_http_proxy compares in check mode). The run lock (lock.py) is taken before the host's first
change and removed after its last.
"""

from __future__ import annotations

import datetime
import importlib

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import lock as vmlock
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import UnsupportedHost, WinCauseAction, _why, script_tag

# Role name -> the action plugin that checks and fixes it, in plugins/action/.
ACTIONS = {"win_agent": "win_agent", "snapshot_status": "win_snapshot_status", "backup_extension": "win_backup_extension",
           "network": "win_network", "vss_writers": "win_vss_writers", "shadow_storage": "win_shadow_storage",
           "machinekeys": "win_machinekeys", "bitlocker": "win_bitlocker",
           "com_msdtc": "win_com_msdtc", "disk_limits": "win_disk_limits",
           "mars_service": "win_mars_service", "mars_version": "win_mars_version", "mars_scratch": "win_mars_scratch",
           "mars_temp_files": "win_mars_temp_files", "mars_prereqs": "win_mars_prereqs", "mars_restore_mount": "win_mars_restore_mount",
           "mars_connectivity": "win_mars_connectivity",
           "mars_schedule": "win_mars_schedule", "mars_powershell": "win_mars_powershell", "mars_antivirus": "win_mars_antivirus"}

HOST_READ = r"""#azure_backup.remediation/host.read
# Every cause's first read in one run, and whether the WinRM user acts as an administrator. Reads only.
# Each read is the cause's own script, run as a script block in a child scope with its parameters and a
# $Ansible of its own: a terminating error in one is that read's error, and the next read still runs.
[CmdletBinding(SupportsShouldProcess)]
param(
    [System.Collections.IDictionary]$Reads
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

""" + mars.GET_MARS_AGENT + r"""
# WindowsPrincipal.IsInRole asks the token this process runs with (learn.microsoft.com, WindowsPrincipal.IsInRole).
# Over the network, UAC remote restrictions give a local account other than the built-in Administrator a
# filtered token unless LocalAccountTokenFilterPolicy is 1 (learn.microsoft.com, "User Account Control and
# remote restrictions"): Administrators is then a deny-only group and IsInRole says false, as for a user
# who is only in Remote Management Users.
$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$principal = [System.Security.Principal.WindowsPrincipal]::new($identity)
$administrator = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)

function Invoke-Read {
    param([string]$Script, [System.Collections.IDictionary]$Parameters)
    # What the read sets, as win_powershell's $Ansible has it; the read's own variable in this scope.
    $Ansible = [PSCustomObject]@{ Changed = $true; Failed = $false; Result = @{}; Diff = @{}; Verbosity = 0; CheckMode = $WhatIfPreference }
    $splat = @{}
    if ($Parameters) { foreach ($key in $Parameters.Keys) { $splat[$key] = $Parameters[$key] } }
    $null = & ([ScriptBlock]::Create($Script)) @splat
    , $Ansible.Result
}

# The MARS agent (mars.py), looked for only when a read is marked mars: where it is not installed, those reads
# are not run. A failing look (broken WMI) leaves installed unknown ($null) and the reads run, each saying for itself.
$mars = @{ installed = $false }
if (@($Reads.Values | Where-Object { $_.mars }).Count -gt 0) {
    try {
        $mars = @{ installed = (Get-MarsAgent).installed }
    }
    catch {
        $mars = @{ installed = $null; error = $_.Exception.Message }
    }
}

$results = @{}
if ($administrator) {
    foreach ($cause in @($Reads.Keys)) {
        if ($Reads[$cause].mars -and $mars.installed -eq $false) { continue }
        try {
            $results[$cause] = @{ result = Invoke-Read -Script $Reads[$cause].script -Parameters $Reads[$cause].parameters }
        }
        catch {
            $message = if ($_.ErrorDetails -and $_.ErrorDetails.Message) { $_.ErrorDetails.Message } else { $_.Exception.Message }
            $results[$cause] = @{ error = $message }
        }
    }
}

$Ansible.Result = @{
    host = @{ user = $identity.Name; administrator = $administrator; mars = $mars }
    reads = $results
}
"""


class HostDriver(WinCauseAction):
    """Carries the host's own scripts (the host read, the lock's removal); checks no cause itself."""

    CAUSE = "HOST"


def not_administrator(user: str, host: str) -> dict:
    return finding("HOST", "privileges", "failed",
                   "%s is not a member of the local Administrators group (or UAC filtered its token: a local account other than "
                   "the built-in Administrator gets a filtered token over WinRM unless LocalAccountTokenFilterPolicy is 1) on %s; "
                   "the checks read services, the registry and ACLs only an administrator may. Set ansible_user to an account in "
                   "the local Administrators group (the VM's admin account, or a domain account in it); use such an account. "
                   "No cause was checked on this host." % (user, host),
                   {"user": user, "administrator": False})


def host_read_failed(why: str, host: str) -> dict:
    return finding("HOST", "read", "found",
                   "the host read on %s failed: %s. Each cause read for itself, and whether the WinRM user acts as an "
                   "administrator was not checked (a cause's own read says so when it is refused)" % (host, why),
                   {"error": why}, severity="warning")


def validate(cls, args: dict) -> tuple[dict | None, str | None]:
    """The cause's arguments checked and completed against its ARGUMENT_SPEC, as the win_* task would: (args, error)."""
    result = ArgumentSpecValidator(cls.ARGUMENT_SPEC).validate(dict(args or {}))
    if result.error_messages:
        return None, "; ".join(result.error_messages)
    return dict(result.validated_parameters), None


def action_class(role: str):
    return importlib.import_module("ansible_collections.azure_backup.remediation.plugins.action." + ACTIONS[role]).ActionModule


def new_cause(action, cls):
    """One cause's action plugin on the task, connection and loaders of ``action`` (the remediate task)."""
    # pylint: disable=protected-access  # an action plugin made by another, as ansible's own actions do
    return cls(action._task, action._connection, action._play_context, action._loader, action._templar, action._shared_loader_obj)


def host_read(driver, reads: dict) -> dict:
    """The one execution: {"host": {user, administrator}, "reads": {cause: answer}} or {"failed": why}.
    Each answer has win_powershell's shape, so the cause's read() takes it as its own."""
    answer = driver.run_script(HOST_READ, {"Reads": {cause: {"script": r["script"], "parameters": r["parameters"], "mars": r["mars"]}
                                                     for cause, r in reads.items()}})
    # When the answers arrived, by the controller's clock: a cause that times its read (MARS_PREREQS) takes this, not
    # the moment its turn comes after the causes before it ran.
    received = datetime.datetime.now(datetime.timezone.utc)
    result = answer.get("result") or {}
    if answer.get("failed") or not isinstance(result, dict) or "host" not in result:
        return {"failed": _why(answer)}
    served = {}
    for cause, read in reads.items():
        got = (result.get("reads") or {}).get(cause)
        if not isinstance(got, dict):
            continue  # not read (not an administrator): the cause is skipped anyway
        if "error" in got:
            got = {"failed": True, "changed": False, "error": [{"error_details": None, "exception": {"message": got["error"]}}]}
        else:
            got = {"changed": False, "result": got.get("result") or {}}
        served[cause] = {"tag": read["tag"], "parameters": read["parameters"], "answer": got, "received": received}
    return {"host": result["host"], "reads": served}


def run_windows_causes(action, task_vars: dict, causes: list, lock_wait: float = vmlock.DEFAULT_WAIT) -> dict:
    """Every cause of ``causes`` ([(role name, args), ...], in order) on the Windows host of ``action``'s task.

    Returns {changed, findings, diff, failed, msg, causes: {ID: {changed, failed, msg}}}, with
    unsupported_host when no cause could be checked (PowerShell below 5.1, not an administrator), and unreachable
    (with the findings so far) when the connection failed: the causes after it are not run."""
    task_vars = task_vars or {}
    host = task_vars.get("inventory_hostname", "this host")
    runs = []  # (cause plugin, args, error)
    for role, args in causes:
        cls = action_class(role)
        cause = new_cause(action, cls)
        valid, error = validate(cls, args)
        cause.start(valid or {}, task_vars)
        runs.append((cause, valid, error))
    reads = {}
    for cause, valid, error in runs:
        declared = cause.first_read() if valid is not None else None
        if declared:
            script, _purpose, parameters = declared
            reads[cause.CAUSE] = {"script": script, "tag": script_tag(script), "parameters": parameters, "mars": bool(cause.NEEDS_MARS)}
    # The host read runs on a plugin of its own: a cause's plugin starts clean when its turn comes.
    driver = new_cause(action, HostDriver)
    driver.start({}, task_vars)
    out = {"changed": False, "findings": [], "failed": False, "msg": "", "causes": {}}
    diffs, errors = [], []
    try:
        seen = host_read(driver, reads)
    except UnsupportedHost as exc:
        return skipped(out, runs, exc.findings, exc.msg)
    if "failed" in seen:
        # The host read as a whole did not run (not one read of it): each cause reads for itself, and what it
        # would have checked (an administrator's token) is said to be unchecked.
        out["findings"].append(host_read_failed(seen["failed"], host))
        seen = {"host": {}, "reads": {}}
    elif not seen["host"].get("administrator"):
        entry = not_administrator(seen["host"].get("user") or "the WinRM user", host)
        return skipped(out, runs, [entry], entry["summary"])
    lock = vmlock.HostLock(host, lock_wait)
    unreachable = None
    without_mars = seen["host"].get("mars", {}).get("installed") is False
    try:
        for cause, valid, error in runs:
            if cause.NEEDS_MARS and without_mars:
                # No finding: a host without the agent has nothing of it to report.
                out["causes"][cause.CAUSE] = {"changed": False, "failed": False, "skipped": True, "msg": mars.not_installed(host)}
                continue
            if error:
                result = {"failed": True, "changed": False, "findings": [],
                          "msg": "%s on %s: %s. Nothing was read or changed for it." % (cause.CAUSE, host, error)}
            else:
                try:
                    result = cause.run_cause({}, valid, task_vars, prefetched=seen["reads"].get(cause.CAUSE), host_lock=lock)
                except AnsibleConnectionFailure as exc:
                    # The host is gone: every later cause would only wait out its own connection timeout.
                    unreachable = "%s on %s: the connection failed: %s" % (cause.CAUSE, host, exc)
                    result = {"failed": True, "changed": cause.changed, "findings": [], "msg": unreachable}
                except Exception as exc:  # pylint: disable=broad-exception-caught  # one cause's failure never stops the next
                    result = {"failed": True, "changed": cause.changed, "findings": [],
                              "msg": "%s on %s: %s: %s" % (cause.CAUSE, host, type(exc).__name__, exc)}
            collect(out, diffs, errors, cause.CAUSE, result)
            if unreachable:
                break
    finally:
        # Also when the task times out (TaskTimeoutError is a BaseException) or is interrupted: a lock left
        # behind would keep every other run off this VM for hours.
        problem = lock.release(driver)
    if lock.problem:
        out["findings"].append(finding("HOST", "lock", "failed", lock.problem, {"lock": vmlock.PATH}))
    if lock.took_over:
        out["findings"].append(finding("HOST", "lock", "ok", "%s on %s" % (lock.took_over_words(), host),
                                       {"lock": vmlock.PATH, "took_over": lock.took_over}, severity="warning"))
    if problem:
        out["findings"].append(finding("HOST", "lock", "failed", problem, {"lock": vmlock.PATH}))
        errors.append(problem)
    if unreachable:
        out["unreachable"] = True
    if diffs:
        out["diff"] = diffs
    out.update(failed=bool(errors), msg=" | ".join(errors))
    return out


def collect(out: dict, diffs: list, errors: list, cause: str, result: dict) -> None:
    findings = [dict(f) for f in result.get("findings") or []]
    out["findings"].extend(findings)
    out["changed"] = out["changed"] or bool(result.get("changed"))
    diff = result.get("diff")
    diffs.extend(diff if isinstance(diff, list) else [diff] if diff else [])
    failed = bool(result.get("failed"))
    msg = result.get("msg") or ""
    out["causes"][cause] = {"changed": bool(result.get("changed")), "failed": failed, "msg": msg}
    if failed:
        errors.append(msg or "%s failed" % cause)


def skipped(out: dict, runs: list, findings: list, why: str) -> dict:
    """No cause could be checked: the one HOST finding, every cause skipped with the reason."""
    out.update(failed=True, msg=why, findings=list(findings), unsupported_host=True)
    for cause, _valid, _error in runs:
        out["causes"][cause.CAUSE] = {"changed": False, "failed": False, "skipped": True, "msg": "not checked: " + why}
    return out
