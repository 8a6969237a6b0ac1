# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_ANTIVIRUS: Microsoft Defender excludes the MARS scratch folder, its Bin folder, cbengine.exe and csc.exe
(article 004); what is missing is added, nothing else changed. Where Defender does not run, another product
may scan: that is reported, its exclusions are set by hand."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_antivirus as av
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, text_diff

READ = r"""#azure_backup.remediation/mars_antivirus.read
# The MARS agent, its scratch folder (ScratchLocation), and Microsoft Defender: its service, whether its antivirus
# is enabled, and its path and process exclusions. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + GET_SERVICE_STATE + r"""
$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    $config = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows Azure Backup\Config' -ErrorAction SilentlyContinue
    $Ansible.Result.scratch = if ($config -and $config.ScratchLocation) { [string]$config.ScratchLocation } else { $null }
    $defender = @{ service = Get-ServiceState -Name 'WinDefend' }
    if ($defender.service.exists -and $defender.service.state -eq 'Running') {
        # Defender's cmdlets fail where its antivirus is turned off by policy or removed: it then does not scan.
        try {
            $status = Get-MpComputerStatus
            $preference = Get-MpPreference
            $defender.antivirus_enabled = [bool]$status.AntivirusEnabled
            $defender.running_mode = [string]$status.AMRunningMode
            $defender.exclusion_path = @($preference.ExclusionPath | Where-Object { $_ })
            $defender.exclusion_process = @($preference.ExclusionProcess | Where-Object { $_ })
        }
        catch {
            $defender.error = $_.Exception.Message
        }
    }
    $Ansible.Result.defender = $defender
}
"""

ADD = r"""#azure_backup.remediation/mars_antivirus.add
# Adds the given path and process exclusions to Microsoft Defender (Add-MpPreference keeps those already there)
# and reads the lists back.
[CmdletBinding()]
param(
    [string[]]$Paths,
    [string[]]$Processes
)
$ErrorActionPreference = 'Stop'
$exclusions = @{}
if ($Paths) { $exclusions.ExclusionPath = $Paths }
if ($Processes) { $exclusions.ExclusionProcess = $Processes }
Add-MpPreference @exclusions
$preference = Get-MpPreference
$Ansible.Result = @{
    exclusion_path = @($preference.ExclusionPath | Where-Object { $_ })
    exclusion_process = @($preference.ExclusionProcess | Where-Object { $_ })
}
"""

PURPOSE = "Microsoft Defender's exclusions"


def _lines(paths: list, processes: list) -> str:
    return "".join("path %s\n" % p for p in paths) + "".join("process %s\n" % p for p in processes)


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_ANTIVIRUS"
    ARGUMENT_SPEC = {}

    def first_read(self) -> tuple:
        return READ, PURPOSE, {}

    def steps(self):
        state = self.read(READ, PURPOSE)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        install, scratch = state["agent"]["install_path"], state.get("scratch")
        defender = state.get("defender") or {}
        needed = {"paths": av.needed_paths(install, scratch), "processes": list(av.PROCESSES)}
        detail = {"needed": needed, "defender": defender}
        if not av.running(defender):
            service = defender.get("service") or {}
            how = ("its service WinDefend is %s" % (service.get("state") or "").lower() if service.get("exists") else "its service WinDefend is not installed")
            if defender.get("error"):
                how = "its cmdlets fail: %s" % defender["error"]
            elif service.get("state") == "Running":
                how = "its antivirus is turned off"
            yield Step("defender", "found", "Microsoft Defender Antivirus does not scan here (%s): whatever antivirus protects this VM needs "
                       "exclusions set by hand for the folders %s and the processes %s (article 004). Windows Server has no Security "
                       "Center (root\\SecurityCenter2) to tell which product that is" % (how, ", ".join(needed["paths"]), ", ".join(needed["processes"])),
                       detail, severity="warning")
            return
        todo = av.missing(install, scratch, defender)
        detail["missing"] = todo
        if not todo["paths"] and not todo["processes"]:
            yield Step("exclusions", "ok", "Microsoft Defender excludes %s and %s" % (", ".join(needed["paths"]), ", ".join(needed["processes"])), detail)
            return
        before_paths, before_processes = defender.get("exclusion_path") or [], defender.get("exclusion_process") or []
        diff = text_diff("Microsoft Defender exclusions", _lines(before_paths, before_processes),
                         _lines(before_paths + todo["paths"], before_processes + todo["processes"]))
        yield Step("exclusions", "found", "Microsoft Defender does not exclude %s: it may lock or slow the MARS agent's files (article 004)"
                   % ", ".join(todo["paths"] + todo["processes"]), detail,
                   change=Change("add them", lambda: self.add(install, scratch, todo), diff))

    def add(self, install: str, scratch: str | None, todo: dict) -> Step:
        answer = self.apply("win_powershell", "adding Microsoft Defender exclusions", script=ADD,
                            parameters={"Paths": todo["paths"], "Processes": todo["processes"]})
        after = answer.get("result") or {}
        left = av.missing(install, scratch, after)
        detail = {"added": todo, "after": after}
        if left["paths"] or left["processes"]:
            return Step("exclusions", "failed", "Microsoft Defender still does not exclude %s after Add-MpPreference (a Group Policy that "
                        "ignores local exclusions?)" % ", ".join(left["paths"] + left["processes"]), detail)
        return Step("exclusions", "fixed", "Microsoft Defender now excludes %s" % ", ".join(todo["paths"] + todo["processes"]), detail)
