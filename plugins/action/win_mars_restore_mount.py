# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_RESTORE_MOUNT: a restore mounts the recovery volume through the Microsoft iSCSI Initiator, so its service
(MSiSCSI) must be there and able to start (article 004, "Troubleshoot restore problems", steps 3 to 8).

Windows installs MSiSCSI with start type Manual, stopped: it is started when something uses the initiator, as a
restore's mount does. So a stopped service that may start (Manual or Automatic) is healthy; a Disabled one cannot be
started by a restore and is reported (it may be a hardening choice), and a missing one gets the article's driver steps.
Only with enable_iscsi is it changed: set to Manual where Disabled, and started."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import service as svc
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
    ARGUMENT_SPEC = {"enable_iscsi": {"type": "bool", "default": False}}

    def first_read(self) -> tuple:
        return READ, "the Microsoft iSCSI Initiator Service", {"Service": SERVICE}

    def steps(self):
        state = self.read(READ, "the Microsoft iSCSI Initiator Service", Service=SERVICE)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        service = state["service"]
        if self.args["enable_iscsi"] or not service.get("exists"):
            # Opted in: started, and set to Manual only where Disabled (never to Automatic).
            yield self.service_step("iscsi_initiator", service, DRIVER_STEPS)
            return
        detail = {"service": SERVICE, "before": svc.describe(service)}
        if service.get("start_mode") == "Disabled":
            yield Step("iscsi_initiator", "found", "%s: a restore cannot mount its recovery volume while the service is disabled. If that "
                       "is not a hardening choice, set it to Manual (or set mars_agent_enable_iscsi to let this role do it)"
                       % detail["before"], detail)
        elif service.get("state") == "Running":
            yield Step("iscsi_initiator", "ok", detail["before"], detail)
        else:
            yield Step("iscsi_initiator", "ok", "%s; it starts when a restore mounts its recovery volume" % detail["before"], detail)
