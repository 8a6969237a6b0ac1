from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import snapshot_status as s

# As the fleet's Debian 12 images have it, and after the no-dhcp fault.
NETWORKD_DHCP = "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"
NETWORKD_STATIC = "[Match]\nName=eth0\n\n[Network]\nAddress=10.213.0.11/24\n"


@pytest.mark.parametrize("files, expected", [
    ({"/etc/systemd/network/10-eth0.network": NETWORKD_DHCP}, [True]),
    ({"/etc/systemd/network/10-eth0.network": NETWORKD_STATIC}, [False]),
    ({"/etc/systemd/network/99-all.network": "[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n"}, [True]),
    ({"/etc/systemd/network/10-lo.network": "[Match]\nName=lo\n[Network]\nDHCP=yes\n"}, []),
    ({"/etc/network/interfaces": "auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n"}, [True]),
    ({"/etc/network/interfaces.d/50-cloud": "iface eth0 inet static\n  address 10.0.0.4/24\n"}, [False]),
    ({"/etc/netplan/50-cloud-init.yaml":
      "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n      match:\n        driver: hv_netvsc\n  version: 2\n"}, [True]),
    ({"/etc/netplan/01.yaml": "network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.4/24]\n    eth1:\n      dhcp4: yes\n"}, [False]),
    ({"/etc/sysconfig/network-scripts/ifcfg-eth0": 'DEVICE=eth0\nBOOTPROTO="dhcp"\nONBOOT=yes\n'}, [True]),
    ({"/etc/sysconfig/network-scripts/ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=none\nIPADDR=10.0.0.4\n"}, [False]),
    ({"/etc/NetworkManager/system-connections/eth0.nmconnection": "[connection]\ninterface-name=eth0\n[ipv4]\nmethod=manual\n"}, [False]),
    ({"/etc/NetworkManager/system-connections/eth0.nmconnection": "[connection]\ninterface-name=eth0\n[ipv4]\nmethod=auto\n"}, [True]),
])
def test_dhcp_config_per_system(files, expected):
    assert [c["dhcp"] for c in s.dhcp_config(files, "eth0")] == expected


@pytest.mark.parametrize("loadavg, cpus, busy, load", [
    ("0.50 0.40 0.30 1/100 99\n", 2, 25.0, 25.0),
    ("1.92 1.00 1.00 3/100 99\n", 2, 96.0, 96.0),
    ("6.00 4.00 1.00 9/100 99\n", 4, 100.0, 150.0),  # tasks queue: fully busy, the queue kept apart
    ("0.00 0.00 0.00 1/100 99\n", 0, 0.0, 0.0),  # no CPU count: one CPU
])
def test_cpu_load_is_the_load_average_per_cpu(loadavg, cpus, busy, load):
    figures = s.cpu_load(loadavg, cpus)
    assert (figures["busy_percent"], figures["load_percent"]) == (busy, load)
    assert figures["counter"] == "/proc/loadavg (1-minute load average per CPU)"
    assert figures["psi_cpu_some_avg10"] is None


def test_cpu_load_keeps_psi_as_a_second_figure_and_says_what_it_read():
    psi = "some avg10=12.50 avg60=40.00 avg300=1.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    figures = s.cpu_load("1.00 1.00 1.00 1/1 1", 4, psi)
    assert (figures["psi_cpu_some_avg10"], figures["psi_cpu_some_avg60"]) == (12.5, 40.0)
    assert s.cpu_said(figures) == "CPU 25.0 % busy over the last minute (load average 1.00 on 4 CPUs, /proc/loadavg)"
    assert s.cpu_said(s.cpu_load("2.00 1 1 1/1 1", 1)).endswith("on 1 CPU, /proc/loadavg), tasks queued for a CPU")
    with pytest.raises(ValueError, match="not three load averages"):
        s.cpu_load("", 2)


@pytest.mark.parametrize("configs, verdict", [
    ([], ("skipped", "no network configuration for eth0 found")),
    ([{"source": "netplan", "path": "/etc/netplan/50.yaml", "dhcp": True}], ("ok", "eth0 uses DHCP (netplan)")),
    ([{"source": "netplan", "path": "/etc/netplan/50.yaml", "dhcp": True}, {"source": "ifcfg", "path": "/etc/x/ifcfg-eth0", "dhcp": False}],
     ("found", "eth0 has a static address in /etc/x/ifcfg-eth0 (ifcfg): Azure gives the wireserver route by DHCP")),
])
def test_dhcp_verdict(configs, verdict):
    assert s.dhcp_verdict(configs, "eth0") == verdict


def test_memory_and_pressure():
    meminfo = "MemTotal:       24683520 kB\nMemFree:        100 kB\nMemAvailable:    2468352 kB\n"
    assert s.memory(meminfo) == {"total_mib": 24105, "available_mib": 2410, "used_percent": 90.0}
    assert s.psi_some_avg10("some avg10=12.50 avg60=3.00 avg300=1.00 total=1\nfull avg10=0.00 avg60=0 avg300=0 total=0\n") == 12.5
    assert s.psi_some_avg10("") is None
    assert s.psi_some("some avg10=12.50 avg60=3.00 avg300=1.00 total=1\n", "avg60") == 3.0
    assert s.psi_some(None, "avg60") is None


@pytest.mark.parametrize("source, before, after", [
    ("systemd-networkd", NETWORKD_STATIC, "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"),
    ("systemd-networkd", "[Match]\nName=eth0\n[Network]\nDHCP=no\nAddress=10.0.0.4/24\nGateway=10.0.0.1\nDNS=10.0.0.2\n[Link]\nMTUBytes=1500\n",
     "[Match]\nName=eth0\n[Network]\nDHCP=yes\nDNS=10.0.0.2\n[Link]\nMTUBytes=1500\n"),
    ("ifupdown", "auto lo\niface lo inet loopback\n\n# primary\nauto eth0\niface eth0 inet static\n    address 10.0.0.4\n"
                 "    netmask 255.255.255.0\n    gateway 10.0.0.1\n    dns-nameservers 10.0.0.2\n\niface eth1 inet static\naddress 10.1.0.4/24\n",
     "auto lo\niface lo inet loopback\n\n# primary\nauto eth0\niface eth0 inet dhcp\n    dns-nameservers 10.0.0.2\n\n"
     "iface eth1 inet static\naddress 10.1.0.4/24\n"),
    ("netplan", "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: false\n      addresses:\n        - 10.0.0.4/24\n"
                "      gateway4: 10.0.0.1\n      nameservers:\n        addresses: [10.0.0.2]\n    eth1:\n      addresses: [10.1.0.4/24]\n",
     "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      nameservers:\n        addresses: [10.0.0.2]\n"
     "    eth1:\n      addresses: [10.1.0.4/24]\n"),
    ("netplan", "network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.4/24]\n",
     "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"),
    ("ifcfg", 'DEVICE=eth0\nBOOTPROTO=none\nIPADDR=10.0.0.4\nPREFIX0=24\nGATEWAY=10.0.0.1\nONBOOT=yes\n',
     "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n"),
    ("ifcfg", "DEVICE=eth0\r\nIPADDR=10.0.0.4\r\n", "DEVICE=eth0\r\nBOOTPROTO=dhcp\r\n"),
    ("NetworkManager", "[connection]\nid=eth0\ninterface-name=eth0\n[ipv4]\nmethod=manual\naddress1=10.0.0.4/24,10.0.0.1\ndns=10.0.0.2;\n[ipv6]\nmethod=auto\n",
     "[connection]\nid=eth0\ninterface-name=eth0\n[ipv4]\nmethod=auto\ndns=10.0.0.2;\n[ipv6]\nmethod=auto\n"),
])
def test_to_dhcp_keeps_everything_but_the_static_address(source, before, after):
    assert s.to_dhcp(source, before, "eth0") == after
    # The edited file reads as DHCP, and editing it again changes nothing.
    path = {"systemd-networkd": "/etc/systemd/network/10-eth0.network", "ifupdown": "/etc/network/interfaces",
            "netplan": "/etc/netplan/50.yaml", "ifcfg": "/etc/sysconfig/network-scripts/ifcfg-eth0",
            "NetworkManager": "/etc/NetworkManager/system-connections/eth0.nmconnection"}[source]
    assert [c["dhcp"] for c in s.dhcp_config({path: after}, "eth0")] == [True]
    assert s.to_dhcp(source, after, "eth0") == after
