# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_RESTORE_MOUNT: a restore mounts the recovery volume through the Microsoft iSCSI Initiator, so its service
(MSiSCSI) must be there and run (article 004, "Troubleshoot restore problems", steps 3 to 8)."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE

SERVICE = "MSiSCSI"
# The article's steps 4 to 6 where the initiator is missing.
DRIVER_STEPS = ("in Device Manager > Storage controllers look for an Unknown device with hardware ID ROOT\\ISCSIPRT, choose Update "
                "driver software > Search automatically for updated driver software until it shows as Microsoft iSCSI Initiator, "
                "then start the Microsoft iSCSI Initiator Service (article 004, Troubleshoot restore problems)")

READ = r"""#azure_backup.remediation/mars_restore_mount.read
# The MARS agent and the Microsoft iSCSI Initiator Service its restores mount volumes through. Reads only.
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
    CAUSE = "MARS_RESTORE_MOUNT"
    ARGUMENT_SPEC = {}

    def first_read(self) -> tuple:
        return READ, "the Microsoft iSCSI Initiator Service", {"Service": SERVICE}

    def steps(self):
        state = self.read(READ, "the Microsoft iSCSI Initiator Service", Service=SERVICE)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        # Started, not set to Automatic: Windows installs it as Manual and it starts when a restore needs it.
        yield self.service_step("iscsi_initiator", state["service"], DRIVER_STEPS)
