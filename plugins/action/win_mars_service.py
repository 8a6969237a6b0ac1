# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SERVICE: the MARS engine service (obengine) runs; restarted on request (article 004, basic troubleshooting:
"make sure MARS runs in the services console; restart it if needed and retry")."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE

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
        # Started only: its start type is the installer's business (a disabled one is set to Manual so it can start).
        yield self.service_step("service", state["service"], "the agent is installed but its engine service is not: reinstall the "
                                "MARS agent (%s)" % causes.DOWNLOAD, restart=self.args["restart_service"])
