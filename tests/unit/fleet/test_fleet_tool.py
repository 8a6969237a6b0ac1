"""tests/fleet/fleet (the Linux test fleet) at 100 VMs: names, addresses, order, boot pacing.
Nothing here boots a VM or needs root."""

import importlib.machinery
import importlib.util
import ipaddress
import json
import os
import re
import threading
import time

import pytest

FLEET = os.path.join(os.path.dirname(__file__), "..", "..", "fleet", "fleet")


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    loader = importlib.machinery.SourceFileLoader("fleet_tool", FLEET)
    spec = importlib.util.spec_from_loader("fleet_tool", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    monkeypatch.setattr(module, "STATE", str(tmp_path / "state"))
    monkeypatch.setattr(module, "log", lambda msg: None)
    return module


def test_a_hundred_vms_have_distinct_valid_names_addresses_and_links(fleet):
    assert fleet.MAX_VMS >= 100
    indexes = range(1, fleet.MAX_VMS + 1)
    bridge = ipaddress.ip_interface(fleet.BRIDGE_IP + "/24")
    ips = [ipaddress.ip_address(fleet.vm_ip(i)) for i in indexes]
    assert all(ip in bridge.network and ip not in (bridge.ip, bridge.network.broadcast_address) for ip in ips)
    for make in (fleet.vm_name, fleet.vm_ip, fleet.vm_mac):
        assert len({make(i) for i in indexes}) == fleet.MAX_VMS
    assert all(re.fullmatch(r"02:ab:f0:00:00:[0-9a-f]{2}", fleet.vm_mac(i)) for i in indexes)
    assert [fleet.vm_index(fleet.vm_name(i)) for i in indexes] == list(indexes)
    # Linux interface names hold at most 15 characters
    assert len(fleet.NETNS_PREFIX + "v%02d" % fleet.MAX_VMS) <= 15
    assert fleet.vm_name(100) == "vm100"


def test_vms_are_listed_by_index_so_vm100_comes_last(fleet):
    for i in (9, 10, 100, 11, 99):
        os.makedirs(fleet.vm_dir(fleet.vm_name(i)))
        with open(os.path.join(fleet.vm_dir(fleet.vm_name(i)), "vm.json"), "w") as handle:
            json.dump({"name": fleet.vm_name(i), "index": i}, handle)
    assert [vm["name"] for vm in fleet.all_vms()] == ["vm09", "vm10", "vm11", "vm99", "vm100"]


def fake_vm(i):
    return {"name": "vm%02d" % i, "index": i, "variant": "debian12", "ip": "10.213.0.%d" % (10 + i),
            "init_pid": os.getpid(), "unshare_pid": os.getpid(), "started": time.time()}


def test_boot_keeps_at_most_parallel_vms_booting_and_probes_them_together(fleet, monkeypatch):
    booting, most = set(), [0]
    lock = threading.Lock()

    def start(i):
        vm = fake_vm(i)
        with lock:
            booting.add(vm["ip"])
            most[0] = max(most[0], len(booting))
        return vm

    def banner(ip):
        time.sleep(0.3)   # a VM whose sshd is not up yet costs a connect timeout
        with lock:
            booting.discard(ip)
        return True

    monkeypatch.setattr(fleet, "ssh_banner", banner)
    t0 = time.time()
    fleet.boot([(lambda i=i: start(i)) for i in range(1, 41)], timeout=30, parallel=8)
    assert most[0] == 8
    # 40 probes of 0.3 s one after another would take 12 s; 8 at once take about 1.5 s
    assert time.time() - t0 < 6


def test_boot_fails_a_vm_whose_sshd_does_not_answer_within_its_timeout(fleet, monkeypatch):
    monkeypatch.setattr(fleet, "ssh_banner", lambda ip: ip != "10.213.0.12")
    with pytest.raises(SystemExit):
        fleet.boot([(lambda i=i: fake_vm(i)) for i in (1, 2, 3)], timeout=1, parallel=2)


def test_boot_waits_for_an_init_that_appears_late(fleet, monkeypatch):
    """Joining the cgroups can take seconds while other VMs boot: no PID yet is not a dead VM."""
    vm = dict(fake_vm(1), init_pid=None)
    seen = iter([None, None, os.getpid()])

    def children(vm):
        pid = next(seen, os.getpid())
        if pid:
            vm["init_pid"] = pid
        return True

    monkeypatch.setattr(fleet, "find_init", children)
    monkeypatch.setattr(fleet, "ssh_banner", lambda ip: True)
    fleet.boot([lambda: vm], timeout=10, parallel=1)
    assert vm["init_pid"] == os.getpid()


def test_the_fleets_cpu_cgroup_weighs_as_one_process_per_vm(fleet, tmp_path, monkeypatch):
    cpu, memory = tmp_path / "cpu", tmp_path / "memory"
    for hierarchy in (cpu, memory):
        (hierarchy / fleet.CGROUP_PARENT).mkdir(parents=True)
    (cpu / fleet.CGROUP_PARENT / "cpu.shares").write_text("1024\n")   # the kernel's default
    monkeypatch.setattr(fleet, "cgroup_hierarchies", lambda: ([], [str(cpu), str(memory)]))
    for i in range(1, 101):
        fleet.make_cgroups(fleet.vm_name(i))
    assert (cpu / fleet.CGROUP_PARENT / "cpu.shares").read_text() == "102400\n"
    assert not (memory / fleet.CGROUP_PARENT / "cpu.shares").exists()


def test_the_inventory_gives_ssh_time_for_a_busy_vm_to_answer(fleet, monkeypatch, capsys):
    monkeypatch.setattr(fleet, "all_vms", lambda: [fake_vm(100)])
    monkeypatch.setattr(fleet, "vm_running", lambda vm: True)
    monkeypatch.setattr(fleet, "ssh_key", lambda: "/key")
    fleet.cmd_inventory(type("Args", (), {"output": None})())
    inventory = capsys.readouterr().out
    timeout = int(re.search(r"(?m)^ +ansible_ssh_timeout: (\d+)$", inventory).group(1))
    assert timeout >= 30
    assert "vm100:\n              ansible_host: 10.213.0.110" in inventory
