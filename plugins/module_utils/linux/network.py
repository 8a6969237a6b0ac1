# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""NETWORK on the VM: the agent's proxy in waagent.conf (the same config Steps as LINUX_AGENT's), then
the probes (DNS, wireserver, storage TLS, the proxy) as Steps, run in parallel."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import socket
import ssl

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import agent_config as _config
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import waagent_conf as conf
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause


class Network(LinuxCause):
    """The VM reaches what Azure Backup needs, through the proxy the agent is told to use."""

    ID = "NETWORK"
    ARGUMENT_SPEC = dict(
        net.ENDPOINT_ARGUMENT_SPEC,
        timeout={"type": "float", "default": 5},
        ca_file={"type": "path"},
        config_path={"type": "path", "default": "/etc/waagent.conf"},
        http_proxy_host={"type": "str", "default": ""},
        http_proxy_port={"type": "int", "default": 3128},
        backup={"type": "bool", "default": True},
    )

    def steps(self):
        p = self.params
        if p["http_proxy_host"]:
            # Before the probes, so they go the way the agent will.
            settings = {"HttpProxy.Host": p["http_proxy_host"], "HttpProxy.Port": str(p["http_proxy_port"])}

            def verify():
                return _config.agent_view(_config.probe_agent(self.module, p["config_path"]))

            written = yield from _config.AgentConfig(self.module, p["config_path"], p["backup"], cause=self.ID).steps(
                settings, verify=verify if _config.waagent_path(self.module) else None)
            if written is not None and written.done:
                running = _config.running_agent(self.module)
                if running:
                    yield _config.restart_step(self.module, p["config_path"], *running)
        yield from Probe(p).run()


class Probe:
    def __init__(self, params: dict) -> None:
        self.p = params
        self.proxy = self.agent_proxy()

    def agent_proxy(self) -> tuple | None:
        try:
            with open(self.p["config_path"], "rb") as handle:
                values = conf.effective(handle.read().decode("utf-8", "replace"))
        except OSError:
            return None
        host, port = values.get("HttpProxy.Host"), values.get("HttpProxy.Port")
        return (host, int(port)) if host and port and port.isdigit() else None

    def failure(self, endpoint: str, exc: BaseException) -> dict:
        kind = net.classify(exc)
        return {"endpoint": endpoint, "kind": kind, "error": str(exc) or type(exc).__name__}

    def dns(self) -> Step:
        names = list(self.p["dns_names"]) + ([self.p["storage_host"]] if self.p["storage_host"] else [])

        def resolve(name: str) -> tuple:
            try:
                return sorted({a[4][0] for a in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}), None
            except OSError as exc:
                return None, self.failure(name, exc)

        answers = dict(zip(names, parallel(resolve, names)))
        resolved = {name: addrs for name, (addrs, failure) in answers.items() if failure is None}
        failures = [failure for _addrs, failure in answers.values() if failure]
        detail = {"resolved": resolved, "failures": failures}
        if failures:
            return Step("dns", "found", "cannot resolve: %s" % net.describe(failures), detail)
        return Step("dns", "ok", "%d Azure names resolve" % len(names), detail)

    def wireserver(self) -> Step:
        ws, timeout, failures, seen = self.p["wireserver"], self.p["timeout"], [], {}

        def ask(target: tuple) -> tuple:
            port, path = target
            try:
                conn = http.client.HTTPConnection(ws, port, timeout=timeout)
                conn.request("GET", path, headers={"x-ms-version": "2012-11-30"})
                response = conn.getresponse()
                body = response.read(65536).decode("utf-8", "replace")
                conn.close()
                return response, body, None
            except (OSError, http.client.HTTPException) as exc:
                return None, None, self.failure("%s:%d" % (ws, port), exc)

        # The agent talks to the wireserver directly, never through the proxy.
        targets = [(self.p["wireserver_port"], "/?comp=versions"), (self.p["hostplugin_port"], "/health")]
        for (port, path), (response, body, failure) in zip(targets, parallel(ask, targets)):
            if failure:
                failures.append(failure)
                continue
            seen["%s:%d%s" % (ws, port, path)] = response.status
            versions = path == "/?comp=versions"
            if response.status != 200 or (versions and not net.preferred_version(body)):
                failures.append({"endpoint": "%s:%d%s" % (ws, port, path), "kind": "http", "error": "HTTP %d" % response.status})
            elif versions:
                seen["preferred_version"] = net.preferred_version(body)
        detail = {"answers": seen, "failures": failures, "as_root": os.geteuid() == 0}
        if failures:
            note = "" if detail["as_root"] else " (not run as root: the agent's firewall drops non-root traffic to the wireserver)"
            return Step("wireserver", "found", "wireserver unreachable: %s%s" % (net.describe(failures), note), detail)
        return Step("wireserver", "ok", "wireserver %s answers on %d and %d (protocol %s)"
                    % (ws, self.p["wireserver_port"], self.p["hostplugin_port"], seen.get("preferred_version")), detail)

    def connect(self, host: str, port: int) -> socket.socket:
        """A TCP connection to host:port, tunnelled through the agent's proxy when it has one."""
        timeout = self.p["timeout"]
        if not self.proxy:
            return socket.create_connection((host, port), timeout=timeout)
        sock = socket.create_connection(self.proxy, timeout=timeout)
        sock.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
        reply = sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]
        if " 200 " not in reply + " ":
            sock.close()
            raise http.client.HTTPException("proxy answered %r" % reply)
        return sock

    def storage(self) -> Step:
        host = self.p["storage_host"]
        if not host:
            return Step("storage", "skipped", "no storage endpoint given (network_storage_host)", {})
        context = ssl.create_default_context(cafile=self.p["ca_file"])

        def handshake(port: int) -> dict:
            endpoint = "%s:%d" % (host, port)
            try:
                with context.wrap_socket(self.connect(host, port), server_hostname=host) as tls:
                    return {"endpoint": endpoint, "tls": tls.version()}
            except OSError as exc:
                return dict(self.failure(endpoint, exc), failed=True)
            except http.client.HTTPException as exc:  # the proxy refused the tunnel
                return {"endpoint": endpoint, "kind": "http", "error": str(exc), "failed": True}

        answers = parallel(handshake, self.p["storage_ports"])
        ok = [a for a in answers if not a.get("failed")]
        failures = [{k: v for k, v in a.items() if k != "failed"} for a in answers if a.get("failed")]
        detail = {"reached": ok, "failures": failures, "via_proxy": "%s:%d" % self.proxy if self.proxy else None}
        if failures:
            via = " through the proxy" if self.proxy else ""
            return Step("storage", "found", "storage unreachable%s: %s" % (via, net.describe(failures)), detail)
        return Step("storage", "ok", "TLS to %s on %s" % (host, ", ".join(str(p) for p in self.p["storage_ports"])), detail)

    def proxy_check(self) -> Step | None:
        if not self.proxy:
            return None
        endpoint = "%s:%d" % self.proxy
        try:
            socket.create_connection(self.proxy, timeout=self.p["timeout"]).close()
        except OSError as exc:
            failure = self.failure(endpoint, exc)
            return Step("proxy", "found", "the agent's proxy %s (%s) %s: correct HttpProxy.Host/Port or the proxy"
                        % (endpoint, self.p["config_path"], failure["kind"]), failure)
        return Step("proxy", "ok", "the agent's proxy %s accepts connections" % endpoint, {"endpoint": endpoint})

    def run(self) -> list:
        """The probes' Steps, in a fixed order. Concurrently: a host with one dead endpoint waits one timeout, not one per endpoint."""
        found = parallel(lambda check: check(), [self.dns, self.wireserver, self.proxy_check, self.storage])
        return [step for step in found if step]


def parallel(work, items: list) -> list:
    """work(item) for every item at once, results in the order of items."""
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(work, items))
