# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_PREREQS: what article 004's basic troubleshooting asks of the server: .NET Framework 4.5.2 or later, a clock
that is right and a time zone set as it should be. Reports only.

The clock is compared with the controller's: the controller's UTC time goes to the VM as a parameter, and the VM's
own UTC time comes back. The VM read its clock after the controller's time was taken and before the answer arrived,
so only an offset beyond the limit for that whole span is a finding. Where the host read served the read, the span ends
when the host read's answer arrived (driver.read_received), not when this cause's turn came after the causes before it:
a later end would widen the span and hide a clock that runs ahead. No outside time source is contacted; the skew is
against the controller's clock, so a controller whose clock is wrong makes every VM look skewed."""

from __future__ import annotations

import datetime

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes

READ = r"""#azure_backup.remediation/mars_prereqs.read
# The MARS agent, the .NET Framework 4 Release value, the VM's UTC time (and its offset from the controller's time
# the parameter carries) and its time zone. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$ControllerUtc
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + r"""
$now = [DateTime]::UtcNow
$ndp = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue
$zone = [System.TimeZoneInfo]::Local
$styles = [System.Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
$sent = [DateTime]::Parse($ControllerUtc, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
$Ansible.Result = @{
    agent = Get-MarsAgent
    dotnet_release = if ($ndp -and $null -ne $ndp.Release) { [int]$ndp.Release } else { $null }
    vm_utc = $now.ToString('o')
    offset_seconds = [math]::Round(($now - $sent).TotalSeconds, 3)
    # The Id is the registry key name (not localised); the display name is the one Windows shows.
    time_zone = @{ id = $zone.Id; display_name = $zone.DisplayName; utc_offset_minutes = [int]$zone.GetUtcOffset($now).TotalMinutes }
}
"""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_PREREQS"
    ARGUMENT_SPEC = {"max_clock_skew": {"type": "int", "default": causes.CLOCK_SKEW}}
    # The controller's time when the read was declared (first_read) or sent (steps).
    sent: datetime.datetime | None = None

    def first_read(self) -> tuple:
        self.sent = utc_now()
        return READ, "the MARS prerequisites", {"ControllerUtc": iso(self.sent)}

    def steps(self):
        if self.args["max_clock_skew"] < 1:
            raise RemediationError("MARS_PREREQS on %s: mars_agent_max_clock_skew must be a number of seconds above 0, not %s. Nothing "
                                   "was read." % (self.host, self.args["max_clock_skew"]), check="arguments")
        if self.sent is None or not self.prefetched:
            self.sent = utc_now()  # read now: the time sent is now's
        state = self.read(READ, "the MARS prerequisites", ControllerUtc=iso(self.sent))
        received = self.read_received or utc_now()
        if not self.installed(state):
            yield self.not_installed_step()
            return
        release = state.get("dotnet_release")
        problem = causes.dotnet_problem(release)
        detail = {"dotnet_release": release, "minimum_release": causes.DOTNET_452}
        if problem:
            yield Step("dotnet", "found", "%s; the MARS agent needs .NET Framework 4.5.2 or later: install the current .NET Framework"
                       % problem, detail)
        else:
            yield Step("dotnet", "ok", ".NET Framework Release %s (4.5.2 or later)" % release, detail)
        yield self.clock_step(state, received)
        zone = state.get("time_zone") or {}
        offset = int(zone.get("utc_offset_minutes") or 0)
        yield Step("time_zone", "ok", "time zone %s (%s, UTC%s%02d:%02d now): check that it is the server's local time zone"
                   % (zone.get("id"), zone.get("display_name"), "-" if offset < 0 else "+", abs(offset) // 60, abs(offset) % 60),
                   {"time_zone": zone}, severity="info")

    def clock_step(self, state: dict, received: datetime.datetime) -> Step:
        limit = self.args["max_clock_skew"]
        try:
            low, high = causes.skew_range(state.get("vm_utc"), self.sent, received)
        except ValueError as exc:
            return Step("clock", "failed", "the VM's time could not be read: %s" % exc, {"vm_utc": state.get("vm_utc")})
        detail = {"vm_utc": state.get("vm_utc"), "controller_utc": iso(self.sent), "controller_received_utc": iso(received),
                  "skew_seconds": [round(low, 1), round(high, 1)], "max_clock_skew": limit}
        problem = causes.clock_problem(low, high, limit)
        if problem:
            return Step("clock", "found", "%s; this is measured against the controller's clock, so check that one first (a wrong "
                        "controller clock makes every VM look skewed), then set the VM's time right (w32tm /resync; Azure VMs sync "
                        "with the host through the VM IC Time Synchronization Provider)" % problem, detail)
        return Step("clock", "ok", "the VM's clock is within %d s of the controller's clock" % limit, detail)
