from __future__ import annotations

import fnmatch
import itertools

import pytest

from ansible.module_utils import basic
from ansible_collections.azure_backup.remediation.plugins.modules import snapshot_status

PARAMS = {"sample_seconds": 2, "cpu_threshold": 90, "memory_threshold": 90}


@pytest.fixture
def proc(monkeypatch):
    """A VM's /proc as the test sets it: two /proc/stat readings, meminfo, PSI."""
    files = {"/proc/meminfo": "MemTotal: 1048576 kB\nMemAvailable: 52428 kB\n",
             "/proc/pressure/memory": "some avg10=31.00 avg60=1 avg300=1 total=1\n"}
    stats = iter(["cpu  100 0 0 900 0\n", "cpu  196 0 0 904 0\n"])

    def read(path):
        return next(stats) if path == "/proc/stat" else files[path]

    monkeypatch.setattr(snapshot_status, "read", read)
    monkeypatch.setattr(snapshot_status.time, "sleep", lambda s: None)
    return files


def test_busy_vm_is_reported_with_figures(proc):
    cpu, mem = snapshot_status.load_findings(PARAMS)
    assert cpu["status"] == "found" and cpu["detail"]["busy_percent"] == 96.0
    assert cpu["summary"] == "CPU 96.0 % busy over 2 s: above 90 %, snapshots may time out"
    assert mem["status"] == "found" and mem["detail"]["psi_some_avg10"] == 31.0
    assert mem["summary"].startswith("memory 95.0 % used (51 of 1024 MiB available)")


def test_sampling_window_is_bounded(proc):
    cpu, _mem = snapshot_status.load_findings(dict(PARAMS, sample_seconds=600))
    assert cpu["detail"]["seconds"] == 10


STATIC = "[Match]\nName=eth0\n\n[Network]\nAddress=10.213.0.11/24\n"


NETWORK_FILE = "/etc/systemd/network/10-eth0.network"


@pytest.fixture
def static_vm(monkeypatch):
    """A fake disk: eth0 static in networkd's folder, /proc readings, and networkctl recorded."""
    disk = {NETWORK_FILE: STATIC, "/proc/meminfo": "MemTotal: 1048576 kB\nMemAvailable: 524288 kB\n",
            "/proc/pressure/memory": "some avg10=0.00 avg60=0 avg300=0 total=0\n"}
    stats = itertools.cycle(["cpu  100 0 0 900 0\n", "cpu  101 0 0 999 0\n"])
    calls = []

    def replace_file(module, path, data, backup, apart):
        assert apart, "a backup beside a network file may be read by the network system"
        disk[path + ".bak~"] = disk[path]
        disk[path] = data.decode()
        return path + ".bak~"

    monkeypatch.setattr(snapshot_status, "read", lambda path: next(stats) if path == "/proc/stat" else disk[path])
    monkeypatch.setattr(snapshot_status.glob, "glob", lambda pattern: [p for p in disk if fnmatch.fnmatch(p, pattern) and not p.endswith("~")])
    monkeypatch.setattr(snapshot_status, "replace_file", replace_file)
    monkeypatch.setattr(snapshot_status.time, "sleep", lambda s: None)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/" + name)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: calls.append(cmd) or (0, "", ""))
    return disk, calls


def test_static_address_is_only_reported_without_the_opt_in(run_module, static_vm):
    disk, calls = static_vm
    result = run_module(snapshot_status.main, {})
    [dhcp] = [f for f in result["findings"] if f["check"] == "guest_dhcp"]
    assert dhcp["status"] == "found" and "snapshot_status_fix_dhcp=true" in dhcp["summary"]
    assert not result["changed"] and disk[NETWORK_FILE] == STATIC and calls == []


def test_check_mode_shows_the_switch_and_changes_nothing(run_module, static_vm):
    disk, calls = static_vm
    result = run_module(snapshot_status.main, {"fix_dhcp": True}, check_mode=True, diff=True)
    [dhcp] = [f for f in result["findings"] if f["check"] == "guest_dhcp"]
    assert dhcp["status"] == "found" and "would switch it to DHCP" in dhcp["summary"]
    assert result["changed"] and result["diff"][0]["after"].endswith("[Network]\nDHCP=yes\n")
    assert disk[NETWORK_FILE] == STATIC and calls == [] and NETWORK_FILE + ".bak~" not in disk


def test_the_fix_rewrites_keeps_a_backup_reloads_networkd_and_then_is_ok(run_module, static_vm):
    disk, calls = static_vm
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    [dhcp] = [f for f in result["findings"] if f["check"] == "guest_dhcp"]
    assert dhcp["status"] == "fixed" and "networkctl reload" in dhcp["summary"]
    assert disk[NETWORK_FILE] == "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"
    [backup] = dhcp["detail"]["backup_files"]
    assert disk[backup] == STATIC
    assert calls == [["/bin/networkctl", "reload"]]
    again = run_module(snapshot_status.main, {"fix_dhcp": True})
    assert not again["changed"] and [f["status"] for f in again["findings"] if f["check"] == "guest_dhcp"] == ["ok"]


def test_a_switch_that_does_not_take_fails_but_keeps_the_load_figures(run_module, static_vm, monkeypatch):
    disk, _calls = static_vm

    def replace_file(module, path, data, backup, apart):  # the write is lost: the file stays static
        disk[path + ".bak~"] = disk[path]
        return path + ".bak~"

    monkeypatch.setattr(snapshot_status, "replace_file", replace_file)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    assert result["failed"] and "still reads as static" in result["msg"]
    assert {f["check"] for f in result["findings"]} >= {"cpu_load", "memory_pressure"}
