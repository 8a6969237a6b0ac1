#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot_status
short_description: Check why a Linux VM's snapshots may fail, switch it to DHCP on request (cause SNAPSHOT_STATUS)
version_added: 0.1.0
description:
  - Reports whether the guest configures its primary interface by DHCP. Azure hands the route to its wireserver out
    with DHCP; a static address belongs in the platform (the NIC's IP configuration), with DHCP in the guest.
    Read from ifupdown, netplan, NetworkManager, systemd-networkd and RHEL/SUSE ifcfg files.
  - With O(fix_dhcp), switches a static configuration of the interface to DHCP in the same file, keeping every
    other line (a backup is kept). systemd-networkd is reloaded at once; the other systems pick the change up at
    their next restart or the next boot, so the SSH session is not cut. Azure's DHCP hands out the address the
    platform has for the NIC, so set that address there first if it differs.
  - Reads how busy the CPUs are from the kernel's 1-minute load average per CPU (C(/proc/loadavg); 100 % means
    every CPU had work all the minute), with the CPU pressure of C(/proc/pressure/cpu) where the kernel has it,
    and memory use and pressure; a VM that is too busy delays the snapshot. Nothing is sampled, so the check costs
    no waiting. Reported with figures; the finding's C(detail.counter) names the counter used.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  interface:
    description: The primary network interface.
    type: str
    default: eth0
  sample_seconds:
    description:
      - Deprecated and ignored, with a warning when set. CPU use is no longer sampled; the kernel's load average
        is read instead. Will be removed in a later release.
    type: float
  cpu_threshold:
    description:
      - CPU use (percent of all CPUs, from the 1-minute load average per CPU) above which the VM is reported as too busy.
    type: float
    default: 90
  memory_threshold:
    description: Memory use (percent, counting available memory as free) above which memory pressure is reported.
    type: float
    default: 90
  fix_dhcp:
    description:
      - Switch a static configuration of O(interface) to DHCP. Off by default. The articles ask for DHCP in the guest,
        but changing a VM's network configuration is the operator's decision.
    type: bool
    default: false
  backup:
    description:
      - Keep a copy of each network configuration file that O(fix_dhcp) rewrites, under C(/var/backups/azure-backup/)
        with the file's own path. Not beside the file, because some systems read every file in their folder.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Report DHCP, CPU and memory pressure
  azure_backup.remediation.snapshot_status:
    cpu_threshold: 80

- name: Also switch a static eth0 to DHCP
  azure_backup.remediation.snapshot_status:
    fix_dhcp: true
"""

RETURN = r"""
findings:
  description:
    - The checks C(guest_dhcp), C(cpu_load), C(memory_pressure).
    - C(cpu_load)'s detail holds C(counter), C(load_1m), C(load_5m), C(cpus), C(busy_percent) (capped at 100),
      C(load_percent) and C(psi_cpu_some_avg10) and C(psi_cpu_some_avg60) (null without PSI).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.snapshot_status import SnapshotStatus


def main() -> None:
    module_main(SnapshotStatus)


if __name__ == "__main__":
    main()
