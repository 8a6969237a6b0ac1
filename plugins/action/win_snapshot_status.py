# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNAPSHOT_STATUS on Windows: VSS copy backups where SQL Server runs, DHCP on the primary NIC,
CPU and memory pressure."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _snapshot_status as load
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_snapshot as snap
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import WinCauseAction

READ = r"""#azure_backup.remediation/snapshot_status.read
# The BCDRAGENT value, SQL Server instances, the IPv4 interfaces with their DHCP setting and default
# route, CPU load and free memory. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Key,
    [string]$ValueName
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$value = $null
$item = Get-Item -LiteralPath $Key -ErrorAction SilentlyContinue
if ($item -and ($item.GetValueNames() -contains $ValueName)) {
    $value = @{ type = [string]$item.GetValueKind($ValueName); data = [string]$item.GetValue($ValueName) }
}

$sql = Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL' -ErrorAction SilentlyContinue
$instances = if ($sql) { @($sql.GetValueNames()) } else { @() }

$routes = @(Get-NetRoute -AddressFamily IPv4 -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue)
$nics = @(Get-NetIPInterface -AddressFamily IPv4 -ConnectionState Connected |
        Where-Object { $_.InterfaceAlias -notlike 'Loopback*' } |
        ForEach-Object {
            $index = $_.InterfaceIndex
            $route = $routes | Where-Object { $_.InterfaceIndex -eq $index } | Sort-Object -Property RouteMetric | Select-Object -First 1
            @{
                alias = $_.InterfaceAlias
                index = $index
                dhcp = [string]$_.Dhcp
                addresses = @(Get-NetIPAddress -InterfaceIndex $index -AddressFamily IPv4 -ErrorAction SilentlyContinue |
                        ForEach-Object { $_.IPAddress })
                default_route_metric = if ($route) { $route.RouteMetric + $_.InterfaceMetric } else { $null }
            }
        })

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$Ansible.Result = @{
    copy_backup = $value
    sql_instances = $instances
    nics = $nics
    cpu_load_percent = (Get-CimInstance -ClassName Win32_Processor | Measure-Object -Property LoadPercentage -Average).Average
    memory_total_kb = $os.TotalVisibleMemorySize
    memory_free_kb = $os.FreePhysicalMemory
}
"""

ENABLE_DHCP = r"""#azure_backup.remediation/snapshot_status.enable_dhcp
# Switches one interface from a static IPv4 address to DHCP, as Azure expects (the platform hands
# out the same address). Changes the VM: sent only on request, never in check mode.
[CmdletBinding()]
param(
    [int]$Index
)
$ErrorActionPreference = 'Stop'

# The static address and default route stay behind otherwise; DHCP brings its own (the same address:
# Azure hands the NIC the address the platform has for it).
Get-NetIPAddress -InterfaceIndex $Index -AddressFamily IPv4 -PrefixOrigin Manual -ErrorAction SilentlyContinue |
    Remove-NetIPAddress -Confirm:$false
Get-NetRoute -InterfaceIndex $Index -AddressFamily IPv4 -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue |
    Remove-NetRoute -Confirm:$false
Set-NetIPInterface -InterfaceIndex $Index -AddressFamily IPv4 -Dhcp Enabled
Set-DnsClientServerAddress -InterfaceIndex $Index -ResetServerAddresses

$Ansible.Result = @{ dhcp = [string](Get-NetIPInterface -InterfaceIndex $Index -AddressFamily IPv4).Dhcp }
"""


class ActionModule(WinCauseAction):
    CAUSE = "SNAPSHOT_STATUS"
    ARGUMENT_SPEC = {
        "use_vss_copy_backup": {"type": "bool", "default": False},
        "fix_dhcp": {"type": "bool", "default": False},
        "cpu_threshold": {"type": "float", "default": 90},
        "memory_threshold": {"type": "float", "default": 90},
    }

    def check_and_fix(self) -> None:
        state = self.read(READ, "the snapshot settings", Key=snap.BCDRAGENT_KEY, ValueName=snap.COPY_BACKUP_VALUE)
        self.check_copy_backup(state)
        self.check_dhcp(state.get("nics") or [])
        self.check_load(state)

    def check_copy_backup(self, state: dict) -> None:
        value = state.get("copy_backup")
        where = "%s\\%s" % (snap.BCDRAGENT_KEY, snap.COPY_BACKUP_VALUE)
        detail = {"value": value, "sql_instances": state.get("sql_instances") or []}
        why = snap.copy_backup_wanted(detail["sql_instances"], self.args["use_vss_copy_backup"])
        if snap.copy_backup_set(value):
            self.add("vss_copy_backup", "ok", "%s is TRUE" % where, detail)
            return
        if not why:
            self.add("vss_copy_backup", "ok", "no SQL Server: full VSS backups are fine (%s not needed)" % where, detail)
            return
        before = "%s (%s)" % (value["data"], value["type"]) if value else "not set"
        self.diff(where, before + "\n", "TRUE (String)\n")
        if not self.check_mode:
            self.apply("win_regedit", "setting %s" % where, path=snap.BCDRAGENT_KEY, name=snap.COPY_BACKUP_VALUE,
                       data=snap.COPY_BACKUP_DATA, type="string")
        self.add("vss_copy_backup", self.fixed_or_found(), "%s: %s was %s, %s TRUE"
                 % (why, where, before, "would set it to" if self.check_mode else "set to"), dict(detail, before=before))

    def check_dhcp(self, nics: list[dict]) -> None:
        nic = snap.primary_nic(nics)
        if nic is None:
            self.add("guest_dhcp", "skipped", "no primary IPv4 interface found (%d connected)" % len(nics), {"nics": nics})
            return
        detail = {"interface": nic["alias"], "index": nic["index"], "dhcp": nic["dhcp"], "addresses": nic.get("addresses", [])}
        if nic["dhcp"] == "Enabled":
            self.add("guest_dhcp", "ok", "%s uses DHCP" % nic["alias"], detail)
            return
        static = "%s has a static address (%s); Azure hands the VM its address and the wireserver route by DHCP" % (
            nic["alias"], ", ".join(detail["addresses"]) or "none")
        if not self.args["fix_dhcp"]:
            self.add("guest_dhcp", "found", static + ". Set snapshot_status_fix_dhcp to switch it, or configure the address in Azure", detail)
            return
        self.diff("IPv4 of %s" % nic["alias"], "DHCP Disabled\n", "DHCP Enabled\n")
        if self.check_mode:
            self.add("guest_dhcp", self.fixed_or_found(), static + ": would switch it to DHCP", detail)
            return
        answer = self.apply("win_powershell", "switching %s to DHCP" % nic["alias"], script=ENABLE_DHCP, parameters={"Index": nic["index"]})
        self.add("guest_dhcp", self.fixed_or_found(), static + ": switched to DHCP", dict(detail, after=(answer.get("result") or {}).get("dhcp")))

    def check_load(self, state: dict) -> None:
        cpu = state.get("cpu_load_percent")
        if cpu is None:
            self.add("cpu_load", "skipped", "Windows reported no processor load", {})
        else:
            threshold = self.args["cpu_threshold"]
            self.add("cpu_load", *load.over("CPU %g %% busy" % float(cpu), float(cpu), threshold),
                     detail={"busy_percent": float(cpu), "threshold": threshold})
        used = snap.memory_percent_used(state.get("memory_total_kb"), state.get("memory_free_kb"))
        if used is None:
            self.add("memory_pressure", "skipped", "Windows reported no memory figures", {})
            return
        detail = {"used_percent": used, "total_mib": int(state["memory_total_kb"]) // 1024,
                  "available_mib": int(state["memory_free_kb"]) // 1024, "threshold": self.args["memory_threshold"]}
        said = load.memory_said(used, detail["available_mib"], detail["total_mib"])
        self.add("memory_pressure", *load.over(said, used, self.args["memory_threshold"]), detail=detail)
