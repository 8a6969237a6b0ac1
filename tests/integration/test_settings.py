"""fix-backup.yml refuses bad settings before any VM is contacted.

One inventory, one host per (role variable, OS that reads it), each with one bad value: every host must fail in the
first play naming its variable, value and what is allowed. The Linux hosts' ssh is a script that leaves a marker,
the Windows hosts' WinRM port is a loopback socket that counts connections: neither may see anything. A second run
with one bad value on one host out of three shows that a single bad value stops the whole run.
Runs on the controller only; safe to run anytime."""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))  # the checkout as ansible_collections.azure_backup.remediation
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings  # noqa: E402

_spec = importlib.util.spec_from_file_location("unit_settings", os.path.join(ROOT, "tests", "unit", "test_settings.py"))
unit_settings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unit_settings)
GOOD_BAD = unit_settings.GOOD_BAD


class Listener:
    """A loopback TCP port standing in for WinRM: it accepts and counts, and answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port, self.accepted = self.sock.getsockname()[1], 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def readers(name: str) -> list[str]:
    """The OSes whose causes read this variable."""
    role = next(r for r in os.listdir(os.path.join(ROOT, "roles")) if name in settings.role_options(r))
    return [os_name for os_name in ("linux", "windows") if role in settings.CAUSES[os_name] or (role == "log_bundle" and os_name == "linux")]


def inventory(tmp, hosts: dict, listener: Listener) -> str:
    ssh = tmp / "ssh"
    ssh.write_text('#!/bin/sh\necho "$@" >> "%s"\nexit 255\n' % (tmp / "contacted"))
    ssh.chmod(0o755)
    entries = {}
    for host, (os_name, host_vars) in hosts.items():
        if os_name == "linux":
            entries[host] = dict(host_vars, ansible_host="127.0.0.1", ansible_ssh_executable=str(ssh))
        else:
            entries[host] = dict(host_vars, ansible_host="127.0.0.1", ansible_connection="winrm", ansible_port=listener.port,
                                 ansible_winrm_scheme="http", ansible_user="admin", ansible_password="x")
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump({"vms": {"hosts": entries}}))
    return str(path)


def play(tmp, inventory_path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + ":" + os.environ["PATH"], ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CALLBACK_FORMAT_PRETTY="false", AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"), ANSIBLE_FORKS="50")
    return subprocess.run(["ansible-playbook", "-i", inventory_path, "fix-backup.yml", "-l", "vms"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def expected(name: str, value) -> str:
    return "%s = %s is not allowed: %s" % (name, settings.show(value), settings.RULES[name].allowed)


def test_a_bad_value_of_each_role_variable_fails_before_any_connection(tmp_path):
    listener = Listener()
    hosts = {("bad-%s-%s" % (os_name, name)).replace("_", "-"): (os_name, {name: GOOD_BAD[name][1]})
             for name in sorted(GOOD_BAD) for os_name in readers(name)}
    assert {h for h in hosts if h.startswith("bad-windows-")} and {h for h in hosts if h.startswith("bad-linux-")}
    proc = play(tmp_path, inventory(tmp_path, hosts, listener))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for host, (_os_name, host_vars) in hosts.items():
        [(name, value)] = host_vars.items()
        assert "%s: %s" % (host, expected(name, value)) in out, host
    # Nothing went past the first play, and nothing was contacted.
    assert "Check and fix every" not in out
    assert not (tmp_path / "contacted").exists() and listener.accepted == 0
    [report] = [name for name in os.listdir(tmp_path / "reports") if name.endswith(".json")]
    with open(tmp_path / "reports" / report) as handle:
        entries = json.load(handle)["hosts"]
    assert {h: e["status"] for h, e in entries.items()} == {h: "failed" for h in hosts}


def test_one_bad_value_on_one_host_stops_the_whole_run(tmp_path):
    listener = Listener()
    hosts = {"good-linux": ("linux", {}), "good-windows": ("windows", {}), "bad-linux": ("linux", {"network_timeout": -1})}
    proc = play(tmp_path, inventory(tmp_path, hosts, listener))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "bad-linux: network_timeout = -1 is not allowed: a number of seconds > 0 and <= 300" in out
    assert "Check and fix every" not in out
    assert not (tmp_path / "contacted").exists() and listener.accepted == 0


@pytest.mark.parametrize("os_name", ["linux", "windows"])
def test_good_settings_pass_the_first_play(tmp_path, os_name):
    """The control: with good values the run does go on and contacts the VM (so the tests above can fail)."""
    listener = Listener()
    good = {n: GOOD_BAD[n][0] for n in GOOD_BAD if os_name in readers(n)}
    proc = play(tmp_path, inventory(tmp_path, {"vm01": (os_name, good)}, listener))
    out = proc.stdout + proc.stderr
    assert "is not allowed" not in out and "Check and fix every" in out
    assert (tmp_path / "contacted").exists() if os_name == "linux" else listener.accepted > 0
