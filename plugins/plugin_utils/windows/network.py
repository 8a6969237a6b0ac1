# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Network from a Windows VM (causes NETWORK and MARS_CONNECTIVITY): the TCP probe both read scripts run, the
probes' outcomes in the words the Linux side uses, and setting WinHTTP's proxy through win_http_proxy."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

# PowerShell functions a read script puts after its param block: Test-TcpEndpoint opens a TCP connection to
# each host:port from the VM, all at once, within the timeout in all. Errors are .NET SocketError names, the
# same on every Windows language.
TEST_TCP = r"""
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

function Test-TcpEndpoint {
    # Every endpoint (host:port) at once, within TimeoutMs in all: one entry per endpoint, error_code '' when it connected.
    param([string[]]$Endpoints, [int]$TimeoutMs)
    # Start every connection first, then wait: the slowest endpoint, not their sum, bounds the time.
    $pending = @(foreach ($endpoint in $Endpoints) {
            $hostName, $port = $endpoint -split ':(?=\d+$)'
            $client = [System.Net.Sockets.TcpClient]::new()
            @{ endpoint = $endpoint; client = $client; task = $client.ConnectAsync($hostName, [int]$port) }
        })
    $deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMs)
    @(foreach ($probe in $pending) {
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
}
"""

# .NET's SocketError names (the same on every Windows language) -> the kinds _network.describe prints.
# AccessDenied is what the guest agent logs when a local firewall rule forbids the wireserver
# ("An attempt was made to access a socket in a way forbidden by its access permissions").
_KINDS = {
    "ConnectionRefused": "refused",
    "TimedOut": "timeout",
    "HostNotFound": "dns",
    "NoData": "dns",
    "TryAgain": "dns",
    "NetworkUnreachable": "unreachable",
    "HostUnreachable": "unreachable",
    "NetworkDown": "unreachable",
    "AccessDenied": "blocked",
    "ConnectionReset": "closed",
}


def kind(socket_error: str | None) -> str:
    """'refused' for 'ConnectionRefused'; 'ok' for no error; 'error' for a SocketError not listed."""
    if not socket_error:
        return "ok"
    return _KINDS.get(socket_error, "error")


def failures(probes: list[dict]) -> list[dict]:
    """The probes that failed, as {endpoint, kind, error}."""
    out = []
    for probe in probes:
        how = kind(probe.get("error_code"))
        if how != "ok":
            out.append({"endpoint": probe["endpoint"], "kind": how, "error": probe.get("error") or probe.get("error_code")})
    return out


class WinHttpProxySetter:
    """For a WinCauseAction: sets WinHTTP's proxy (what ``netsh winhttp show proxy`` shows, the machine's and the
    SYSTEM account's) with ansible.windows.win_http_proxy, which compares and sets in one call."""

    def set_winhttp_proxy(self, change: Change, proxy: str, bypass: list) -> Step:
        """The Change's apply: ``fixed`` with what it replaced, or ``ok`` when win_http_proxy found it set already."""
        answer = self.apply("win_http_proxy", "setting the WinHTTP proxy to %s" % proxy, proxy=proxy, bypass=bypass or None)
        detail, before, diff = proxy_answer(answer, proxy, bypass)
        change.diff = diff or change.diff
        if not answer.get("changed"):
            return Step("proxy", "ok", "WinHTTP uses proxy %s" % proxy, detail)
        return Step("proxy", "fixed", "WinHTTP proxy set to %s%s" % (proxy, " (was %s)" % before if before else ""), detail)


def proxy_answer(answer: dict, proxy: str, bypass: list) -> tuple:
    """win_http_proxy's answer: the finding's detail, the proxy before in words and the --diff entry (those two
    only when it said what was there, with --diff)."""
    before = (answer.get("diff") or {}).get("before")
    detail = {"proxy": proxy, "bypass": bypass, "before": before}
    if before is None:
        return detail, None, None
    return (detail, proxy_words(before),
            text_diff("WinHTTP proxy", proxy_words(before) + "\n", proxy_words({"proxy": proxy, "bypass": bypass}) + "\n"))


def proxy_words(setting: dict) -> str:
    """'proxy p:3128, bypass <local>' or 'direct access', from win_http_proxy's diff, a read or our arguments."""
    if not setting.get("proxy"):
        return "direct access"
    bypass = setting.get("bypass")
    bypass = ";".join(bypass) if isinstance(bypass, list) else bypass
    return "proxy %s%s" % (setting["proxy"], ", bypass %s" % bypass if bypass else "")
