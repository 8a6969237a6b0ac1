# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BACKUP_EXTENSION on Windows: the IaaSVmProvider service is enabled and starts automatically
(article 001); the VMSnapshot extension's folder and version are reported."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes.backup_extension import latest_version
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, WinCauseAction

SERVICE = "IaaSVmProvider"
PLUGIN_DIR = r"C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot"
# Reloading the extension is a platform operation (portal or Azure API); the next backup installs it again.
RELOAD = "to reload the extension, uninstall it from the VM in the portal or with the Azure API; the next backup installs it again"

READ = r"""#azure_backup.remediation/backup_extension.read
# The IaaSVmProvider service and the VMSnapshot extension's version folders. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Service,
    [string]$PluginDir
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + r"""
$versions = @(Get-ChildItem -LiteralPath $PluginDir -Directory -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })

$Ansible.Result = @{
    service = Get-ServiceState -Name $Service
    versions = $versions
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "BACKUP_EXTENSION"
    ARGUMENT_SPEC = {}

    def first_read(self) -> tuple:
        return READ, "the backup extension", {"Service": SERVICE, "PluginDir": PLUGIN_DIR}

    def steps(self):
        state = self.read(READ, "the backup extension", Service=SERVICE, PluginDir=PLUGIN_DIR)
        yield self.service_step("iaasvmprovider", state["service"], "Azure Backup adds it with the extension; " + RELOAD, automatic=True)
        newest = latest_version(state.get("versions") or [])
        latest = newest[1] if newest else None
        info = {"folder": PLUGIN_DIR, "versions": state.get("versions") or [], "latest": latest}
        if latest:
            yield Step("extension_installed", "ok", "VMSnapshot %s in %s" % (latest, PLUGIN_DIR), info)
        else:
            yield Step("extension_installed", "found", "no VMSnapshot extension in %s: the next backup installs it, or %s" % (PLUGIN_DIR, RELOAD), info)
