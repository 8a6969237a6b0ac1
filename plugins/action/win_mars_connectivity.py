# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_CONNECTIVITY: from the VM, the MARS agent's service endpoints accept TCP connections (article 004, ID
100050 "unable to connect to Microsoft Azure Backup" and 34513's proxy/firewall row); the proxies of the agent's
SYSTEM account are reported: the machine's WinHTTP proxy and SYSTEM's Internet Explorer LAN settings (WinINet).
Nothing is set: the WinHTTP proxy is NETWORK's (network_http_proxy_*), so two causes never fight over it."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_connectivity as conn
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import network as winnet

READ = r"""#azure_backup.remediation/mars_connectivity.read
# The MARS agent, the machine's WinHTTP proxy, SYSTEM's Internet Explorer LAN settings, and a TCP connection from
# the VM to each endpoint, all at once within the timeout. Reads only.
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

# SYSTEM's LAN settings (what article 004 has checked with psexec -s): WinINet's DefaultConnectionSettings under
# S-1-5-18 starts as WinHttpSettings does, then holds the automatic configuration script's URL the same way. The
# strings are kept whatever the flags say: a proxy typed in but not turned on is reported too. No value: $null.
function Get-SystemWinInetProxy {
    $connections = 'Registry::HKEY_USERS\S-1-5-18\Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'
    $key = Get-ItemProperty -LiteralPath $connections -Name DefaultConnectionSettings -ErrorAction SilentlyContinue
    if (-not $key) {
        return $null
    }
    [byte[]]$raw = $key.DefaultConnectionSettings
    $strings = @()
    $offset = 12
    foreach ($index in 1..3) {
        $length = 0
        if ($raw.Length -ge $offset + 4) {
            $length = [BitConverter]::ToInt32($raw, $offset)
        }
        if ($length -lt 0 -or $raw.Length -lt $offset + 4 + $length) {
            $length = 0
        }
        $strings += [System.Text.Encoding]::ASCII.GetString($raw, $offset + 4, $length)
        $offset += 4 + $length
    }
    @{ flags = [BitConverter]::ToUInt32($raw, 8); proxy = $strings[0]; bypass = $strings[1]; autoconfig_url = $strings[2] }
}

$agent = Get-MarsAgent
$Ansible.Result = @{ agent = $agent }
if ($agent.installed) {
    $Ansible.Result.winhttp = Get-WinHttpProxy
    $Ansible.Result.wininet = Get-SystemWinInetProxy
    $Ansible.Result.tcp = @(Test-TcpEndpoint -Endpoints $Endpoints -TimeoutMs $TimeoutMs)
}
"""

PURPOSE = "the MARS agent's endpoints and its SYSTEM account's proxies"


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_CONNECTIVITY"
    ARGUMENT_SPEC = {
        "endpoints": {"type": "list", "elements": "str", "default": list(conn.DEFAULT_ENDPOINTS)},
        "timeout": {"type": "float", "default": 5},
        # NETWORK's proxy (network_http_proxy_*), when NETWORK runs too: only to say who sets WinHTTP.
        "network_http_proxy": {"type": "str", "default": ""},
        "network_http_proxy_bypass": {"type": "list", "elements": "str", "default": []},
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
        winhttp, wininet = state.get("winhttp") or {}, state.get("wininet")
        yield self.proxy_step(winhttp, wininet)
        yield self.endpoints_step(state.get("tcp") or [], winhttp, wininet)

    def proxy_step(self, winhttp: dict, wininet: dict | None) -> Step:
        """The SYSTEM account's proxies as read, reported only."""
        http = winnet.proxy_words(winhttp)
        lan = conn.wininet_words(wininet)
        named, named_bypass = self.args["network_http_proxy"], self.args["network_http_proxy_bypass"]
        detail = {"winhttp": {"proxy": winhttp.get("proxy") or "", "bypass": winhttp.get("bypass") or ""}, "wininet": wininet,
                  "network_http_proxy": named, "network_http_proxy_bypass": named_bypass}
        both = "WinHTTP (machine): %s; SYSTEM's Internet Explorer LAN settings (WinINet): %s" % (http, lan)
        problems = []
        if named and conn.proxy_differs(winhttp, named, named_bypass):
            problems.append("WinHTTP is not %s: NETWORK sets it (network_http_proxy_host)"
                            % winnet.proxy_words({"proxy": named, "bypass": named_bypass}))
        if conn.system_differs(winhttp, wininet):
            problems.append("the two differ, so the agent's connections may go either way: make SYSTEM's LAN settings (psexec -i -s, "
                            "article 004) and WinHTTP (network_http_proxy_host) name the same proxy")
        stale = conn.stale_details(wininet)
        if stale:
            problems.append("SYSTEM's LAN settings hold proxy %s but do not use a proxy: article 004 says to remove such details "
                            "(psexec -i -s, Internet Options, LAN settings)" % stale)
        if not problems:
            return Step("proxy", "ok", "the agent's SYSTEM account: %s; reported only (NETWORK sets WinHTTP)" % both, detail)
        return Step("proxy", "found", "the agent's SYSTEM account: %s. %s. Nothing is changed here" % (both, "; ".join(problems)),
                    detail, severity="warning")

    def endpoints_step(self, probes: list[dict], winhttp: dict, wininet: dict | None) -> Step:
        failures = winnet.failures(probes)
        detail = {"probes": probes, "failures": failures}
        if not failures:
            return Step("endpoints", "ok", "%d MARS endpoints accept connections: %s" % (len(probes), ", ".join(p["endpoint"] for p in probes)), detail)
        proxies = [w for w in (("WinHTTP's " + winnet.proxy_words(winhttp)) if winhttp.get("proxy") else "",
                               ("SYSTEM's LAN settings' " + conn.wininet_words(wininet)) if conn.wininet_uses_proxy(wininet) else "") if w]
        detail["proxy_in_use"] = bool(proxies)
        if proxies:
            # Where only the proxy may go out, a direct connection failing is expected and proves nothing.
            return Step("endpoints", "found", "direct connections to %s failed, which is expected where the agent goes through %s and only "
                        "the proxy may go out: check that the proxy lets the agent reach %s and the IP ranges %s on 443 (article 004)"
                        % (net.describe(failures), " and ".join(proxies), conn.ARTICLE_URLS, conn.ARTICLE_RANGES), detail, severity="warning")
        return Step("endpoints", "found", "the MARS agent cannot reach %s (ID 100050). Firewalls, proxies, NSG rules and routes are "
                    "changed outside the VM: allow %s and the IP ranges %s on 443 (article 004)"
                    % (net.describe(failures), conn.ARTICLE_URLS, conn.ARTICLE_RANGES), detail)
