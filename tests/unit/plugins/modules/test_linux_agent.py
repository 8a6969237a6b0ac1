from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.azure_backup.remediation.plugins.modules import linux_agent

HEALTHY = {"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
           "Result": "success", "MainPID": "42", "Restart": "no", "NRestarts": "0", "FragmentPath": "/lib/systemd/system/x"}
MISSING = {"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "", "Result": "success"}


class FakeSystemctl:
    """systemctl with state: `show` renders it, verbs change it, calls are recorded."""

    def __init__(self, units, start_fails=False, dies_after_start=False):
        self.units = {name: dict(state, Id=name) for name, state in units.items()}
        self.calls = []
        self.start_fails = start_fails
        self.dies_after_start = dies_after_start

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        verb = cmd[1]
        names = cmd[cmd.index("--") + 1:]
        if verb == "show":
            blocks = ["\n".join("%s=%s" % kv for kv in self.units.get(n, dict(MISSING, Id=n)).items()) for n in names]
            return 0, "\n\n".join(blocks) + "\n", ""
        unit = self.units[names[0]]
        if verb == "unmask":
            unit.update(LoadState="loaded", UnitFileState="disabled")
        elif verb == "enable":
            unit["UnitFileState"] = "enabled"
        elif verb == "reset-failed":
            unit.update(ActiveState="inactive", SubState="dead", Result="success")
        elif verb == "start":
            if unit["LoadState"] == "masked" or unit.get("Result") == "start-limit-hit":
                return 1, "", "Job for %s failed." % names[0]
            if self.start_fails:
                return 1, "", "Job for %s failed because the control process exited with error code." % names[0]
            state = ("failed", "failed", "exit-code") if self.dies_after_start else ("active", "running", "success")
            unit.update(ActiveState=state[0], SubState=state[1], Result=state[2])
        return 0, "", ""

    @property
    def mutating(self):
        return [c for c in self.calls if c[1] != "show"]


class Exit(Exception):
    pass


def run(monkeypatch, fake, check_mode=False, diff=False, systemd=True, **args):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: fake(cmd, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/" + name)
    monkeypatch.setattr(linux_agent.os.path, "isdir", lambda path: systemd and path == "/run/systemd/system")
    monkeypatch.setattr(linux_agent.time, "sleep", lambda s: None)
    results = {}

    def exit_json(self, **kw):
        results.update(kw, failed=False)
        raise Exit()

    def fail_json(self, **kw):
        results.update(kw, failed=True)
        raise Exit()

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    args = dict(args, settle_timeout=0, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(Exit):
        linux_agent.main()
    json.dumps(results)  # a module result must serialise
    return results


def debian(**state):
    return FakeSystemctl({"walinuxagent.service": dict(HEALTHY, **state)})


def test_healthy_agent_is_ok_and_unchanged(monkeypatch):
    fake = debian()
    result = run(monkeypatch, fake)
    assert result["changed"] is False
    assert result["unit"] == "walinuxagent.service"
    assert result["findings"][0]["status"] == "ok"
    assert fake.mutating == []
    assert len(fake.calls) == 1  # one round of systemctl for the whole check


def test_check_mode_reports_and_changes_nothing(monkeypatch):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    result = run(monkeypatch, fake, check_mode=True, diff=True)
    assert result["changed"] is True
    finding = result["findings"][0]
    assert finding["status"] == "found"
    assert finding["detail"]["actions"] == ["enable", "start"]
    assert "inactive (dead), unit file disabled" in finding["summary"]
    assert fake.mutating == []
    assert result["diff"]["before"] != result["diff"]["after"]
    assert "running: no" in result["diff"]["before"] and "running: yes" in result["diff"]["after"]


def test_stopped_and_disabled_agent_is_fixed_then_idempotent(monkeypatch):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    result = run(monkeypatch, fake)
    assert result["changed"] is True
    assert result["findings"][0]["status"] == "fixed"
    assert [c[1] for c in fake.mutating] == ["enable", "start"]
    assert result["findings"][0]["detail"]["after"]["ActiveState"] == "active"
    again = run(monkeypatch, fake)
    assert again["changed"] is False and again["findings"][0]["status"] == "ok"


def test_masked_agent_is_unmasked_enabled_started(monkeypatch):
    fake = debian(LoadState="masked", UnitFileState="masked", ActiveState="inactive", SubState="dead")
    result = run(monkeypatch, fake)
    assert [c[1] for c in fake.mutating] == ["unmask", "enable", "start"]
    assert result["findings"][0]["status"] == "fixed"


def test_start_limit_hit_is_reset_before_start(monkeypatch):
    fake = debian(ActiveState="failed", SubState="failed", Result="start-limit-hit")
    result = run(monkeypatch, fake)
    assert [c[1] for c in fake.mutating] == ["reset-failed", "start"]
    assert result["findings"][0]["status"] == "fixed"
    assert "start-limit-hit" in result["findings"][0]["summary"]


def test_rhel_style_unit_is_found_by_name(monkeypatch):
    fake = FakeSystemctl({"waagent.service": dict(HEALTHY, ActiveState="inactive", SubState="dead")})
    result = run(monkeypatch, fake)
    assert result["unit"] == "waagent.service"
    assert fake.mutating == [["/bin/systemctl", "start", "--", "waagent.service"]]


def test_no_agent_unit_is_reported_not_failed(monkeypatch):
    fake = FakeSystemctl({})
    result = run(monkeypatch, fake)
    assert result["failed"] is False and result["changed"] is False
    assert result["unit"] is None
    assert result["findings"][0]["status"] == "found"
    assert "install the distribution's agent package" in result["findings"][0]["summary"]


def test_failed_start_fails_the_task_and_keeps_the_finding(monkeypatch):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    fake.start_fails = True
    result = run(monkeypatch, fake)
    assert result["failed"] is True
    assert result["changed"] is True  # enable went through before start failed
    assert "systemctl start walinuxagent.service failed" in result["msg"]
    assert result["findings"][0]["status"] == "failed"
    assert result["findings"][0]["detail"]["done"] == ["enable"]


def test_agent_that_dies_after_start_is_failed_not_fixed(monkeypatch):
    fake = debian(ActiveState="inactive", SubState="dead")
    fake.dies_after_start = True
    result = run(monkeypatch, fake)
    assert result["failed"] is True
    assert "did not stay running" in result["msg"] and "journalctl -u walinuxagent.service" in result["msg"]
    assert result["findings"][0]["status"] == "failed"


def test_without_systemd_the_error_says_what_to_do(monkeypatch):
    fake = debian()
    result = run(monkeypatch, fake, systemd=False)
    assert result["failed"] is True
    assert "systemd is not running" in result["msg"] and "service walinuxagent start" in result["msg"]
    assert fake.calls == []
