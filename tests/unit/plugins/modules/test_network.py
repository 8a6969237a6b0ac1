"""The network module against real servers on 127.0.0.1 only: an HTTP stand-in for the
wireserver, a TLS server for storage, a closed port. Name lookups that must fail are
simulated, so no test ever asks a real DNS server."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading

import pytest

from ansible.module_utils import basic
from ansible_collections.azure_backup.remediation.plugins.modules import network
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import CauseRun
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import network as _network

VERSIONS = b'<?xml version="1.0"?><Versions><Preferred><Version>2015-04-05</Version></Preferred></Versions>'


class Wireserver(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = VERSIONS if self.path == "/?comp=versions" else b"" if self.path == "/health" else None
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))

    def tls_loop():
        while True:
            conn, _addr = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    threading.Thread(target=tls_loop, daemon=True).start()
    ports = {"wire": serve(http.server.HTTPServer(("127.0.0.1", 0), Wireserver)),
             "health": serve(http.server.HTTPServer(("127.0.0.1", 0), Wireserver)),
             "tls": listener.getsockname()[1], "closed": closed_port(), "ca": str(tmp / "cert.pem")}
    yield ports
    listener.close()


def params(servers, tmp_path, **over):
    conf = tmp_path / "waagent.conf"
    if not conf.exists():
        conf.write_text("Extensions.Enabled=y\n")
    base = {"wireserver": "127.0.0.1", "wireserver_port": servers["wire"], "hostplugin_port": servers["health"],
            "storage_host": "localhost", "storage_ports": [servers["tls"]], "dns_names": ["localhost"],
            "timeout": 2, "ca_file": servers["ca"], "config_path": str(conf)}
    base.update(over)
    return base


def run(p):
    """The probes' Steps as the runner reports them."""
    return {f["check"]: f for f in CauseRun("NETWORK", check_mode=False).run(lambda: _network.Probe(p).run()).result()["findings"]}


def test_everything_reachable_is_ok(servers, tmp_path):
    found = run(params(servers, tmp_path))
    assert {k: f["status"] for k, f in found.items()} == {"dns": "ok", "wireserver": "ok", "storage": "ok"}
    assert "protocol 2015-04-05" in found["wireserver"]["summary"]


def test_refused_wireserver_names_endpoint_and_kind(servers, tmp_path):
    found = run(params(servers, tmp_path, hostplugin_port=servers["closed"]))
    assert found["wireserver"]["status"] == "found"
    assert "127.0.0.1:%d refused" % servers["closed"] in found["wireserver"]["summary"]


def test_untrusted_certificate_is_a_tls_failure(servers, tmp_path):
    found = run(params(servers, tmp_path, ca_file=None))
    assert found["storage"]["status"] == "found"
    assert found["storage"]["detail"]["failures"][0]["kind"] == "tls"


def test_a_web_server_that_is_not_the_wireserver_is_an_http_failure(servers, tmp_path):
    found = run(params(servers, tmp_path, wireserver_port=servers["health"], hostplugin_port=servers["health"]))
    assert found["wireserver"]["status"] == "ok"  # the same stand-in answers both paths
    bad = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    found = run(params(servers, tmp_path, wireserver_port=serve(bad)))
    assert found["wireserver"]["detail"]["failures"][0]["kind"] == "http"
    bad.shutdown()


def test_dns_failure(servers, tmp_path, monkeypatch):
    real = socket.getaddrinfo

    def lookup(name, *args, **kwargs):
        if name == "nowhere.blob.core.windows.net":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_network.socket, "getaddrinfo", lookup)
    found = run(params(servers, tmp_path, dns_names=["localhost", "nowhere.blob.core.windows.net"]))
    assert found["dns"]["status"] == "found" and "nowhere.blob.core.windows.net dns" in found["dns"]["summary"]


def test_the_agents_dead_proxy_is_found_and_storage_goes_through_it(servers, tmp_path):
    (tmp_path / "waagent.conf").write_text("HttpProxy.Host=127.0.0.1\nHttpProxy.Port=%d\n" % servers["closed"])
    found = run(params(servers, tmp_path))
    assert found["proxy"]["status"] == "found" and "refused" in found["proxy"]["summary"]
    assert found["storage"]["status"] == "found" and "through the proxy" in found["storage"]["summary"]
    assert found["wireserver"]["status"] == "ok"  # the wireserver is reached directly, as the agent does


def test_no_storage_endpoint_is_skipped(servers, tmp_path):
    assert run(params(servers, tmp_path, storage_host=""))["storage"]["status"] == "skipped"


def test_the_proxy_the_inventory_names_is_set_before_the_checks_in_one_execution(servers, tmp_path, run_module, monkeypatch):
    """The dead proxy is replaced (backup kept) and the checks already go through the new one, found dead too:
    on loopback no proxy runs, so the point is the order, and that check mode changes nothing."""
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: None)  # no agent to restart here
    conf = tmp_path / "waagent.conf"
    conf.write_text("HttpProxy.Host=10.9.9.9\nHttpProxy.Port=3129\n")
    args = dict(params(servers, tmp_path), http_proxy_host="127.0.0.1", http_proxy_port=servers["closed"])
    checked = run_module(network.main, args, check_mode=True)
    assert {f["check"]: f["status"] for f in checked["findings"]}["config_httpproxy_host"] == "found"
    assert conf.read_text() == "HttpProxy.Host=10.9.9.9\nHttpProxy.Port=3129\n"
    result = run_module(network.main, args)
    found = {f["check"]: f for f in result["findings"]}
    assert found["config_httpproxy_host"]["status"] == "fixed" and found["config_httpproxy_port"]["status"] == "fixed"
    assert conf.read_text() == "HttpProxy.Host=127.0.0.1\nHttpProxy.Port=%d\n" % servers["closed"]
    assert found["proxy"]["detail"]["endpoint"] == "127.0.0.1:%d" % servers["closed"] and result["changed"]
    assert len(list(tmp_path.glob("waagent.conf.*~"))) == 1


def test_storage_ports_are_probed_at_once(servers, tmp_path):
    """Each server holds its handshake until both ports have a client: probed one after the other,
    the first would time out waiting for the second. No timing is asserted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(servers["ca"], servers["ca"].replace("cert.pem", "key.pem"))
    both = threading.Barrier(2, timeout=10)
    listeners = [socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))]

    def serve_once(listener):
        conn, _addr = listener.accept()
        try:
            both.wait()
            with context.wrap_socket(conn, server_side=True):
                pass
        except (threading.BrokenBarrierError, ssl.SSLError, OSError):
            conn.close()

    for listener in listeners:
        threading.Thread(target=serve_once, args=(listener,), daemon=True).start()
    found = run(params(servers, tmp_path, storage_ports=[l.getsockname()[1] for l in listeners], timeout=2))
    assert found["storage"]["status"] == "ok", found["storage"]
    for listener in listeners:
        listener.close()


def test_a_proxy_setting_that_cannot_be_written_is_one_failed_finding_and_the_probes_still_run(servers, tmp_path, run_module, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: None)
    conf = tmp_path / "waagent.conf"
    conf.write_text("Extensions.Enabled=y\n")
    if subprocess.run(["chattr", "+i", str(conf)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i does not work here")
    try:
        result = run_module(network.main, dict(params(servers, tmp_path), http_proxy_host="127.0.0.1", http_proxy_port=servers["closed"]))
    finally:
        subprocess.run(["chattr", "-i", str(conf)], check=True)
    found = {f["check"]: f for f in result["findings"]}
    assert [f["check"] for f in result["findings"] if f["status"] == "failed"] == ["config_httpproxy_host"]
    assert found["config_httpproxy_host"]["id"] == "NETWORK" and "immutable (chattr +i)" in found["config_httpproxy_host"]["summary"]
    assert {found[c]["status"] for c in ("dns", "wireserver", "storage")} == {"ok"}
    assert result["failed"] and conf.read_text() == "Extensions.Enabled=y\n" and len(list(tmp_path.iterdir())) == 1
