"""Two runs against one VM at the same time: a scheduled AWX job and an admin by hand.

Both apply fix-backup.yml to the same real fleet VM at once, each with an edit of waagent.conf the other
does not make (one turns on the agent's verbose logs, the other names an HTTP proxy), on a VM whose
waagent.conf also has extensions turned off. The VM lock makes them take turns and the compare-and-swap
write makes the second decide on what the first wrote: the file must end with all three settings, and
each run keeps its own report. Needs root and the fleet images (tests/run's integration stage has both).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLEET = os.path.join(ROOT, "tests", "fleet", "fleet")


def fleet(*args, check=True):
    return subprocess.run([FLEET, *args], check=check, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet-concurrency")
    fleet("up", "1", "--variant=debian12")
    try:
        fleet("break", "vm01", "extensions-disabled")
        inventory = tmp / "inventory.yml"
        inventory.write_text(fleet("inventory"))
        reports = tmp / "reports"
        env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(reports), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        extra = [["-e", "linux_agent_verbose_logs=true"],
                 # A proxy on the fleet's bridge where nothing listens: the network checks fail fast, the edit is what counts.
                 ["-e", "network_http_proxy_host=10.213.0.1", "-e", "network_http_proxy_port=3999", "-e", "network_timeout=2"]]
        procs = [subprocess.Popen(["ansible-playbook", "-i", str(inventory), "fix-backup.yml", "-l", "vm01", *args],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for args in extra]
        outputs = [proc.communicate(timeout=600)[0] for proc in procs]
        conf = fleet("exec", "vm01", "--", "cat", "/etc/waagent.conf")
        files = sorted(glob.glob(str(reports / "*.json")))
        yield {"outputs": outputs, "conf": conf, "reports": [json.load(open(path)) for path in files],
               "backups": fleet("exec", "vm01", "--", "sh", "-c", "ls -a /etc | grep -c 'waagent.conf.*~' || true").strip()}
    finally:
        fleet("down")


def settings(conf: str) -> dict:
    pairs = (line.split("=", 1) for line in conf.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_no_edit_is_lost(runs):
    conf = settings(runs["conf"])
    assert conf.get("Extensions.Enabled") == "y", runs["outputs"]
    assert conf.get("Logs.Verbose") == "y", runs["outputs"]
    assert conf.get("HttpProxy.Host") == "10.213.0.1", runs["outputs"]
    assert conf.get("HttpProxy.Port") == "3999", runs["outputs"]


def test_both_reports_are_kept(runs):
    assert len(runs["reports"]) == 2
    for report in runs["reports"]:
        assert "vm01" in report["hosts"]


def test_each_write_left_one_backup_and_nothing_else_did(runs):
    # Extensions.Enabled and Logs.Verbose come from the first run's LINUX_AGENT, the proxy from the second's
    # NETWORK; Extensions.Enabled is written by whichever LINUX_AGENT goes first. So two writes (the verbose
    # run first) or three (the proxy run's LINUX_AGENT first), each leaving one backup; never more.
    assert int(runs["backups"]) in (2, 3)
