from __future__ import annotations

import errno
import socket
import ssl

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net

# The wireserver's answer to GET /?comp=versions, as the fleet's stand-in serves it.
VERSIONS = ('<?xml version="1.0" encoding="utf-8"?><Versions><Preferred><Version>2015-04-05</Version></Preferred>'
            '<Supported><Version>2015-04-05</Version><Version>2012-11-30</Version></Supported></Versions>')


@pytest.mark.parametrize("exc, kind", [
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (socket.timeout("timed out"), "timeout"),
    (TimeoutError(), "timeout"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "refused"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
    (ssl.SSLCertVerificationError("certificate verify failed"), "tls"),
    (ConnectionResetError(), "closed"),
    (OSError(errno.EPERM, "Operation not permitted"), "error"),
])
def test_classify(exc, kind):
    assert net.classify(exc) == kind


def test_preferred_version():
    assert net.preferred_version(VERSIONS) == "2015-04-05"
    assert net.preferred_version("<html>proxy error</html>") is None


def test_describe_says_endpoint_and_kind():
    assert net.describe([{"endpoint": "10.0.0.1:80", "kind": "refused"},
                         {"endpoint": "s.blob.core.windows.net:443", "kind": "tls", "error": "certificate verify failed"}]) \
        == "10.0.0.1:80 refused, s.blob.core.windows.net:443 tls (certificate verify failed)"
