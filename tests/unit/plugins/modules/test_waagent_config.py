from __future__ import annotations

import glob
import os

import pytest

from ansible.module_utils import basic

from ansible_collections.azure_backup.remediation.plugins.modules import waagent_config
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import agent_config as _agent_config

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")


@pytest.fixture
def run(run_module):
    return lambda check_mode=False, diff=False, **args: run_module(waagent_config.main, args, check_mode, diff)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "waagent.conf"
    with open(os.path.join(REFERENCE, "waagent-conf-debian.conf"), "rb") as handle:
        path.write_bytes(handle.read().replace(b"Extensions.Enabled=y", b"Extensions.Enabled=n"))
    return path


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


def test_check_mode_reports_and_leaves_the_file(run, config):
    before = config.read_bytes()
    result = run(check_mode=True, diff=True, path=str(config),
                 settings={"Extensions.Enabled": "y", "Logs.Verbose": "y"}, report=["AutoUpdate.Enabled"])
    assert result["changed"] is True
    found = by_check(result)
    assert found["config_extensions_enabled"]["status"] == "found"
    assert found["config_extensions_enabled"]["summary"].startswith("Extensions.Enabled is n in ")
    assert found["config_logs_verbose"]["status"] == "found"
    assert found["config_report"]["detail"]["values"] == {"AutoUpdate.Enabled": None}
    [diff] = result["diff"]  # one write for both settings
    assert "Extensions.Enabled=n" in diff["before"] and "Extensions.Enabled=y" in diff["after"] and "Logs.Verbose=y" in diff["after"]
    assert config.read_bytes() == before
    assert len(list(config.parent.iterdir())) == 1  # no backup, no temp file


def test_apply_fixes_backs_up_and_is_idempotent(run, config):
    original = config.read_bytes()
    result = run(path=str(config), settings={"Extensions.Enabled": "y", "Logs.Verbose": True})
    assert result["changed"] is True
    assert {f["status"] for f in result["findings"]} == {"fixed"}
    fixed = by_check(result)
    assert fixed["config_extensions_enabled"]["detail"]["after"] == "y" and fixed["config_logs_verbose"]["detail"]["after"] == "y"
    with open(fixed["config_extensions_enabled"]["detail"]["backup_file"], "rb") as handle:
        assert handle.read() == original
    text = config.read_text()
    assert "Extensions.Enabled=y\n" in text and "Logs.Verbose=y\n" in text
    assert len(text.splitlines()) == len(original.decode().splitlines())
    again = run(path=str(config), settings={"Extensions.Enabled": "y", "Logs.Verbose": "y"})
    assert again["changed"] is False
    assert {f["status"] for f in again["findings"]} == {"ok"}
    assert not [f for f in again["findings"] if "backup_file" in f["detail"]]
    assert len(list(config.parent.iterdir())) == 2  # the file and its one backup: no temp file


def test_proxy_findings_belong_to_network(run, config):
    result = run(check_mode=True, path=str(config), settings={"HttpProxy.Host": "10.0.0.5", "HttpProxy.Port": 3128})
    assert {f["id"] for f in result["findings"]} == {"NETWORK"}
    assert by_check(result)["config_httpproxy_host"]["summary"].startswith("HttpProxy.Host is unset in ")


def test_corrupt_file_is_an_error_and_untouched(run, config):
    config.write_bytes(b"Extensions.Enabled=n\n\xff\xfe\x00garbage")
    result = run(path=str(config), settings={"Extensions.Enabled": "y"})
    assert result["failed"] is True
    assert "is not a text file" in result["msg"] and str(config) in result["msg"] and "reinstall" in result["msg"]
    assert config.read_bytes() == b"Extensions.Enabled=n\n\xff\xfe\x00garbage"


def test_missing_file_says_how_to_get_it_back(run, tmp_path):
    result = run(path=str(tmp_path / "waagent.conf"), settings={"Extensions.Enabled": "y"})
    assert result["failed"] is True
    assert "does not exist" in result["msg"] and "Reinstall" in result["msg"]


def test_invalid_value_changes_nothing(run, config):
    before = config.read_bytes()
    result = run(path=str(config), settings={"Extensions.Enabled": "yes"})
    assert result["failed"] is True
    assert "Extensions.Enabled must be y or n" in result["msg"] and "Nothing was changed" in result["msg"]
    assert config.read_bytes() == before


def test_crlf_file_keeps_its_line_endings(run, config):
    config.write_bytes(config.read_bytes().replace(b"\n", b"\r\n"))
    run(path=str(config), settings={"Extensions.Enabled": "y"}, backup=False)
    data = config.read_bytes()
    assert b"Extensions.Enabled=y\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    assert glob.glob(str(config) + ".*~") == []


def test_lines_the_agent_ignores_are_reported(run, config):
    config.write_text(config.read_text() + "this is not a setting\n")
    result = run(check_mode=True, path=str(config), settings={"Extensions.Enabled": "n"})
    assert by_check(result)["config_unparsed"]["detail"]["lines"] == ["this is not a setting"]


def test_restart_agent_only_when_the_file_changed(run, monkeypatch, config):
    calls = []

    def run_command(self, cmd, **kw):
        if not cmd[0].endswith("systemctl"):  # atomic_move's own lsattr calls
            return 0, "", ""
        calls.append(cmd[1])
        if cmd[1] == "show":
            return 0, "Id=walinuxagent.service\nLoadState=loaded\nActiveState=active\n\nId=waagent.service\nLoadState=not-found\nActiveState=inactive\n", ""
        return 0, "", ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/" + name if name == "systemctl" else None)
    real_isdir = _agent_config.os.path.isdir
    monkeypatch.setattr(_agent_config.os.path, "isdir", lambda path: path == "/run/systemd/system" or (real_isdir(path) and not path.startswith("/run/")))
    checked = run(check_mode=True, path=str(config), settings={"HttpProxy.Host": "10.0.0.5"}, restart_agent=True)
    # Check mode predicts the restart the change would cause, and only reads.
    assert calls == ["show"] and "would restart walinuxagent.service" in by_check(checked)["agent_restart"]["summary"]
    del calls[:]
    result = run(path=str(config), settings={"HttpProxy.Host": "10.0.0.5"}, restart_agent=True)
    assert by_check(result)["agent_restart"]["detail"]["unit"] == "walinuxagent.service" and calls == ["show", "restart"]
    assert by_check(result)["agent_restart"]["status"] == "fixed"
    again = run(path=str(config), settings={"HttpProxy.Host": "10.0.0.5"}, restart_agent=True)
    assert again["changed"] is False and calls == ["show", "restart"]


def test_a_failed_restart_keeps_the_findings(run, monkeypatch, config):
    def run_command(self, cmd, **kw):
        if cmd[:2] == ["/bin/service", "walinuxagent"]:
            return (0, "", "") if cmd[2] == "status" else (1, "", "start-stop-daemon: failed")
        return 0, "", ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/service" if name == "service" else None)
    result = run(path=str(config), settings={"Extensions.Enabled": "y"}, restart_agent=True)
    assert result["failed"] is True and result["changed"] is True
    assert "could not restart walinuxagent: start-stop-daemon: failed" in result["msg"]
    assert by_check(result)["agent_restart"]["status"] == "failed"
    assert by_check(result)["config_extensions_enabled"]["status"] == "fixed"
    assert "Extensions.Enabled=y" in config.read_text()


def test_an_immutable_file_is_one_failed_finding_with_its_remedy_and_leaves_nothing_beside_it(run, config):
    import subprocess
    if subprocess.run(["chattr", "+i", str(config)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i does not work here")
    try:
        before = config.read_bytes()
        result = run(path=str(config), settings={"Extensions.Enabled": "y", "Logs.Verbose": "y"}, restart_agent=True)
    finally:
        subprocess.run(["chattr", "-i", str(config)], check=True)
    assert [f["check"] for f in result["findings"] if f["status"] == "failed"] == ["config_extensions_enabled"]
    assert "immutable (chattr +i)" in result["msg"] and "chattr -i" in result["msg"]
    assert by_check(result)["config_logs_verbose"]["status"] == "found" and "agent_restart" not in by_check(result)
    assert config.read_bytes() == before and len(list(config.parent.iterdir())) == 1
