from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent as h

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "reference", "linux")

# ExecStart as systemd 252 prints it on the fleet's Debian and RHEL-style units.
DEBIAN = "{ path=/usr/sbin/waagent ; argv[]=/usr/sbin/waagent -daemon ; ignore_errors=no ; start_time=[n/a] ; pid=84 ; code=(null) ; status=0/0 }"
RHEL = "{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -u /usr/sbin/waagent -daemon ; ignore_errors=no ; start_time=[n/a] ; pid=0 }"


def reference(name):
    with open(os.path.join(REFERENCE, name)) as handle:
        return handle.read()


@pytest.mark.parametrize("execstart, shebang, expected", [
    (DEBIAN, "#!/usr/bin/python3", "/usr/bin/python3"),
    (RHEL, None, "/usr/bin/python3"),
    (DEBIAN, "#!/usr/bin/env python3", "python3"),
    (DEBIAN, None, None),
    ("", None, None),
])
def test_interpreter(execstart, shebang, expected):
    assert h.interpreter(h.execstart_argv(execstart), shebang) == expected


MOUNTINFO = """\
22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw
30 22 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw
41 22 0:21 /var/lib/waagent /var/lib/waagent rw,noexec,relatime - overlay overlay rw
42 22 0:21 /var/lib/waagent-old /var/lib/waagent-old rw,relatime - overlay overlay rw
"""


def test_mount_of_picks_the_longest_covering_mount():
    assert h.mount_of("/var/lib/waagent", MOUNTINFO) == {"mount_point": "/var/lib/waagent", "options": ["rw", "noexec", "relatime"]}
    assert h.mount_of("/var/lib/waagent/x", MOUNTINFO)["mount_point"] == "/var/lib/waagent"
    # A sibling whose name merely starts the same is not a parent.
    assert h.mount_of("/var/lib/waagent-older", MOUNTINFO)["mount_point"] == "/"


def test_log_summary_of_a_real_log():
    text = reference("waagent-log-issue-2521-ubuntu2204-2.2.46.log")
    summary = h.summarize_log(text, now=datetime.datetime(2022, 10, 27, 12, 0, 0))
    assert summary["errors"] == 1 and summary["warnings"] == 3
    assert summary["last_errors"][0].startswith("2022-10-27T05:53:48 Daemon Event: name=WALinuxAgent, op=Enable")
    assert summary["newest_entry"].startswith("2022-10-27T05:53")


def test_log_summary_only_counts_the_window():
    text = reference("waagent-log-issue-2521-ubuntu2204-2.2.46.log")
    assert h.summarize_log(text, now=datetime.datetime(2022, 11, 30))["errors"] == 0


def test_old_timestamp_format_and_crlf():
    text = "2016/04/01 12:34:56.123 ERROR Event: old agent failed\r\n2016/04/01 12:35:00.000 WARNING something\r\nnoise\r\n"
    summary = h.summarize_log(text, now=datetime.datetime(2016, 4, 1, 13, 0))
    assert (summary["errors"], summary["warnings"]) == (1, 1)
    assert summary["last_errors"] == ["2016-04-01T12:34:56 Event: old agent failed"]


def test_keeps_only_the_latest_errors():
    lines = "".join("2024-01-01T00:00:%02d.0Z ERROR ExtHandler failure %d\n" % (i, i) for i in range(9))
    summary = h.summarize_log(lines, now=datetime.datetime(2024, 1, 1, 1), keep=3)
    assert summary["errors"] == 9
    assert [e.rsplit(" ", 1)[1] for e in summary["last_errors"]] == ["6", "7", "8"]
