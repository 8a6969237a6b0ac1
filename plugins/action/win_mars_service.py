# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SERVICE: the MARS engine service (obengine) runs; restarted on request (article 004, basic troubleshooting:
"make sure MARS runs in the services console; restart it if needed and retry").

A stopped engine is started (starting never interrupts a job). A restart is one script (RESTART): it asks the agent's
module whether a MARS job runs (Get-OBJob) and leaves the engine alone when one does or when that cannot be told,
then stops and starts it, each wait bounded; never through win_service state=restarted, which waits without end for a
service stuck in StopPending. On a DPM or MABS server the restart is reported, not done."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import service as svc
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, text_diff

READ = r"""#azure_backup.remediation/mars_service.read
# The MARS agent and its engine service. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Service
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + GET_SERVICE_STATE + r"""
$Ansible.Result = @{ agent = Get-MarsAgent; service = Get-ServiceState -Name $Service }
"""

RESTART = r"""#azure_backup.remediation/mars_service.restart
# Restarts the MARS engine unless a MARS job runs: Get-OBJob first (a job running, or no answer, leaves the engine
# alone), then a bounded stop and a bounded start; an engine found stopped is only started. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$Service,
    [string]$InstallPath,
    [int]$TimeoutSeconds
)
$ErrorActionPreference = 'Stop'
$changed = $false
""" + mars.ENGINE_FUNCTIONS + r"""
$engine = Get-Service -Name $Service
$result = @{ job = $null; stop = $null; start = $null; before = [string]$engine.Status }
$go = $true
if ($engine.Status -ne 'Stopped') {
    $result.job = Get-MarsJob -InstallPath $InstallPath
    $go = ($result.job.running -eq $false)
    if ($go) {
        $result.stop = Stop-Engine -Engine $engine -TimeoutSeconds $TimeoutSeconds
        $go = ($result.stop.status -eq 'stopped')
        $changed = $go
    }
}
if ($go) {
    $result.start = Start-Engine -Engine $engine -TimeoutSeconds $TimeoutSeconds
    $changed = $true
}
$Ansible.Changed = $changed
$Ansible.Result = $result
"""


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_SERVICE"
    ARGUMENT_SPEC = {"restart_service": {"type": "bool", "default": False}}

    def first_read(self) -> tuple:
        return READ, "the MARS engine service", {"Service": mars.SERVICE}

    def steps(self):
        state = self.read(READ, "the MARS engine service", Service=mars.SERVICE)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        service = state["service"]
        if not (self.args["restart_service"] and service.get("exists") and service.get("state") == "Running"):
            # Started only: its start type is the installer's business (a disabled one is set to Manual so it can start).
            yield self.service_step("service", service, "the agent is installed but its engine service is not: reinstall the "
                                    "MARS agent (%s)" % causes.DOWNLOAD)
            return
        before = svc.describe(service)
        detail = {"service": mars.SERVICE, "before": before}
        if self.dpm(state):
            yield Step("service", "found", "%s; not restarted: %s" % (before, mars.dpm_words("restarting it")), detail)
            return
        action = "restart %s unless a MARS job runs (stop and start, each within %d s)" % (mars.SERVICE, mars.ENGINE_TIMEOUT)
        diff = text_diff("service %s" % mars.SERVICE, before + "\n", "%s (restarted)\n" % before)
        yield Step("service", "found", before, detail, change=Change(action, lambda: self.restart(state, detail), diff))

    def restart(self, state: dict, detail: dict) -> Step:
        answer = self.apply("win_powershell", "restarting %s" % mars.SERVICE, script=RESTART, parameters={
            "Service": mars.SERVICE, "InstallPath": (state.get("agent") or {}).get("install_path") or mars.DEFAULT_INSTALL_PATH,
            "TimeoutSeconds": mars.ENGINE_TIMEOUT})
        result = answer.get("result") or {}
        detail = dict(detail, job=result.get("job"), stop=result.get("stop"), start=result.get("start"))
        problem = mars.engine_problem(result)
        if problem:
            return Step("service", problem[0], "%s not restarted: %s" % (mars.SERVICE, problem[1]), detail)
        failed = mars.start_problem(result)
        if failed:
            return Step("service", "failed", "the restart stopped half-way: %s" % failed, detail)
        return Step("service", "fixed", "restarted %s (no MARS job was running)" % mars.SERVICE, detail)
