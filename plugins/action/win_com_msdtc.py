# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""COM_MSDTC: the COM+ System Application and the Distributed Transaction Coordinator run
(article 000: "COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator")."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, WinCauseAction

SERVICES = ("COMSysApp", "MSDTC")

READ = r"""#azure_backup.remediation/com_msdtc.read
# The COM+ System Application and MSDTC services. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Services
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + r"""
$Ansible.Result = @{ services = @(foreach ($name in $Services) { Get-ServiceState -Name $name }) }
"""


class ActionModule(WinCauseAction):
    CAUSE = "COM_MSDTC"
    ARGUMENT_SPEC = {}

    def first_read(self) -> tuple:
        return READ, "the COM+ and MSDTC services", {"Services": list(SERVICES)}

    def steps(self):
        state = self.read(READ, "the COM+ and MSDTC services", Services=list(SERVICES))
        for service in state["services"]:
            # Start only: COM+ System Application is Manual by default and stays so.
            yield self.service_step("service_" + service["name"].lower(), service, "it is part of Windows; repair the installation")
