# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_CONNECTIVITY's decisions: which endpoints to probe, and whether WinHTTP's proxy is the one the inventory names.

Article 004 (and the MARS install article's "Verify internet access") lists what the agent must reach: the URL
www.msftncsi.com, the wildcard domains *.Microsoft.com, *.WindowsAzure.com, *.microsoftonline.com and
*.windows.net, and the IP ranges 20.190.128.0/18 and 40.126.0.0/18. A wildcard cannot be probed, so the
defaults are concrete names: www.msftncsi.com (the article's one concrete name) and login.microsoftonline.com
(Microsoft Entra ID's sign-in, a name of *.microsoftonline.com whose addresses are the two ranges, per
Microsoft 365's "URLs and IP address ranges", ID 56).
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


def proxy_differs(current: dict, proxy: str, bypass: list) -> bool:
    """Whether WinHTTP (``current``: proxy and bypass as read) differs from ``proxy`` and ``bypass``, compared as
    win_http_proxy compares them: case-insensitive, the bypass list joined with ';', empty meaning none."""
    def same(a, b) -> bool:
        return (a or "").lower() == (b or "").lower()
    return not (same(current.get("proxy"), proxy) and same(current.get("bypass"), ";".join(bypass or [])))
