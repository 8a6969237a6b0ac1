from __future__ import annotations

import datetime
import json
import os
import subprocess

import pytest

from ansible.module_utils import basic

from ansible_collections.azure_backup.remediation.plugins.modules import linux_agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent as _agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import linux_agent as agent_mod

HEALTHY = {"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
           "Result": "success", "MainPID": "42", "Restart": "always", "NRestarts": "0", "FragmentPath": "/lib/systemd/system/x",
           "DropInPaths": "",
           "ExecStart": "{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -u /usr/sbin/waagent -daemon ; ignore_errors=no }"}
MISSING = {"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "", "Result": "success"}


class FakeSystemctl:
    """A VM's systemctl with state (`show` renders it, verbs change it), the agent's Python answering the
    probe (causes/linux_agent.PROBE), `waagent --version` and `apt-get`, whose upgrade installs `repo_version`
    if the repository has one. Calls are recorded."""

    version = "2.7.3.0"
    repo_version = None
    python_ok = True
    sysv_running = False  # the init script's state, on a host without systemd
    sysv_start_works = True
    show_configuration = None  # waagent -show-configuration's output; None: an agent too old to have it
    breaking_flags = ("-S",)  # interpreter flags under which the agent's package is not on sys.path (Debian's dist-packages)

    def __init__(self, units, start_fails=False, dies_after_start=False, override_restart=None):
        self.units = {name: dict(state, Id=name) for name, state in units.items()}
        self.dropin_dir = None  # set by run(): where this test's drop-ins are written
        self.override_restart = override_restart  # a later drop-in that wins over ours
        self.calls = []
        self.start_fails = start_fails
        self.dies_after_start = dies_after_start

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        cmd = unwrap(cmd)
        tool, verb = os.path.basename(cmd[0]), cmd[1]
        if tool == "service":
            verb = cmd[2]
            if verb == "start" and self.sysv_start_works:
                self.sysv_running = True
            return (0 if verb == "status" and self.sysv_running or verb == "start" and self.sysv_start_works else 3), "", ""
        if tool == "python3":
            assert cmd[cmd.index("-c") + 1] == _agent.PROBE
            if not self.python_ok or any(flag in cmd[:cmd.index("-c")] for flag in self.breaking_flags):
                return 3, "", "Traceback...\nModuleNotFoundError: No module named 'azurelinuxagent'\n"
            answer = {"version": self.version_text()}
            if self.show_configuration:
                answer["configuration"] = self.show_configuration
            else:
                answer["configuration_error"] = "AttributeError: module has no attribute 'get_configuration'"
            return 0, json.dumps(answer), ""
        if tool == "waagent" and cmd[-1] == "-show-configuration":
            return (0, self.show_configuration, "") if self.show_configuration else (1, "", "unknown command")
        if tool == "waagent":
            return 0, self.version_text(), ""
        if tool == "apt-get":
            if verb == "install" and self.repo_version:
                self.version = self.repo_version
            return 0, "", ""
        if verb == "daemon-reload":
            for name, unit in self.units.items():
                ours = os.path.join(self.dropin_dir, name + ".d", "90-azure-backup-restart.conf")
                if os.path.exists(ours):
                    unit.update(Restart=self.override_restart or "always", DropInPaths=ours)
            return 0, "", ""
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

    def version_text(self):
        return "WALinuxAgent-%s running on debian 12\nPython: 3.11.2\nGoal state agent: %s\n" % (self.version, self.version)

    @property
    def probes(self):
        """The probe's runs, as the Python command inside `timeout 60 env -i ...`."""
        return [unwrap(c) for c in self.calls if unwrap(c) is not c]

    @property
    def mutating(self):
        return [c for c in self.calls if unwrap(c) is c and c[1] not in ("show", "--version") and c[-1] != "status"]


def unwrap(cmd):
    """The command `timeout N env -i NAME=VALUE... ` starts; the command itself when it is not so wrapped."""
    rest = cmd
    if os.path.basename(rest[0]) == "timeout":
        rest = rest[2:]
    if os.path.basename(rest[0]) != "env":
        return cmd
    rest = rest[2:] if rest[1] == "-i" else rest[1:]
    while "=" in rest[0]:
        rest = rest[1:]
    return rest


MOUNTINFO = "22 1 0:21 / / rw,relatime - overlay overlay rw\n"


def run(monkeypatch, run_module, fake, check_mode=False, diff=False, systemd=True, tmp=None, mountinfo=MOUNTINFO, log=None,
        init_script=None, **args):
    fake.dropin_dir = str(tmp)
    # The VM's files the health check reads, as this test wants them.
    (tmp / "mountinfo").write_text(mountinfo)
    monkeypatch.setattr(agent_mod.LinuxAgent, "MOUNTINFO", str(tmp / "mountinfo"))
    monkeypatch.setattr(agent_mod.LinuxAgent, "LOG", str(tmp / "waagent.log"))
    (tmp / "init.d").mkdir(exist_ok=True)
    if init_script:
        (tmp / "init.d" / init_script).write_text("#!/bin/sh\n")
    monkeypatch.setattr(agent_mod.LinuxAgent, "INIT_D", str(tmp / "init.d"))
    if log is not None:
        (tmp / "waagent.log").write_text(log)
    monkeypatch.setattr(agent_mod._systemd, "restart_dropin_path",
                        lambda unit: os.path.join(fake.dropin_dir, unit + ".d", "90-azure-backup-restart.conf"))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: fake(cmd, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **kw: "/bin/" + name if name in ("systemctl", "waagent", "apt-get", "service", "env", "timeout") else None)
    monkeypatch.setattr(agent_mod.LinuxAgent, "os_release", lambda self: {"ID": "debian", "PRETTY_NAME": "Debian 12"})
    real_isdir = os.path.isdir  # os.path is shared: only systemd's runtime folder is faked
    monkeypatch.setattr(agent_mod.os.path, "isdir", lambda path: systemd if path == "/run/systemd/system" else real_isdir(path))
    monkeypatch.setattr(agent_mod.time, "sleep", lambda s: None)
    return run_module(linux_agent.main, dict(args, settle_timeout=0), check_mode, diff)


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


@pytest.fixture
def run_(monkeypatch, run_module, tmp_path):
    return lambda fake, **kw: run(monkeypatch, run_module, fake, tmp=tmp_path, **kw)


def debian(**state):
    return FakeSystemctl({"walinuxagent.service": dict(HEALTHY, **state)})


def test_healthy_agent_is_ok_and_unchanged(run_):
    fake = debian()
    result = run_(fake)
    assert result["changed"] is False
    assert by_check(result)["agent_service"]["detail"]["unit"] == "walinuxagent.service"
    assert by_check(result)["agent_service"]["status"] == "ok"
    assert fake.mutating == []
    # One systemctl show and ONE start of the agent's Python (import, version, configuration): nothing else on a healthy VM.
    assert [unwrap(c)[1] for c in fake.calls] == ["show", "-u"]
    assert fake.probes == [["/usr/bin/python3", "-u", "-c", _agent.PROBE, "/etc/waagent.conf"]]
    assert by_check(result)["agent_version"]["detail"]["before"]["daemon"] == "2.7.3.0"


def test_check_mode_reports_and_changes_nothing(run_):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    result = run_(fake, check_mode=True, diff=True)
    assert result["changed"] is True
    finding = by_check(result)["agent_service"]
    assert finding["status"] == "found"
    assert finding["detail"]["actions"] == ["enable", "start"]
    assert "inactive (dead), unit file disabled" in finding["summary"]
    assert fake.mutating == []
    [diff] = result["diff"]  # one diff per thing changed; auto-restart is already fine here
    assert diff["before_header"] == "systemd: walinuxagent.service"
    assert "running: no" in diff["before"] and "running: yes" in diff["after"]


def test_stopped_and_disabled_agent_is_fixed_then_idempotent(run_):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    result = run_(fake)
    assert result["changed"] is True
    assert by_check(result)["agent_service"]["status"] == "fixed"
    assert [c[1] for c in fake.mutating] == ["enable", "start"]
    assert by_check(result)["agent_service"]["detail"]["after"]["ActiveState"] == "active"
    again = run_(fake)
    assert again["changed"] is False and by_check(again)["agent_service"]["status"] == "ok"


def test_masked_agent_is_unmasked_enabled_started(run_):
    # As systemd shows a masked unit: its unit file is /dev/null, so ExecStart is empty.
    fake = debian(LoadState="masked", UnitFileState="masked", ActiveState="inactive", SubState="dead", ExecStart="")
    result = run_(fake)
    assert by_check(result)["agent_python"]["status"] == "skipped"
    assert [c[1] for c in fake.mutating] == ["unmask", "enable", "start"]
    assert by_check(result)["agent_service"]["status"] == "fixed"


def test_start_limit_hit_is_reset_before_start(run_):
    fake = debian(ActiveState="failed", SubState="failed", Result="start-limit-hit")
    result = run_(fake)
    assert [c[1] for c in fake.mutating] == ["reset-failed", "start"]
    assert by_check(result)["agent_service"]["status"] == "fixed"
    assert "start-limit-hit" in by_check(result)["agent_service"]["summary"]


def test_rhel_style_unit_is_found_by_name(run_):
    fake = FakeSystemctl({"waagent.service": dict(HEALTHY, ActiveState="inactive", SubState="dead")})
    result = run_(fake)
    assert by_check(result)["agent_service"]["detail"]["unit"] == "waagent.service"
    assert fake.mutating == [["/bin/systemctl", "start", "--", "waagent.service"]]


def test_outdated_agent_check_mode_names_package_and_changes_nothing(run_):
    fake = debian()
    fake.version, fake.repo_version = "2.2.47", "2.7.3.0"
    result = run_(fake, check_mode=True)
    version = by_check(result)["agent_version"]
    assert version["status"] == "found" and result["changed"] is True
    assert version["summary"] == ("agent 2.2.47 (goal state 2.2.47) is older than the supported minimum 2.2.53.1; "
                                  "would upgrade waagent with apt-get from the distribution's repositories")
    assert fake.mutating == []


def test_outdated_agent_is_upgraded_through_apt_keeping_the_config(run_):
    fake = debian()
    fake.version, fake.repo_version = "2.2.47", "2.7.3.0"
    result = run_(fake)
    version = by_check(result)["agent_version"]
    assert version["status"] == "fixed" and version["detail"]["after"]["daemon"] == "2.7.3.0"
    update, install = [c for c in fake.mutating if c[0] == "/bin/apt-get"]
    assert update[1] == "update"
    assert install[1:4] == ["install", "--only-upgrade", "-y"] and install[-1] == "waagent"
    assert "Dpkg::Options::=--force-confold" in install and "DPkg::Lock::Timeout=60" in install
    again = run_(fake)
    assert by_check(again)["agent_version"]["status"] == "ok" and again["changed"] is False


def test_no_newer_agent_in_the_repositories_fails_clearly(run_):
    fake = debian()
    fake.version = "2.2.47"
    result = run_(fake)
    assert result["failed"] is True
    assert "the configured repositories offer no newer agent" in result["msg"]
    assert by_check(result)["agent_version"]["status"] == "failed"


def test_upgrade_off_only_reports(run_):
    fake = debian()
    fake.version, fake.repo_version = "2.2.47", "2.7.3.0"
    result = run_(fake, upgrade=False)
    assert by_check(result)["agent_version"]["status"] == "found" and result["changed"] is False
    assert fake.mutating == []


def test_bad_min_version_is_refused(run_):
    result = run_(debian(), min_version="2.2.x")
    assert result["failed"] is True and "min_version" in result["msg"] and "Nothing was changed" in result["msg"]


def test_no_agent_unit_is_reported_not_failed(run_):
    fake = FakeSystemctl({})
    result = run_(fake)
    assert result["failed"] is False and result["changed"] is False
    assert by_check(result)["agent_service"]["detail"]["unit"] is None
    assert by_check(result)["agent_service"]["status"] == "found"
    assert "install the distribution's agent package" in by_check(result)["agent_service"]["summary"]


def test_failed_start_fails_the_task_and_keeps_the_finding(run_):
    fake = debian(ActiveState="inactive", SubState="dead", UnitFileState="disabled")
    fake.start_fails = True
    result = run_(fake)
    assert result["failed"] is True
    assert result["changed"] is True  # enable went through before start failed
    assert "systemctl start walinuxagent.service failed" in result["msg"]
    assert by_check(result)["agent_service"]["status"] == "failed"
    assert by_check(result)["agent_service"]["detail"]["done"] == ["enable"]


def test_agent_that_dies_after_start_is_failed_not_fixed(run_):
    fake = debian(ActiveState="inactive", SubState="dead")
    fake.dies_after_start = True
    result = run_(fake)
    assert result["failed"] is True
    assert "did not stay running" in result["msg"] and "journalctl -u walinuxagent.service" in result["msg"]
    assert by_check(result)["agent_service"]["status"] == "failed"


def test_without_systemd_and_without_an_init_script_the_error_says_what_to_do(run_):
    fake = debian()
    result = run_(fake, systemd=False)
    assert result["failed"] is True
    assert "systemd is not running" in result["msg"] and "install the distribution's agent package" in result["msg"]
    assert fake.mutating == []


def test_without_systemd_the_init_script_is_used_and_said(run_, tmp_path):
    fake = debian()
    checked = run_(fake, systemd=False, check_mode=True, init_script="walinuxagent")
    service = by_check(checked)["agent_service"]
    assert service["status"] == "found" and "(no systemd); would run: service walinuxagent start" in service["summary"]
    assert by_check(checked)["agent_auto_restart"]["status"] == "skipped"
    assert fake.mutating == []
    fixed = run_(fake, systemd=False, init_script="walinuxagent")
    assert by_check(fixed)["agent_service"]["status"] == "fixed" and fake.mutating == [["/bin/service", "walinuxagent", "start"]]
    again = run_(fake, systemd=False, init_script="walinuxagent")
    assert again["changed"] is False and by_check(again)["agent_service"]["status"] == "ok"


def test_without_systemd_a_failing_start_fails_the_host(run_):
    fake = debian()
    fake.sysv_start_works = False
    result = run_(fake, systemd=False, init_script="walinuxagent")
    assert result["failed"] is True and "service walinuxagent start did not leave the agent running" in result["msg"]
    assert by_check(result)["agent_service"]["status"] == "failed"


def test_unit_without_restart_policy_gets_a_drop_in(run_, tmp_path):
    fake = debian(Restart="no")
    checked = run_(fake, check_mode=True, diff=True)
    assert by_check(checked)["agent_auto_restart"]["status"] == "found"
    assert "Restart=no: the agent stays down after a crash" in by_check(checked)["agent_auto_restart"]["summary"]
    assert checked["diff"][0]["after"].endswith("Restart=always\nRestartSec=5\n")
    assert fake.mutating == [] and not os.path.exists(tmp_path / "walinuxagent.service.d")

    fixed = run_(fake)
    assert fixed["changed"] is True
    assert by_check(fixed)["agent_auto_restart"]["status"] == "fixed"
    assert [c[1] for c in fake.mutating] == ["daemon-reload"]
    dropin = tmp_path / "walinuxagent.service.d" / "90-azure-backup-restart.conf"
    assert "[Service]\nRestart=always\n" in dropin.read_text()
    assert oct(dropin.stat().st_mode & 0o777) == "0o644"

    again = run_(fake)
    assert again["changed"] is False and by_check(again)["agent_auto_restart"]["status"] == "ok"
    assert [c[1] for c in fake.mutating] == ["daemon-reload"]  # no second reload


def test_a_later_drop_in_that_wins_is_reported_with_its_path(run_):
    fake = debian(Restart="no")
    fake.override_restart = "no"
    result = run_(fake)
    assert result["failed"] is True
    assert "a drop-in that sorts after it wins" in result["msg"]
    assert by_check(result)["agent_auto_restart"]["status"] == "failed"
    # A failed change ends only its own check: the version and the service are still checked and reported.
    assert by_check(result)["agent_service"]["status"] == "ok" and by_check(result)["agent_version"]["status"] == "ok"


def test_auto_restart_can_be_left_alone(run_):
    fake = debian(Restart="no")
    result = run_(fake, auto_restart=False)
    assert result["changed"] is False
    assert "agent_auto_restart" not in by_check(result)


def test_health_reports_broken_python_noexec_and_log_errors_and_changes_nothing(run_):
    fake = debian()
    fake.python_ok = False
    recent = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    result = run_(fake, mountinfo=MOUNTINFO + "41 22 0:21 /x /var/lib/waagent rw,noexec - overlay overlay rw\n",
                  log="%s ERROR ExtHandler ExtHandler Error fetching the goal state\n%s INFO Daemon fine\n" % (recent, recent))
    checks = by_check(result)
    assert checks["agent_python"]["status"] == "found"
    assert "cannot import azurelinuxagent (ModuleNotFoundError: No module named 'azurelinuxagent')" in checks["agent_python"]["summary"]
    assert checks["agent_dir_noexec"]["status"] == "found" and "mounted noexec" in checks["agent_dir_noexec"]["summary"]
    assert checks["agent_log"]["status"] == "found" and checks["agent_log"]["detail"]["errors"] == 1
    assert checks["agent_log"]["summary"].startswith(
        "the agent's log shows extensions, the backup extension (VMSnapshotLinux) too, were not being processed: the agent could not "
        "fetch its goal state (1 line); 1 errors, 0 warnings in the last 24 h of ")
    assert checks["agent_log"]["severity"] == "warning" and checks["agent_log"]["detail"]["meanings"][0]["kind"] == "goal_state"
    assert fake.mutating == [] and result["changed"] is False


def test_a_line_of_known_meaning_at_info_is_found(run_):
    recent = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    result = run_(debian(), log="%s INFO Daemon Daemon WireServer is not responding. Reset dhcp endpoint\n" % recent)
    log = by_check(result)["agent_log"]
    assert log["status"] == "found" and (log["detail"]["errors"], log["detail"]["warnings"]) == (0, 0)
    assert "the agent's requests to 168.63.129.16 (WireServer/HostGAPlugin) failed: no answer or an error answer (1 line)" in log["summary"]


def test_a_goal_state_error_the_agent_recovered_from_is_ok(run_):
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = [(now - datetime.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000000Z") for m in (3, 2)]
    log = ("%s ERROR ExtHandler ExtHandler Error fetching the goal state: [ProtocolError] Error fetching goal state Inner error: "
           "[ResourceGoneError] [HTTP Failed] [410: Gone] x\n%s INFO ExtHandler ExtHandler Fetching the goal state recovered from "
           "previous errors. Fetched incarnation_3 (certificates: [])\n" % tuple(stamp))
    log_step = by_check(run_(debian(), log=log))["agent_log"]
    assert log_step["status"] == "ok" and log_step["severity"] == "info"
    assert log_step["summary"].startswith("the agent's log shows extensions were held up, but the agent recovered: ")
    assert log_step["detail"]["meanings"][0]["recovered"] == stamp[1][:19]


def test_healthy_signs_are_ok(run_):
    result = run_(debian(), log="")
    checks = by_check(result)
    assert [checks[c]["status"] for c in ("agent_python", "agent_dir_noexec", "agent_log")] == ["ok", "ok", "ok"]


CONF = "# Azure Linux agent\nExtensions.Enabled=n\nLogs.Verbose=n\n"


def test_waagent_conf_is_fixed_in_the_same_execution_and_the_agent_restarted_once(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = debian()
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"}, config_report=["AutoUpdate.Enabled"])
    found = by_check(result)
    assert found["config_extensions_enabled"]["status"] == "fixed" and found["agent_service"]["status"] == "ok"
    assert conf.read_text() == CONF.replace("Extensions.Enabled=n", "Extensions.Enabled=y")
    assert [c[1] for c in fake.mutating] == ["restart"] and result["changed"]
    # The restart is its own finding, after the change, naming the unit restarted.
    assert found["agent_restart"]["status"] == "fixed" and found["agent_restart"]["detail"]["unit"] == "walinuxagent.service"
    assert [f["check"] for f in result["findings"]].index("agent_restart") == 2
    again = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"})
    assert not again["changed"] and by_check(again)["config_extensions_enabled"]["status"] == "ok"
    assert "agent_restart" not in by_check(again)


def test_check_mode_leaves_waagent_conf_alone(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = debian()
    result = run_(fake, check_mode=True, diff=True, config_path=str(conf), config={"Logs.Verbose": "y"})
    assert by_check(result)["config_logs_verbose"]["status"] == "found"
    assert result["changed"] and result["diff"][0]["after"].endswith("Logs.Verbose=y\n")
    assert conf.read_text() == CONF and fake.mutating == [] and sorted(os.listdir(tmp_path)) == sorted(
        ["waagent.conf", "mountinfo", "init.d"])


def test_a_corrupt_waagent_conf_fails_but_the_agent_is_still_fixed(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_bytes(b"\xff\xfe\x00garbage")
    fake = debian(ActiveState="inactive", SubState="dead")
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"})
    assert result["failed"] and "is not a text file" in result["msg"]
    found = by_check(result)
    assert found["config_file"]["status"] == "failed" and found["agent_service"]["status"] == "fixed"
    assert conf.read_bytes() == b"\xff\xfe\x00garbage" and result["changed"]


def test_the_reported_settings_are_the_agents_own_view(run_, tmp_path):
    """AutoUpdate.Enabled is absent from the file; the agent's view gives its effective value."""
    conf = tmp_path / "waagent.conf"
    conf.write_text("Extensions.Enabled=y\n")
    fake = debian()
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "waagent-show-configuration-debian12-2.7.3.0.txt")) as handle:
        fake.show_configuration = handle.read()
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"}, config_report=["AutoUpdate.Enabled"])
    report = by_check(result)["config_report"]
    assert report["detail"]["values"] == {"AutoUpdate.Enabled": "n"}
    assert report["detail"]["source"] == "the agent's own configuration reader"
    # Read by the one run of the agent's Python, for this file.
    assert fake.probes == [["/usr/bin/python3", "-u", "-c", _agent.PROBE, str(conf)]]


def test_an_edit_the_agent_reads_otherwise_fails_the_host(run_, tmp_path):
    """After writing, the agent's own view must agree: here it still says Extensions.Enabled=False."""
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = debian()
    fake.show_configuration = "Extensions.Enabled = False\nLogs.Verbose = False\n"
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"})
    assert result["failed"] and "the agent reads {'Extensions.Enabled': 'n'}" in result["msg"]
    assert by_check(result)["config_extensions_enabled"]["status"] == "failed" and result["changed"]
    # Not applied as asked, so the agent is not restarted for it.
    assert "agent_restart" not in by_check(result) and fake.mutating == []


@pytest.fixture
def immutable(tmp_path):
    """A waagent.conf with the immutable attribute, as chattr +i leaves it (needs root and a file system that has it)."""
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    if subprocess.run(["chattr", "+i", str(conf)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i does not work here")
    yield conf
    subprocess.run(["chattr", "-i", str(conf)], check=True)


OTHER_CHECKS = ["agent_python", "agent_dir_noexec", "agent_log", "agent_auto_restart", "agent_version", "agent_service"]


def test_an_immutable_waagent_conf_is_one_failed_finding_and_the_other_checks_still_run(run_, immutable, tmp_path):
    fake = debian(Restart="no", ActiveState="inactive", SubState="dead")
    result = run_(fake, config_path=str(immutable), config={"Extensions.Enabled": "y", "Logs.Verbose": "y"})
    failed = [f for f in result["findings"] if f["status"] == "failed"]
    assert [f["check"] for f in failed] == ["config_extensions_enabled"]
    assert "is immutable (chattr +i)" in failed[0]["summary"] and "chattr -i %s" % immutable in failed[0]["summary"]
    checks = by_check(result)
    assert checks["config_logs_verbose"]["status"] == "found" and "not set" in checks["config_logs_verbose"]["summary"]
    # The agent's other checks still ran and fixed what they could; the agent was not restarted for the file.
    assert [c for c in OTHER_CHECKS if c in checks] == OTHER_CHECKS
    assert checks["agent_auto_restart"]["status"] == "fixed" and checks["agent_service"]["status"] == "fixed"
    assert "agent_restart" not in checks and "restart" not in [c[1] for c in fake.mutating]
    assert result["failed"] is True and "chattr -i" in result["msg"] and result["changed"] is True
    assert immutable.read_text() == CONF
    # No backup, no temp file beside it.
    assert sorted(os.listdir(tmp_path)) == sorted(["waagent.conf", "mountinfo", "init.d", "walinuxagent.service.d"])


def test_a_read_only_etc_is_one_failed_finding_per_write_and_the_other_checks_still_run(run_, monkeypatch, tmp_path):
    import errno
    from ansible_collections.azure_backup.remediation.plugins.module_utils.core import files

    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)

    def read_only(dir=None, prefix=None, **kw):
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir, prefix or ""))

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    fake = debian(Restart="no")
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"})
    checks = by_check(result)
    failed = [f["check"] for f in result["findings"] if f["status"] == "failed"]
    assert failed == ["config_extensions_enabled", "agent_auto_restart"]  # the file and the drop-in, each once
    assert "mounted read-only" in checks["config_extensions_enabled"]["summary"]
    assert "mount -o remount,rw" in checks["agent_auto_restart"]["summary"]
    assert [c for c in OTHER_CHECKS if c in checks] == OTHER_CHECKS and checks["agent_service"]["status"] == "ok"
    assert fake.mutating == []  # no daemon-reload for a drop-in not written, no restart for a file not written
    assert conf.read_text() == CONF and sorted(os.listdir(tmp_path)) == sorted(["waagent.conf", "mountinfo", "init.d", "walinuxagent.service.d"])
    assert os.listdir(tmp_path / "walinuxagent.service.d") == []  # (only simulated: a truly read-only /etc refuses the folder too)


def test_execstart_interpreter_flags_that_break_the_import_are_not_read_as_ok(run_):
    # python3 -S: no site, so Debian's dist-packages (where azurelinuxagent lives) is not on sys.path.
    fake = debian(ExecStart="{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -S -u /usr/sbin/waagent -daemon ; ignore_errors=no }")
    result = run_(fake)
    checks = by_check(result)
    assert checks["agent_python"]["status"] == "found"
    assert "/usr/bin/python3 -S -u, the Python in walinuxagent.service's ExecStart, cannot import azurelinuxagent" in checks["agent_python"]["summary"]
    assert "take the interpreter flags -S -u out of ExecStart" in checks["agent_python"]["summary"]
    assert fake.probes[0][:4] == ["/usr/bin/python3", "-S", "-u", "-c"]
    # The version is still read, by waagent itself, and says where from.
    assert checks["agent_version"]["status"] == "ok" and checks["agent_version"]["detail"]["read_with"] == "waagent --version"


def test_the_probe_runs_as_systemd_starts_the_agent_not_with_ansibles_environment_or_folder(run_):
    """It runs as root: a clean environment plus the unit's Environment= (which wins), "/" as its folder, bounded in time."""
    fake = debian(Environment='PYTHONPATH=/opt/agent "LANG=en_US.UTF-8"')
    seen = []
    real = fake.__call__

    def call(cmd, **kw):
        if unwrap(cmd) is not cmd:
            seen.append((cmd, kw))
        return real(cmd, **kw)

    fake.__class__ = type("Recording", (FakeSystemctl,), {"__call__": lambda self, cmd, **kw: call(cmd, **kw)})
    run_(fake)
    [(cmd, kw)] = seen
    assert cmd[:cmd.index("/usr/bin/python3")] == [
        "/bin/timeout", "60", "/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
        "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=/opt/agent", "LANG=en_US.UTF-8"]
    assert kw.get("cwd") == "/" and not kw.get("environ_update")


def test_a_probe_that_hangs_is_stopped_and_said(run_):
    fake = debian()
    real = fake.__call__
    fake.__class__ = type("Hanging", (FakeSystemctl,), {
        "__call__": lambda self, cmd, **kw: (124, "", "") if unwrap(cmd) is not cmd else real(cmd, **kw)})
    checks = by_check(run_(fake))
    assert checks["agent_python"]["status"] == "found" and "did not answer within 60 s" in checks["agent_python"]["summary"]


def test_a_waagent_conf_changed_by_another_run_meanwhile_is_read_and_decided_again(run_, monkeypatch, tmp_path):
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import agent_config

    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    real_decide = agent_config.decide
    edits = []

    def decide_then_someone_edits(text, wanted, path):
        after = real_decide(text, wanted, path)
        if not edits:  # the other run writes between our read and our write, once
            edits.append(path)
            with open(path, "a") as handle:
                handle.write("OS.EnableRDMA=y\n")
        return after

    monkeypatch.setattr(agent_config, "decide", decide_then_someone_edits)
    result = run_(debian(), config_path=str(conf), config={"Extensions.Enabled": "y"})
    assert by_check(result)["config_extensions_enabled"]["status"] == "fixed"
    # Neither edit is lost.
    assert conf.read_text() == CONF.replace("Extensions.Enabled=n", "Extensions.Enabled=y") + "OS.EnableRDMA=y\n"


def test_an_execstart_variable_the_unit_does_not_set_is_cannot_tell(run_):
    fake = debian(ExecStart="{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 $FLAGS /usr/sbin/waagent -daemon ; ignore_errors=no }")
    python = by_check(run_(fake))["agent_python"]
    assert python["status"] == "found" and "cannot tell" in python["summary"] and "$FLAGS" in python["summary"]


def test_check_mode_predicts_the_restart_a_config_change_would_cause(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = debian()
    result = run_(fake, check_mode=True, config_path=str(conf), config={"Extensions.Enabled": "y"})
    restart = by_check(result)["agent_restart"]
    assert restart["status"] == "found" and "would restart walinuxagent.service" in restart["summary"]
    assert fake.mutating == [] and conf.read_text() == CONF


class Restarting(FakeSystemctl):
    """`systemctl restart` starts a new agent process, which stays up unless `dies` is set."""

    dies = False

    def __call__(self, cmd, **kwargs):
        if cmd[1:2] == ["restart"]:
            self.calls.append(cmd)
            unit = self.units[cmd[-1]]
            if self.dies:
                unit.update(ActiveState="failed", SubState="failed", Result="exit-code", MainPID="0")
            else:
                unit.update(MainPID="99", NRestarts="0")
            return 0, "", ""
        return super().__call__(cmd, **kwargs)


def test_after_a_restart_the_state_read_back_is_reported_and_the_new_setting(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = Restarting({"walinuxagent.service": dict(HEALTHY)})
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"}, config_report=["Extensions.Enabled"])
    checks = by_check(result)
    assert checks["agent_restart"]["status"] == "fixed" and checks["agent_restart"]["detail"]["state_after"]["MainPID"] == "99"
    assert checks["agent_restart"]["detail"]["after"].startswith("restarted walinuxagent.service; it is active")
    assert checks["agent_service"]["detail"]["before"]["MainPID"] == "99"
    assert checks["config_report"]["detail"]["values"] == {"Extensions.Enabled": "y"}


def test_an_agent_that_dies_after_the_restart_fails_the_restart(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    fake = Restarting({"walinuxagent.service": dict(HEALTHY)})
    fake.dies = True
    result = run_(fake, config_path=str(conf), config={"Extensions.Enabled": "y"})
    restart = by_check(result)["agent_restart"]
    assert restart["status"] == "failed" and "did not stay running after the restart" in restart["summary"]
    assert result["failed"]


def test_the_report_after_a_fixed_setting_gives_the_new_value(run_, tmp_path):
    conf = tmp_path / "waagent.conf"
    conf.write_text(CONF)
    result = run_(debian(), config_path=str(conf), config={"Logs.Verbose": "y"}, config_report=["Logs.Verbose", "Extensions.Enabled"])
    assert by_check(result)["config_report"]["detail"]["values"] == {"Logs.Verbose": "y", "Extensions.Enabled": "n"}
