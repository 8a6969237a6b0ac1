import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_service as svc


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
