"""One broken host never stops the rest of the fleet.

Runs the real fix-backup.yml over real fleet VMs: one VM with a corrupt
/etc/waagent.conf, one with a stopped agent, one healthy, one whose agent cannot
import its own Python package, and an inventory host nobody answers for (an
unused address on the fleet's own bridge), and two VMs with an outdated agent that
cannot be upgraded: dpkg's lock held by another run, or no repository configured.
A cause that fails on a host does not
stop that host's other causes, and the hosts where a cause persists get a log bundle. Needs root and
the fleet images (tests/fleet/fleet build); tests/run's integration stage has both.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import subprocess
import tarfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLEET = os.path.join(ROOT, "tests", "fleet", "fleet")


def fleet(*args, check=True):
    return subprocess.run([FLEET, *args], check=check, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet-failures")
    # vm01 RHEL-style (corrupt config), vm02 Debian 12 (agent stopped), vm03 Debian 12 (healthy),
    # vm04 Debian 12 (agent's Python package gone: report-only, the agent cannot be started),
    # vm05 and vm06 with bullseye's agent 2.2.47 (dpkg locked; no repository).
    fleet("up", "6", "--variant=rhel", "--variant=debian12", "--variant=debian12", "--variant=debian12",
          "--variant=debian12-oldagent", "--variant=debian12-oldagent")
    try:
        fleet("break", "vm01", "config-corrupt")
        fleet("break", "vm02", "agent-stopped")
        fleet("break", "vm04", "agent-python-broken")
        fleet("break", "vm05", "apt-locked")
        fleet("break", "vm06", "apt-repo-missing")
        # vm02's agent log gets two lines the agent writes when it gets no goal state (texts of the real captures).
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        fleet("exec", "vm02", "--", "sh", "-c", 'printf "%s\\n" "$@" >> /var/log/waagent.log', "sh",
              now + " ERROR ExtHandler ExtHandler Error fetching the goal state: [ProtocolError] [Wireserver Exception] [HttpError] "
                    "[HTTP Failed] GET http://168.63.129.16/machine/ -- IOError timed out -- 6 attempts made",
              now + " ERROR ExtHandler ExtHandler Error fetching the goal state: [ProtocolError] Error fetching goal state Inner error: "
                    "[ResourceGoneError] Resource is gone")
        corrupt_before = fleet("exec", "vm01", "--", "sha256sum", "/etc/waagent.conf")
        inventory = tmp / "inventory.yml"
        # vm99: on the fleet's bridge, no VM behind it, so SSH fails fast and locally.
        inventory.write_text(fleet("inventory") + "            vm99:\n              ansible_host: 10.213.0.99\n"
                             "              ansible_ssh_common_args: '-o ConnectTimeout=5 -o StrictHostKeyChecking=no'\n")
        env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        # A short lock wait: the point is that a held lock ends in a clear failure, not in a hang.
        proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "fix-backup.yml", "-l", "vms",
                               "-e", "linux_agent_package_lock_timeout=5"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        [report] = glob.glob(str(tmp / "reports" / "*.json"))
        with open(report) as handle:
            yield {"proc": proc, "report": json.load(handle),
                   "vm02_active": fleet("exec", "vm02", "--", "systemctl", "is-active", "walinuxagent", check=False).strip(),
                   "corrupt_before": corrupt_before,
                   "corrupt_after": fleet("exec", "vm01", "--", "sha256sum", "/etc/waagent.conf"),
                   "bundles": sorted(os.listdir(tmp / "reports" / "log-bundles"))}
    finally:
        fleet("down")


AGENT_PLAY = """\
- name: LINUX_AGENT alone, as the linux_agent role calls it
  hosts: vms
  gather_facts: false
  tasks:
    - name: Check and fix the agent, with waagent.conf settings to write
      azure_backup.remediation.linux_agent:
        config: {Extensions.Enabled: "y", Logs.Verbose: "y"}
        config_report: [AutoUpdate.Enabled]
      register: agent
      ignore_errors: true
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ agent | to_json }}"
        dest: "{{ out }}/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
"""


@pytest.fixture(scope="class")
def agent(tmp_path_factory):
    """LINUX_AGENT on real VMs whose waagent.conf cannot be written (chattr +i; /etc read-only) and whose
    ExecStart starts the agent's Python with flags that stop it importing itself. Its own small fleet,
    up and down within the class that uses it (before the module's fleet below is brought up)."""
    tmp = tmp_path_factory.mktemp("fleet-agent")
    fleet("up", "3", "--variant=debian12")
    try:
        fleet("break", "vm01", "config-immutable")
        fleet("break", "vm02", "etc-read-only")
        fleet("break", "vm03", "execstart-python-flags")
        before = {vm: fleet("exec", vm, "--", "sha256sum", "/etc/waagent.conf") for vm in ("vm01", "vm02")}
        (tmp / "inventory.yml").write_text(fleet("inventory"))
        (tmp / "play.yml").write_text(AGENT_PLAY)
        env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml"), "-e", "out=%s" % tmp],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        results = {}
        for vm in ("vm01", "vm02", "vm03"):
            with open(tmp / ("%s.json" % vm)) as handle:
                results[vm] = json.load(handle)
        yield {"proc": proc, "results": results, "before": before,
               "after": {vm: fleet("exec", vm, "--", "sha256sum", "/etc/waagent.conf") for vm in ("vm01", "vm02")},
               # Anything this run may have left beside the file: backups (waagent.conf.*~) and temp files (.azure-backup-*).
               "beside": {vm: fleet("exec", vm, "--", "sh", "-c", "ls -a /etc | grep -E '^waagent.conf.|^.azure-backup-' || true").split()
                          for vm in ("vm01", "vm02")}}
    finally:
        fleet("exec", "vm01", "--", "chattr", "-i", "/etc/waagent.conf", check=False)
        fleet("down")


class TestAgentChangesThatCannotBeMade:
    """The agent fixture's VMs: vm01 config-immutable, vm02 etc-read-only, vm03 execstart-python-flags."""

    @staticmethod
    def checks(result):
        return {f["check"]: f for f in result["findings"]}

    @pytest.mark.parametrize("vm, reason, remedy", [
        ("vm01", "/etc/waagent.conf is immutable (chattr +i)", "chattr -i /etc/waagent.conf"),
        ("vm02", "the file system holding /etc/waagent.conf is mounted read-only", "mount -o remount,rw"),
    ])
    def test_an_unwritable_waagent_conf_is_one_failed_finding_and_the_other_checks_still_run(self, agent, vm, reason, remedy):
        result = agent["results"][vm]
        checks = self.checks(result)
        config_failed = [f for f in result["findings"] if f["check"].startswith("config_") and f["status"] == "failed"]
        assert len(config_failed) == 1, result["findings"]
        assert reason in config_failed[0]["summary"] and remedy in config_failed[0]["summary"]
        assert "failed final rename" not in result["msg"]
        for check in ("agent_python", "agent_dir_noexec", "agent_log", "agent_auto_restart", "agent_version", "agent_service"):
            assert check in checks, (check, result["findings"])
        assert checks["agent_version"]["status"] == "ok" and checks["agent_service"]["status"] == "ok"
        assert "agent_restart" not in checks  # nothing written, nothing restarted
        assert agent["after"][vm] == agent["before"][vm] and agent["beside"][vm] == []

    def test_on_a_read_only_etc_the_drop_in_is_one_failed_finding_too(self, agent):
        restart = self.checks(agent["results"]["vm02"])["agent_auto_restart"]
        assert restart["status"] == "failed" and "mounted read-only" in restart["summary"]
        # Where the file system allows it, the drop-in is written in the same run.
        assert self.checks(agent["results"]["vm01"])["agent_auto_restart"]["status"] == "fixed"

    def test_execstart_interpreter_flags_that_break_the_agents_import_are_found(self, agent):
        checks = self.checks(agent["results"]["vm03"])
        python = checks["agent_python"]
        assert python["status"] == "found", python
        assert "python3 -S -u" in python["summary"] and "cannot import azurelinuxagent" in python["summary"]
        assert python["detail"]["flags"] == ["-S", "-u"]
        # The version is still read (by waagent itself), and the agent that cannot start is not reported running.
        assert checks["agent_version"]["status"] == "ok" and checks["agent_version"]["detail"]["read_with"] == "waagent --version"
        assert checks["agent_service"]["status"] in ("failed", "found"), checks["agent_service"]


def test_the_run_fails_because_hosts_failed(run):
    proc = run["proc"]
    assert proc.returncode != 0
    assert "vm99" in proc.stdout and "UNREACHABLE" in proc.stdout
    # A fleet of Linux VMs only: no warning about the Windows group nobody joined.
    assert "Could not match supplied host pattern" not in proc.stdout + proc.stderr


def test_the_healthy_and_the_fixable_hosts_are_done(run):
    report = run["report"]
    assert report["hosts"]["vm02"]["status"] in ("fixed", "found")
    service = [f for f in report["hosts"]["vm02"]["findings"] if f["check"] == "agent_service"]
    assert [f["status"] for f in service] == ["fixed"]
    assert run["vm02_active"] == "active"
    for name in ("vm02", "vm03"):
        assert not [f for f in report["hosts"][name]["findings"] if f["status"] == "failed"], name


def test_the_agent_log_says_what_its_lines_mean(run):
    [log] = [f for f in run["report"]["hosts"]["vm02"]["findings"] if f["check"] == "agent_log"]
    assert log["status"] == "found" and log["severity"] == "warning"
    assert log["summary"].startswith("the agent's log shows extensions, the backup extension (VMSnapshotLinux) too, were not being processed: ")
    meanings = {m["kind"]: m for m in log["detail"]["meanings"]}
    # The agent itself may log more of them while the run goes on: at least the two written.
    assert meanings["wireserver"]["count"] >= 1 and meanings["goal_state"]["count"] >= 1


def test_the_corrupt_config_is_a_clear_failure_and_untouched(run):
    vm01 = run["report"]["hosts"]["vm01"]
    assert vm01["status"] == "failed"
    failed = [f for f in vm01["findings"] if f["status"] == "failed"]
    messages = " ".join([f["summary"] for f in failed] + [e.get("msg", "") for e in vm01["errors"]])
    assert "/etc/waagent.conf is not a text file" in messages and "reinstall" in messages, vm01
    # The same module went on to the agent itself: its unit was still checked.
    assert "agent_service" in {f["check"] for f in vm01["findings"]}
    assert run["corrupt_after"] == run["corrupt_before"]


def test_a_failed_cause_does_not_stop_the_other_causes_of_that_host(run):
    checked = {f["id"] for f in run["report"]["hosts"]["vm01"]["findings"]}
    assert {"SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK", "DISK_LIMITS"} <= checked
    # The play still fails the host at the end, naming the cause: exit code and AWX status stay honest.
    assert "LINUX_AGENT: /etc/waagent.conf is not a text file" in run["proc"].stdout


def test_a_broken_agent_python_is_reported_and_fails_with_its_remedy(run):
    vm04 = run["report"]["hosts"]["vm04"]
    status = {f["check"]: f for f in vm04["findings"]}
    assert status["agent_python"]["status"] == "found" and "cannot import azurelinuxagent" in status["agent_python"]["summary"]
    assert vm04["status"] == "failed"
    assert "reinstall the distribution's agent package" in status["agent_python"]["summary"]


def test_hosts_where_a_cause_persists_get_a_log_bundle_the_others_none(run):
    report = run["report"]["hosts"]
    assert {name for name, entry in report.items() if entry.get("log_bundle")} == {"vm01", "vm04", "vm05", "vm06"}
    assert [b.split("-")[0] for b in run["bundles"]] == ["vm01", "vm04", "vm05", "vm06"]
    with tarfile.open(report["vm04"]["log_bundle"]) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert "var/log/waagent.log" in names
    assert any(r.startswith("LINUX_AGENT") for r in manifest["reasons"]), manifest


def test_the_unreachable_host_is_in_the_report(run):
    vm99 = run["report"]["hosts"]["vm99"]
    assert vm99["status"] == "unreachable"
    assert "10.213.0.99" in vm99["errors"][0]["msg"] or "ssh" in vm99["errors"][0]["msg"].lower()


def test_the_network_checks_aimed_at_the_fleet_not_at_azure(run):
    wireserver = [f for f in run["report"]["hosts"]["vm03"]["findings"] if f["check"] == "wireserver"]
    assert wireserver and "10.213.0.1" in wireserver[0]["summary"] and "168.63.129.16" not in wireserver[0]["summary"]


@pytest.mark.parametrize("vm, apt_says", [
    ("vm05", "Unable to acquire the dpkg frontend lock"),  # another package run holds dpkg's lock
    ("vm06", "is already the newest version"),             # no repository offers a newer agent
])
def test_an_agent_that_cannot_be_upgraded_fails_that_host_clearly(run, vm, apt_says):
    entry = run["report"]["hosts"][vm]
    version = [f for f in entry["findings"] if f["check"] == "agent_version"]
    assert [f["status"] for f in version] == ["failed"] and entry["status"] == "failed"
    assert "2.2.47" in version[0]["summary"]
    # apt's own words, in this VM's own finding (not anywhere in the run's output).
    output = " | ".join(version[0]["detail"]["package_output"])
    assert apt_says in output, output
