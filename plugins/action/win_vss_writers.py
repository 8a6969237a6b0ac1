# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VSS_WRITERS: every VSS writer not in state [1] gets its service restarted, then the writers are
listed again and what is still bad is reported.

One script restarts every service, each stop and start bounded by vss_writers_service_timeout, never
through win_service state=restarted (plugin_utils/_win_scripts.py says why).
"""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, WinCauseAction, text_diff
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import scripts as _win_scripts
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.scripts import CONNECTION_ERRORS, DEPENDANTS, INVOKE_NATIVE, restart_services

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
""" + GET_SERVICE_STATE + DEPENDANTS + INVOKE_NATIVE + r"""
$vssadmin = Invoke-Native -FilePath 'vssadmin.exe' -ArgumentList 'list', 'writers'

$Ansible.Result = @{
    text = $vssadmin.output
    exit_code = $vssadmin.exit_code
    services = @(foreach ($name in $Services) { Get-ServiceState -Name $name })
    dependants = @(foreach ($name in $Services) { @{ name = $name; running = @(Get-RunningDependent -Name $name) } })
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""

# The restart script (plugin_utils/_win_scripts.py), also sent by MACHINEKEYS to restart the agent.
RESTART = _win_scripts.RESTART_SERVICES


def _check(writer: dict) -> str:
    return "writer_" + "".join(c if c.isalnum() else "_" for c in writer["name"].lower())


class ActionModule(WinCauseAction):
    CAUSE = "VSS_WRITERS"
    ARGUMENT_SPEC = {
        "services": {"type": "dict", "default": {}},
        "restart_workloads": {"type": "list", "elements": "str", "default": []},
        "service_timeout": {"type": "int", "default": 60},
    }

    def first_read(self) -> tuple | None:
        services = vss.service_map(self.args["services"])
        if not all(isinstance(s, str) for s in services.values()):
            return None  # steps() says what is wrong with it
        return READ, "the VSS writers", {"Services": sorted(set(services.values())), "BackupProcesses": list(agent.BACKUP_PROCESSES)}

    def steps(self):
        if self.args["service_timeout"] <= 0:
            raise RemediationError("VSS_WRITERS on %s: vss_writers_service_timeout must be a number of seconds above 0, not %s"
                                   % (self.host, self.args["service_timeout"]), check="arguments")
        services = vss.service_map(self.args["services"])
        state = self.read_state(services)
        writers = self.writers(state)
        restart, unknown = vss.plan(writers, services)
        installed = {s["name"] for s in state.get("services") or [] if s.get("exists")}
        stuck = vss.stop_pending(state.get("services") or [])
        for service in stuck:
            # Its writers are not listed while it stops; touching it again could only hang too.
            yield Step("service_" + service.lower(), "found", "%s is stuck in StopPending and is left alone: the writers it hosts "
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
            yield Step(_check(writer), "found", "%s: no known service hosts this writer, so it is not restarted; add it to "
                       "vss_writers_services if you know which one does" % vss.describe(writer), {"writer": writer})
        for writer in vss.bad(writers):
            service = services.get(writer["name"])
            if service in missing:
                yield Step(_check(writer), "found", "%s: its service %s is not installed" % (vss.describe(writer), service),
                           {"writer": writer})
            elif service in held_services:
                why = held.get(writer["name"]) or "its service %s also hosts %s" % (service, ", ".join(sorted(held)))
                yield Step(_check(writer), "found", "%s: %s is not restarted, because %s. Add '%s' to vss_writers_restart_workloads "
                           "to allow it in a maintenance window." % (vss.describe(writer), service, why, writer["name"]),
                           {"writer": writer, "service": service})
        restartable = [w for w in vss.bad(writers) if services.get(w["name"]) in restart]
        running = agent.backup_running(state.get("backup_processes") or []) if restartable else []
        if not restartable or running:
            for writer in restartable:
                yield Step(_check(writer), "found", "%s: not restarted while a backup snapshot runs (%s); writers change state "
                           "during a backup. Run again when the backup job has finished." % (vss.describe(writer), ", ".join(running)),
                           {"writer": writer, "service": services[writer["name"]]})
            yield self.summary(writers)
            return
        dependants = vss.running_dependants(state)
        # Everything that stops, in the order it stops: one restart script for every writer, so one diff.
        stopping = [name for service in restart for name in dependants.get(service, []) + [service]]
        diff = text_diff("services restarted", "", "".join("%s\n" % name for name in stopping))
        restarted = {}  # what the one restart did and the writers listed after it, filled by the first writer's change
        for writer in restartable:
            service = services[writer["name"]]
            change = Change(vss.would_restart(service, dependants.get(service, [])),
                            lambda writer=writer, service=service: self.restarted(writer, service, restart, services, dependants, restarted),
                            diff)
            diff = None
            yield Step(_check(writer), "found", vss.describe(writer), {"writer": writer, "service": service,
                                                                       "dependants": dependants.get(service, [])}, change=change)
        if self.check_mode:
            yield self.summary(writers)
        elif restarted.get("listed") is not None:
            yield self.summary(restarted["listed"])

    def restarted(self, writer: dict, service: str, restart: list[str], services: dict, dependants: dict, restarted: dict) -> Step:
        """One writer's outcome: every service is restarted once, by the first writer's change, and the writers
        listed again whatever happened, so the report says what they are now; the dependants that were stopped are
        read too, for a restart whose connection was lost on the way."""
        if not restarted:
            restarted.update(outcomes=self.restart(restart), now=None, listed=None, error=None)
            try:
                now = self.read_state(services, [name for s in restart for name in dependants.get(s, [])])
                restarted.update(listed=self.writers(now), now=now)
                vss.services_not_running(restarted["outcomes"], now.get("services") or [], dependants)
            except (RemediationError,) + CONNECTION_ERRORS as exc:
                if not any(o["status"] == "connection_lost" for o in restarted["outcomes"].values()):
                    restarted["error"] = exc if isinstance(exc, RemediationError) else RemediationError(
                        "VSS_WRITERS on %s: listing the writers again after the restart failed: %s" % (self.host, exc), changed=True)
        if restarted["error"] is not None:
            raise restarted["error"]
        listed = {w["name"]: w for w in restarted["listed"] or []}
        return self.report(writer, service, restarted["outcomes"], listed.get(writer["name"]) if restarted["now"] else None)

    def restart(self, restart: list[str]) -> dict:
        """Every service restarted in one script run: service -> outcome (see _vss_writers.read_restart)."""
        return restart_services(self, restart, self.args["service_timeout"], agent.BACKUP_PROCESSES,
                                "restarting %s for their VSS writers" % ", ".join(restart))

    def report(self, writer: dict, service: str, outcomes: dict, now: dict | None) -> Step:
        outcome = outcomes[service]
        failure = vss.restart_failure(outcome, self.args["service_timeout"])
        detail = {"writer": writer, "service": service, "restart": outcome, "after": now}
        if outcome["status"] == "backup_running":
            return Step(_check(writer), "found", "%s: not restarted: %s. Run again when the backup job has finished."
                        % (vss.describe(writer), failure), detail)
        if failure:
            return Step(_check(writer), "failed", "%s: restarting %s failed: %s. Check the service in services.msc and the System event "
                        "log; a service stuck in StopPending needs its process ended or the VM restarted" % (writer["name"], service, failure),
                        detail)
        if now and now["state"] == vss.STABLE:
            again = " and its dependants %s" % ", ".join(outcome["restarted"]) if outcome["restarted"] else ""
            return Step(_check(writer), "fixed", "%s: stable after restarting %s%s" % (vss.describe(writer), service, again), detail)
        still = vss.describe(now) if now else "'%s' is no longer listed" % writer["name"]
        return Step(_check(writer), "failed", "%s still bad after restarting %s: %s. Restart the VM, or see the "
                    "writer's application log" % (writer["name"], service, still), detail)

    @staticmethod
    def summary(writers: list[dict]) -> Step:
        """Every writer with its state and last error, as listed last; bad ones have findings of their own."""
        stable = len(writers) - len(vss.bad(writers))
        return Step("writers", "ok" if stable == len(writers) else "found", "%d of %d VSS writers stable" % (stable, len(writers)),
                    {"writers": writers})

    def read_state(self, services: dict, also=()) -> dict:
        return self.read(READ, "the VSS writers", Services=sorted(set(services.values()) | set(also)),
                         BackupProcesses=list(agent.BACKUP_PROCESSES))

    def writers(self, state: dict) -> list[dict]:
        try:
            return vss.parse(state.get("text") or "")
        except ValueError as exc:
            raise RemediationError("VSS_WRITERS on %s: vssadmin list writers (exit code %s) gave %s. Is the Volume Shadow "
                                   "Copy service (VSS) disabled?" % (self.host, state.get("exit_code"), exc),
                                   changed=self.changed) from None
