"""capture.yml against simulated Windows hosts, through Ansible's real winrm connection.

Without --check on the command line: the play forces check mode. The simulated state must be the same
before and after, the VM must only have been sent read scripts in check mode, and each host's capture
file, made back into a simulated host (tests/winsim/capture.py), must answer every read as captured.
Own hosts (cap01, cap02): the Windows fleet test's hosts are not touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WINSIM = os.path.join(ROOT, "tests", "winsim", "winsim")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
import capture as simcapture  # noqa: E402  (the simulator side of captures, under tests/winsim)
from azure import simulated_hosts  # noqa: E402

PASSWORD = "Sim-Passw0rd!"
HOSTS = {
    "cap01": ("en", ["agent-stopped", "vss-writer-failed", "machinekeys-acl", "crp-cert", "sql-no-copy-backup", "bitlocker-locked",
                     "mars-schedule-user", "mars-defender-off", "mars-execution-policy-gpo"]),
    "cap02": ("de", ["agent-missing", "iaasvmprovider-disabled", "msdtc-stopped", "no-dhcp", "too-many-disks", "dns-broken"]),
}
# cap01 has the MARS agent (with faults of its causes), cap02 not: there the MARS reads are not run at all.
HOSTS["cap01"][1].extend(["mars-scratch-mismatch", "mars-temp-files", "mars-clock-skew"])


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def log(tmp, name):
    with open(tmp / ("%s.log.jsonl" % name), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("windows-capture")
    with simulated_hosts(tmp, HOSTS, password=PASSWORD) as inv:
        (tmp / "inventory.yml").write_text(yaml.safe_dump(inv))
        before = {n: load(tmp / ("%s.json" % n)) for n in HOSTS}
        env = dict(os.environ, AZURE_BACKUP_REPORT_DIR=str(tmp / "reports"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        proc = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.yml"), "capture.yml", "-l", "vms",
                               "-e", "azure_backup_capture_dir=%s" % (tmp / "captures"), "-e", "network_timeout=2"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        after = {n: load(tmp / ("%s.json" % n)) for n in HOSTS}
        yield {"proc": proc, "before": before, "after": after, "tmp": tmp}


def test_the_capture_changes_nothing_and_sends_only_reads_in_check_mode(run):
    assert run["proc"].returncode == 0, run["proc"].stdout[-3000:] + run["proc"].stderr[-2000:]
    for name in HOSTS:
        assert run["after"][name] == run["before"][name], name
        modules = [e for e in log(run["tmp"], name) if e["kind"] == "module"]
        assert modules and all(e["check_mode"] for e in modules), name
        assert {e["module"] for e in modules} == {"ansible.windows.win_powershell"}, name
        assert all(e["script_tag"].endswith(".read") for e in modules), name
        assert not [e for e in log(run["tmp"], name) if e["kind"] == "put_file"], name


def test_one_file_per_host_with_every_read_script_and_no_password(run):
    # The DHCP switch's read-back follows a switch only: a run in check mode has no marker to read.
    read_tags = {tag for tag in simcapture.collection_scripts() if tag.endswith(".read")} - {"snapshot_status.dhcp_switch.read"}
    assert sorted(os.listdir(run["tmp"] / "captures")) == ["cap01.json", "cap02.json"]  # no parts left behind
    for name, (locale, _faults) in HOSTS.items():
        text = (run["tmp"] / "captures" / ("%s.json" % name)).read_text()
        assert PASSWORD not in text
        doc = json.loads(text)
        assert doc["host"] == name and doc["format_version"] == 1 and doc["collection_version"]
        # The MARS causes' reads run only where the agent is installed (cap01).
        expected = read_tags if "obengine" in run["before"][name]["services"] else {t for t in read_tags if not t.startswith("mars_")}
        assert {r["tag"] for r in doc["reads"]} | {doc["environment"]["tag"]} == expected, name
        assert not [r for r in doc["reads"] if r["failed"]], name
        assert set(doc["scripts"]) == expected
        assert doc["environment"]["result"]["ui_culture"] == {"en": "en-US", "de": "de-DE"}[locale]


def test_a_host_made_from_each_capture_answers_every_read_as_captured(run):
    for name in HOSTS:
        doc = simcapture.load(str(run["tmp"] / "captures" / ("%s.json" % name)))
        assert simcapture.check(doc) == [], name
