# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNAPSHOT_STATUS on Windows: VSS copy backups where SQL Server runs, DHCP on the primary NIC,
CPU and memory pressure."""

from __future__ import annotations

import json
import time

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.azure_backup.remediation.plugins.module_utils import _snapshot_status as load
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_snapshot as snap
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import WinCauseAction, _why

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

REGISTER_DHCP_SWITCH = r"""#azure_backup.remediation/snapshot_status.register_dhcp_switch
# Registers a one-shot scheduled task, run as SYSTEM a few seconds from now, that switches one
# interface to DHCP (DHCP_SWITCH_TASK, written beside its marker). The switch may cut this WinRM
# session, so it runs outside it; the controller reads the marker back. Changes the VM: sent only
# on request, never in check mode.
[CmdletBinding()]
param(
    [int]$Index,
    [string]$TaskName,
    [string]$Directory,
    [string]$TaskScript,
    [int]$DelaySeconds,
    [int]$WaitSeconds
)
$ErrorActionPreference = 'Stop'

New-Item -ItemType Directory -Path $Directory -Force | Out-Null
$script = Join-Path -Path $Directory -ChildPath "$TaskName.ps1"
$marker = Join-Path -Path $Directory -ChildPath "$TaskName.json"
Set-Content -LiteralPath $script -Value $TaskScript -Encoding UTF8

$arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -Index {1} -MarkerPath "{2}" -WaitSeconds {3}' -f `
    $script, $Index, $marker, $WaitSeconds
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $arguments
$start = (Get-Date).AddSeconds($DelaySeconds)
$trigger = New-ScheduledTaskTrigger -Once -At $start
# A task expires after the EndBoundary of its trigger; DeleteExpiredTaskAfter then removes it.
$trigger.EndBoundary = $start.AddSeconds($WaitSeconds + 600).ToString('s')
$settings = New-ScheduledTaskSettingsSet -DeleteExpiredTaskAfter (New-TimeSpan -Seconds 0) -AllowStartIfOnBatteries `
    -DontStopIfGoingOnBatteries -ExecutionTimeLimit (New-TimeSpan -Seconds ($WaitSeconds + 120))
$principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -Principal $principal -Force | Out-Null

$Ansible.Result = @{ task = $TaskName; script = $script; marker = $marker; start = $start.ToUniversalTime().ToString('o') }
"""

DHCP_SWITCH_TASK = r"""#azure_backup.remediation/snapshot_status.dhcp_task
# Run by the one-shot scheduled task as SYSTEM, outside any WinRM session. Switches one interface from
# its static IPv4 address to DHCP in one netsh step, waits (bounded) for DHCP to give it an address,
# puts the static address back if none came, keeps the DNS servers as they were, and writes what
# happened to a JSON marker the controller reads back.
[CmdletBinding()]
param(
    [int]$Index,
    [string]$MarkerPath,
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

$marker = @{ index = $Index; started = (Get-Date).ToUniversalTime().ToString('o') }
try {
    $before = Get-Ipv4State
    $marker.before = $before
    # netsh changes the address source only; DNS servers are a separate setting (set dnsservers).
    $marker.netsh = Invoke-Netsh -Arguments @('interface', 'ipv4', 'set', 'address', "name=$($before.alias)", 'source=dhcp')

    $lease = $null
    $deadline = (Get-Date).AddSeconds($WaitSeconds)
    while (-not $lease -and (Get-Date) -lt $deadline) {
        Start-Sleep -Seconds 2
        $lease = Get-NetIPAddress -InterfaceIndex $Index -AddressFamily IPv4 -PrefixOrigin Dhcp -ErrorAction SilentlyContinue |
            Where-Object { [string]$_.AddressState -eq 'Preferred' }
    }
    $marker.leased = [bool]$lease

    $static = $before.addresses | Where-Object { $_.origin -eq 'Manual' } | Select-Object -First 1
    if (-not $lease -and $static) {
        # No DHCP answer: the static address (and gateway) as it was, so the VM stays reachable.
        $bits = ('1' * $static.prefix).PadRight(32, '0')
        $mask = (0..3 | ForEach-Object { [Convert]::ToByte($bits.Substring($_ * 8, 8), 2) }) -join '.'
        $restore = @('interface', 'ipv4', 'set', 'address', "name=$($before.alias)", 'source=static', "address=$($static.ip)", "mask=$mask")
        if ($before.gateways) { $restore += "gateway=$($before.gateways[0])" }
        $marker.rollback = Invoke-Netsh -Arguments $restore
    }

    $after = Get-Ipv4State
    if ($before.dns_servers -and ((@($after.dns_servers) -join ',') -ne (@($before.dns_servers) -join ','))) {
        # The admin's DNS servers (domain controllers) stay: set statically, they override DHCP's.
        Set-DnsClientServerAddress -InterfaceIndex $Index -ServerAddresses $before.dns_servers
        $marker.dns_restored = $true
        $after = Get-Ipv4State
    }
    $marker.after = $after
}
catch {
    $marker.error = $_.Exception.Message
    try { $marker.after = Get-Ipv4State } catch { $marker.after = $null }
}
$marker.finished = (Get-Date).ToUniversalTime().ToString('o')
# Written whole, then renamed: a reader never sees half a marker.
$marker | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath "$MarkerPath.tmp" -Encoding UTF8
Move-Item -LiteralPath "$MarkerPath.tmp" -Destination $MarkerPath -Force
"""

READ_DHCP_SWITCH = r"""#azure_backup.remediation/snapshot_status.dhcp_switch.read
# The marker the DHCP switch task wrote (null until it finished) and the task's state. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$MarkerPath,
    [string]$TaskName
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$text = $null
if (Test-Path -LiteralPath $MarkerPath) {
    $text = Get-Content -LiteralPath $MarkerPath -Raw
}
$task = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
$Ansible.Result = @{ marker = $text; task_state = if ($task) { [string]$task.State } else { $null } }
"""

# Seconds before the task starts (the registering call answers first), and that it waits for DHCP.
DHCP_TASK_DELAY = 5
DHCP_LEASE_WAIT = 60


class ActionModule(WinCauseAction):
    CAUSE = "SNAPSHOT_STATUS"
    ARGUMENT_SPEC = {
        "use_vss_copy_backup": {"type": "bool", "default": False},
        "fix_dhcp": {"type": "bool", "default": False},
        "dhcp_timeout": {"type": "int", "default": 180},
        "cpu_threshold": {"type": "float", "default": 90},
        "memory_threshold": {"type": "float", "default": 90},
    }

    def check_and_fix(self) -> None:
        least = DHCP_TASK_DELAY + DHCP_LEASE_WAIT + 10
        if self.args["fix_dhcp"] and self.args["dhcp_timeout"] < least:
            raise RemediationError("%s: snapshot_status_dhcp_timeout must be at least %d seconds (the switch task starts after %d s and "
                                   "waits up to %d s for DHCP), not %d. Nothing was changed."
                                   % (self.CAUSE, least, DHCP_TASK_DELAY, DHCP_LEASE_WAIT, self.args["dhcp_timeout"]))
        state = self.read(READ, "the snapshot settings", Key=snap.BCDRAGENT_KEY, ValueName=snap.COPY_BACKUP_VALUE,
                          SqlKeys=dict(snap.SQL_INSTANCE_KEYS))
        state["sql_instances"] = snap.sql_instances(state.get("sql_instances"))
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
        detail = {"interface": nic["alias"], "index": nic["index"], "dhcp": nic["dhcp"], "addresses": nic.get("addresses", []),
                  "dns_servers": nic.get("dns_servers", [])}
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
            self.add("guest_dhcp", self.fixed_or_found(), static + ": would switch it to DHCP with netsh in a one-shot scheduled task, "
                     "keeping the DNS servers (%s)" % (", ".join(detail["dns_servers"]) or "none"), detail)
            return
        self.switch_dhcp(nic, static, detail)

    # Test seams: the clock and the pause between read-backs.
    _now = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def switch_dhcp(self, nic: dict, static: str, detail: dict) -> None:
        """Register the one-shot switch task, then read its marker back until it is there or time is up.
        The switch takes away the address this WinRM connection runs over, so any call may lose its
        answer: the connection is reset and the read repeated (as ansible-core's reboot action does)."""
        names = snap.dhcp_switch_names(time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        detail = dict(detail, task=names["task"], marker=names["marker"])
        answer_lost = None
        try:
            answer = self._execute_module(
                module_name="ansible.windows.win_powershell", task_vars=self.task_vars,
                module_args={"script": REGISTER_DHCP_SWITCH, "parameters": {
                    "Index": nic["index"], "TaskName": names["task"], "Directory": snap.DHCP_SWITCH_DIR,
                    "TaskScript": DHCP_SWITCH_TASK, "DelaySeconds": DHCP_TASK_DELAY, "WaitSeconds": DHCP_LEASE_WAIT}})
        except (AnsibleConnectionFailure, OSError) as exc:  # requests' ConnectionError is an OSError
            answer, answer_lost = {}, str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        if answer.get("failed"):
            self.add("guest_dhcp", "failed", static + ": registering the switch task failed (%s); the interface was not touched"
                     % _why(answer), detail)
            return
        self.changed = True
        detail["register_answer_lost"] = answer_lost
        marker, seen = self.wait_for_marker(names)
        if marker is None:
            task = "the task %s is %s" % (names["task"], "registered (%s)" % seen["task_state"] if seen["task_state"]
                                          else "not registered" if seen["answered"] else "of unknown state (no read-back answered)")
            self.add("guest_dhcp", "failed", "%s: switching %s to DHCP: no result within %d s, so its state is unknown; %s. It writes %s "
                     "when it has run: check there or run again%s"
                     % (static, nic["alias"], self.args["dhcp_timeout"], task, names["marker"],
                        " (last error: %s)" % seen["error"] if seen["error"] else ""), dict(detail, last_error=seen["error"], task_state=seen["task_state"]))
            return
        status, said, outcome = snap.dhcp_switch_outcome(marker)
        self.add("guest_dhcp", status, "%s: %s" % (static, said), dict(detail, **outcome))

    def wait_for_marker(self, names: dict) -> tuple[dict | None, dict]:
        """The switch task's marker, or None when it did not come within dhcp_timeout; and what was seen
        last: the task's state, an error."""
        deadline = self._now() + self.args["dhcp_timeout"]
        seen: dict = {"task_state": None, "error": None, "answered": False}
        while True:
            self._sleep(3)
            try:
                answer = self._execute_module(
                    module_name="ansible.windows.win_powershell", task_vars=self.task_vars,
                    module_args={"script": READ_DHCP_SWITCH, "parameters": {"MarkerPath": names["marker"], "TaskName": names["task"]}})
                if answer.get("failed"):
                    seen["error"] = _why(answer)
                else:
                    seen["answered"] = True
                    seen["task_state"] = (answer.get("result") or {}).get("task_state")
                    text = (answer.get("result") or {}).get("marker")
                    if text:
                        return json.loads(text.lstrip("\ufeff")), seen
            except (AnsibleConnectionFailure, OSError) as exc:
                seen["error"] = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
                try:
                    self._connection.reset()
                except (AnsibleConnectionFailure, OSError):
                    pass
            except ValueError as exc:  # a marker that is not JSON: say so rather than guess
                seen["error"] = "the marker is not JSON: %s" % exc
            if self._now() >= deadline:
                return None, seen

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
