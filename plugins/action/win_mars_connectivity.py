# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_CONNECTIVITY: from the VM, the MARS agent's service endpoints accept TCP connections (article 004, ID
100050 "unable to connect to Microsoft Azure Backup" and 34513's proxy/firewall row); the WinHTTP proxy, which
the agent's SYSTEM account uses, is reported, and set when the inventory names one (as NETWORK sets it)."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_connectivity as conn
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import network as winnet
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

READ = r"""#azure_backup.remediation/mars_connectivity.read
# The MARS agent, the machine's WinHTTP proxy, and a TCP connection from the VM to each endpoint, all at once
# within the timeout. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Endpoints,
    [int]$TimeoutMs
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + winnet.TEST_TCP + r"""
# What netsh winhttp show proxy prints, read from where WinHTTP keeps it rather than from netsh's localised text:
# WinHttpSettings holds a DWORD version, a DWORD counter, DWORD flags (2 = a named proxy is used), then the proxy
# and the bypass list, each as a DWORD length and that many ASCII bytes. No value at all: direct access.
function Get-WinHttpProxy {
    $connections = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'
    $key = Get-ItemProperty -LiteralPath $connections -Name WinHttpSettings -ErrorAction SilentlyContinue
    if (-not $key) {
        return @{ proxy = ''; bypass = ''; flags = 1 }
    }
    [byte[]]$raw = $key.WinHttpSettings
    $flags = [BitConverter]::ToUInt32($raw, 8)
    $proxyLength = [BitConverter]::ToInt32($raw, 12)
    $proxy = [System.Text.Encoding]::ASCII.GetString($raw, 16, $proxyLength)
    $bypassLength = [BitConverter]::ToInt32($raw, 16 + $proxyLength)
    $bypass = [System.Text.Encoding]::ASCII.GetString($raw, 20 + $proxyLength, $bypassLength)
    if (-not ($flags -band 2)) {
        $proxy = ''
        $bypass = ''
    }
    @{ proxy = $proxy; bypass = $bypass; flags = $flags }
}

$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    $Ansible.Result.winhttp = Get-WinHttpProxy
    $Ansible.Result.tcp = @(Test-TcpEndpoint -Endpoints $Endpoints -TimeoutMs $TimeoutMs)
}
"""

PURPOSE = "the MARS agent's endpoints and WinHTTP's proxy"


class ActionModule(winnet.WinHttpProxySetter, mars.MarsCauseAction):
    CAUSE = "MARS_CONNECTIVITY"
    ARGUMENT_SPEC = {
        "endpoints": {"type": "list", "elements": "str", "default": list(conn.DEFAULT_ENDPOINTS)},
        "timeout": {"type": "float", "default": 5},
        "http_proxy": {"type": "str", "default": ""},
        "http_proxy_bypass": {"type": "list", "elements": "str", "default": []},
    }

    def parameters(self) -> dict:
        return {"Endpoints": conn.endpoints(self.args["endpoints"]), "TimeoutMs": int(self.args["timeout"] * 1000)}

    def first_read(self) -> tuple | None:
        try:
            return READ, PURPOSE, self.parameters()
        except ValueError:
            return None  # steps() says why

    def steps(self):
        try:
            parameters = self.parameters()
        except ValueError as exc:
            yield Step("endpoints", "failed", "%s on %s: mars_agent_endpoints: %s. Nothing was read or changed." % (self.CAUSE, self.host, exc), {})
            return
        state = self.read(READ, PURPOSE, **parameters)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        winhttp = state.get("winhttp") or {}
        yield self.proxy_step(winhttp)
        yield self.endpoints_step(state.get("tcp") or [], winhttp)

    def proxy_step(self, winhttp: dict) -> Step:
        """WinHTTP's proxy as read: reported, or compared with the one the inventory names and set to it."""
        proxy, bypass = self.args["http_proxy"], self.args["http_proxy_bypass"]
        now = winnet.proxy_words(winhttp)
        detail = {"winhttp": {"proxy": winhttp.get("proxy") or "", "bypass": winhttp.get("bypass") or ""}}
        if not proxy:
            return Step("proxy", "ok", "WinHTTP (the proxy of the agent's SYSTEM account): %s; mars_agent_http_proxy names none, so it is "
                        "only reported" % now, detail)
        detail.update(proxy=proxy, bypass=bypass)
        if not conn.proxy_differs(winhttp, proxy, bypass):
            return Step("proxy", "ok", "WinHTTP uses proxy %s" % proxy, detail)
        diff = text_diff("WinHTTP proxy", now + "\n", winnet.proxy_words({"proxy": proxy, "bypass": bypass}) + "\n")
        change = Change("set WinHTTP's proxy to %s" % winnet.proxy_words({"proxy": proxy, "bypass": bypass}), None, diff)
        change.apply = lambda: self.set_winhttp_proxy(change, proxy, bypass)
        return Step("proxy", "found", "WinHTTP, which the agent's SYSTEM account uses, has %s, not proxy %s" % (now, proxy), detail, change=change)

    def endpoints_step(self, probes: list[dict], winhttp: dict) -> Step:
        failures = winnet.failures(probes)
        detail = {"probes": probes, "failures": failures}
        if not failures:
            return Step("endpoints", "ok", "%d MARS endpoints accept connections: %s" % (len(probes), ", ".join(p["endpoint"] for p in probes)), detail)
        through = (" The probes connect directly; the agent goes through WinHTTP's %s, so check them through it too."
                   % winnet.proxy_words(winhttp)) if winhttp.get("proxy") else ""
        return Step("endpoints", "found", "the MARS agent cannot reach %s (ID 100050).%s Firewalls, proxies, NSG rules and routes are "
                    "changed outside the VM: allow %s and the IP ranges %s on 443 (article 004)"
                    % (net.describe(failures), through, conn.ARTICLE_URLS, conn.ARTICLE_RANGES), detail)
