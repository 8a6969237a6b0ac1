"""MARS_SHADOW_STORAGE in fix-backup.yml against simulated Windows hosts, through Ansible's real winrm connection: hosts
with too little shadow copy storage, a full one (both with volsnap events as evidence), an unbounded one, a German one
whose WMI provider is broken (read through vssadmin's text), one the admin sized smaller with no evidence (left), one
that would shrink while a backup runs (left), and one whose new maximum shows late (polled for). --check finds each and
changes nothing, apply fixes, a second apply changes nothing, the simulated state confirms it, and the cause's read
costs no execution of its own (it runs in the host read). No MARS agent anywhere: the cause runs on every Windows VM."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAY = os.path.join(ROOT, "fix-backup.yml")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import executions, host_log as log, host_state as state, run_play, simulated_hosts  # noqa: E402

GB, MB = 2 ** 30, 2 ** 20
TENTH = 127 * GB // 10  # the default shadow_storage_max_size (10 %) of the simulated 127 GB C:
HOSTS = {
    "win31": ("en", ["shadow-storage-small"]),
    "win32": ("en", ["shadow-storage-full"]),
    "win33": ("de", ["shadow-storage-small", "shadow-storage-cim-broken"]),
    # shrink keep_copies in its host_vars: the unbounded maximum comes down to what is in use plus a tenth of it (headroom).
    "win34": ("en", ["shadow-storage-unbounded"]),
    # shrink delete_copies: down to 10 %, the oldest copy goes.
    "win35": ("en", ["shadow-storage-unbounded"]),
    "win36": ("en", []),
    # 2 GB set by the admin, no volsnap event: left as it is (shadow_storage_grow evidence, the default).
    "win37": ("en", ["shadow-storage-sized"]),
    # keep_copies while the VM backup's extension runs: not shrunk.
    "win38": ("en", ["shadow-storage-unbounded", "backup-running"]),
    # a new maximum that shows only after 4 s: the resize script polls for it.
    "win39": ("en", ["shadow-storage-small", "shadow-storage-slow"]),
}
# Each host's variables: win32 asks for free room, win34 and win35 shrink, win35 also asks for free room (reported only).
HOST_VARS = {"win32": {"shadow_storage_min_free": "1GB"}, "win34": {"shadow_storage_shrink": "keep_copies"},
             "win35": {"shadow_storage_shrink": "delete_copies", "shadow_storage_min_free": "1GB"},
             "win38": {"shadow_storage_shrink": "keep_copies"}}


def c_storage(saved):
    return next(a for a in saved["shadow_storage"] if a["for"] == "C:")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-shadow-storage")
    with simulated_hosts(tmp, dict(HOSTS)) as inv:
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        (tmp / "host_vars").mkdir()
        for host, variables in HOST_VARS.items():
            (tmp / "host_vars" / ("%s.yml" % host)).write_text(yaml.safe_dump(variables))
        out = {"results": {}, "logs": {}, "states": {"before": {n: state(tmp, n) for n in HOSTS}}}
        for step, args in (("check", ["--check", "--diff"]), ("apply", ["--diff"]), ("again", [])):
            seen = {n: len(log(tmp, n)) for n in HOSTS}
            out["results"][step] = playbook(tmp, *args)
            out["logs"][step] = {n: log(tmp, n)[seen[n]:] for n in HOSTS}
            out["states"][step] = {n: state(tmp, n) for n in HOSTS}
        yield out


def shadow_findings(runs, step, host):
    return {f["check"]: f for f in runs["results"][step][1][host]["findings"] if f["id"] == "MARS_SHADOW_STORAGE"}


def other_findings(runs, step, host):
    return [f for f in runs["results"][step][1][host]["findings"] if f["id"] != "MARS_SHADOW_STORAGE" and f["status"] not in ("ok", "skipped")]


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_check_mode_reads_once_in_the_host_read_and_changes_nothing(runs, host):
    # The cause's read is part of the host read: no execution of its own, on a healthy host and a broken one.
    assert executions(runs["logs"]["check"][host]) == ["host.read"]
    assert runs["states"]["check"][host] == runs["states"]["before"][host]
    assert other_findings(runs, "check", host) == []


def test_check_finds_each_fault_and_says_what_it_would_do(runs):
    assert shadow_findings(runs, "check", "win36")["volume_c"]["status"] == "ok"
    small = shadow_findings(runs, "check", "win31")["volume_c"]
    assert small["status"] == "found" and "would resize it to 12.7 GB (vssadmin resize shadowstorage /For=C: /On=C: /MaxSize=%d)" % TENTH \
        in small["summary"]
    full = shadow_findings(runs, "check", "win32")["volume_c"]
    assert full["status"] == "found" and "the space in use plus the 1 GB free room of shadow_storage_min_free" in full["summary"]
    german = shadow_findings(runs, "check", "win33")
    assert german["source"]["status"] == "found" and "Provider load failure" in german["source"]["summary"]
    assert german["volume_c"]["detail"]["exact"] is False and german["volume_c"]["status"] == "found"
    assert "which deletes the oldest shadow copies (4 on C:" in shadow_findings(runs, "check", "win35")["volume_c"]["summary"]
    assert "which deletes" not in shadow_findings(runs, "check", "win34")["volume_c"]["summary"]
    sized = shadow_findings(runs, "check", "win37")["volume_c"]
    assert sized["status"] == "ok" and "no volsnap event 25 or 36" in sized["summary"] and sized["detail"]["max"] == 2 * GB
    busy = shadow_findings(runs, "check", "win38")["volume_c"]
    assert busy["status"] == "found" and "not shrunk while the VM backup's IaaSBcdrExtension.exe runs" in busy["summary"]


def test_check_mode_shows_the_maximum_before_and_after_as_a_diff(runs):
    proc, _hosts = runs["results"]["check"]
    # ansible-playbook --diff prints each entry as a unified diff under its header.
    assert "--- before: shadow storage of C: on C:\n+++ after: shadow storage of C: on C:\n" in proc.stdout
    assert "-max 1 GB (1073741824 bytes)\n+max 12.7 GB (%d bytes)\n" % TENTH in proc.stdout
    assert "-max UNBOUNDED\n+max 12.7 GB (%d bytes)\n" % TENTH in proc.stdout


def test_apply_resizes_under_the_run_lock_and_the_state_confirms_it(runs):
    for host in ("win31", "win32", "win33", "win34", "win35", "win39"):
        assert shadow_findings(runs, "apply", host)["volume_c"]["status"] == "fixed", host
        sent = executions(runs["logs"]["apply"][host])
        assert sent == ["host.read", "host.lock", "shadow_storage.resize", "host.unlock"], (host, sent)
    after = runs["states"]["apply"]
    assert c_storage(after["win31"])["max_bytes"] == TENTH and c_storage(after["win33"])["max_bytes"] == TENTH
    full = c_storage(after["win32"])
    assert full["max_bytes"] == full["used_bytes"] + GB
    kept = c_storage(after["win34"])
    assert kept["max_bytes"] == kept["used_bytes"] + kept["used_bytes"] // 10 and len(kept["copies"]) == 4
    assert c_storage(after["win39"])["max_bytes"] == TENTH
    assert shadow_findings(runs, "apply", "win39")["volume_c"]["detail"]["read_back_tries"] > 1
    shrunk, before = c_storage(after["win35"]), c_storage(runs["states"]["before"]["win35"])
    assert shrunk["max_bytes"] == TENTH and [c["id"] for c in shrunk["copies"]] == [c["id"] for c in before["copies"][1:]]
    for host in ("win36", "win37", "win38"):
        assert after[host] == runs["states"]["before"][host], host
        assert executions(runs["logs"]["apply"][host]) == ["host.read"], host
    assert shadow_findings(runs, "apply", "win38")["volume_c"]["status"] == "found"


def test_a_second_apply_changes_nothing(runs):
    for host in HOSTS:
        assert executions(runs["logs"]["again"][host]) == ["host.read"], host
        assert runs["states"]["again"][host] == runs["states"]["apply"][host], host
        assert not runs["results"]["again"][1][host].get("changed"), host
    assert shadow_findings(runs, "again", "win31")["volume_c"]["status"] == "ok"
    # delete_copies never raises the maximum for free room: the missing room is reported, not changed back and forth.
    assert shadow_findings(runs, "again", "win35")["volume_c"]["status"] == "found"


def playbook(tmp, *args):
    return run_play(ROOT, tmp, PLAY, *args, expect=HOSTS)
