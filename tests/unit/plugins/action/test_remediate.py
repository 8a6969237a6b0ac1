"""The remediate action plugin with the VM's answers recorded: settings refused before any round trip, every Linux
cause in one module execution, the log bundle only where a cause persists, the Windows causes each isolated, the
findings published once. The module's own loop (plugins/modules/remediate.py) is tested at the end."""
from __future__ import annotations

import base64
import os
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.plugins.action import ActionBase
from ansible.template import Templar, trust_as_template
from ansible_collections.azure_backup.remediation.plugins.action import remediate
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.modules import remediate as remediate_module
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings


def make_task(args, check_mode=False):
    task = MagicMock(Task)
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = True
    task.get_search_path.return_value = []
    task.copy.side_effect = lambda: make_task({}, check_mode)
    return task


class Recorded:
    """ActionBase._execute_module for every plugin at once (the Windows causes' plugins too): the answers in order."""

    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def __call__(self, plugin, module_name=None, module_args=None, task_vars=None, **_kw):
        self.sent.append((module_name, module_args))
        return self.answers.pop(0)


@pytest.fixture
def vm(monkeypatch):
    def start(task_args, answers, host_vars=None, check_mode=False):
        task_vars = dict({"inventory_hostname": "vm01"}, **(host_vars or {}))
        recorded = Recorded(answers)

        def execute_module(plugin, **kwargs):  # a plain function, so the plugin is passed as self
            return recorded(plugin, **kwargs)
        monkeypatch.setattr(ActionBase, "_execute_module", execute_module)
        monkeypatch.setattr(ActionBase, "_low_level_execute_command", lambda *a, **k: {"rc": 0, "stdout": "4.0|6.3.9600.0"})
        loader = DataLoader()
        plugin = remediate.ActionModule(make_task(task_args, check_mode), MagicMock(), MagicMock(), loader=loader,
                                        templar=Templar(loader=loader, variables=task_vars), shared_loader_obj=None)
        return plugin.run(task_vars=task_vars), recorded
    return start


def cause_answer(cause_id, *findings, failed_msg=None, changed=False):
    return {"findings": list(findings), "changed": changed, "causes": {}, "cause": cause_id, "failed_msg": failed_msg}


def linux_answer(per_cause: dict, changed=False):
    """The remediate module's answer: findings and the per-cause summary."""
    findings, causes, errors = [], {}, []
    for cause_id, (entries, msg) in per_cause.items():
        findings += entries
        causes[cause_id] = {"changed": False, "failed": bool(msg), "msg": msg or ""}
        if msg:
            errors.append("%s: %s" % (cause_id, msg))
    answer = {"changed": changed, "findings": findings, "causes": causes}
    if errors:
        answer.update(failed=True, msg=" | ".join(errors))
    return answer


OK = {c: ([finding(c, "state", "ok", "fine")], None) for c in ("LINUX_AGENT", "SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK", "DISK_LIMITS")}


def test_every_linux_cause_runs_in_one_execution_with_its_role_s_settings(vm):
    result, recorded = vm({"log_bundle": True}, [linux_answer(OK)], {"linux_agent_verbose_logs": True, "network_timeout": "2"})
    [(module, args)] = recorded.sent
    assert module == "azure_backup.remediation.remediate"
    assert args["causes"] == settings.CAUSES["linux"]
    assert args["cause_options"]["linux_agent"]["config"] == {"Extensions.Enabled": "y", "Logs.Verbose": "y"}
    assert args["cause_options"]["network"]["timeout"] == 2.0 and args["lock_wait"] == 120
    assert not result.get("failed") and not result["changed"]
    # Healthy: no second round trip for the log bundle; findings carry the host and are published once.
    assert {f["host"] for f in result["findings"]} == {"vm01"} and len(result["findings"]) == 5
    assert result["ansible_facts"]["azure_backup_findings"] == result["findings"]


def test_findings_add_up_across_tasks_of_one_run_only(vm):
    before = [dict(finding("LINUX_AGENT", "state", "ok", "fine"), host="vm01")]
    this_run = {"azure_backup_findings": before, "azure_backup_findings_run": remediate.run_id()}
    result, _recorded = vm({"causes": ["network"]}, [linux_answer({"NETWORK": OK["NETWORK"]})], this_run)
    assert result["ansible_facts"]["azure_backup_findings"] == before + result["findings"]
    # Findings an earlier run left in the fact cache are not this run's.
    earlier_run = {"azure_backup_findings": before, "azure_backup_findings_run": "1-1"}
    result, _recorded = vm({"causes": ["network"]}, [linux_answer({"NETWORK": OK["NETWORK"]})], earlier_run)
    assert result["ansible_facts"]["azure_backup_findings"] == result["findings"]


def test_bad_settings_fail_before_any_round_trip_naming_each(vm):
    result, recorded = vm({}, [], {"network_timeout": -1, "linux_agent_log_hours": -24})
    assert recorded.sent == [] and result["failed"]
    assert result["msg"] == ("vm01: linux_agent_log_hours = -24 is not allowed: a number of hours >= 1 and <= 8760; "
                             "network_timeout = -1 is not allowed: a number of seconds > 0 and <= 300")


def test_template_values_are_resolved_before_they_are_checked(vm):
    result, recorded = vm({"validate_only": True}, [], {"base": 0, "network_timeout": trust_as_template("{{ base - 1 }}")})
    assert recorded.sent == [] and "network_timeout = -1 is not allowed" in result["msg"]


def test_validate_only_contacts_nothing(vm):
    result, recorded = vm({"validate_only": True, "log_bundle": True}, [], {})
    assert recorded.sent == [] and not result.get("failed") and "log_bundle" in result["msg"]
    # It also sorts the host by operating system, as group_by would: the playbook needs no task for that.
    assert (result["add_group"], result["parent_groups"]) == ("azure_backup_linux", ["all"])
    result, _recorded = vm({"validate_only": True}, [], {"ansible_connection": "ansible.builtin.winrm"})
    assert result["add_group"] == "azure_backup_windows"
    result, recorded = vm({"validate_only": True, "log_bundle": True}, [], {"log_bundle_max_size": "5T"})
    assert recorded.sent == [] and "log_bundle_max_size = '5T' is not allowed" in result["msg"]


def test_a_windows_cause_on_a_linux_host_is_refused_before_any_round_trip(vm):
    result, recorded = vm({"causes": ["linux_agent", "vss_writers"]}, [], {})
    assert recorded.sent == [] and result["failed"] and "no Linux cause vss_writers" in result["msg"]


def test_failed_causes_fail_the_task_after_all_ran_and_the_log_bundle_is_collected(vm, tmp_path):
    answer = linux_answer(dict(OK, LINUX_AGENT=([finding("LINUX_AGENT", "config", "failed", "read-only")], "waagent.conf is read-only"),
                               NETWORK=([finding("NETWORK", "wireserver", "found", "timeout", severity="critical")], "wireserver timeout")))
    bundle = {"changed": False, "reasons": ["LINUX_AGENT/config: failed"], "files": [], "archive": base64.b64encode(b"tgz").decode()}
    result, recorded = vm({"log_bundle": True}, [answer, bundle], {"log_bundle_dir": str(tmp_path)})
    assert result["failed"] and result["msg"] == "LINUX_AGENT: waagent.conf is read-only | NETWORK: wireserver timeout"
    assert [m for m, _a in recorded.sent] == ["azure_backup.remediation.remediate", "azure_backup.remediation.log_bundle"]
    bundle_args = recorded.sent[1][1]
    assert bundle_args["dest"] == str(tmp_path) and bundle_args["when"] == "problems"
    assert {f["check"] for f in bundle_args["findings"]} >= {"config", "wireserver"}
    assert [f["id"] for f in bundle_args["failures"]] == ["LINUX_AGENT", "NETWORK"]
    assert os.path.dirname(result["log_bundle"]["path"]) == str(tmp_path)
    assert result["causes"]["LINUX_AGENT"]["failed"] and not result["causes"]["DISK_LIMITS"]["failed"]


def test_a_host_without_root_gets_one_finding_and_no_log_bundle(vm):
    refusal = finding("HOST", "privileges", "failed", "The checks run as azureuser, not root ... Set ansible_become: true")
    answer = {"failed": True, "changed": False, "msg": refusal["summary"], "findings": [refusal], "causes": {}, "unsupported_host": True}
    result, recorded = vm({"log_bundle": True}, [answer], {})
    assert len(recorded.sent) == 1 and result["failed"] and result["unsupported_host"]
    assert [(f["id"], f["check"]) for f in result["findings"]] == [("HOST", "privileges")]


def test_a_module_that_could_not_run_says_so_as_it_said_it(vm):
    answer = {"failed": True, "msg": "MODULE FAILURE", "module_stderr": "/usr/bin/python3: not found", "rc": 127}
    result, _recorded = vm({"causes": ["disk_limits"]}, [answer], {})
    assert result["failed"] and result["msg"] == "MODULE FAILURE" and result["module_stderr"] == "/usr/bin/python3: not found"


# -- Windows: the causes go to the Windows driver (its tests: tests/unit/plugins/plugin_utils/test_windows_causes.py) --

WIN = {"ansible_connection": "winrm"}


def test_windows_hosts_go_through_the_windows_driver_with_their_settings_and_the_lock_wait(vm, monkeypatch):
    calls = []

    def driver(action, task_vars, causes, lock_wait):
        calls.append((causes, lock_wait))
        return {"changed": True, "findings": [finding("BITLOCKER", "volumes", "fixed", "off")], "diff": [{"before": "on"}],
                "causes": {"BITLOCKER": {"changed": True, "failed": False, "msg": ""}}}
    monkeypatch.setattr(remediate, "run_windows_causes", driver)
    result, _recorded = vm({"causes": ["bitlocker", "com_msdtc"], "lock_wait": 30}, [], dict(WIN, bitlocker_disable=True))
    assert calls == [([("bitlocker", {"disable": True}), ("com_msdtc", {})], 30.0)]
    assert result["changed"] and result["diff"] == [{"before": "on"}] and result["findings"][0]["host"] == "vm01"


def test_a_windows_setting_is_checked_before_any_round_trip(vm):
    result, recorded = vm({}, [], dict(WIN, vss_writers_service_timeout=0))
    assert recorded.sent == [] and result["msg"] == "vm01: vss_writers_service_timeout = 0 is not allowed: a whole number of seconds from 1 to 3600"


def windows_driver(monkeypatch, *findings):
    def driver(action, task_vars, causes, lock_wait):
        return {"changed": False, "findings": list(findings), "causes": {"VSS_WRITERS": {"changed": False, "failed": False, "msg": ""}}}
    monkeypatch.setattr(remediate, "run_windows_causes", driver)


def test_a_windows_cause_that_persists_gets_its_logs_read_in_one_powershell_execution(vm, monkeypatch, tmp_path):
    windows_driver(monkeypatch, finding("VSS_WRITERS", "writer_wmi_writer", "failed", "still failed"))
    read = {"changed": False, "result": {"agent": {"installed": False}, "files": [
        {"path": "C:\\WindowsAzure\\Logs\\WaAppAgent.log", "size": 3, "offset": 0, "length": 3, "truncated": False, "left_out": False,
         "mtime": 1, "content": base64.b64encode(b"abc").decode()}]}}
    result, recorded = vm({"causes": ["vss_writers"], "log_bundle": True}, [read],
                          dict(WIN, log_bundle_dir=str(tmp_path), log_bundle_event_hours=24, log_bundle_windows_paths=["D:\\logs"]))
    [(module, args)] = recorded.sent
    assert module == "ansible.windows.win_powershell" and args["script"].startswith("#azure_backup.remediation/log_bundle.read\n")
    assert (args["parameters"]["Paths"], args["parameters"]["EventHours"]) == (["D:\\logs"], 24)
    assert os.path.dirname(result["log_bundle"]["path"]) == str(tmp_path) and result["log_bundle"]["reasons"] == [
        "VSS_WRITERS/writer_wmi_writer: failed"]


def test_a_healthy_windows_host_sends_nothing_for_the_log_bundle(vm, monkeypatch, tmp_path):
    windows_driver(monkeypatch, finding("VSS_WRITERS", "writers", "ok", "fine"))
    result, recorded = vm({"causes": ["vss_writers"], "log_bundle": True}, [], dict(WIN, log_bundle_dir=str(tmp_path)))
    assert recorded.sent == [] and "log_bundle" not in result and os.listdir(tmp_path) == []


def test_a_bad_windows_log_bundle_setting_is_refused_before_any_round_trip(vm):
    result, recorded = vm({"log_bundle": True}, [], dict(WIN, log_bundle_event_hours=-1, log_bundle_windows_paths=["/var/log"]))
    assert recorded.sent == [] and "log_bundle_event_hours = -1 is not allowed: a whole number of hours from 0 to 8760" in result["msg"]
    assert "log_bundle_windows_paths = [\"/var/log\"] is not allowed: a non-empty list of absolute Windows paths" in result["msg"]


# -- the module on the VM: each cause isolated, root first ------------------------------------------------------

class Fine:
    ID, ARGUMENT_SPEC = "DISK_LIMITS", {"limit": {"type": "int", "default": 16}}

    def __init__(self, module, params):
        self.module, self.params = module, params

    def steps(self):
        yield Step("data_disks", "ok", "%d allowed" % self.params["limit"])


class Broken(Fine):
    ID = "NETWORK"

    def steps(self):
        yield Step("dns", "ok", "resolves")
        raise KeyError("gateway")


class Fixing(Fine):
    ID = "LINUX_AGENT"

    def steps(self):
        yield Step("agent_service", "found", "stopped", change=Change("start it", lambda: "running", diff={"before": "a", "after": "b"}))


def module(check_mode=False):
    return MagicMock(check_mode=check_mode, _diff=True)


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(remediate_module, "without_root", lambda: None)
    monkeypatch.setattr(remediate_module, "VmLock", lambda *a, **k: MagicMock())


def test_an_exception_in_one_cause_is_its_failed_finding_and_the_next_still_runs(as_root):
    classes = {"network": Broken, "disk_limits": Fine}
    out = remediate_module.run_causes(module(), classes, ["network", "disk_limits"], {"disk_limits": {"limit": 8}}, 1)
    assert out["failed"] and out["msg"] == "NETWORK: unexpected error: KeyError: 'gateway'"
    # What the cause learnt before it broke is kept.
    assert [(f["id"], f["check"], f["status"]) for f in out["findings"]] == [
        ("NETWORK", "dns", "ok"), ("NETWORK", "run", "failed"), ("DISK_LIMITS", "data_disks", "ok")]
    assert out["findings"][2]["summary"] == "8 allowed"
    seconds = {cause: entry.pop("seconds") for cause, entry in out["causes"].items()}
    assert all(isinstance(s, float) and s >= 0 for s in seconds.values())
    assert out["causes"] == {"NETWORK": {"changed": False, "failed": True, "msg": out["msg"]},
                             "DISK_LIMITS": {"changed": False, "failed": False, "msg": ""}}


def test_options_a_cause_refuses_fail_that_cause_only(as_root):
    out = remediate_module.run_causes(module(), {"disk_limits": Fine, "linux_agent": Fixing}, ["disk_limits", "linux_agent"],
                                      {"disk_limits": {"limit": "many"}}, 1)
    assert out["causes"]["DISK_LIMITS"]["failed"] and "options refused" in out["causes"]["DISK_LIMITS"]["msg"]
    assert out["changed"] and dict(out["causes"]["LINUX_AGENT"], seconds=0) == {"changed": True, "failed": False, "msg": "", "seconds": 0}
    assert out["diff"] == [{"before": "a", "after": "b"}]


def test_check_mode_changes_nothing_and_says_what_it_would(as_root):
    out = remediate_module.run_causes(module(check_mode=True), {"linux_agent": Fixing}, ["linux_agent"], {}, 1)
    assert out["findings"][0]["status"] == "found" and out["findings"][0]["summary"] == "stopped; would start it"


def test_without_root_no_cause_runs(monkeypatch):
    refusal = finding("HOST", "privileges", "failed", "needs root; set ansible_become: true")
    monkeypatch.setattr(remediate_module, "without_root", lambda: refusal)
    out = remediate_module.run_causes(module(), {"network": Broken}, ["network"], {}, 1)
    assert out["unsupported_host"] and out["findings"] == [refusal] and out["causes"] == {}


def fix_backup_plays():
    import yaml
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    with open(os.path.join(root, "playbooks", "fix_backup.yml")) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("limit, sorted_hosts, expected", [
    # The settings check sorted nothing (skipped, e.g. --start-at-task): nothing is fixed.
    (None, {}, []),
    # A fleet of one OS: the hosts sorted, not vm03 that the check did not sort (though in a group azure_backup_weekly).
    (None, {"azure_backup_linux": ["vm01", "vm02"]}, ["vm01", "vm02"]),
    (None, {"azure_backup_linux": ["vm01"], "azure_backup_windows": ["vm02"]}, ["vm01", "vm02"]),
    # azure_backup_hosts as a comma list, and with an exclusion.
    ("vm01,vm03", {"azure_backup_linux": ["vm01", "vm03"]}, ["vm01", "vm03"]),
    ("vms:!vm02", {"azure_backup_linux": ["vm01", "vm02"]}, ["vm01"]),
])
def test_the_fixing_play_runs_on_the_hosts_the_settings_play_sorted(tmp_path, monkeypatch, limit, sorted_hosts, expected):
    from ansible.inventory.manager import InventoryManager
    from ansible.utils.display import Display
    patterns = fix_backup_plays()[1]["hosts"]
    warnings = []
    monkeypatch.setattr(Display, "warning", lambda self, msg, *args, **kwargs: warnings.append(msg))
    (tmp_path / "hosts.yml").write_text("all: {children: {vms: {hosts: {vm01: {}, vm02: {}, vm03: {}}}, azure_backup_weekly: {hosts: {vm03: {}}}}}")
    inventory = InventoryManager(DataLoader(), sources=[str(tmp_path / "hosts.yml")])
    for group, hosts in sorted_hosts.items():
        inventory.add_group(group)
        for host in hosts:
            inventory.add_host(host, group)
    templar = Templar(loader=DataLoader(), variables={} if limit is None else {"azure_backup_hosts": limit})
    hosts = inventory.get_hosts([templar.template(trust_as_template(p)) for p in patterns])
    assert sorted(h.name for h in hosts) == expected
    # Ansible warns only where the settings check sorted nobody (it was skipped).
    assert bool(warnings) == (not sorted_hosts), warnings


def test_the_playbooks_run_the_causes_of_the_settings_table():
    plays = fix_backup_plays()
    # One play for both operating systems: its remediate task takes the list of the host's OS from the play's vars.
    # Its hosts: the settings play's, those it sorted into their OS's group (test below).
    assert len(plays) == 2 and plays[1]["hosts"][0] == plays[0]["hosts"]
    play = plays[1]
    assert play["vars"]["azure_backup_causes_by_os"] == settings.CAUSES
    task = next(t for b in play["tasks"] for t in b.get("block", [b]) if "azure_backup.remediation.remediate" in t)
    assert "azure_backup_causes_by_os[" in task["azure_backup.remediation.remediate"]["causes"]
    first = plays[0]
    assert first["any_errors_fatal"] is True and first["tasks"][0]["azure_backup.remediation.remediate"]["validate_only"] is True


def test_another_run_s_lock_is_waited_for_once_and_no_cause_runs(monkeypatch):
    from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError

    class Held:
        def __init__(self, *a, **k):
            self.acquired = 0

        def acquire(self):
            self.acquired += 1
            raise RemediationError("not changed: another run holds the lock since 2026-12-02T10:00:00+00:00 (pid 7, user ops)", check="lock")

        def release(self):
            pass

    monkeypatch.setattr(remediate_module, "without_root", lambda: None)
    monkeypatch.setattr(remediate_module, "VmLock", Held)
    out = remediate_module.run_causes(module(), {"disk_limits": Fine, "linux_agent": Fixing}, ["disk_limits", "linux_agent"], {}, 1)
    assert out["failed"] and out["causes"] == {}
    assert [(f["id"], f["check"], f["status"]) for f in out["findings"]] == [("HOST", "lock", "failed")]
    assert "(pid 7, user ops)" in out["findings"][0]["summary"]


def test_an_unstartable_program_is_the_cause_s_failed_finding_not_the_end_of_the_run(as_root):
    class Missing(Fine):
        ID = "LINUX_AGENT"

        def steps(self):
            yield Step("agent_service", "ok", "running")
            raise FileNotFoundError(2, "No such file or directory", "/usr/bin/python3.8")

    out = remediate_module.run_causes(module(), {"linux_agent": Missing, "disk_limits": Fine}, ["linux_agent", "disk_limits"], {}, 1)
    assert [(f["id"], f["check"], f["status"]) for f in out["findings"]] == [
        ("LINUX_AGENT", "agent_service", "ok"), ("LINUX_AGENT", "read", "failed"), ("DISK_LIMITS", "data_disks", "ok")]
    assert "/usr/bin/python3.8 does not exist" in out["findings"][1]["summary"]
