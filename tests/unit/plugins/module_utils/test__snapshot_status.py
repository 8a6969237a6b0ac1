from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils import _snapshot_status as s

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
