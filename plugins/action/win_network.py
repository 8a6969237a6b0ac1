# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NETWORK on Windows: from the VM, Azure names resolve and the wireserver (80, 32526) and storage
(443, 8443) accept connections; the WinHTTP proxy is set when the inventory names one."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import network as winnet
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction

READ = r"""#azure_backup.remediation/network.read
# Resolves the names and opens a TCP connection to each endpoint from the VM, all at once, each
# within the timeout. Errors are .NET SocketError names, the same on every Windows language. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Names,
    [string[]]$Endpoints,
    [int]$TimeoutMs
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

function Get-SocketError {
    param($Exception)
    $inner = $Exception.GetBaseException()
    if ($inner -is [System.Net.Sockets.SocketException]) {
        @{ error_code = [string]$inner.SocketErrorCode; error = $inner.Message }
    }
    else {
        @{ error_code = 'Error'; error = $inner.Message }
    }
}

$dns = @(foreach ($name in $Names) {
        try {
            $addresses = [System.Net.Dns]::GetHostAddresses($name) | ForEach-Object { $_.IPAddressToString }
            @{ endpoint = $name; addresses = @($addresses); error_code = '' }
        }
        catch {
            (Get-SocketError -Exception $_.Exception) + @{ endpoint = $name }
        }
    })

# Start every connection first, then wait: the slowest endpoint, not their sum, bounds the time.
$pending = @(foreach ($endpoint in $Endpoints) {
        $hostName, $port = $endpoint -split ':(?=\d+$)'
        $client = [System.Net.Sockets.TcpClient]::new()
        @{ endpoint = $endpoint; client = $client; task = $client.ConnectAsync($hostName, [int]$port) }
    })
$deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMs)
$tcp = @(foreach ($probe in $pending) {
        $left = [Math]::Max(0, [int]($deadline - [DateTime]::UtcNow).TotalMilliseconds)
        try {
            if ($probe.task.Wait($left)) {
                @{ endpoint = $probe.endpoint; error_code = '' }
            }
            else {
                @{ endpoint = $probe.endpoint; error_code = 'TimedOut'; error = "no answer within $TimeoutMs ms" }
            }
        }
        catch {
            (Get-SocketError -Exception $_.Exception) + @{ endpoint = $probe.endpoint }
        }
        finally {
            $probe.client.Dispose()
        }
    })

$Ansible.Result = @{ dns = $dns; tcp = $tcp }
"""


class ActionModule(WinCauseAction):
    CAUSE = "NETWORK"
    ARGUMENT_SPEC = dict(
        net.ENDPOINT_ARGUMENT_SPEC,
        timeout={"type": "float", "default": 5},
        http_proxy={"type": "str", "default": ""},
        http_proxy_bypass={"type": "list", "elements": "str", "default": []},
    )

    def first_read(self) -> tuple:
        a = self.args
        wireserver = ["%s:%d" % (a["wireserver"], p) for p in (a["wireserver_port"], a["hostplugin_port"])]
        storage = ["%s:%d" % (a["storage_host"], p) for p in a["storage_ports"]] if a["storage_host"] else []
        names = list(a["dns_names"]) + ([a["storage_host"]] if a["storage_host"] else [])
        return READ, "the way to Azure", {"Names": names, "Endpoints": wireserver + storage, "TimeoutMs": int(a["timeout"] * 1000)}

    def check_and_fix(self) -> None:
        # The proxy is this cause's one fix. The probes below connect directly, not through WinHTTP's
        # proxy: they say whether the VM itself reaches Azure (the wireserver is never proxied).
        self.check_proxy()
        a = self.args
        wireserver = ["%s:%d" % (a["wireserver"], p) for p in (a["wireserver_port"], a["hostplugin_port"])]
        storage = ["%s:%d" % (a["storage_host"], p) for p in a["storage_ports"]] if a["storage_host"] else []
        names = list(a["dns_names"]) + ([a["storage_host"]] if a["storage_host"] else [])
        state = self.read(READ, "the way to Azure", Names=names, Endpoints=wireserver + storage, TimeoutMs=int(a["timeout"] * 1000))
        dns, tcp = state.get("dns") or [], state.get("tcp") or []
        self.judge("dns", dns, "%d Azure names resolve" % len(names), "cannot resolve")
        self.judge("wireserver", [p for p in tcp if p["endpoint"] in wireserver], "wireserver %s accepts connections on %d and %d"
                   % (a["wireserver"], a["wireserver_port"], a["hostplugin_port"]), "wireserver unreachable")
        if storage:
            self.judge("storage", [p for p in tcp if p["endpoint"] in storage], "storage %s accepts connections on %s"
                       % (a["storage_host"], ", ".join(str(p) for p in a["storage_ports"])), "storage unreachable")
        else:
            self.add("storage", "skipped", "no storage endpoint given (network_storage_host)", {})

    def judge(self, check: str, probes: list[dict], ok: str, bad: str) -> None:
        failures = winnet.failures(probes)
        detail = {"probes": probes, "failures": failures}
        if failures:
            self.add(check, "found", "%s: %s. NSG rules, routes and firewalls are platform changes: fix them there"
                     % (bad, net.describe(failures)), detail)
        else:
            self.add(check, "ok", ok, detail)

    def check_proxy(self) -> None:
        proxy, bypass = self.args["http_proxy"], self.args["http_proxy_bypass"]
        if not proxy:  # WinHTTP is left as it is; nothing to report, as on Linux without a proxy
            return
        # win_http_proxy reads, compares and sets WinHTTP's proxy in one call and honours check mode
        # itself, so it is sent in check mode too. What was there before comes only with --diff.
        answer = self._execute_module(module_name="ansible.windows.win_http_proxy", task_vars=self.task_vars,
                                      module_args={"proxy": proxy, "bypass": bypass or None})
        if answer.get("failed"):
            self.add("proxy", "failed", "setting the WinHTTP proxy to %s failed: %s" % (proxy, answer.get("msg")), {"proxy": proxy})
            return
        before = (answer.get("diff") or {}).get("before")
        detail = {"proxy": proxy, "bypass": bypass, "before": before}
        if not answer.get("changed"):
            self.add("proxy", "ok", "WinHTTP uses proxy %s" % proxy, detail)
            return
        self.changed = True
        was = ""
        if before is not None:
            was = " (was %s)" % _proxy_words(before)
            self.diff("WinHTTP proxy", _proxy_words(before) + "\n", _proxy_words({"proxy": proxy, "bypass": bypass}) + "\n")
        verb = "would be set to" if self.check_mode else "set to"
        self.add("proxy", self.fixed_or_found(), "WinHTTP proxy %s %s%s" % (verb, proxy, was), detail)


def _proxy_words(setting: dict) -> str:
    """'proxy p:3128, bypass <local>' or 'direct access', from win_http_proxy's diff or our arguments."""
    if not setting.get("proxy"):
        return "direct access"
    bypass = setting.get("bypass")
    bypass = ";".join(bypass) if isinstance(bypass, list) else bypass
    return "proxy %s%s" % (setting["proxy"], ", bypass %s" % bypass if bypass else "")
