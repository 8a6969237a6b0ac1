# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VSS_WRITERS: every VSS writer not in state [1] gets its service restarted, then the writers are
listed again and what is still bad is reported.

Not through win_service state=restarted: that is Restart-Service (ansible.windows win_service.ps1,
Set-ServiceState), which without force_dependent_services refuses a service with running dependants
(Winmgmt has them) and with it waits without end for a service that never leaves StopPending
(PowerShell Service.cs, DoWaitForStatus loops while the status is the pending one). One script
restarts every service instead, each stop and start bounded by vss_writers_service_timeout.
"""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import GET_SERVICE_STATE, WinCauseAction

DEPENDANTS = r"""
# Every running dependant of a service, dependants of dependants too, in the order to stop them: a
# service only after everything that depends on it. ServiceController.DependentServices is
# EnumDependentServices (dotnet/runtime ServiceController.cs); walking it again costs nothing if it
# already lists indirect dependants.
function Get-RunningDependent {
    param([string]$Name)
    $seen = @{}
    $order = [System.Collections.Generic.List[string]]::new()
    $visit = {
        param($Service)
        foreach ($dependant in $Service.DependentServices) {
            if ($seen.ContainsKey($dependant.ServiceName)) { continue }
            $seen[$dependant.ServiceName] = $true
            & $visit $dependant
            if ($dependant.Status -ne 'Stopped') { $order.Add($dependant.ServiceName) }
        }
    }
    $service = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($service) { & $visit $service }
    $order
}
"""

READ = r"""#azure_backup.remediation/vss_writers.read
# vssadmin's list of writers as it prints it (parsed on the controller), the state of the services
# that host writers, and whether the backup extension is taking a snapshot. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Services,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + DEPENDANTS + r"""
# No 2>&1: with ErrorActionPreference Stop, Windows PowerShell turns a native stderr line into a terminating error.
$text = & vssadmin.exe list writers | Out-String
$exitCode = $LASTEXITCODE

$Ansible.Result = @{
    text = $text
    exit_code = $exitCode
    services = @(foreach ($name in $Services) { Get-ServiceState -Name $name })
    dependants = @(foreach ($name in $Services) { @{ name = $name; running = @(Get-RunningDependent -Name $name) } })
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""


RESTART = r"""#azure_backup.remediation/vss_writers.restart
# Restarts each service: its running dependants stop first (deepest first), then the service; the
# service starts again, then the dependants that ran. Every wait is bounded by TimeoutSeconds
# (ServiceController.WaitForStatus with a TimeSpan throws when it passes), so a service stuck in
# StopPending is reported instead of hanging the play. One service failing does not stop the others.
[CmdletBinding()]
param(
    [string[]]$Services,
    [int]$TimeoutSeconds
)
$ErrorActionPreference = 'Stop'
$timeout = [TimeSpan]::FromSeconds($TimeoutSeconds)
$changed = $false
""" + DEPENDANTS + r"""
function Wait-ServiceStatus {
    param($Service, [string]$Status)
    try {
        $Service.WaitForStatus($Status, $timeout)
    }
    catch {
        # System.ServiceProcess.TimeoutException: the status is read again below.
        $null = $_
    }
    $Service.Refresh()
    $Service.Status -eq $Status
}

function Get-Reason {
    param($ErrorRecord)
    $ErrorRecord.Exception.GetBaseException().Message
}

$results = foreach ($name in $Services) {
    $entry = @{ name = $name; status = 'restarted'; stuck = $null; error = ''; dependants = @(); restarted = @(); not_restarted = @() }
    $service = Get-Service -Name $name -ErrorAction SilentlyContinue
    if (-not $service) {
        $entry.status = 'missing'
        $entry
        continue
    }
    if ($service.Status -eq 'StopPending') {
        # Stuck before we came: not touched.
        $entry.status = 'stuck'
        $entry.stuck = $name
        $entry
        continue
    }
    $dependants = @(Get-RunningDependent -Name $name | ForEach-Object { Get-Service -Name $_ })
    $entry.dependants = @($dependants | ForEach-Object { $_.ServiceName })
    $stopped = [System.Collections.Generic.List[object]]::new()
    foreach ($one in @($dependants) + @($service)) {
        try {
            if ($one.Status -ne 'Stopped') {
                $one.Stop()
                $changed = $true
            }
        }
        catch {
            $entry.status = 'stop_failed'
            $entry.error = "$($one.ServiceName): $(Get-Reason $_)"
            break
        }
        if (-not (Wait-ServiceStatus -Service $one -Status 'Stopped')) {
            $entry.status = 'stuck'
            $entry.stuck = $one.ServiceName
            break
        }
        $stopped.Add($one)
    }
    # What was stopped runs again: the service first, then its dependants in start order.
    $stopped.Reverse()
    foreach ($one in $stopped) {
        try {
            $one.Start()
            $changed = $true
            $null = Wait-ServiceStatus -Service $one -Status 'Running'
        }
        catch {
            if (-not $entry.error) { $entry.error = "$($one.ServiceName): $(Get-Reason $_)" }
        }
    }
    $service.Refresh()
    if ($entry.status -eq 'restarted' -and $service.Status -ne 'Running') {
        $entry.status = 'start_failed'
    }
    foreach ($dependant in $dependants) {
        $dependant.Refresh()
        if ($dependant.Status -ne 'Running') {
            $entry.not_restarted += $dependant.ServiceName
        }
        elseif ($stopped -contains $dependant) {
            $entry.restarted += $dependant.ServiceName
        }
    }
    if ($entry.status -eq 'restarted' -and $entry.not_restarted) {
        $entry.status = 'dependants_failed'
    }
    $entry
}

$Ansible.Changed = $changed
$Ansible.Result = @{ services = @($results) }
"""


def _check(writer: dict) -> str:
    return "writer_" + "".join(c if c.isalnum() else "_" for c in writer["name"].lower())


class ActionModule(WinCauseAction):
    CAUSE = "VSS_WRITERS"
    ARGUMENT_SPEC = {
        "services": {"type": "dict", "default": {}},
        "restart_workloads": {"type": "list", "elements": "str", "default": []},
        "service_timeout": {"type": "int", "default": 60},
    }

    def check_and_fix(self) -> None:
        if self.args["service_timeout"] <= 0:
            raise RemediationError("VSS_WRITERS on %s: vss_writers_service_timeout must be a number of seconds above 0, not %s"
                                   % (self.host, self.args["service_timeout"]))
        services = vss.service_map(self.args["services"])
        state = self.read_state(services)
        writers = self.writers(state)
        restart, unknown = vss.plan(writers, services)
        installed = {s["name"] for s in state.get("services") or [] if s.get("exists")}
        stuck = vss.stop_pending(state.get("services") or [])
        for service in stuck:
            # Its writers are not listed while it stops; touching it again could only hang too.
            self.add("service_" + service.lower(), "found", "%s is stuck in StopPending and is left alone: the writers it hosts "
                     "are not listed while it is. End its process or restart the VM." % service, {"service": service})
        missing = [s for s in restart if s not in installed]
        held = {}
        for writer in vss.bad(writers):
            reason = vss.workload(writer["name"], self.args["restart_workloads"])
            if reason and services.get(writer["name"]) in restart:
                held[writer["name"]] = reason
        held_services = {services[name] for name in held}
        restart = [s for s in restart if s in installed and s not in stuck and s not in held_services]
        for writer in unknown:
            self.add(_check(writer), "found", "%s: no known service hosts this writer, so it is not restarted; add it to "
                     "vss_writers_services if you know which one does" % vss.describe(writer), {"writer": writer})
        for writer in vss.bad(writers):
            service = services.get(writer["name"])
            if service in missing:
                self.add(_check(writer), "found", "%s: its service %s is not installed" % (vss.describe(writer), service),
                         {"writer": writer})
            elif service in held_services:
                why = held.get(writer["name"]) or "its service %s also hosts %s" % (service, ", ".join(sorted(held)))
                self.add(_check(writer), "found", "%s: %s is not restarted, because %s. Add '%s' to vss_writers_restart_workloads "
                         "to allow it in a maintenance window." % (vss.describe(writer), service, why, writer["name"]),
                         {"writer": writer, "service": service})
        restartable = [w for w in vss.bad(writers) if services.get(w["name"]) in restart]
        if not restartable:
            self.summary(writers)
            return
        running = agent.backup_running(state.get("backup_processes") or [])
        if running:
            for writer in restartable:
                self.add(_check(writer), "found", "%s: not restarted while a backup snapshot runs (%s); writers change state "
                         "during a backup. Run again when the backup job has finished." % (vss.describe(writer), ", ".join(running)),
                         {"writer": writer, "service": services[writer["name"]]})
            self.summary(writers)
            return
        dependants = vss.running_dependants(state)
        # Everything that stops, in the order it stops.
        stopping = [name for service in restart for name in dependants.get(service, []) + [service]]
        self.diff("services restarted", "", "".join("%s\n" % name for name in stopping))
        if self.check_mode:
            for writer in restartable:
                service = services[writer["name"]]
                would = vss.would_restart(service, dependants.get(service, []))
                self.add(_check(writer), self.fixed_or_found(), "%s: would %s" % (vss.describe(writer), would),
                         {"writer": writer, "service": service, "dependants": dependants.get(service, [])})
            self.summary(writers)
            return
        outcomes = self.restart(restart)
        # Listed again whatever happened, so the report says what the writers are now.
        listed = self.writers(self.read_state(services))
        after = {w["name"]: w for w in listed}
        for writer in restartable:
            self.report(writer, services[writer["name"]], outcomes, after.get(writer["name"]))
        self.summary(listed)

    def restart(self, restart: list[str]) -> dict:
        """Every service restarted in one script run: service -> outcome (see _vss_writers.read_restart).
        When the script itself fails, every service gets that failure as its outcome."""
        timeout = self.args["service_timeout"]
        try:
            answer = self.apply("win_powershell", "restarting %s for their VSS writers" % ", ".join(restart),
                                script=RESTART, parameters={"Services": restart, "TimeoutSeconds": timeout}, depth=6)
            return vss.read_restart(answer.get("result") or {}, restart)
        except (RemediationError, ValueError) as exc:
            self.changed = True  # the script may have stopped something before it failed
            error = exc.msg if isinstance(exc, RemediationError) else str(exc)
            return {s: {"name": s, "status": "script_failed", "error": error, "dependants": [], "restarted": [], "not_restarted": []}
                    for s in restart}

    def report(self, writer: dict, service: str, outcomes: dict, now: dict | None) -> None:
        outcome = outcomes[service]
        failure = vss.restart_failure(outcome, self.args["service_timeout"])
        detail = {"writer": writer, "service": service, "restart": outcome, "after": now}
        if failure:
            self.add(_check(writer), "failed", "%s: restarting %s failed: %s. Check the service in services.msc and the System event "
                     "log; a service stuck in StopPending needs its process ended or the VM restarted" % (writer["name"], service, failure),
                     detail)
        elif now and now["state"] == vss.STABLE:
            again = " and its dependants %s" % ", ".join(outcome["restarted"]) if outcome["restarted"] else ""
            self.add(_check(writer), self.fixed_or_found(), "%s: stable after restarting %s%s" % (vss.describe(writer), service, again), detail)
        else:
            still = vss.describe(now) if now else "'%s' is no longer listed" % writer["name"]
            self.add(_check(writer), "failed", "%s still bad after restarting %s: %s. Restart the VM, or see the "
                     "writer's application log" % (writer["name"], service, still), detail)

    def summary(self, writers: list[dict]) -> None:
        """Every writer with its state and last error, as listed last; bad ones have findings of their own."""
        stable = len(writers) - len(vss.bad(writers))
        self.add("writers", "ok" if stable == len(writers) else "found", "%d of %d VSS writers stable" % (stable, len(writers)),
                 {"writers": writers})

    def read_state(self, services: dict) -> dict:
        return self.read(READ, "the VSS writers", Services=sorted(set(services.values())),
                         BackupProcesses=list(agent.BACKUP_PROCESSES))

    def writers(self, state: dict) -> list[dict]:
        try:
            return vss.parse(state.get("text") or "")
        except ValueError as exc:
            raise RemediationError("VSS_WRITERS on %s: vssadmin list writers (exit code %s) gave %s. Is the Volume Shadow "
                                   "Copy service (VSS) disabled?" % (self.host, state.get("exit_code"), exc),
                                   changed=self.changed) from None
