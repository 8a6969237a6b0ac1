"""The loopback WinRM server (tests/winsim) driven by pywinrm and by Ansible's winrm connection."""

import base64
import hashlib
import functools
import json
import os
import socket
import subprocess
import sys
import types

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script, _create_powershell_wrapper
from ansible.plugins.connection.winrm import Connection as WinRMConnection
from ansible.plugins.loader import shell_loader

import dispatch
import wsman
from fakehost import PASSWORD, USER, FakeHost

HERE = os.path.dirname(os.path.abspath(__file__))
WINSIM = os.path.abspath(os.path.join(HERE, "..", "..", "winsim"))

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
WINDOWS_COLLECTION = os.path.join(REPO, ".collections", "ansible_collections", "ansible", "windows")


def needs_ansible_windows(test):
    """Fails, never skips, without ansible.windows: make setup installs it, and a skipped test proves nothing."""
    def check(*args, **kwargs):
        assert os.path.isfile(os.path.join(WINDOWS_COLLECTION, "MANIFEST.json")), \
            "ansible.windows missing: run tests/winsim/install-ansible-windows"
        return test(*args, **kwargs)
    return functools.wraps(test)(check)


SHELL = shell_loader.get("powershell")


def protocol(srv, password=PASSWORD):
    return winrm.Protocol(f"http://127.0.0.1:{srv.port}/wsman", transport="basic", username=USER, password=password,
                          server_cert_validation="ignore", proxy=None)


def encoded(script):
    """Command + arguments exactly as Ansible's winrm exec_command builds them."""
    parts = SHELL._encode_script(script, as_list=True, strict_mode=False, preserve_rc=False)
    return parts[0], parts[1:]


def module_payload(name="ansible.legacy.win_service", args=None, check_mode=False):
    """Bootstrap command and stdin built by ansible-core's own PowerShell payload builder."""
    module_args = dict(args or {}, _ansible_check_mode=check_mode, _ansible_diff=False)
    stdin = _create_powershell_wrapper(
        name=name, module_data=b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n$m = 1\n",
        module_path="/x/" + name.rsplit(".", 1)[-1] + ".ps1", module_args=module_args, environment={},
        async_timeout=0, become_plugin=None, substyle="powershell", task_vars={}, profile="legacy")
    cmd = SHELL.build_module_command("", "#!powershell", "").split(" ")  # the pipelining command line
    return cmd[0], cmd[1:], stdin


def ansible_exec(p, shell_id, command, args, stdin):
    """What Connection._winrm_exec does: Command, Send (200000-byte chunks, End on the last),
    Receive until Done, Signal terminate. Uses the plugin's own Send/Receive code."""
    command_id = p.run_command(shell_id, command, args, console_mode_stdin=False)
    conn = WinRMConnection.__new__(WinRMConnection)
    for data, last in conn._wrapper_payload_stream(stdin):
        WinRMConnection._winrm_send_input(conn, p, shell_id, command_id, data, eof=last)
    out, err, rc, done = [], [], -1, False
    while not done:
        o, e, rc, done = WinRMConnection._winrm_get_raw_command_output(conn, p, shell_id, command_id)
        out.append(o)
        err.append(e)
    p.cleanup_command(shell_id, command_id)
    return b"".join(out), b"".join(err), rc


# -- pywinrm straight -------------------------------------------------------------------------

def test_raw_command_is_refused_politely(server, fake_host):
    p = protocol(server)
    shell_id = p.open_shell(codepage=65001)
    command, args = encoded("Get-Service winrm")
    command_id = p.run_command(shell_id, command, args)
    out, err, rc = p.get_command_output(shell_id, command_id)
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)

    assert (out, rc) == (b"", 1)
    assert b"runs only Ansible module payloads and put_file" in err and b"Get-Service winrm" in err
    assert fake_host.calls == []
    [entry] = fake_host.logs
    assert entry["kind"] == "unknown" and entry["module"] is None and entry["check_mode"] is False
    assert entry["http_requests"] == 3  # Command, Receive, Signal
    assert server.request_count == 5  # + Create and Delete of the shell


def test_module_call_through_ansible_send_and_receive(server, fake_host):
    p = protocol(server)
    shell_id = p.open_shell(codepage=65001)
    command, args, stdin = module_payload(args={"name": "spooler", "state": "started"}, check_mode=True)
    out, err, rc = ansible_exec(p, shell_id, command, args, stdin)
    p.close_shell(shell_id)

    assert rc == 0 and err == b""
    assert json.loads(out) == {"changed": False, "host": "win01", "module": "ansible.legacy.win_service"}
    [(name, got)] = fake_host.calls
    assert name == "ansible.legacy.win_service"
    assert got["name"] == "spooler" and got["state"] == "started" and got["_ansible_check_mode"] is True
    [entry] = fake_host.logs
    sends = -(-len(stdin) // 200000)
    assert entry == {"kind": "module", "module": "ansible.legacy.win_service", "script_tag": None,
                     "check_mode": True, "http_requests": 1 + sends + 1 + 1}


def test_pywinrm_send_command_input_in_pieces(server, fake_host):
    p = protocol(server)
    shell_id = p.open_shell()
    command, args = encoded("ignored: the stdin manifest decides")
    manifest = {"scripts": {}, "signed_hashlist": [], "actions": [{"name": "module_wrapper.ps1", "params": {
        "Script": "ansible_collections.ansible.windows.plugins.modules.win_ping.ps1",
        "Variables": [{"Name": "complex_args", "Value": {"data": "héllo", "_ansible_check_mode": False}, "Scope": "Global"}],
    }}]}
    stdin = (json.dumps({"name": "exec_wrapper", "script": "", "params": {}}).encode() + dispatch.STDIN_SEP
             + json.dumps(manifest).encode())
    command_id = p.run_command(shell_id, command, args, console_mode_stdin=False)
    p.send_command_input(shell_id, command_id, stdin[:100])  # End="false"
    p.send_command_input(shell_id, command_id, stdin[100:], end=True)
    out, err, rc = p.get_command_output(shell_id, command_id)
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)

    assert rc == 0 and json.loads(out.decode("utf-8")) == {"changed": False, "ping": "héllo"}
    assert fake_host.calls[0][0] == "ansible.windows.win_ping"
    assert fake_host.logs[0]["http_requests"] == 5


def test_failed_result_and_host_exception(server, fake_host):
    p = protocol(server)
    shell_id = p.open_shell()
    command, args, stdin = module_payload(args={"name": "broken"})
    out, dummy, rc = ansible_exec(p, shell_id, command, args, stdin)
    assert rc == 1 and json.loads(out) == {"failed": True, "changed": False,
                                           "msg": "win01: service broken cannot be started"}

    command, args, stdin = module_payload(args={"raise": True})
    out, dummy, rc = ansible_exec(p, shell_id, command, args, stdin)
    result = json.loads(out)
    assert rc == 1 and result["failed"] is True
    assert result["msg"] == "Unhandled exception while executing module: fake host exploded"
    assert "RuntimeError" in result["exception"]
    p.close_shell(shell_id)


@pytest.mark.parametrize("data", [b"", b"hello\r\nworld\x00\xff" * 50000])
def test_put_file_payload(server, fake_host, data):
    p = protocol(server)
    shell_id = p.open_shell()
    # Connection.put_file: winrm_put_file.ps1 through the bootstrap wrapper, then base64 lines
    script, stdin = _bootstrap_powershell_script("winrm_put_file.ps1", {"Path": r"C:\Temp\a b.bin"}, has_input=True)
    command, args = encoded(script)
    chunks = [base64.b64encode(data[i:i + 250000]) + b"\r\n" for i in range(0, len(data), 250000)]
    command_id = p.run_command(shell_id, command, args, console_mode_stdin=False)
    p.send_command_input(shell_id, command_id, stdin)
    for chunk in chunks[:-1]:
        p.send_command_input(shell_id, command_id, chunk)
    p.send_command_input(shell_id, command_id, chunks[-1] if chunks else b"", end=True)
    out, err, rc = p.get_command_output(shell_id, command_id)
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)

    assert rc == 0, err
    assert json.loads(out) == {"sha1": hashlib.sha1(data).hexdigest()}
    assert fake_host.files == {r"C:\Temp\a b.bin": data}
    assert fake_host.logs[0]["kind"] == "put_file"


def test_large_output_spans_several_receives(server, fake_host):
    fake_host.results["ansible.legacy.win_service"] = {"changed": False, "blob": "x" * 400000}
    p = protocol(server)
    shell_id = p.open_shell()
    command, args, stdin = module_payload()
    out, dummy, rc = ansible_exec(p, shell_id, command, args, stdin)
    p.close_shell(shell_id)
    assert rc == 0 and len(json.loads(out)["blob"]) == 400000
    # 400 kB of stdout in envelopes under pywinrm's 153600-byte MaxEnvelopeSize: 4 Receives
    assert fake_host.logs[0]["http_requests"] == 1 + 1 + 4 + 1


def test_faults_pywinrm_understands(server, fake_host, monkeypatch):
    p = protocol(server)
    with pytest.raises(WSManFaultError) as exc:
        p.run_command("00000000-0000-0000-0000-000000000000", "cmd", ["/c", "dir"])
    assert exc.value.wsman_fault_code == 2150858843 and "shell was not found" in exc.value.reason

    shell_id = p.open_shell()
    p.close_shell(shell_id)
    with pytest.raises(WSManFaultError):
        p.close_shell(shell_id)

    with pytest.raises(InvalidCredentialsError):
        protocol(server, password="wrong").open_shell()

    # Receive while stdin is still open: WinRM answers OperationTimeout after a while
    monkeypatch.setattr(wsman, "STDIN_WAIT", 0.05)
    shell_id = p.open_shell()
    command, args = encoded("x")
    command_id = p.run_command(shell_id, command, args, console_mode_stdin=False)
    p.send_command_input(shell_id, command_id, b"partial")
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell_id, command_id)
    p.close_shell(shell_id)  # never signalled: logged at shell deletion, not run
    assert fake_host.logs[-1]["detail"].startswith("not run") and fake_host.logs[-1]["http_requests"] == 3


def test_http_layer(server):
    url = f"http://127.0.0.1:{server.port}/wsman"
    auth = (USER, PASSWORD)
    assert requests.get(url, auth=auth, timeout=5).status_code == 405
    assert requests.post(url.replace("/wsman", "/other"), auth=auth, timeout=5).status_code == 404
    assert requests.post(url, auth=auth, data=b"<x/>", headers={"Content-Type": "text/plain"}, timeout=5).status_code == 415
    r = requests.post(url, data=b"<x/>", headers={"Content-Type": "application/soap+xml;charset=UTF-8"}, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="WSMAN"'
    r = requests.post(url, auth=auth, data=b"not xml", headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                      timeout=5)
    assert r.status_code == 400
    assert server.request_count == 5


def test_replies_look_like_winrm(server):
    p = protocol(server)
    header = p.build_wsman_header(action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                                  resource_uri=wsman.RESOURCE_CMD, message_id="1234")
    import xmltodict

    msg = xmltodict.unparse({"env:Envelope": dict(header, **{"env:Body": {"rsp:Shell": {"rsp:InputStreams": "stdin"}}})})
    r = requests.post(f"http://127.0.0.1:{server.port}/wsman", data=msg, auth=(USER, PASSWORD),
                      headers={"Content-Type": "application/soap+xml;charset=UTF-8"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/soap+xml;charset=UTF-8"
    body = r.text
    assert "<a:RelatesTo>uuid:1234</a:RelatesTo>" in body
    assert "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse</a:Action>" in body
    assert '<w:Selector Name="ShellId">' in body


def test_loopback_only():
    for address in ("0.0.0.0", "10.1.2.3", "::"):
        with pytest.raises(ValueError):
            wsman.serve(FakeHost(), 0, USER, PASSWORD, bind=address)
    srv = wsman.serve(FakeHost(), 0, USER, PASSWORD, bind="127.0.0.2")
    try:
        assert srv.verify_request(None, ("127.0.0.1", 1)) and not srv.verify_request(None, ("192.168.1.5", 1))
    finally:
        srv.stop()


def test_classify_script_tag_and_fqcn():
    assert dispatch.module_fqcn("ansible_collections.ansible.windows.plugins.modules.win_service.ps1") == \
        "ansible.windows.win_service"
    assert dispatch.module_fqcn("ansible_collections.ns.coll.plugins.modules.sub.thing.cs") == "ns.coll.thing"
    assert dispatch.module_fqcn("ansible.legacy.win_foo.ps1") == "ansible.legacy.win_foo"
    script = "Write-Output 1\n#  azure_backup.remediation/reset-agent.v2 (keep)\n"
    assert dispatch.script_tag("ansible.windows.win_powershell", {"script": script}) == "reset-agent.v2"
    assert dispatch.script_tag("ansible.windows.win_shell", {"script": script}) is None
    assert dispatch.script_tag("ansible.windows.win_powershell", {"script": "no tag"}) is None
    # tmp dir helpers (action plugins that transfer files) are answered without the host
    script, stdin = _bootstrap_powershell_script("powershell_mkdtemp.ps1", {"Directory": "%TEMP%", "Name": "ansible-tmp-1"})
    command, args = encoded(script)
    out = dispatch.execute(FakeHost(), command, " ".join(args), stdin, user="ansible")
    assert (out.stdout, out.rc, out.log["kind"]) == (b"C:\\Users\\ansible\\AppData\\Local\\Temp\\ansible-tmp-1\r\n", 0, "unknown")


# -- Ansible's real winrm connection plugin --------------------------------------------------

CALLBACK = '''
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "winsim_results"

    def _emit(self, status, result):
        self._display.display(json.dumps({"status": status, "host": result.host.get_name(),
                                          "task": result.task_name, "result": result.result}, default=str))

    def v2_runner_on_ok(self, result):
        self._emit("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._emit("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._emit("skipped", result)
'''

PLAYBOOK = r'''
- hosts: windows
  gather_facts: false
  tasks:
    - name: ping
      ansible.windows.win_ping:
        data: hello
    - name: service
      ansible.windows.win_service:
        name: spooler
        state: started
    - name: tagged script in check mode
      ansible.windows.win_powershell:
        script: |
          # azure_backup.remediation/restart-agent.v1
          Restart-Service WindowsAzureGuestAgent
      check_mode: true
    - name: copy
      ansible.windows.win_copy:
        content: "file body\n"
        dest: C:\Temp\body.txt
    - name: broken
      ansible.windows.win_service:
        name: broken
      ignore_errors: true
    - name: raw
      ansible.builtin.raw: Get-Date
      ignore_errors: true
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ansible_env(tmp_path):
    cb = tmp_path / "callbacks"
    cb.mkdir(exist_ok=True)
    (cb / "winsim_results.py").write_text(CALLBACK)
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    return dict(
        os.environ,
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_COLLECTIONS_PATH=f"{REPO}/.collections",
        ANSIBLE_CALLBACK_PLUGINS=str(cb),
        ANSIBLE_STDOUT_CALLBACK="winsim_results",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        # a dead proxy on loopback: the inventory must keep pywinrm from using any proxy
        HTTP_PROXY=f"http://127.0.0.1:{free_port()}", HTTPS_PROXY=f"http://127.0.0.1:{free_port()}",
        NO_PROXY="",
    )


def inventory(tmp_path, hosts):
    spec = {"hosts": [{"name": n, "port": p} for n, p in hosts], "username": USER, "password": PASSWORD}
    inv = tmp_path / "inventory.yml"
    inv.write_text(_winsim_cli().inventory_yaml(spec))
    return inv


def _winsim_cli():
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("winsim_cli", os.path.join(WINSIM, "winsim"))
    spec = importlib.util.spec_from_loader("winsim_cli", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def playbook_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ansible")
    host = FakeHost("win01")
    srv = wsman.serve(host, 0, USER, PASSWORD)
    try:
        (tmp_path / "site.yml").write_text(PLAYBOOK)
        proc = subprocess.run(
            [os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory(tmp_path, [("win01", srv.port)])),
             str(tmp_path / "site.yml")],
            env=ansible_env(tmp_path), capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path)
    finally:
        srv.stop()
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            results[item["task"]] = item
    return types.SimpleNamespace(proc=proc, results=results, host=host, srv=srv)


@needs_ansible_windows
def test_playbook_modules_reach_the_host(playbook_run):
    proc, results, host = playbook_run.proc, playbook_run.results, playbook_run.host
    assert proc.returncode == 0, proc.stdout + proc.stderr  # failures were ignore_errors
    assert results["ping"]["status"] == "ok" and results["ping"]["result"]["ping"] == "hello"
    called = dict(host.calls)
    assert called["ansible.windows.win_ping"]["data"] == "hello"
    first_service = next(args for name, args in host.calls if name == "ansible.windows.win_service")
    assert first_service["name"] == "spooler" and first_service["state"] == "started"
    assert first_service["_ansible_check_mode"] is False and "_ansible_diff" in first_service
    assert results["service"]["status"] == "ok" and results["service"]["result"]["changed"] is True


@needs_ansible_windows
def test_playbook_check_mode_and_script_tag(playbook_run):
    results, host = playbook_run.results, playbook_run.host
    [entry] = [e for e in host.logs if e["module"] == "ansible.windows.win_powershell"]
    assert entry["check_mode"] is True and entry["script_tag"] == "restart-agent.v1"
    assert results["tagged script in check mode"]["result"]["changed"] is False


@needs_ansible_windows
def test_playbook_failed_result_is_a_module_failure(playbook_run):
    results = playbook_run.results
    broken = results["broken"]
    assert broken["status"] == "failed"
    assert broken["result"]["msg"] == "win01: service broken cannot be started"
    assert "deserialization" not in json.dumps(broken)


@needs_ansible_windows
def test_playbook_put_file_and_raw(playbook_run):
    results, host = playbook_run.results, playbook_run.host
    assert results["copy"]["status"] == "ok"
    [(path, data)] = host.files.items()
    assert path.startswith("C:\\Users\\ansible\\AppData\\Local\\Temp\\ansible-tmp-") and path.endswith("\\source")
    assert data == b"file body\n"
    single = [a for n, a in host.calls if n == "ansible.windows.win_copy" and a.get("_copy_mode") == "single"]
    assert single and single[0]["src"] == path
    raw = results["raw"]
    assert raw["status"] == "failed" and "runs only Ansible module payloads" in raw["result"]["stderr"]


@needs_ansible_windows
def test_playbook_http_request_counts(playbook_run):
    logs, srv = playbook_run.host.logs, playbook_run.srv
    ping = [e["http_requests"] for e in logs if e["module"] == "ansible.windows.win_ping"]
    assert ping == [4]  # Command, one Send, Receive, Signal
    assert all(e["http_requests"] >= 3 for e in logs)
    # the rest is shell Create + Delete: one pair per task (each task opens its own connection)
    tasks = len(PLAYBOOK.split("- name:")) - 1
    assert srv.request_count == sum(e["http_requests"] for e in logs) + 2 * tasks


# -- the winsim CLI ----------------------------------------------------------------------------

def running(pid):
    """Alive and not a zombie (the daemon's new parent may reap it a little later)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def winsim(*args, env=None):
    return subprocess.run([sys.executable, os.path.join(WINSIM, "winsim"), *args], env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_cli_up_status_inventory_down(tmp_path):
    state = tmp_path / "state"
    ports = [free_port(), free_port()]
    spec = {"hosts": [{"name": "win01", "port": ports[0], "locale": "en", "faults": []},
                      {"name": "win02", "port": ports[1], "locale": "de", "faults": ["agent-stopped"]}],
            "username": USER, "password": PASSWORD}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    env = dict(os.environ, WINSIM_HOST_FACTORY="fakehost:FakeHost", PYTHONPATH=HERE)

    up = winsim("up", "--dir", str(state), "--spec", str(spec_file), env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert winsim("up", "--dir", str(state), "--spec", str(spec_file), env=env).returncode == 0  # same spec
        status = winsim("status", "--dir", str(state))
        assert status.returncode == 0 and f"win02: 127.0.0.1:{ports[1]} listening" in status.stdout
        pid = int((state / "winsim.pid").read_text())
        inv = winsim("inventory", "--dir", str(state))
        assert inv.returncode == 0
        assert f"ansible_port: {ports[0]}" in inv.stdout and "    vms:" in inv.stdout and "windows:" in inv.stdout
        inv_file = tmp_path / "inventory.yml"
        inv_file.write_text(inv.stdout)

        adhoc = subprocess.run(
            [os.path.join(VENV_BIN, "ansible"), "windows", "-i", str(inv_file), "-m", "ansible.windows.win_ping"],
            env=ansible_env(tmp_path), capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path)
        assert adhoc.returncode == 0, adhoc.stdout + adhoc.stderr
        assert adhoc.stdout.count("SUCCESS") == 2
        for name in ("win01", "win02"):
            [entry] = [json.loads(line) for line in (state / f"{name}.jsonl").read_text().splitlines()]
            assert entry["module"] == "ansible.windows.win_ping" and entry["http_requests"] == 4
    finally:
        down = winsim("down", "--dir", str(state))
    assert down.returncode == 0 and "stopped pid" in down.stdout
    assert not running(pid)
    assert winsim("down", "--dir", str(state)).returncode == 0
    assert winsim("status", "--dir", str(state)).returncode == 3
    assert "stopping" in (state / "winsim.log").read_text()


def test_cli_up_reports_a_broken_host_factory(tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"hosts": [{"name": "w", "port": free_port()}], "username": "u", "password": "p"}))
    env = dict(os.environ, WINSIM_HOST_FACTORY="no_such_module:SimHost")
    up = winsim("up", "--dir", str(tmp_path / "state"), "--spec", str(spec_file), env=env)
    assert up.returncode == 1 and "no_such_module" in up.stderr
    assert not (tmp_path / "state" / "winsim.pid").exists()
