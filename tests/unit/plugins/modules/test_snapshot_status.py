"""SNAPSHOT_STATUS on Linux through the fix protocol, on a VM's files laid out under a test folder."""

from __future__ import annotations

import errno
import os
import time

import pytest

from ansible.module_utils import basic
from ansible_collections.azure_backup.remediation.plugins.module_utils.core import files
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import cause, lock
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import snapshot_status as linux_snap
from ansible_collections.azure_backup.remediation.plugins.modules import snapshot_status

STATIC = "[Match]\nName=eth0\n\n[Network]\nAddress=10.213.0.11/24\n"
DHCP = "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"
NETWORK_FILE = "/etc/systemd/network/10-eth0.network"


class Vm:
    """A VM's /proc and /etc under tmp_path, the backups folder, and the commands run."""

    def __init__(self, root):
        self.root, self.calls, self.warnings = root, [], []

    def write(self, path, content):
        full = self.root / path.lstrip("/")
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(content)

    def read(self, path):
        return (self.root / path.lstrip("/")).read_text()

    def backups(self):
        return [os.path.join(folder, name) for folder, _dirs, names in os.walk(self.root / "backups") for name in names]


@pytest.fixture
def vm(tmp_path, monkeypatch):
    machine = Vm(tmp_path / "vm")
    machine.write("/proc/loadavg", "0.40 0.30 0.20 1/180 4242\n")
    machine.write("/proc/meminfo", "MemTotal: 1048576 kB\nMemAvailable: 524288 kB\n")
    machine.write("/proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    machine.write("/proc/pressure/cpu", "some avg10=1.50 avg60=2.25 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    monkeypatch.setattr(linux_snap, "ROOT", str(machine.root))
    monkeypatch.setattr(linux_snap, "online_cpus", lambda: 2)
    monkeypatch.setattr(files, "BACKUP_DIR", str(tmp_path / "vm" / "backups"))
    monkeypatch.setattr(cause, "without_root", lambda: None)
    monkeypatch.setattr(cause, "VmLock", lambda timeout, cause="": lock.VmLock(timeout, path=str(tmp_path / "lock"), cause=cause))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/bin/" + name)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: machine.calls.append(cmd) or (0, "", ""))
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: machine.warnings.append(text))

    def no_sleep(seconds):
        raise AssertionError("the CPU check must not sleep (slept %s s)" % seconds)

    monkeypatch.setattr(time, "sleep", no_sleep)
    return machine


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


def test_a_busy_vm_is_reported_from_the_load_average_without_sampling(run_module, vm):
    vm.write("/proc/loadavg", "1.92 1.10 0.80 3/200 1234\n")
    vm.write("/proc/meminfo", "MemTotal: 1048576 kB\nMemAvailable: 52428 kB\n")
    vm.write("/proc/pressure/memory", "some avg10=31.00 avg60=1 avg300=1 total=1\n")
    found = by_check(run_module(snapshot_status.main, {}))
    cpu, mem = found["cpu_load"], found["memory_pressure"]
    assert cpu["status"] == "found" and cpu["detail"]["busy_percent"] == 96.0
    assert cpu["summary"] == ("CPU 96.0 % busy over the last minute (load average 1.92 on 2 CPUs, /proc/loadavg): "
                              "above 90 %, snapshots may time out")
    assert cpu["detail"]["counter"].startswith("/proc/loadavg")
    assert cpu["detail"]["psi_cpu_some_avg10"] == 1.5 and cpu["detail"]["psi_cpu_some_avg60"] == 2.25
    assert mem["status"] == "found" and mem["detail"]["psi_some_avg10"] == 31.0
    assert mem["summary"].startswith("memory 95.0 % used (51 of 1024 MiB available)")


def test_tasks_queued_for_a_cpu_read_as_fully_busy_and_without_psi(run_module, vm):
    vm.write("/proc/loadavg", "3.40 2.00 1.00 5/200 1234\n")
    os.unlink(vm.root / "proc/pressure/cpu")
    cpu = by_check(run_module(snapshot_status.main, {}))["cpu_load"]
    assert cpu["status"] == "found" and cpu["detail"]["busy_percent"] == 100.0 and cpu["detail"]["load_percent"] == 170.0
    assert "tasks queued for a CPU" in cpu["summary"] and cpu["detail"]["psi_cpu_some_avg10"] is None


def test_an_idle_vm_is_ok_and_the_deprecated_sample_is_ignored_with_a_warning(run_module, vm):
    result = run_module(snapshot_status.main, {"sample_seconds": 5})
    assert by_check(result)["cpu_load"]["status"] == "ok" and by_check(result)["cpu_load"]["detail"]["busy_percent"] == 20.0
    assert any("sample_seconds is deprecated and ignored" in w for w in vm.warnings)
    run_module(snapshot_status.main, {})
    assert len(vm.warnings) == 1  # not set: no warning


def test_unreadable_load_figures_fail_that_check_only(run_module, vm):
    vm.write("/proc/loadavg", "garbage\n")
    result = run_module(snapshot_status.main, {})
    assert by_check(result)["cpu_load"]["status"] == "failed" and "not three load averages" in by_check(result)["cpu_load"]["summary"]
    assert by_check(result)["memory_pressure"]["status"] == "ok" and result["failed"]


def test_static_address_is_only_reported_without_the_opt_in(run_module, vm):
    vm.write(NETWORK_FILE, STATIC)
    result = run_module(snapshot_status.main, {})
    dhcp = by_check(result)["guest_dhcp"]
    assert dhcp["status"] == "found" and "snapshot_status_fix_dhcp=true" in dhcp["summary"]
    assert not result["changed"] and vm.read(NETWORK_FILE) == STATIC and vm.calls == []


def test_check_mode_shows_the_switch_and_changes_nothing(run_module, vm):
    vm.write(NETWORK_FILE, STATIC)
    result = run_module(snapshot_status.main, {"fix_dhcp": True}, check_mode=True, diff=True)
    dhcp = by_check(result)["guest_dhcp"]
    assert dhcp["status"] == "found" and "would switch eth0 to DHCP" in dhcp["summary"]
    assert result["changed"] and result["diff"][0]["after"] == DHCP and result["diff"][0]["before_header"] == NETWORK_FILE
    assert vm.read(NETWORK_FILE) == STATIC and vm.calls == [] and vm.backups() == []


def test_the_fix_rewrites_keeps_a_backup_apart_reloads_networkd_and_then_is_ok(run_module, vm):
    vm.write(NETWORK_FILE, STATIC)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    dhcp = by_check(result)["guest_dhcp"]
    assert dhcp["status"] == "fixed" and "applied with networkctl reload" in dhcp["detail"]["after"]
    assert vm.read(NETWORK_FILE) == DHCP
    [backup] = dhcp["detail"]["backup_files"]
    assert backup.startswith(str(vm.root / "backups")) and open(backup).read() == STATIC
    assert vm.calls == [["/bin/networkctl", "reload"]]
    assert os.listdir(vm.root / "etc/systemd/network") == ["10-eth0.network"]  # no backup or temp file beside it
    again = run_module(snapshot_status.main, {"fix_dhcp": True})
    assert not again["changed"] and by_check(again)["guest_dhcp"]["status"] == "ok"


def test_a_read_only_network_file_fails_that_check_names_the_cause_and_leaves_no_backup(run_module, vm, monkeypatch):
    vm.write(NETWORK_FILE, STATIC)

    def read_only(self, src, dest, **kw):
        raise OSError(errno.EROFS, "Read-only file system", dest)

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", read_only)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    found = by_check(result)
    assert found["guest_dhcp"]["status"] == "failed"
    assert "mounted read-only" in found["guest_dhcp"]["summary"] and "remount" in found["guest_dhcp"]["summary"].lower()
    assert found["cpu_load"]["status"] == "ok" and found["memory_pressure"]["status"] == "ok"
    assert result["failed"] and not result["changed"]
    assert vm.read(NETWORK_FILE) == STATIC and vm.backups() == [] and vm.calls == []
    assert sorted(os.listdir(vm.root / "etc/systemd/network")) == ["10-eth0.network"]  # no temp file either


def test_an_edit_made_meanwhile_is_read_again_and_kept(run_module, vm, monkeypatch):
    """Another run or an admin adds a DNS server between this run's read and its write."""
    vm.write(NETWORK_FILE, STATIC)
    real, calls = linux_snap.replace_file, []

    def racing(module, path, data, backup, **kw):
        if not calls:
            vm.write(NETWORK_FILE, STATIC + "DNS=10.0.0.2\n")
        calls.append(data)
        return real(module, path, data, backup, **kw)

    monkeypatch.setattr(linux_snap, "replace_file", racing)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    assert by_check(result)["guest_dhcp"]["status"] == "fixed" and len(calls) == 2
    assert vm.read(NETWORK_FILE) == "[Match]\nName=eth0\n\n[Network]\nDNS=10.0.0.2\nDHCP=yes\n"  # the admin's line kept


def test_a_file_that_keeps_changing_fails_that_check_only(run_module, vm, monkeypatch):
    vm.write(NETWORK_FILE, STATIC)
    real, edits = linux_snap.replace_file, iter(range(100))

    def racing(module, path, data, backup, **kw):
        vm.write(NETWORK_FILE, STATIC + "# edit %d\n" % next(edits))
        return real(module, path, data, backup, **kw)

    monkeypatch.setattr(linux_snap, "replace_file", racing)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    found = by_check(result)
    assert found["guest_dhcp"]["status"] == "failed" and "changed while this run decided on it" in found["guest_dhcp"]["summary"]
    assert found["cpu_load"]["status"] == "ok" and vm.backups() == []


def test_a_switch_that_does_not_take_fails_but_keeps_the_load_figures(run_module, vm, monkeypatch):
    vm.write(NETWORK_FILE, STATIC)
    monkeypatch.setattr(linux_snap, "replace_file", lambda *a, **kw: None)  # the write is lost: the file stays static
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    assert result["failed"] and "still reads as static" in result["msg"]
    assert {f["check"] for f in result["findings"]} == {"guest_dhcp", "cpu_load", "memory_pressure"}


def test_unreadable_network_configuration_fails_that_check_only(run_module, vm, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: become is the remedy

    def denied():
        raise PermissionError(errno.EACCES, "Permission denied", "/etc/NetworkManager/system-connections/eth0.nmconnection")

    monkeypatch.setattr(linux_snap, "network_configs", denied)
    result = run_module(snapshot_status.main, {})
    found = by_check(result)
    assert found["guest_dhcp"]["status"] == "failed" and "ansible_become" in found["guest_dhcp"]["summary"]
    assert found["cpu_load"]["status"] == "ok" and found["memory_pressure"]["status"] == "ok"


def test_two_static_files_one_read_only_keeps_the_first_switch_and_says_so(run_module, vm, monkeypatch):
    vm.write(NETWORK_FILE, STATIC)
    vm.write("/etc/network/interfaces", "auto eth0\niface eth0 inet static\n    address 10.0.0.4/24\n")
    real_move = basic.AnsibleModule.atomic_move

    def second_read_only(self, src, dest, **kw):
        if dest.endswith(".network"):
            raise OSError(errno.EROFS, "Read-only file system", dest)
        return real_move(self, src, dest, **kw)

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", second_read_only)
    result = run_module(snapshot_status.main, {"fix_dhcp": True})
    dhcp = by_check(result)["guest_dhcp"]
    assert dhcp["status"] == "failed" and result["changed"]
    assert "mounted read-only" in dhcp["summary"] and "/etc/network/interfaces already switched" in dhcp["summary"]
    assert vm.read(NETWORK_FILE) == STATIC and "inet dhcp" in vm.read("/etc/network/interfaces")
    assert len(vm.backups()) == 1  # the switched file's; none for the one that could not be written
