"""Diagnosis by error code: every code's remedy reaches the findings, the step's place (Azure or by hand) is kept
apart, and a lead nothing checked does not turn a healthy host red."""
from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue, diagnosis
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings

LINUX, WINDOWS = settings.CAUSES["linux"], settings.CAUSES["windows"]


def steps(plan):
    return [(f["id"], f["status"], f["summary"]) for f in plan["findings"]]


def test_a_code_with_causes_still_carries_its_remedy_as_what_to_do_if_the_checks_pass():
    plan = diagnosis.plan(["GuestAgentSnapshotTaskStatusError"], "linux", LINUX)
    assert plan["causes"] == ["LINUX_AGENT", "SNAPSHOT_STATUS", "NETWORK"]
    assert steps(plan) == [("ERROR_CODE", "skipped", "GuestAgentSnapshotTaskStatusError: if its checks pass and the job still fails: "
                            + catalogue.ERROR_CODES["GuestAgentSnapshotTaskStatusError"]["remedy"])]
    assert plan["by_hand"] == ["GuestAgentSnapshotTaskStatusError"] and plan["control_plane"] == []


def test_a_remedy_that_is_the_fix_itself_is_found_though_its_causes_run():
    # The extension check usually passes: the unmount/fsck/MountsToSkip step is the fix, an open item.
    plan = diagnosis.plan(["UserErrorFsFreezeFailed"], "linux", LINUX)
    assert plan["causes"] == ["BACKUP_EXTENSION"]
    [(cause, status, summary)] = steps(plan)
    assert (cause, status) == ("ERROR_CODE", "found") and "run fsck" in summary and "MountsToSkip" in summary
    for code, where in (("ExtensionFailedVssServiceInBadState", "by_hand"), ("ExtensionStuckInDeletionState", "control_plane"),
                        ("UserErrorVmProvisioningStateFailed", "control_plane")):
        plan = diagnosis.plan([code], "windows", WINDOWS)
        assert [(c, s) for c, s, _summary in steps(plan)] == [("ERROR_CODE", "found")], code
        assert plan[where] == [code], code


def test_the_mars_steps_by_hand_are_not_listed_as_azure_s():
    plan = diagnosis.plan(["0x80070570", "230006", "100110", "0x8007018b", "403", "UserErrorKeyvaultPermissionsNotConfigured"],
                          "windows", WINDOWS)
    assert plan["by_hand"] == ["0x80070570", "230006", "100110", "0x8007018b", "403"]
    assert plan["control_plane"] == ["UserErrorKeyvaultPermissionsNotConfigured"]
    assert [s for _c, s, _summary in steps(plan)] == ["found"] * 6


def test_the_lock_is_worded_as_unchecked_and_open_only_when_it_is_the_code_s_only_lead():
    plan = diagnosis.plan(["BackUpOperationFailed"], "windows", WINDOWS)
    lock = [f for f in plan["findings"] if f["id"] == "RP_LOCK"]
    assert [f["status"] for f in lock] == ["skipped"]
    assert lock[0]["summary"].startswith("BackUpOperationFailed: Not checked from the VM: if resource group AzureBackupRG_<geo>_<n> has a lock")
    plan = diagnosis.plan(["UserErrorRpCollectionLimitReached"], "linux", LINUX)
    assert [(f["id"], f["status"]) for f in plan["findings"]] == [("RP_LOCK", "found")]
    assert plan["control_plane"] == ["UserErrorRpCollectionLimitReached"] and plan["by_hand"] == []


def test_a_code_s_remedy_is_skipped_as_of_another_os_not_repeated():
    plan = diagnosis.plan(["VMRestorePointInternalError"], "linux", LINUX)
    assert [(c, s) for c, s, _summary in steps(plan)] == [("ERROR_CODE", "skipped")]
    assert plan["by_hand"] == [] and plan["control_plane"] == []
