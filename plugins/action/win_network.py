# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NETWORK on Windows: from the VM, Azure names resolve and the wireserver (80, 32526) and storage
(443, 8443) accept connections; the WinHTTP proxy is set when the inventory names one."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import network as winnet
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
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

""" + winnet.TEST_TCP + r"""
$dns = @(foreach ($name in $Names) {
        try {
            $addresses = [System.Net.Dns]::GetHostAddresses($name) | ForEach-Object { $_.IPAddressToString }
            @{ endpoint = $name; addresses = @($addresses); error_code = '' }
        }
        catch {
            (Get-SocketError -Exception $_.Exception) + @{ endpoint = $name }
        }
    })

$tcp = @(Test-TcpEndpoint -Endpoints $Endpoints -TimeoutMs $TimeoutMs)

$Ansible.Result = @{ dns = $dns; tcp = $tcp }
"""


class ActionModule(winnet.WinHttpProxySetter, WinCauseAction):
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

    def steps(self):
        # The proxy is this cause's one fix. The probes below connect directly, not through WinHTTP's
        # proxy: they say whether the VM itself reaches Azure (the wireserver is never proxied).
        if self.args["http_proxy"]:  # otherwise WinHTTP is left as it is; nothing to report, as on Linux without a proxy
            yield self.proxy_step()
        a = self.args
        wireserver = ["%s:%d" % (a["wireserver"], p) for p in (a["wireserver_port"], a["hostplugin_port"])]
        storage = ["%s:%d" % (a["storage_host"], p) for p in a["storage_ports"]] if a["storage_host"] else []
        names = list(a["dns_names"]) + ([a["storage_host"]] if a["storage_host"] else [])
        state = self.read(READ, "the way to Azure", Names=names, Endpoints=wireserver + storage, TimeoutMs=int(a["timeout"] * 1000))
        dns, tcp = state.get("dns") or [], state.get("tcp") or []
        yield self.judge("dns", dns, "%d Azure names resolve" % len(names), "cannot resolve")
        yield self.judge("wireserver", [p for p in tcp if p["endpoint"] in wireserver], "wireserver %s accepts connections on %d and %d"
                         % (a["wireserver"], a["wireserver_port"], a["hostplugin_port"]), "wireserver unreachable")
        if storage:
            yield self.judge("storage", [p for p in tcp if p["endpoint"] in storage], "storage %s accepts connections on %s"
                             % (a["storage_host"], ", ".join(str(p) for p in a["storage_ports"])), "storage unreachable")
        else:
            yield Step("storage", "skipped", "no storage endpoint given (network_storage_host)", {})

    @staticmethod
    def judge(check: str, probes: list[dict], ok: str, bad: str) -> Step:
        failures = winnet.failures(probes)
        detail = {"probes": probes, "failures": failures}
        if failures:
            return Step(check, "found", "%s: %s. NSG rules, routes and firewalls are platform changes: fix them there"
                        % (bad, net.describe(failures)), detail)
        return Step(check, "ok", ok, detail)

    def proxy_step(self) -> Step:
        """win_http_proxy reads, compares and sets WinHTTP's proxy in one call and honours check mode itself: in
        check mode it is the read; otherwise the Change sends it once and its answer says whether it changed
        anything. What was there before comes only with --diff."""
        proxy = self.args["http_proxy"]
        if not self.check_mode:
            change = Change("set WinHTTP's proxy to it", None)
            change.apply = lambda: self.set_winhttp_proxy(change, proxy, self.args["http_proxy_bypass"])
            return Step("proxy", "found", "the inventory names WinHTTP proxy %s" % proxy, {"proxy": proxy}, change=change)
        answer = self._execute_module(module_name="ansible.windows.win_http_proxy", task_vars=self.task_vars,
                                      module_args={"proxy": proxy, "bypass": self.args["http_proxy_bypass"] or None})
        if answer.get("failed"):
            return Step("proxy", "failed", "setting the WinHTTP proxy to %s failed: %s" % (proxy, answer.get("msg")), {"proxy": proxy})
        detail, before, diff = winnet.proxy_answer(answer, proxy, self.args["http_proxy_bypass"])
        if not answer.get("changed"):
            return Step("proxy", "ok", "WinHTTP uses proxy %s" % proxy, detail)
        now = " (it uses %s)" % before if before else ""
        return Step("proxy", "found", "WinHTTP does not use proxy %s%s" % (proxy, now), detail, change=Change("set it", None, diff))
