from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import CAUSES, finding


def test_finding_has_the_documented_shape():
    f = finding("LINUX_AGENT", "agent_service", "found", "walinuxagent.service is inactive", {"unit": "walinuxagent.service"})
    assert set(f) == {"id", "check", "host", "status", "severity", "summary", "detail", "doc"}
    assert f["severity"] == CAUSES["LINUX_AGENT"]["severity"] == "critical"
    assert f["doc"].startswith("https://learn.microsoft.com/")


def test_ok_findings_are_informational():
    assert finding("LINUX_AGENT", "agent_service", "ok", "fine")["severity"] == "info"


@pytest.mark.parametrize("args", [
    ("NOT_A_CAUSE", "x", "ok", "s"),
    ("LINUX_AGENT", "x", "broken", "s"),
])
def test_finding_rejects_unknown_cause_and_status(args):
    with pytest.raises(ValueError):
        finding(*args)
