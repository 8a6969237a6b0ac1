from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.callback.report import host_status


def entry(*statuses, errors=(), unreachable=False):
    return {"findings": [{"status": s} for s in statuses], "errors": list(errors), "unreachable": unreachable}


@pytest.mark.parametrize("item, expected", [
    (entry("ok", "ok"), "ok"),
    (entry("ok", "fixed"), "fixed"),
    (entry("fixed", "found"), "found"),
    (entry("found", "failed"), "failed"),
    (entry("ok", errors=[{"msg": "boom"}]), "failed"),
    (entry(errors=[{"msg": "ssh: connect"}], unreachable=True), "unreachable"),
    (entry(), "skipped"),
])
def test_a_host_is_as_bad_as_its_worst_finding(item, expected):
    assert host_status(item) == expected
