"""Diagnosis by error code through the remediate action: for every code of the catalogue, exactly its documented causes,
in order, on Linux and on Windows (the VM's side recorded, not run); an unknown code fails before any round trip; codes
whose step is in Azure add a finding saying what to do there; without a code nothing changes."""
from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.plugins.action import ActionBase
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import remediate
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.catalogue import ERROR_CODES
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings

WIN = {"ansible_connection": "winrm"}


def role_name(cause: str) -> str:
    """The play's name of a cause, as the roles are named (the MARS causes are entry points of mars_agent)."""
    return "shadow_storage" if cause == "MARS_SHADOW_STORAGE" else cause.lower()


def documented(code: str, os_name: str) -> list:
    """The code's causes a host of os_name runs: its causes in the catalogue's order that the OS's play runs."""
    entry = ERROR_CODES[code]
    if os_name not in entry.get("platforms", [os_name]):
        return []
    return [c for c in entry["causes"] if role_name(c) in settings.CAUSES[os_name]]


@pytest.fixture
def vm(monkeypatch):
    """Run the action for one host; the VM's side (one Linux module execution, the Windows driver) is recorded."""
    def start(task_args, host_vars=None):
        sent = []

        def run_linux(action, plan, lock_wait):
            sent.append(("linux", [role for role, _options in plan]))
            return {"changed": False, "causes": {}, "findings": [finding("LINUX_AGENT", "state", "ok", "fine")] if plan else []}

        def run_windows(action, task_vars, plan, lock_wait):
            sent.append(("windows", [role for role, _options in plan]))
            return {"changed": False, "causes": {}, "findings": []}

        def no_round_trip(*_args, **_kwargs):
            raise AssertionError("the VM was contacted")
        monkeypatch.setattr(remediate.ActionModule, "run_linux", run_linux)
        monkeypatch.setattr(remediate, "run_windows_causes", run_windows)
        monkeypatch.setattr(ActionBase, "_execute_module", no_round_trip)
        monkeypatch.setattr(ActionBase, "_low_level_execute_command", no_round_trip)
        task = MagicMock(Task)
        task.args, task.async_val, task.check_mode, task.diff = dict(task_args), 0, False, False
        task_vars = dict({"inventory_hostname": "vm01"}, **(host_vars or {}))
        loader = DataLoader()
        plugin = remediate.ActionModule(task, MagicMock(), MagicMock(), loader=loader, templar=Templar(loader=loader, variables=task_vars),
                                        shared_loader_obj=None)
        return plugin.run(task_vars=task_vars), sent
    return start


@pytest.mark.parametrize("os_name", ["linux", "windows"])
@pytest.mark.parametrize("code", list(ERROR_CODES))
def test_every_code_runs_exactly_its_documented_causes_in_order(vm, code, os_name):
    expected = documented(code, os_name)
    result, sent = vm({"causes": settings.CAUSES[os_name]}, dict(WIN if os_name == "windows" else {}, azure_backup_error=code))
    assert not result.get("failed"), result.get("msg")
    assert sent == ([(os_name, [role_name(c) for c in expected])] if expected else [])
    diagnosis = result["diagnosis"]
    assert diagnosis["codes"] == [code] and diagnosis["causes"] == expected
    assert diagnosis["not_here"] == [c for c in ERROR_CODES[code]["causes"] if c not in expected]
    # Nothing to run here: the run says why, never an empty pass.
    if not expected:
        assert [f["status"] for f in result["findings"]] in (["skipped"], ["found"]) and result["findings"][0]["host"] == "vm01"


def test_without_an_error_code_every_cause_runs_as_before(vm):
    result, sent = vm({}, {})
    assert sent == [("linux", settings.CAUSES["linux"])] and "diagnosis" not in result
    for unanswered in ("", "  ", []):  # an AWX survey's empty answer
        result, sent = vm({}, dict(WIN, azure_backup_error=unanswered))
        assert sent == [("windows", settings.CAUSES["windows"])] and "diagnosis" not in result


def test_the_catalogue_s_order_wins_over_the_task_s(vm):
    # ExtentionOperationFailedForManagedDisks: snapshot status first, the agent before the extension (2022 article).
    _result, sent = vm({}, dict(WIN, azure_backup_error="ExtentionOperationFailedForManagedDisks"))
    assert sent == [("windows", ["snapshot_status", "win_agent", "backup_extension"])]


def test_several_codes_merge_their_causes_in_order_each_once(vm):
    given = "ExtensionFailedVssWriterInBadState, UserErrorGuestAgentStatusUnavailable, ExtensionFailedVssServiceInBadState"
    result, sent = vm({}, dict(WIN, azure_backup_error=given))
    assert sent == [("windows", ["snapshot_status", "shadow_storage", "vss_writers", "win_agent", "backup_extension", "network"])]
    assert result["diagnosis"]["codes"] == ["ExtensionFailedVssWriterInBadState", "UserErrorGuestAgentStatusUnavailable",
                                            "ExtensionFailedVssServiceInBadState"]


def test_a_german_message_cut_short_is_diagnosed_like_its_code(vm):
    result, sent = vm({}, {"azure_backup_error": "VM-Agent kann nicht mit Azure Backup kommun"})
    assert sent == [("linux", ["linux_agent", "snapshot_status", "backup_extension", "network"])]
    assert result["diagnosis"]["codes"] == ["UserErrorGuestAgentStatusUnavailable"] and result["diagnosis"]["not_here"] == ["WIN_AGENT"]


def test_the_task_s_error_option_wins_over_the_variable(vm):
    _result, sent = vm({"error": "UserErrorUnsupportedDiskSize"}, {"azure_backup_error": "UserErrorGuestAgentStatusUnavailable"})
    assert sent == [("linux", ["disk_limits"])]


def test_the_task_s_causes_limit_what_a_code_runs(vm):
    result, sent = vm({"causes": ["network", "linux_agent"]}, {"azure_backup_error": "UserErrorGuestAgentStatusUnavailable"})
    assert sent == [("linux", ["linux_agent", "network"])]
    assert result["diagnosis"]["not_here"] == ["WIN_AGENT", "SNAPSHOT_STATUS", "BACKUP_EXTENSION"]


@pytest.mark.parametrize("validate_only", [False, True])
def test_an_unknown_code_fails_before_any_round_trip_naming_the_closest(vm, validate_only):
    result, sent = vm({"validate_only": validate_only}, dict(WIN, azure_backup_error="ExtensionFailedVssWritersInBadState"))
    assert sent == [] and result["failed"] and "diagnosis" not in result
    assert result["msg"] == ("vm01: azure_backup_error: 'ExtensionFailedVssWritersInBadState' is no known error code or message; the closest "
                             "known: ExtensionFailedVssWriterInBadState, ExtensionFailedVssServiceInBadState, ExtensionStuckInDeletionState. "
                             "Known codes and messages: "
                             "ansible-doc -t role azure_backup.remediation.fix_backup. Nothing was contacted.")


def test_validate_only_checks_the_settings_of_the_code_s_causes_only(vm):
    # A bad VSS setting does not matter to a code whose causes do not include VSS_WRITERS ...
    result, sent = vm({"validate_only": True}, dict(WIN, azure_backup_error="ExtensionSnapshotFailedCOM", vss_writers_service_timeout=0))
    assert not result.get("failed") and result["add_group"] == "azure_backup_windows" and sent == []
    # ... and stops the run for one whose causes do.
    result, sent = vm({"validate_only": True}, dict(WIN, azure_backup_error="ExtensionFailedVssWriterInBadState", vss_writers_service_timeout=0))
    assert result["failed"] and "vss_writers_service_timeout = 0" in result["msg"]


def test_a_control_plane_code_says_what_to_do_in_azure(vm):
    result, sent = vm({}, {"azure_backup_error": "UserErrorKeyvaultPermissionsNotConfigured, UserErrorRpCollectionLimitReached"})
    assert sent == [] and not result.get("failed")
    assert [(f["id"], f["status"]) for f in result["findings"]] == [("ERROR_CODE", "found"), ("RP_LOCK", "found")]
    assert result["findings"][0]["summary"].startswith("UserErrorKeyvaultPermissionsNotConfigured: give the Recovery Services vault access")
    assert "AzureBackupRG_" in result["findings"][1]["summary"]
    assert result["diagnosis"]["control_plane"] == ["UserErrorKeyvaultPermissionsNotConfigured", "UserErrorRpCollectionLimitReached"]
    assert result["ansible_facts"]["azure_backup_findings"] == result["findings"]


def test_backup_failed_runs_the_guest_causes_and_names_the_lock_as_azure_s(vm):
    result, sent = vm({}, {"azure_backup_error": "BackUpOperationFailed"})
    assert sent == [("linux", ["linux_agent", "snapshot_status", "backup_extension", "network"])]
    # The lock and the iaasvmprovider step are not checked from the VM: what to do if the checks pass, not an open fault.
    assert [(f["id"], f["status"]) for f in result["findings"]] == [("LINUX_AGENT", "ok"), ("RP_LOCK", "skipped"), ("ERROR_CODE", "skipped")]
    assert result["findings"][1]["summary"].startswith("BackUpOperationFailed: Not checked from the VM: if resource group AzureBackupRG_")
    assert result["findings"][2]["summary"].startswith("BackUpOperationFailed: if its checks pass and the job still fails: on Windows")
    assert result["diagnosis"]["control_plane"] == ["BackUpOperationFailed"] and result["diagnosis"]["by_hand"] == ["BackUpOperationFailed"]


def test_a_mars_code_on_linux_is_one_skipped_finding_not_an_empty_run(vm):
    result, sent = vm({}, {"azure_backup_error": "34513"})
    assert sent == [] and not result.get("failed")
    [skipped] = result["findings"]
    assert (skipped["id"], skipped["status"]) == ("ERROR_CODE", "skipped")
    assert skipped["summary"] == "34513 is not a Linux error: it occurs on Windows; nothing to check on this host"
