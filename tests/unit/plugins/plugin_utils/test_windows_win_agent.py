import pytest

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import service as svc


@pytest.mark.parametrize("release, version", [
    (528040, "4.8"), ("528449", "4.8"), (533320, "4.8.1"), (378389, "4.5"), (461814, "4.7.2"),
    (378388, None), (None, None), ("", None), ("abc", None),
])
def test_dotnet_version_from_release(release, version):
    assert agent.dotnet_version(release) == version


def test_needs_install_for_missing_services_then_for_old_versions():
    present = [{"name": "WindowsAzureGuestAgent", "exists": True}, {"name": "RdAgent", "exists": True}]
    assert agent.needs_install(present, "2.7.41491.1102", agent.MIN_VERSION) is None
    assert agent.needs_install(present, "2.7.41491.949", agent.MIN_VERSION) == "agent 2.7.41491.949 is older than 2.7.41491.1010"
    assert agent.needs_install(present, None, agent.MIN_VERSION) is None
    missing = [{"name": "WindowsAzureGuestAgent", "exists": False}, {"name": "RdAgent", "exists": False}]
    assert agent.needs_install(missing, None, agent.MIN_VERSION) == "services WindowsAzureGuestAgent and RdAgent missing"


def test_file_version_and_minimum():
    assert agent.file_version("2.7.41491.1102 (rd_art_stable.220105-1234)") == "2.7.41491.1102"
    assert agent.file_version("") is None
    with pytest.raises(ValueError, match="win_agent_min_version"):
        agent.validate_minimum("latest")


def test_backup_running():
    assert agent.backup_running(["svchost", "IaaSBcdrExtension", "iaasbcdrextension.exe"]) == ["IaaSBcdrExtension", "iaasbcdrextension.exe"]


def test_service_changes():
    stopped = {"name": "RdAgent", "exists": True, "state": "Stopped", "start_mode": "Disabled"}
    assert svc.changes(stopped, automatic=True) == {"start_mode": "auto", "state": "started"}
    assert svc.changes(stopped) == {"start_mode": "manual", "state": "started"}
    assert svc.would(stopped, {"start_mode": "auto", "state": "started"}) == "start RdAgent and set it to start automatically"
    running = {"name": "RdAgent", "exists": True, "state": "Running", "start_mode": "Auto", "delayed": True}
    assert svc.changes(running, automatic=True) == {}
    assert svc.changes(running, restart=True) == {"state": "restarted"}
    assert svc.describe(running) == "RdAgent: Running, Auto (delayed)"
    assert svc.after(stopped, {"start_mode": "manual", "state": "started"})["start_mode"] == "Manual"


# -- installing the MSI (issue 10) -------------------------------------------------------------------

PRESENT = [{"name": "WindowsAzureGuestAgent", "exists": True}, {"name": "RdAgent", "exists": True}]
HALF = [{"name": "WindowsAzureGuestAgent", "exists": False}, {"name": "RdAgent", "exists": True}]


def test_the_running_version_is_the_guest_agent_image_not_waappagent():
    # The agent updated itself into GuestAgent_2.7.41491.1102_*; WaAppAgent.exe still has the MSI's version.
    assert agent.running_version(PRESENT, "2.7.41491.949", "2.7.41491.1102 (rd_art_stable)") == ("2.7.41491.1102", "WindowsAzureGuestAgent")
    assert agent.running_version(PRESENT, "2.7.41491.949", None) == ("2.7.41491.949", "WaAppAgent.exe")
    assert agent.running_version(HALF, "2.7.41491.949", "2.7.41491.1102") == ("2.7.41491.949", "WaAppAgent.exe")
    assert agent.running_version(PRESENT, None, None) == (None, "")


def test_install_mode_updates_a_working_agent_and_reinstalls_a_broken_one():
    assert agent.install_mode(PRESENT) == "upgrade"
    assert agent.install_mode(HALF) == "reinstall"
    assert agent.install_steps("reinstall", HALF)[:2] == ["stop RdAgent", "delete the service RdAgent"]
    assert "put everything back if the install fails or leaves a service or its image missing" in agent.install_steps("reinstall", HALF)
    assert agent.install_steps("reinstall", [dict(s, exists=False) for s in PRESENT])[0].startswith("move ")


@pytest.mark.parametrize("retries, wait", [(-1, 30), (21, 30), (10, 0), (10, 601), (10, "30"), (True, 30), (5, 400)])
def test_busy_bounds_are_validated(retries, wait):
    with pytest.raises(ValueError, match="win_agent_msi_busy"):
        agent.validate_busy(retries, wait)


def test_busy_bounds_accept_the_defaults_and_zero_retries():
    agent.validate_busy(10, 30)
    agent.validate_busy(0, 1)


def test_msi_exit_names_the_code():
    assert agent.msi_exit(1618) == "1618 (ERROR_INSTALL_ALREADY_RUNNING)"
    assert agent.msi_exit(3010) == "3010 (ERROR_SUCCESS_REBOOT_REQUIRED)"
    assert agent.msi_exit(None).startswith("no exit code")
    assert agent.msi_exit(1234).startswith("1234 (see")


def test_install_summary_says_it_waited():
    status, summary = agent.install_summary({"mode": "upgrade", "rc": 0, "attempts": 3, "waited_seconds": 60,
                                             "steps": ["installed the agent MSI (exit code 0)"]})
    assert status == "fixed"
    assert "after waiting 60 s for another installation (msiexec 1618 (ERROR_INSTALL_ALREADY_RUNNING), 3 attempts)" in summary


def test_install_summary_of_a_failure_says_what_state_the_vm_is_in():
    restored = {"mode": "reinstall", "rc": 1603, "error": "msiexec /i ended with exit code 1603",
                "steps": ["stopped RdAgent", "moved b back", "re-created the service RdAgent", "started RdAgent"],
                "moved": [{"from": "a", "to": "b"}], "removed": [{"name": "RdAgent", "was_running": True, "deleted": True}]}
    status, summary = agent.install_summary(restored)
    assert status == "failed"
    assert "everything was put back: 1 folder moved back, 1 service re-created as recorded and started again" in summary
    broken = dict(restored, restore_errors=["RdAgent: cannot start"], old_dir=r"C:\WindowsAzure\OLD\x")
    assert r"putting things back failed: RdAgent: cannot start. The moved folders are in C:\WindowsAzure\OLD\x" in agent.install_summary(broken)[1]
    upgrade = {"mode": "upgrade", "rc": 1603, "error": "msiexec /i ended with exit code 1603", "steps": []}
    assert "the agent that was there is left as it was" in agent.install_summary(upgrade)[1]


def test_install_summary_of_a_backup_that_started_midway():
    refused = {"step": "move C:\\WindowsAzure\\GuestAgent_1 aside", "processes": ["IaaSBcdrExtension"]}
    status, summary = agent.install_summary({"mode": "reinstall", "refused": refused, "error": "a backup snapshot is running",
                                             "steps": ["stopped RdAgent"], "moved": [], "removed": [{"name": "RdAgent", "was_running": True}]})
    assert status == "failed" and "a backup snapshot started (IaaSBcdrExtension) before 'move" in summary
    assert "Run again when the backup job has finished" in summary
