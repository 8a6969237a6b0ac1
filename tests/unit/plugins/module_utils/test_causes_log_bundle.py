from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as lb


def finding(check, status, severity="critical", cause="NETWORK"):
    return {"id": cause, "check": check, "status": status, "severity": severity}


@pytest.mark.parametrize("text, expected", [
    ("20M", 20 * 1024 ** 2), ("20MB", 20 * 1024 ** 2), ("20 MiB", 20 * 1024 ** 2), ("512k", 512 * 1024),
    ("1.5G", int(1.5 * 1024 ** 3)), ("4096", 4096), (" 2 KB ", 2048),
])
def test_sizes_are_read_in_binary_units(text, expected):
    assert lb.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "M", "20X", "twenty", "-5M", "0", "20 M B"])
def test_a_wrong_size_says_what_a_size_looks_like(text):
    with pytest.raises(ValueError, match="size"):
        lb.parse_size(text)


def test_only_what_still_blocks_a_backup_asks_for_logs():
    findings = [finding("wireserver", "found"), finding("agent_log", "found", "warning", "LINUX_AGENT"),
                finding("agent_service", "fixed", cause="LINUX_AGENT"), finding("dns", "ok", "info"),
                finding("agent_version", "failed", cause="LINUX_AGENT")]
    assert lb.persisting(findings, []) == ["NETWORK/wireserver: found", "LINUX_AGENT/agent_version: failed"]


def test_a_cause_that_failed_without_a_finding_is_a_reason_once():
    failures = [{"id": "LINUX_AGENT", "msg": "/etc/waagent.conf is not a text file"},
                {"id": "NETWORK", "msg": "boom"}]
    reasons = lb.persisting([finding("storage", "failed")], failures)
    assert reasons == ["NETWORK/storage: failed", "LINUX_AGENT: /etc/waagent.conf is not a text file"]


@pytest.mark.parametrize("when, findings, expected", [
    ("problems", [finding("dns", "ok", "info")], []),
    ("never", [finding("dns", "failed")], []),
    ("always", [finding("dns", "ok", "info")], ["log_bundle_when=always"]),
    ("always", [finding("dns", "found")], ["NETWORK/dns: found"]),
])
def test_the_when_policy(when, findings, expected):
    assert lb.wanted(when, findings, []) == expected


def test_the_cap_keeps_whole_files_then_the_tail_of_the_next_then_nothing():
    files = [{"path": "/a", "size": 40}, {"path": "/b", "size": 100}, {"path": "/c", "size": 10}, {"path": "/empty", "size": 0}]
    a, b, c, empty = lb.plan(files, 100)
    assert (a["offset"], a["length"], a["truncated"], a["left_out"]) == (0, 40, False, False)
    # b's newest 60 bytes: the end of a log is the part support reads.
    assert (b["offset"], b["length"], b["truncated"], b["left_out"]) == (40, 60, True, False)
    assert (c["length"], c["left_out"]) == (0, True)
    assert (empty["length"], empty["left_out"], empty["truncated"]) == (0, False, False)
