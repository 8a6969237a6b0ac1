# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNAPSHOT_STATUS on Windows: VSS copy backups where SQL Server runs, DHCP on the primary NIC,
CPU and memory pressure."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import snapshot_status as load
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import snapshot_status as snap
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.detached import WinDetachedAction
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

READ = r"""#azure_backup.remediation/snapshot_status.read
# The BCDRAGENT value, SQL Server instances (both registry views), the IPv4 interfaces with their DHCP setting and default
# route, CPU load and free memory. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Key,
    [string]$ValueName,
    [System.Collections.IDictionary]$SqlKeys
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$value = $null
$item = Get-Item -LiteralPath $Key -ErrorAction SilentlyContinue
if ($item -and ($item.GetValueNames() -contains $ValueName)) {
    $value = @{ type = [string]$item.GetValueKind($ValueName); data = [string]$item.GetValue($ValueName) }
}

# A 32-bit SQL Server registers under the 32-bit view (WOW6432Node), a 64-bit one under the 64-bit view.
$instances = @{}
foreach ($view in $SqlKeys.Keys) {
    $sql = Get-Item -LiteralPath $SqlKeys[$view] -ErrorAction SilentlyContinue
    $instances[$view] = if ($sql) { @($sql.GetValueNames()) } else { @() }
}

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
                dns_servers = @((Get-DnsClientServerAddress -InterfaceIndex $index -AddressFamily IPv4 -ErrorAction SilentlyContinue).ServerAddresses)
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

DHCP_SWITCH_TASK = r"""#azure_backup.remediation/snapshot_status.dhcp_task
# Run detached (plugin_utils/windows/detached.py), as SYSTEM, outside any WinRM session. Switches one interface
# with one static IPv4 address to DHCP in one netsh step (by interface index), waits (bounded) for a DHCP
# address, and puts the static configuration back when none came or DHCP handed out another address than
# the static one. Keeps the DNS servers as they were. Emits what happened as one hashtable.
[CmdletBinding()]
param(
    [int]$Index,
    [int]$WaitSeconds
)
$ErrorActionPreference = 'Stop'

function Get-Ipv4State {
    $interface = Get-NetIPInterface -InterfaceIndex $Index -AddressFamily IPv4
    @{
        alias = $interface.InterfaceAlias
        dhcp = [string]$interface.Dhcp
        addresses = @(Get-NetIPAddress -InterfaceIndex $Index -AddressFamily IPv4 -ErrorAction SilentlyContinue |
                ForEach-Object { @{ ip = $_.IPAddress; prefix = [int]$_.PrefixLength; origin = [string]$_.PrefixOrigin } })
        gateways = @(Get-NetRoute -InterfaceIndex $Index -AddressFamily IPv4 -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue |
                ForEach-Object { $_.NextHop })
        dns_servers = @((Get-DnsClientServerAddress -InterfaceIndex $Index -AddressFamily IPv4).ServerAddresses)
    }
}

function Invoke-Netsh {
    param([string[]]$Arguments)
    # netsh reports through its exit code and output; Continue keeps a line on stderr from ending the task.
    $ErrorActionPreference = 'Continue'
    $output = & netsh.exe @Arguments 2>&1
    @{ exit_code = $LASTEXITCODE; output = ($output | Out-String).Trim() }
}

$result = @{ index = $Index; leased = $false; lease_address = $null; same_address = $false }
try {
    $before = Get-Ipv4State
    $result.before = $before
    # Checked again here, just before the change: netsh source=dhcp removes every static address of the
    # interface, and Azure's DHCP gives back only the primary one.
    $addresses = @($before.addresses)
    if ($addresses.Count -ne 1 -or $addresses[0].origin -ne 'Manual') {
        throw ('the interface has {0} IPv4 address(es) ({1}), not one static address; not switched' -f $addresses.Count,
            (($addresses | ForEach-Object { '{0} {1}' -f $_.ip, $_.origin }) -join ', '))
    }
    $static = $addresses[0]
    # netsh takes the interface index as name=; it changes the address source only, DNS servers are another setting.
    $result.netsh = Invoke-Netsh -Arguments @('interface', 'ipv4', 'set', 'address', "name=$Index", 'source=dhcp')

    if ($result.netsh.exit_code -eq 0) {
        $lease = $null
        $deadline = (Get-Date).AddSeconds($WaitSeconds)
        while (-not $lease -and (Get-Date) -lt $deadline) {
            Start-Sleep -Seconds 2
            $lease = Get-NetIPAddress -InterfaceIndex $Index -AddressFamily IPv4 -PrefixOrigin Dhcp -ErrorAction SilentlyContinue |
                Where-Object { [string]$_.AddressState -eq 'Preferred' } | Select-Object -First 1
        }
        $result.leased = [bool]$lease
        $result.lease_address = if ($lease) { $lease.IPAddress } else { $null }
        $result.same_address = [bool]$lease -and $lease.IPAddress -eq $static.ip
        if (-not $result.same_address) {
            # No DHCP address, or another one than the address the VM is known by: the static configuration as it was.
            $bits = ('1' * $static.prefix).PadRight(32, '0')
            $mask = (0..3 | ForEach-Object { [Convert]::ToByte($bits.Substring($_ * 8, 8), 2) }) -join '.'
            $restore = @('interface', 'ipv4', 'set', 'address', "name=$Index", 'source=static', "address=$($static.ip)", "mask=$mask")
            if ($before.gateways) { $restore += "gateway=$($before.gateways[0])" }
            $result.rollback = Invoke-Netsh -Arguments $restore
        }
    }

    $after = Get-Ipv4State
    if ($before.dns_servers -and ((@($after.dns_servers) -join ',') -ne (@($before.dns_servers) -join ','))) {
        # The admin's DNS servers (domain controllers) stay: set statically, they override DHCP's.
        Set-DnsClientServerAddress -InterfaceIndex $Index -ServerAddresses $before.dns_servers
        $result.dns_restored = $true
        $after = Get-Ipv4State
    }
    $result.after = $after
}
catch {
    $result.error = $_.Exception.Message
    try { $result.after = Get-Ipv4State } catch { $result.after = $null }
}
$result
"""

# Seconds the switch task waits for DHCP.
DHCP_LEASE_WAIT = 60


class ActionModule(WinDetachedAction):
    CAUSE = "SNAPSHOT_STATUS"
    ARGUMENT_SPEC = {
        "use_vss_copy_backup": {"type": "bool", "default": False},
        "fix_dhcp": {"type": "bool", "default": False},
        "dhcp_timeout": {"type": "int", "default": 180},
        "cpu_threshold": {"type": "float", "default": 90},
        "memory_threshold": {"type": "float", "default": 90},
    }

    def first_read(self) -> tuple:
        return READ, "the snapshot settings", {"Key": snap.BCDRAGENT_KEY, "ValueName": snap.COPY_BACKUP_VALUE,
                                               "SqlKeys": dict(snap.SQL_INSTANCE_KEYS)}

    def steps(self):
        least = detached.START_DELAY + DHCP_LEASE_WAIT + 10
        if self.args["fix_dhcp"] and self.args["dhcp_timeout"] < least:
            raise RemediationError("%s: snapshot_status_dhcp_timeout must be at least %d seconds (the switch task starts after %d s and "
                                   "waits up to %d s for DHCP), not %d. Nothing was changed."
                                   % (self.CAUSE, least, detached.START_DELAY, DHCP_LEASE_WAIT, self.args["dhcp_timeout"]), check="arguments")
        state = self.read(READ, "the snapshot settings", Key=snap.BCDRAGENT_KEY, ValueName=snap.COPY_BACKUP_VALUE,
                          SqlKeys=dict(snap.SQL_INSTANCE_KEYS))
        state["sql_instances"] = snap.sql_instances(state.get("sql_instances"))
        yield self.copy_backup_step(state)
        yield self.dhcp_step(state.get("nics") or [])
        yield from self.load_steps(state)

    def copy_backup_step(self, state: dict) -> Step:
        value = state.get("copy_backup")
        where = "%s\\%s" % (snap.BCDRAGENT_KEY, snap.COPY_BACKUP_VALUE)
        detail = {"value": value, "sql_instances": state.get("sql_instances") or []}
        why = snap.copy_backup_wanted(detail["sql_instances"], self.args["use_vss_copy_backup"])
        if snap.copy_backup_set(value):
            return Step("vss_copy_backup", "ok", "%s is TRUE" % where, detail)
        if not why:
            return Step("vss_copy_backup", "ok", "no SQL Server: full VSS backups are fine (%s not needed)" % where, detail)
        before = "%s (%s)" % (value["data"], value["type"]) if value else "not set"
        change = self.change("set it to TRUE", "win_regedit", "setting %s" % where, text_diff(where, before + "\n", "TRUE (String)\n"),
                             path=snap.BCDRAGENT_KEY, name=snap.COPY_BACKUP_VALUE, data=snap.COPY_BACKUP_DATA, type="string")
        return Step("vss_copy_backup", "found", "%s: %s is %s" % (why, where, before), dict(detail, before=before), change=change)

    def dhcp_step(self, nics: list[dict]) -> Step:
        nic = snap.primary_nic(nics)
        if nic is None:
            return Step("guest_dhcp", "skipped", "no primary IPv4 interface found (%d connected)" % len(nics), {"nics": nics})
        detail = {"interface": nic["alias"], "index": nic["index"], "dhcp": nic["dhcp"], "addresses": nic.get("addresses", []),
                  "dns_servers": nic.get("dns_servers", [])}
        if nic["dhcp"] == "Enabled":
            return Step("guest_dhcp", "ok", "%s uses DHCP" % nic["alias"], detail)
        static = "%s has a static address (%s); Azure hands the VM its address and the wireserver route by DHCP" % (
            nic["alias"], ", ".join(detail["addresses"]) or "none")
        if not self.args["fix_dhcp"]:
            return Step("guest_dhcp", "found", static + ". Set snapshot_status_fix_dhcp to switch it, or configure the address in Azure", detail)
        refusal = snap.dhcp_switch_refusal(detail["addresses"])
        if refusal:
            return Step("guest_dhcp", "found", "%s: %s" % (static, refusal), dict(detail, refused=True))
        change = Change("switch it to DHCP with netsh in a one-shot scheduled task, keeping the DNS servers (%s)"
                        % (", ".join(detail["dns_servers"]) or "none"), lambda: self.switch_dhcp(nic, static, detail),
                        text_diff("IPv4 of %s" % nic["alias"], "DHCP Disabled\n", "DHCP Enabled\n"))
        return Step("guest_dhcp", "found", static, detail, change=change)

    def switch_dhcp(self, nic: dict, static: str, detail: dict) -> Step:
        """The switch takes away the address this WinRM connection runs over, so it runs detached: a one-shot
        SYSTEM task whose result is read back, the connection reset as often as it drops."""
        try:
            run = self.run_detached("snapshot_status.dhcp_task", DHCP_SWITCH_TASK, {"Index": nic["index"], "WaitSeconds": DHCP_LEASE_WAIT},
                                    "the DHCP switch", self.args["dhcp_timeout"])
        except RemediationError as exc:
            return Step("guest_dhcp", "failed", "%s: %s; the interface was not touched" % (static, exc.msg), detail)
        detail = dict(detail, task=run.get("task"), marker=run["marker"], register_answer_lost=run.get("register_answer_lost"))
        if run["state"] == "unknown":
            task = "the task %s is %s" % (run["task"], "registered (%s)" % run["task_state"] if run["task_state"]
                                          else "not registered" if not run["registered"] else "of unknown state")
            return Step("guest_dhcp", "failed", "%s: switching %s to DHCP: no result within %d s, so its state is unknown; %s%s. It writes %s "
                        "when it has run: check there or run again%s"
                        % (static, nic["alias"], self.args["dhcp_timeout"], task, ", started" if run.get("started") else "", run["marker"],
                           " (last error: %s)" % run["last_error"] if run.get("last_error") else ""),
                        dict(detail, last_error=run.get("last_error"), task_state=run.get("task_state"), last_result=run.get("last_result")))
        if run["state"] == "failed":
            return Step("guest_dhcp", "failed", "%s: the switch task failed before it reported (%s); the interface is as the task left it: "
                        "look at it" % (static, run["error"]), dict(detail, error=run["error"]))
        status, said, outcome = snap.dhcp_switch_outcome(run["result"])
        return Step("guest_dhcp", status, "%s: %s" % (static, said), dict(detail, **outcome))

    def load_steps(self, state: dict):
        cpu = state.get("cpu_load_percent")
        if cpu is None:
            yield Step("cpu_load", "skipped", "Windows reported no processor load", {})
        else:
            threshold = self.args["cpu_threshold"]
            status, summary = load.over("CPU %g %% busy" % float(cpu), float(cpu), threshold)
            yield Step("cpu_load", status, summary, {"busy_percent": float(cpu), "threshold": threshold})
        used = snap.memory_percent_used(state.get("memory_total_kb"), state.get("memory_free_kb"))
        if used is None:
            yield Step("memory_pressure", "skipped", "Windows reported no memory figures", {})
            return
        detail = {"used_percent": used, "total_mib": int(state["memory_total_kb"]) // 1024,
                  "available_mib": int(state["memory_free_kb"]) // 1024, "threshold": self.args["memory_threshold"]}
        said = load.memory_said(used, detail["available_mib"], detail["total_mib"])
        status, summary = load.over(said, used, self.args["memory_threshold"])
        yield Step("memory_pressure", status, summary, detail)
