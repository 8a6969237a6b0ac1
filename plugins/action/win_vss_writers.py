# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VSS_WRITERS: every VSS writer not in state [1] gets its service restarted, then the writers are
listed again and what is still bad is reported."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import GET_SERVICE_STATE, WinCauseAction

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
""" + GET_SERVICE_STATE + r"""
# No 2>&1: with ErrorActionPreference Stop, Windows PowerShell turns a native stderr line into a terminating error.
$text = & vssadmin.exe list writers | Out-String
$exitCode = $LASTEXITCODE

$Ansible.Result = @{
    text = $text
    exit_code = $exitCode
    services = @(foreach ($name in $Services) { Get-ServiceState -Name $name })
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""


def _check(writer: dict) -> str:
    return "writer_" + "".join(c if c.isalnum() else "_" for c in writer["name"].lower())


class ActionModule(WinCauseAction):
    CAUSE = "VSS_WRITERS"
    ARGUMENT_SPEC = {
        "services": {"type": "dict", "default": {}},
    }

    def check_and_fix(self) -> None:
        services = vss.service_map(self.args["services"])
        state = self.read_state(services)
        writers = self.writers(state)
        restart, unknown = vss.plan(writers, services)
        installed = {s["name"] for s in state.get("services") or [] if s.get("exists")}
        missing = [s for s in restart if s not in installed]
        restart = [s for s in restart if s in installed]
        for writer in unknown:
            self.add(_check(writer), "found", "%s: no known service hosts this writer, so it is not restarted; add it to "
                     "vss_writers_services if you know which one does" % vss.describe(writer), {"writer": writer})
        for writer in vss.bad(writers):
            if services.get(writer["name"]) in missing:
                self.add(_check(writer), "found", "%s: its service %s is not installed" % (vss.describe(writer), services[writer["name"]]),
                         {"writer": writer})
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
        self.diff("services restarted", "", "".join("%s\n" % s for s in restart))
        if self.check_mode:
            for writer in restartable:
                self.add(_check(writer), self.fixed_or_found(), "%s: would restart %s" % (vss.describe(writer), services[writer["name"]]),
                         {"writer": writer, "service": services[writer["name"]]})
            self.summary(writers)
            return
        for service in restart:
            self.apply("win_service", "restarting %s for its VSS writers" % service, name=service, state="restarted")
        listed = self.writers(self.read_state(services))
        after = {w["name"]: w for w in listed}
        for writer in restartable:
            now = after.get(writer["name"])
            detail = {"writer": writer, "service": services[writer["name"]], "after": now}
            if now and now["state"] == vss.STABLE:
                self.add(_check(writer), self.fixed_or_found(), "%s: stable after restarting %s" % (vss.describe(writer), services[writer["name"]]), detail)
            else:
                still = vss.describe(now) if now else "'%s' is no longer listed" % writer["name"]
                self.add(_check(writer), "failed", "%s still bad after restarting %s: %s. Restart the VM, or see the "
                         "writer's application log" % (writer["name"], services[writer["name"]], still), detail)
        self.summary(listed)

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
