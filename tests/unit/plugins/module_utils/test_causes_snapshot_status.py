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


def test_cpu_busy_percent():
    before = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 ...\n"
    after = "cpu  190 0 190 820 0 0 0 0 0 0\n"
    assert s.cpu_busy_percent(before, after) == 90.0
    assert s.cpu_busy_percent(before, before) == 0.0


def test_memory_and_pressure():
    meminfo = "MemTotal:       24683520 kB\nMemFree:        100 kB\nMemAvailable:    2468352 kB\n"
    assert s.memory(meminfo) == {"total_mib": 24105, "available_mib": 2410, "used_percent": 90.0}
    assert s.psi_some_avg10("some avg10=12.50 avg60=3.00 avg300=1.00 total=1\nfull avg10=0.00 avg60=0 avg300=0 total=0\n") == 12.5
    assert s.psi_some_avg10("") is None


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
