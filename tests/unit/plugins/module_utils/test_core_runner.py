"""The fix protocol's runner: check mode, apply, failures that keep the other steps, lock, errors explained."""

import errno
import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError, explain
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import CauseRun, Change, Step


class Lock:
    def __init__(self, fail=False):
        self.events, self.fail = [], fail

    def acquire(self):
        if self.fail:
            raise RemediationError("another run holds the lock since 2026-12-02T10:00:00+00:00 (pid 7, user ops)", check="lock")
        self.events.append("acquire")

    def release(self):
        self.events.append("release")


def steps(calls, fail_first=False):
    def first():
        calls.append("first")
        if fail_first:
            raise OSError(errno.EROFS, "Read-only file system", "/etc/waagent.conf")
        return "Extensions.Enabled=y"

    change = Change("set Extensions.Enabled=y", first, diff={"before": "n\n", "after": "y\n"}, path="/etc/waagent.conf")
    yield Step("config", summary="Extensions.Enabled=n", change=change)
    # The next step sees whether the first change was applied.
    yield Step("restart", "ok", "restart needed" if change.done else "no restart needed")
    yield Step("version", "found", "agent 2.2.0 is older than 2.2.53.1")


def test_check_mode_applies_nothing_and_reports_what_would_change():
    calls = []
    out = CauseRun("LINUX_AGENT", check_mode=True, lock=Lock()).run(lambda: steps(calls)).result()
    assert calls == []
    assert [f["status"] for f in out["findings"]] == ["found", "ok", "found"]
    assert "would set Extensions.Enabled=y" in out["findings"][0]["summary"]
    assert out["changed"] is True and out["diff"] == [{"before": "n\n", "after": "y\n"}]
    assert "failed" not in out


def test_apply_runs_the_change_and_later_steps_see_it():
    calls, lock = [], Lock()
    out = CauseRun("LINUX_AGENT", check_mode=False, lock=lock).run(lambda: steps(calls)).result()
    assert calls == ["first"] and lock.events == ["acquire", "release"]
    assert [f["status"] for f in out["findings"]] == ["fixed", "ok", "found"]
    assert out["findings"][0]["detail"]["after"] == "Extensions.Enabled=y"
    assert out["findings"][1]["summary"] == "restart needed"


def test_a_failed_change_names_reason_and_remedy_and_the_other_steps_still_run():
    out = CauseRun("LINUX_AGENT", check_mode=False).run(lambda: steps([], fail_first=True)).result()
    first = out["findings"][0]
    assert first["status"] == "failed"
    assert "mounted read-only" in first["summary"] and "remount" in first["summary"].lower()
    assert [f["check"] for f in out["findings"]] == ["config", "restart", "version"]
    assert out["findings"][1]["summary"] == "no restart needed"
    assert out["failed"] is True and out["changed"] is False


def test_a_held_lock_is_one_failed_finding_and_nothing_is_read():
    calls = []
    out = CauseRun("LINUX_AGENT", check_mode=False, lock=Lock(fail=True)).run(lambda: steps(calls)).result()
    assert calls == []
    assert [(f["check"], f["status"]) for f in out["findings"]] == [("lock", "failed")]
    assert "pid 7, user ops" in out["msg"]


def test_an_error_while_reading_keeps_what_was_learnt(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: become is the remedy

    def reading():
        yield Step("unit", "ok", "walinuxagent.service runs")
        raise OSError(errno.EACCES, "Permission denied", "/var/lib/waagent")

    out = CauseRun("LINUX_AGENT", check_mode=True).run(reading).result()
    assert [f["status"] for f in out["findings"]] == ["ok", "failed"]
    assert "ansible_become" in out["findings"][1]["summary"]


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied"), (errno.ENOSPC, "no space")])
def test_explain_names_the_host_side_reason(code, words, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason, remedy = explain(OSError(code, "x", "/nonexistent/file"))
    assert words in reason and remedy


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_denied_as_root_does_not_ask_for_become(code, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    reason, remedy = explain(OSError(code, "x", "/etc/waagent.conf"))
    assert "although running as root" in reason and "ansible_become" not in remedy
    assert "lsattr -d /etc" in remedy and "ausearch -m avc -ts recent" in remedy and "dmesg | grep apparmor" in remedy


@pytest.mark.parametrize("flag, words", [("+i", "immutable (chattr +i)"), ("+a", "append-only (chattr +a)")])
def test_explain_names_an_attribute_on_the_parent_folder(tmp_path, flag, words):
    import subprocess

    folder = tmp_path / "etc"
    folder.mkdir()
    if subprocess.run(["chattr", flag, str(folder)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr does not work here")
    try:
        reason, remedy = explain(OSError(errno.EPERM, "x", str(folder / "waagent.conf")))
    finally:
        subprocess.run(["chattr", "-" + flag[1], str(folder)], check=True)
    assert reason == "%s is %s" % (folder, words) and "chattr -%s %s" % (flag[1], folder) in remedy


def test_a_step_may_name_the_cause_its_finding_belongs_to():
    def mixed():
        yield Step("config_httpproxy_host", "ok", "HttpProxy.Host=10.0.0.5", cause="NETWORK")
        yield Step("config_httpproxy_port", "found", "HttpProxy.Port is unset", cause="NETWORK",
                   change=Change("set HttpProxy.Port=3128", lambda: None))
        yield Step("config_extensions_enabled", "ok", "Extensions.Enabled=y")

    checked = CauseRun("LINUX_AGENT", check_mode=True).run(mixed).result()
    applied = CauseRun("LINUX_AGENT", check_mode=False).run(mixed).result()
    for out in (checked, applied):
        assert [f["id"] for f in out["findings"]] == ["NETWORK", "NETWORK", "LINUX_AGENT"]
    assert applied["findings"][1]["status"] == "fixed"
