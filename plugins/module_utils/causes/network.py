# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""NETWORK: name what went wrong with an endpoint, and read the wireserver's answer."""

from __future__ import annotations

import errno
import re
import socket
import ssl

# Public Azure defaults; every one of them is a module option, and tests point them at their own servers.
WIRESERVER = "168.63.129.16"
STORAGE_PORTS = (443, 8443)

# What the NETWORK checks reach, on Linux (the network module) and Windows (win_network) alike;
# documented once in the doc fragment azure_backup.remediation.network.
ENDPOINT_ARGUMENT_SPEC = {
    "wireserver": {"type": "str", "default": WIRESERVER},
    "wireserver_port": {"type": "int", "default": 80},
    "hostplugin_port": {"type": "int", "default": 32526},
    "storage_host": {"type": "str", "default": ""},
    "storage_ports": {"type": "list", "elements": "int", "default": list(STORAGE_PORTS)},
    "dns_names": {"type": "list", "elements": "str", "default": ["management.azure.com"]},
}


def classify(exc: BaseException) -> str:
    """One word for how a connection failed: dns, refused, timeout, unreachable, tls, closed, error."""
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "closed"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    return "error"


def preferred_version(xml: str) -> str | None:
    """The Preferred version of the wireserver's /?comp=versions answer, or None if it is not that document."""
    match = re.search(r"<Preferred>\s*<Version>([^<]+)</Version>", xml or "")
    return match.group(1).strip() if match else None


def describe(failures: list[dict]) -> str:
    """'10.0.0.1:80 refused, 10.0.0.1:32526 timeout after 5 s'."""
    return ", ".join("%s %s%s" % (f["endpoint"], f["kind"], " (%s)" % f["error"] if f.get("error") and f["kind"] in ("tls", "error", "http") else "")
                     for f in failures)
