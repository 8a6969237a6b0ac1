#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Check that a Linux VM reaches what Azure Backup needs, set the agent's proxy (cause NETWORK)
version_added: 0.1.0
description:
  - From the VM itself, checks name resolution of the Azure names, TCP to the wireserver on ports 80 and 32526,
    its C(/?comp=versions) answer and the host plugin's C(/health), and a TLS connection to the storage endpoint
    on ports 443 and 8443 (managed disks), through the agent's HTTP proxy when C(/etc/waagent.conf) names one.
  - Every failure says which endpoint and how it failed (dns, refused, timeout, unreachable, tls, http).
  - Run it as root, as the agent runs; with C(OS.EnableFirewall=y) the agent drops other users' traffic to the wireserver.
  - When O(http_proxy_host) is given, first sets C(HttpProxy.Host) and C(HttpProxy.Port) in O(config_path), editing only
    those lines (backup kept), and restarts a running agent if the file changed; the checks then go through that proxy.
    Everything else is reported. NSG rules, routes and firewalls are platform changes.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  timeout:
    description: Seconds each connection may take.
    type: float
    default: 5
  ca_file:
    description: CA bundle to verify the storage endpoint with; the system's when not set.
    type: path
  config_path:
    description: The agent configuration, read for C(HttpProxy.Host) and C(HttpProxy.Port).
    type: path
    default: /etc/waagent.conf
  http_proxy_host:
    description: The HTTP proxy the agent must use. Set in O(config_path) when given; left alone when empty.
    type: str
    default: ""
  http_proxy_port:
    description: The port of O(http_proxy_host).
    type: int
    default: 3128
  backup:
    description: Keep a copy of O(config_path) before setting the proxy in it.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.network
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the VM's way to Azure
  azure_backup.remediation.network:
    storage_host: mystorageaccount.blob.core.windows.net

- name: Point the agent at the proxy, then check through it
  azure_backup.remediation.network:
    storage_host: mystorageaccount.blob.core.windows.net
    http_proxy_host: proxy.corp.example
    http_proxy_port: 3128
"""

RETURN = r"""
findings:
  description:
    - The checks C(dns), C(wireserver), C(storage) and, when the agent uses one, C(proxy); with O(http_proxy_host)
      also C(config_httpproxy_host) and C(config_httpproxy_port).
  returned: always
  type: list
  elements: dict
"""

import concurrent.futures
import http.client
import os
import socket
import ssl

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import network as net
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import waagent_conf as conf
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.agent_config import AgentConfig
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding


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

    def dns(self) -> dict:
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
            return finding("NETWORK", "dns", "found", "cannot resolve: %s" % net.describe(failures), detail)
        return finding("NETWORK", "dns", "ok", "%d Azure names resolve" % len(names), detail)

    def wireserver(self) -> dict:
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
            return finding("NETWORK", "wireserver", "found", "wireserver unreachable: %s%s" % (net.describe(failures), note), detail)
        return finding("NETWORK", "wireserver", "ok", "wireserver %s answers on %d and %d (protocol %s)"
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

    def storage(self) -> dict:
        host = self.p["storage_host"]
        if not host:
            return finding("NETWORK", "storage", "skipped", "no storage endpoint given (network_storage_host)", {})
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
            return finding("NETWORK", "storage", "found", "storage unreachable%s: %s" % (via, net.describe(failures)), detail)
        return finding("NETWORK", "storage", "ok", "TLS to %s on %s" % (host, ", ".join(str(p) for p in self.p["storage_ports"])), detail)

    def proxy_check(self) -> dict | None:
        if not self.proxy:
            return None
        endpoint = "%s:%d" % self.proxy
        try:
            socket.create_connection(self.proxy, timeout=self.p["timeout"]).close()
        except OSError as exc:
            failure = self.failure(endpoint, exc)
            return finding("NETWORK", "proxy", "found", "the agent's proxy %s (%s) %s: correct HttpProxy.Host/Port or the proxy"
                           % (endpoint, self.p["config_path"], failure["kind"]), failure)
        return finding("NETWORK", "proxy", "ok", "the agent's proxy %s accepts connections" % endpoint, {"endpoint": endpoint})

    def run(self) -> list:
        # Concurrently: a host with one dead endpoint waits one timeout, not one per endpoint.
        found = parallel(lambda check: check(), [self.dns, self.wireserver, self.proxy_check, self.storage])
        return [f for f in found if f]


def parallel(work, items: list) -> list:
    """work(item) for every item at once, results in the order of items."""
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(work, items))


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            net.ENDPOINT_ARGUMENT_SPEC,
            timeout=dict(type="float", default=5),
            ca_file=dict(type="path"),
            config_path=dict(type="path", default="/etc/waagent.conf"),
            http_proxy_host=dict(type="str", default=""),
            http_proxy_port=dict(type="int", default=3128),
            backup=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params, findings, result, error = module.params, [], {"changed": False}, None
    if params["http_proxy_host"]:
        # Before the checks, so they go the way the agent will.
        settings = {"HttpProxy.Host": params["http_proxy_host"], "HttpProxy.Port": str(params["http_proxy_port"])}
        try:
            config = AgentConfig(module, params["config_path"], params["backup"]).run(settings, restart_agent=True)
            findings += config["findings"]
            result["changed"] = config["changed"]
            if config["changed"] and module._diff:
                result["diff"] = config["diff"]
        except RemediationError as exc:
            findings += exc.findings + [finding("NETWORK", "config_file", "failed", exc.msg, {"path": params["config_path"]})]
            error = exc
    findings += Probe(params).run()
    if error:
        module.fail_json(msg=error.msg, findings=findings, changed=error.changed)
    module.exit_json(findings=findings, **result)


if __name__ == "__main__":
    main()
