# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_POWERSHELL: the backup task runs PowerShell with the agent's MSOnlineBackup module (article 004, "Backups
don't run according to schedule"): its module folder is on the machine's PSModulePath (fixed with win_path, the
value kept unexpanded), the LocalMachine execution policy is not Restricted (fixed to RemoteSigned; a Group
Policy that restricts it is reported; with set_execution_policy off, a security posture the admin keeps, only
reported), and the module's files are there (reported). PowerShell 3.0 or later is given: Ansible itself needs
5.1. On a DPM/MABS server there is no backup task: DPM/MABS schedules its jobs itself."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_powershell as mps
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_schedule as sched
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

ENVIRONMENT_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
# Where Set-ExecutionPolicy -Scope LocalMachine keeps Windows PowerShell's policy (about_Execution_Policies).
EXECUTION_POLICY_KEY = r"HKLM:\SOFTWARE\Microsoft\PowerShell\1\ShellIds\Microsoft.PowerShell"

READ = r"""#azure_backup.remediation/mars_powershell.read
# The MARS agent, the machine's PSModulePath as stored (unexpanded) and as expanded here, the MSOnlineBackup
# module's files, the MachinePolicy and LocalMachine execution policies and the kind of Windows. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + r"""
$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    # The registry provider expands REG_EXPAND_SZ; .NET does not when asked not to.
    $environment = Get-Item -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
    $raw = $environment.GetValue('PSModulePath', $null, 'DoNotExpandEnvironmentNames')
    $modules = Join-Path -Path $agent.install_path -ChildPath 'Bin\Modules'
    $Ansible.Result.psmodulepath = @{
        raw = $raw
        kind = if ($null -ne $raw) { [string]$environment.GetValueKind('PSModulePath') } else { $null }
        expanded = @(foreach ($entry in ([string]$raw -split ';')) { if ($entry) { [Environment]::ExpandEnvironmentVariables($entry) } })
    }
    $Ansible.Result.module_folder = $modules
    $Ansible.Result.module_files = @(Get-ChildItem -LiteralPath (Join-Path -Path $modules -ChildPath 'MSOnlineBackup') -File -ErrorAction SilentlyContinue |
            ForEach-Object { $_.Name })
    # The policies' names are an enum's, the same in every language.
    $Ansible.Result.execution_policy = @{
        machine_policy = [string](Get-ExecutionPolicy -Scope MachinePolicy)
        local_machine = [string](Get-ExecutionPolicy -Scope LocalMachine)
    }
    $Ansible.Result.product_type = [int](Get-CimInstance -ClassName Win32_OperatingSystem).ProductType
    $Ansible.Result.powershell = [string]$PSVersionTable.PSVersion
}
"""

PURPOSE = "PowerShell's module path and execution policy"


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_POWERSHELL"
    ARGUMENT_SPEC = {
        "set_execution_policy": {"type": "bool", "default": True},
    }

    def first_read(self) -> tuple:
        return READ, PURPOSE, {}

    def steps(self):
        state = self.read(READ, PURPOSE)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        if (state.get("agent") or {}).get("dpm"):
            yield Step("backup_task", "skipped", sched.DPM + ", so no PowerShell of a MARS task to check", {"dpm": True})
            return
        yield self.module_path_step(state.get("psmodulepath") or {}, state["module_folder"])
        yield self.policy_step(state.get("execution_policy") or {}, state.get("product_type"), state.get("powershell"))
        files = state.get("module_files") or []
        detail = {"folder": state["module_folder"] + "\\" + mps.MODULE, "files": files}
        if mps.MODULE.lower() + ".psd1" in (f.lower() for f in files):
            yield Step("module_files", "ok", "the %s module is there (%d files)" % (mps.MODULE, len(files)), detail)
        else:
            yield Step("module_files", "found", "%s has no %s.psd1: the backup task cannot load the module. Copy the folder from a machine "
                       "where the agent works, or reinstall the agent (article 004)" % (detail["folder"], mps.MODULE), detail)

    def module_path_step(self, path: dict, folder: str) -> Step:
        raw, expanded = path.get("raw"), path.get("expanded") or []
        detail = {"folder": folder, "before": raw, "kind": path.get("kind")}
        if mps.on_path(expanded, folder):
            return Step("module_path", "ok", "the machine's PSModulePath holds %s" % folder, detail)
        after = mps.with_folder(raw, folder)
        detail["after"] = after
        diff = text_diff("machine environment PSModulePath", "%s\n" % (raw or ""), after + "\n")
        change = self.change("add it (win_path, kept as REG_EXPAND_SZ)", "win_path", "adding %s to the machine's PSModulePath" % folder, diff,
                             name="PSModulePath", elements=[folder], scope="machine", state="present")
        return Step("module_path", "found", "the machine's PSModulePath does not hold %s, where PowerShell finds the %s module "
                    "(article 004 names its %s subfolder)" % (folder, mps.MODULE, mps.MODULE), detail, change=change)

    def policy_step(self, policies: dict, product_type, powershell) -> Step:
        local = policies.get("local_machine") or "Undefined"
        verdict, why = mps.policy(policies.get("machine_policy"), local, product_type)
        detail = {"machine_policy": policies.get("machine_policy"), "local_machine": local, "product_type": product_type, "powershell": powershell}
        if verdict == "ok":
            return Step("execution_policy", "ok", why, detail)
        if verdict == "gpo":
            return Step("execution_policy", "found", "%s; the backup task's PowerShell cannot run" % why, detail)
        if not self.args["set_execution_policy"]:
            return Step("execution_policy", "found", "%s: the PowerShell that starts the backup cannot run (article 004). "
                        "mars_agent_set_execution_policy is false (a machine's execution policy is its security posture): reported "
                        "only; set it to %s by hand or in a Group Policy" % (why, mps.FIX_POLICY), detail)
        detail["after"] = mps.FIX_POLICY
        diff = text_diff(EXECUTION_POLICY_KEY + "\\ExecutionPolicy", "%s\n" % local, mps.FIX_POLICY + "\n")
        change = self.change("set it to %s" % mps.FIX_POLICY, "win_regedit", "setting the LocalMachine execution policy to %s" % mps.FIX_POLICY,
                             diff, path=EXECUTION_POLICY_KEY, name="ExecutionPolicy", data=mps.FIX_POLICY, type="string")
        return Step("execution_policy", "found", "%s: the PowerShell that starts the backup cannot run (article 004)" % why, detail, change=change)
