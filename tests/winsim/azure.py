"""Azure's side as the simulated Windows VMs see it, on loopback: the wireserver's two ports and the
storage endpoint's accept connections, and the agent MSI is served over HTTP like Microsoft's
download link. A spec's "azure" entry turns these on; `winsim inventory` then points the
collection's variables at them, so nothing aims at a real Azure address.

    "azure": {"wireserver": "127.63.129.16", "storage_host": "127.0.0.1", "storage_ports": [44301, 44302], "msi_port": 44380}
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import ipaddress
import json
import os
import random
import socket
import subprocess
import threading

import host as hostmod

WIRESERVER_PORTS = (80, 32526)  # the real ports, at a loopback address that mirrors 168.63.129.16
MSI_PATH = "/WindowsAzureVmAgent.msi"


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list:
    """``count`` different TCP ports nothing listens on at 127.0.0.1 now (all held while picking, so none repeats)."""
    held = []
    try:
        for _each in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def free_wireserver() -> str:
    """A loopback address that mirrors 168.63.129.16 and whose real ports are free here, so that runs side by
    side (a developer's and CI's, or two work trees) do not take each other's wireserver."""
    for _try in range(50):
        address = "127.63.%d.%d" % (random.randint(1, 254), random.randint(1, 254))
        try:
            for port in WIRESERVER_PORTS:
                with socket.socket() as sock:
                    sock.bind((address, port))
            return address
        except OSError:
            continue
    raise RuntimeError("no free loopback address for the simulated wireserver")


def _loopback(address: str) -> str:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError("%s is not a loopback address: the stand-ins listen on 127.0.0.0/8 only" % address)
    return address


class StandIns:
    def __init__(self, azure: dict):
        self.azure = azure
        self.sockets = []
        endpoints = [(azure["wireserver"], p) for p in WIRESERVER_PORTS] + [(azure["storage_host"], p) for p in azure["storage_ports"]]
        for address, port in endpoints:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((_loopback(address), port))
            sock.listen(64)
            self.sockets.append(sock)
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

        class MSI(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                found = self.path == MSI_PATH
                body = hostmod.AGENT_MSI if found else b""
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer((_loopback(azure["storage_host"]), azure["msi_port"]), MSI)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @staticmethod
    def _accept(sock):
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            conn.close()

    def close(self):
        self.http.shutdown()
        self.http.server_close()
        for sock in self.sockets:
            sock.close()


def inventory_vars(azure: dict) -> dict:
    """The collection's variables that point at the stand-ins."""
    return {
        "network_wireserver": azure["wireserver"],
        "network_storage_host": azure["storage_host"],
        "network_storage_ports": list(azure["storage_ports"]),
        "network_dns_names": ["management.azure.com"],
        "win_agent_msi_url": "http://%s:%d%s" % (azure["storage_host"], azure["msi_port"], MSI_PATH),
        "win_agent_msi_checksum": hashlib.sha256(hostmod.AGENT_MSI).hexdigest(),
    }


@contextlib.contextmanager
def simulated_hosts(tmp, hosts: dict, wireserver: str | None = None, password: str = "Sim-Passw0rd!"):
    """The simulator under `tmp` with `hosts` ({name: (locale, faults)}), Azure's side on free loopback ports
    (the wireserver at `wireserver`, else a free loopback address). Yields the inventory `winsim inventory`
    prints, as a dict for the test to add to and write; stops the simulator afterwards."""
    import yaml
    winsim = os.path.join(os.path.dirname(os.path.abspath(__file__)), "winsim")
    wireserver = wireserver or free_wireserver()
    for attempt in range(3):
        # Ports picked apart from each other; another program may still take one before the simulator binds it,
        # so a failed start is tried again with new ones.
        ports = free_ports(len(hosts) + 3)
        spec = {"username": "azureadmin", "password": password,
                "hosts": [{"name": n, "port": ports[i], "locale": loc, "faults": f} for i, (n, (loc, f)) in enumerate(hosts.items())],
                "azure": {"wireserver": wireserver, "storage_host": "127.0.0.1", "storage_ports": ports[-3:-1], "msi_port": ports[-1]}}
        (tmp / "spec.json").write_text(json.dumps(spec))
        started = subprocess.run([winsim, "up", "--dir", str(tmp), "--spec", str(tmp / "spec.json")], check=False, capture_output=True, text=True)
        if started.returncode == 0:
            break
        subprocess.run([winsim, "down", "--dir", str(tmp)], check=False, capture_output=True)
        if attempt == 2:
            raise RuntimeError("winsim up failed three times: %s%s" % (started.stdout, started.stderr))
    try:
        yield yaml.safe_load(subprocess.run([winsim, "inventory", "--dir", str(tmp)], check=True, capture_output=True, text=True).stdout)
    finally:
        subprocess.run([winsim, "down", "--dir", str(tmp)], check=False, capture_output=True)


# -- what the Windows integration tests read back after a play ---------------------------------------------

def tree_env(tree) -> dict:
    """Environment for ansible-playbook that writes each host's remediate result into ``tree`` (callback_plugins/remediate_tree.py)
    and enables no other callback."""
    return {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "remediate_tree", "REMEDIATE_TREE_DIR": str(tree)}


def run_play(root: str, tmp, play: str, *args, expect=(), log_bundle: bool = False):
    """(process, {host: the task's result}) of ansible-playbook ``play`` on the simulated hosts of ``tmp``: the remediate
    task's result of each host. ``expect``: hosts that must have one. Without ``log_bundle`` the bundle
    (tested on its own) is off, so the executions counted are the causes'."""
    tree = tmp / ("tree-%d" % len(list(tmp.glob("tree-*"))))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"),
               **tree_env(tree))
    extra = [] if log_bundle else ["-e", "log_bundle_when=never"]
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), play, "-l", "vms", "-e", "network_timeout=2",
                           *extra, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False)
    hosts = {}
    for path in tree.glob("*") if tree.exists() else ():
        with open(path, encoding="utf-8") as handle:
            hosts[path.name] = json.load(handle)
    assert set(expect) <= set(hosts), proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc, hosts


def host_log(tmp, host: str) -> list:
    """Every command the simulated host ran, in order."""
    path = tmp / ("%s.log.jsonl" % host)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def host_state(tmp, host: str) -> dict:
    with open(tmp / ("%s.json" % host), encoding="utf-8") as handle:
        return json.load(handle)


def executions(entries: list) -> list:
    """The PowerShell executions among a host's commands, each named by its script's tag or its module."""
    return [e.get("script_tag") or e.get("module") or e["kind"] for e in entries if e["kind"] in ("module", "raw", "put_file")]
