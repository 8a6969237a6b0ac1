# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_CONNECTIVITY's decisions: which endpoints to probe, and what the proxy settings of the agent's SYSTEM account say.

Article 004 (and the MARS install article's "Verify internet access") lists what the agent must reach: the URL
www.msftncsi.com, the wildcard domains *.Microsoft.com, *.WindowsAzure.com, *.microsoftonline.com and
*.windows.net, and the IP ranges 20.190.128.0/18 and 40.126.0.0/18. A wildcard cannot be probed, so the
defaults are concrete names: www.msftncsi.com (the article's one concrete name) and login.microsoftonline.com
(Microsoft Entra ID's sign-in, a name of *.microsoftonline.com whose addresses are the two ranges, per
Microsoft 365's "URLs and IP address ranges", ID 56).

The proxy is reported, never set: the WinHTTP proxy has one owner, NETWORK (network_http_proxy_*). Article 004
("Verifying proxy settings for Windows") has SYSTEM's Internet Explorer LAN settings checked (psexec -s): WinINet
keeps them in SYSTEM's DefaultConnectionSettings. The agent's own proxy (Set-OBMachineSetting -ProxyServer) has no
documented place to read it from, so it is not read.
"""

from __future__ import annotations

import re

DEFAULT_PORT = 443
DEFAULT_ENDPOINTS = ["www.msftncsi.com", "login.microsoftonline.com"]
# What the article asks to allow, for the finding's remedy.
ARTICLE_URLS = "www.msftncsi.com, *.Microsoft.com, *.WindowsAzure.com, *.microsoftonline.com, *.windows.net"
ARTICLE_RANGES = "20.190.128.0/18, 40.126.0.0/18"

_ENDPOINT = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?")


def endpoint(text: str) -> str:
    """'host:port' of ``host`` or ``host:port`` (443 when no port is given); ValueError for anything else,
    a wildcard above all: it names no machine to connect to."""
    text = str(text).strip()
    if "*" in text:
        raise ValueError("%s is a wildcard: it cannot be probed; name a concrete host under it" % text)
    match = _ENDPOINT.fullmatch(text)
    port = int(match.group(2)) if match and match.group(2) else DEFAULT_PORT
    if not match or not 1 <= port <= 65535:
        raise ValueError("%s is not a host or host:port (port 1 to 65535)" % text)
    return "%s:%d" % (match.group(1), port)


def endpoints(texts) -> list[str]:
    """Every endpoint as host:port, in the given order, each once."""
    out = []
    for text in texts:
        one = endpoint(text)
        if one.lower() not in (e.lower() for e in out):
            out.append(one)
    return out


def _same(a, b) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def proxy_differs(current: dict, proxy: str, bypass) -> bool:
    """Whether WinHTTP (``current``: proxy and bypass as read) differs from ``proxy`` and ``bypass``, compared as
    win_http_proxy compares them: case-insensitive, the bypass list joined with ';', empty meaning none."""
    bypass = ";".join(bypass or []) if isinstance(bypass, (list, tuple)) else bypass
    return not (_same(current.get("proxy"), proxy) and _same(current.get("bypass") if current.get("proxy") else "", bypass if proxy else ""))


# DefaultConnectionSettings flags (the layout WinHttpSettings shares; not documented by Microsoft, read as the
# Internet Options dialog writes it): 2 a named proxy, 4 an automatic configuration script, 8 automatic detection.
PROXY_FLAG, SCRIPT_FLAG, DETECT_FLAG = 2, 4, 8


def wininet_words(setting: dict | None) -> str:
    """SYSTEM's LAN settings in words: 'proxy p:3128, bypass <local>', 'script http://..', 'automatic detection',
    joined with '; ', or 'direct access' (also when SYSTEM has no value at all)."""
    setting = setting or {}
    flags = int(setting.get("flags") or 0)
    words = []
    if flags & PROXY_FLAG and setting.get("proxy"):
        words.append("proxy %s" % setting["proxy"] + (", bypass %s" % setting["bypass"] if setting.get("bypass") else ""))
    if flags & SCRIPT_FLAG and setting.get("autoconfig_url"):
        words.append("script %s" % setting["autoconfig_url"])
    if flags & DETECT_FLAG:
        words.append("automatic detection")
    return "; ".join(words) or "direct access"


def wininet_uses_proxy(setting: dict | None) -> bool:
    """A named proxy or a script. Automatic detection alone is not counted: it is on in a new profile by default and,
    with no WPAD server to find, means direct access."""
    setting = setting or {}
    flags = int(setting.get("flags") or 0)
    return bool((flags & PROXY_FLAG and setting.get("proxy")) or (flags & SCRIPT_FLAG and setting.get("autoconfig_url")))


def stale_details(setting: dict | None) -> str:
    """A proxy typed into SYSTEM's LAN settings but not turned on: article 004 says to remove such details."""
    setting = setting or {}
    if setting.get("proxy") and not int(setting.get("flags") or 0) & PROXY_FLAG:
        return setting["proxy"]
    return ""


def system_differs(winhttp: dict, wininet: dict | None) -> bool:
    """Whether SYSTEM's WinINet settings and WinHTTP send the agent different ways: another proxy or bypass list, or
    a script that WinHTTP does not use (automatic detection alone is not counted, see wininet_uses_proxy). SYSTEM
    without the value (never set, the default) is not compared: there is nothing there to correct."""
    if wininet is None:
        return False
    flags = int(wininet.get("flags") or 0)
    if flags & SCRIPT_FLAG and wininet.get("autoconfig_url"):
        return True
    named = wininet.get("proxy") if flags & PROXY_FLAG else ""
    return proxy_differs(winhttp, named or "", (wininet.get("bypass") or "") if named else "")
