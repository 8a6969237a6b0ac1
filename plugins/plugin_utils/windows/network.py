# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Network from a Windows VM (cause NETWORK): the probes' outcomes in the words the Linux side uses."""

from __future__ import annotations

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
