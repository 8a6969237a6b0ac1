# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_ANTIVIRUS: Microsoft Defender excludes the MARS scratch folder, its Bin folder (cbengine.exe in it) and each
.NET Framework's csc.exe, as files (article 004); what is missing is added as path exclusions, never as process
exclusions, nothing else changed. Exclusions Defender hides from local admins are reported as unknown. Where
Defender does not run, another product may scan: that is reported, its exclusions are set by hand."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_antivirus as av
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, text_diff

READ = r"""#azure_backup.remediation/mars_antivirus.read
# The MARS agent, its scratch folder (ScratchLocation), each .NET Framework's csc.exe, and Microsoft Defender: its
# service, whether its antivirus is enabled, and its path and process exclusions (as Get-MpPreference shows them,
# hidden ones included). Reads only.
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
    # Article 004: one CSC.exe per .NET Framework version, 32- and 64-bit.
    $windir = [Environment]::GetFolderPath('Windows')
    $Ansible.Result.csc = @(foreach ($framework in 'Framework', 'Framework64') {
            $pattern = Join-Path -Path $windir -ChildPath ('Microsoft.NET\{0}\v*\csc.exe' -f $framework)
            Get-ChildItem -Path $pattern -File -ErrorAction SilentlyContinue | ForEach-Object { $_.FullName }
        })
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
# Adds the given path exclusions to Microsoft Defender (Add-MpPreference keeps those already there) and reads the
# lists back.
[CmdletBinding()]
param(
    [string[]]$Paths
)
$ErrorActionPreference = 'Stop'
Add-MpPreference -ExclusionPath $Paths
$preference = Get-MpPreference
$Ansible.Result = @{
    exclusion_path = @($preference.ExclusionPath | Where-Object { $_ })
    exclusion_process = @($preference.ExclusionProcess | Where-Object { $_ })
}
"""

PURPOSE = "Microsoft Defender's exclusions"


def _lines(paths: list) -> str:
    return "".join("path %s\n" % p for p in paths)


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
        install, scratch, csc = state["agent"]["install_path"], state.get("scratch"), state.get("csc") or []
        defender = state.get("defender") or {}
        needed = av.needed_paths(install, scratch, csc)
        detail = {"needed": needed, "defender": defender}
        if not av.running(defender):
            service = defender.get("service") or {}
            how = ("its service WinDefend is %s" % (service.get("state") or "").lower() if service.get("exists") else "its service WinDefend is not installed")
            if defender.get("error"):
                how = "its cmdlets fail: %s" % defender["error"]
            elif service.get("state") == "Running":
                how = "its antivirus is turned off"
            yield Step("defender", "found", "Microsoft Defender Antivirus does not scan here (%s): whatever antivirus protects this VM needs "
                       "these files and folders excluded by hand: %s (article 004). Windows Server has no Security Center "
                       "(root\\SecurityCenter2) to tell which product that is" % (how, ", ".join(needed)), detail, severity="warning")
            return
        if av.hidden(defender):
            # Re-adding what cannot be read back would change the VM on every run.
            yield Step("exclusions", "found", "Microsoft Defender hides its exclusions from local administrators (HideExclusionsFromLocalAdmins), "
                       "so whether it excludes %s is unknown; nothing is added. Check them where the policy that hides them is set"
                       % ", ".join(needed), dict(detail, hidden=True), severity="warning")
            return
        todo = av.missing(install, scratch, defender, csc)
        broad = av.broad_processes(defender)
        detail.update(missing=todo, broad_process_exclusions=broad)
        note = ("; it also excludes the process%s %s by bare name, which skips every file any process of that name opens (wider than "
                "article 004's file exclusions): kept, remove %s by hand if nothing else needs %s"
                % ("es" if len(broad) > 1 else "", ", ".join(broad), "them" if len(broad) > 1 else "it", "them" if len(broad) > 1 else "it")) if broad else ""
        if not todo:
            yield Step("exclusions", "ok", "Microsoft Defender excludes %s%s" % (", ".join(needed), note), detail)
            return
        before = defender.get("exclusion_path") or []
        diff = text_diff("Microsoft Defender path exclusions", _lines(before), _lines(before + todo))
        yield Step("exclusions", "found", "Microsoft Defender does not exclude %s: it may lock or slow the MARS agent's files (article 004)%s"
                   % (", ".join(todo), note), detail, change=Change("add them as path exclusions", lambda: self.add(install, scratch, csc, todo), diff))

    def add(self, install: str, scratch: str | None, csc: list, todo: list) -> Step:
        answer = self.apply("win_powershell", "adding Microsoft Defender path exclusions", script=ADD, parameters={"Paths": todo})
        after = answer.get("result") or {}
        detail = {"added": todo, "after": after}
        if av.hidden(after):
            return Step("exclusions", "fixed", "Microsoft Defender was asked to exclude %s; it hides its exclusions from local administrators, "
                        "so they were not read back" % ", ".join(todo), detail)
        left = av.missing(install, scratch, after, csc)
        if left:
            return Step("exclusions", "failed", "Microsoft Defender still does not exclude %s after Add-MpPreference (a Group Policy that "
                        "ignores local exclusions?)" % ", ".join(left), detail)
        return Step("exclusions", "fixed", "Microsoft Defender now excludes %s" % ", ".join(todo), detail)
