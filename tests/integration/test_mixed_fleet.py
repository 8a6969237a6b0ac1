"""Linux and Windows VMs in one run where every Linux VM is unreachable: the Windows VMs are still checked and the
run's outcome is still published (fix-backup.yml runs both operating systems in one play; ansible-core ends the
whole playbook when every host of a play fails or is unreachable, so a play per OS stopped the run at Linux).

The Windows VMs are simulated (tests/winsim); the Linux VM's SSH is a stand-in that fails at once, on loopback."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
from azure import executions, free_port, host_log, simulated_hosts  # noqa: E402


def playbook(tmp, hosts: dict, only_unreachable: bool = False) -> dict:
    """fix-backup.yml --check on simulated Windows hosts plus lnx01 (SSH fails at once) and win99 (nobody answers);
    with ``only_unreachable`` the simulated hosts run but are left out of the inventory (its Windows settings stay)."""
    with simulated_hosts(tmp, hosts) as inv:
        ssh = tmp / "ssh"
        ssh.write_text('#!/bin/sh\necho "$@" >> "%s"\nexit 255\n' % (tmp / "contacted"))
        ssh.chmod(0o755)
        vms = inv["all"]["children"]["vms"]["children"]
        vms["linux"] = {"hosts": {"lnx01": {"ansible_host": "127.0.0.1", "ansible_ssh_executable": str(ssh)}}}
        # A Windows VM nobody answers for: an unreachable host of the Windows group does not stop the others either.
        if only_unreachable:
            vms["windows"]["hosts"] = {}
        vms["windows"]["hosts"]["win99"] = {"ansible_host": "127.0.0.1", "ansible_port": free_port()}
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"),
                   ANSIBLE_SHOW_CUSTOM_STATS="1", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="false")
        proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), "fix-backup.yml", "-l", "vms", "--check",
                               "-e", "network_timeout=2", "-e", "log_bundle_when=never"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        [report] = glob.glob(str(tmp / "reports" / "*.json"))
        with open(report, encoding="utf-8") as handle:
            return {"proc": proc, "report": json.load(handle), "win01": executions(host_log(tmp, "win01")),
                    "contacted": (tmp / "contacted").exists()}


def custom_stats(out: str) -> dict:
    """The default callback prints set_stats' data of the whole run after "RUN:", as JSON here."""
    assert "CUSTOM STATS" in out, out[-3000:]
    line = next(l for l in out[out.index("CUSTOM STATS"):].splitlines() if l.strip().startswith("RUN:"))
    return json.loads(line.split("RUN:", 1)[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return playbook(tmp_path_factory.mktemp("mixed-fleet"), {"win01": ("en", []), "win14": ("en", ["powershell-4"])})


@pytest.fixture(scope="module")
def nobody(tmp_path_factory):
    """Every VM of the run unreachable, as an AWX slice of stopped VMs would be."""
    return playbook(tmp_path_factory.mktemp("mixed-fleet-nobody"), {"win01": ("en", [])}, only_unreachable=True)


def test_the_windows_vms_are_checked_though_every_linux_vm_is_unreachable(run):
    assert run["contacted"], "the Linux VM was never tried"
    hosts = run["report"]["hosts"]
    assert hosts["lnx01"]["status"] == "unreachable"
    assert hosts["win99"]["status"] == "unreachable"
    # Checked, not just sorted into its group: one read of the VM, and findings of its causes.
    assert run["win01"] == ["host.read"], run["proc"].stdout[-3000:]
    assert hosts["win01"]["status"] == "ok" and hosts["win01"]["findings"]
    assert hosts["win14"]["status"] == "failed"


def test_the_outcome_is_published_with_every_host(run):
    stats = custom_stats(run["proc"].stdout)
    assert stats["azure_backup_hosts"] == {"lnx01": "unreachable", "win01": "ok", "win14": "failed", "win99": "unreachable"}
    assert stats["azure_backup_broken_hosts"] == ["lnx01", "win14", "win99"] and stats["azure_backup_broken"] is True


def test_the_run_still_fails_for_the_unreachable_and_the_failed_hosts(run):
    proc = run["proc"]
    assert proc.returncode != 0
    # Kept in the play until the outcome is published, then failed naming why.
    assert re.search(r"lnx01\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=1\s+.*ignored=1", proc.stdout), proc.stdout[-2000:]
    assert "unreachable: " in proc.stdout
    assert re.search(r"win14\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=1", proc.stdout)


def test_the_outcome_is_published_when_no_vm_answers(nobody):
    assert nobody["proc"].returncode != 0
    assert {h: e["status"] for h, e in nobody["report"]["hosts"].items()} == {"lnx01": "unreachable", "win99": "unreachable"}
    stats = custom_stats(nobody["proc"].stdout)
    assert stats["azure_backup_hosts"] == {"lnx01": "unreachable", "win99": "unreachable"}
    assert stats["azure_backup_broken"] is True
