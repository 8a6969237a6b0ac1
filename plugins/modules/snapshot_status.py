#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot_status
short_description: Report why a Linux VM's snapshot status may be unavailable (cause SNAPSHOT_STATUS)
version_added: 0.1.0
description:
  - Reports whether the guest configures its primary interface by DHCP. Azure hands the route to its wireserver out
    with DHCP; a static address belongs in the platform (the NIC's IP configuration), with DHCP in the guest.
    Read from ifupdown, netplan, NetworkManager, systemd-networkd and RHEL/SUSE ifcfg files.
  - Samples CPU use over O(sample_seconds) and reads memory use and pressure; a VM that is too busy delays
    the snapshot. Reported with figures.
  - Changes nothing.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  interface:
    description: The primary network interface.
    type: str
    default: eth0
  sample_seconds:
    description: How long CPU use is sampled, from 0.2 to 10 seconds.
    type: float
    default: 2
  cpu_threshold:
    description: CPU use (percent of all CPUs) above which the VM is reported as too busy.
    type: float
    default: 90
  memory_threshold:
    description: Memory use (percent, counting available memory as free) above which memory pressure is reported.
    type: float
    default: 90
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report DHCP, CPU and memory pressure
  azure_backup.remediation.snapshot_status:
    sample_seconds: 3
"""

RETURN = r"""
findings:
  description: The checks C(guest_dhcp), C(cpu_load), C(memory_pressure).
  returned: always
  type: list
  elements: dict
"""

import glob
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils import _snapshot_status as snap
from ansible_collections.azure_backup.remediation.plugins.module_utils._findings import finding


def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def dhcp_finding(iface: str) -> dict:
    files = {path: read(path) for pattern in snap.CONFIG_GLOBS for path in glob.glob(pattern)}
    configs = snap.dhcp_config(files, iface)
    static = [c for c in configs if not c["dhcp"]]
    detail = {"interface": iface, "configs": configs}
    if static:
        where = ", ".join("%s (%s)" % (c["path"], c["source"]) for c in static)
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "found",
                       "%s has a static address in %s: Azure gives the wireserver route by DHCP; set the address "
                       "in the platform's NIC configuration and use DHCP in the guest" % (iface, where), detail)
    if configs:
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "ok", "%s uses DHCP (%s)" % (iface, ", ".join(c["source"] for c in configs)), detail)
    return finding("SNAPSHOT_STATUS", "guest_dhcp", "skipped", "no network configuration for %s found" % iface, detail)


def load_findings(params: dict) -> list:
    seconds = min(max(params["sample_seconds"], 0.2), 10)
    before = read("/proc/stat")
    time.sleep(seconds)
    cpu = snap.cpu_busy_percent(before, read("/proc/stat"))
    cpu_detail = {"busy_percent": cpu, "seconds": seconds, "threshold": params["cpu_threshold"]}
    said = "CPU %.1f %% busy over %g s" % (cpu, seconds)
    findings = [finding("SNAPSHOT_STATUS", "cpu_load", "found" if cpu > params["cpu_threshold"] else "ok",
                        said + (": above %g %%, snapshots may time out" % params["cpu_threshold"] if cpu > params["cpu_threshold"] else ""),
                        cpu_detail)]
    mem = snap.memory(read("/proc/meminfo"))
    try:
        mem["psi_some_avg10"] = snap.psi_some_avg10(read("/proc/pressure/memory"))
    except OSError:  # kernels without PSI
        mem["psi_some_avg10"] = None
    mem["threshold"] = params["memory_threshold"]
    said = "memory %.1f %% used (%d of %d MiB available)" % (mem["used_percent"], mem["available_mib"], mem["total_mib"])
    busy = mem["used_percent"] > params["memory_threshold"]
    findings.append(finding("SNAPSHOT_STATUS", "memory_pressure", "found" if busy else "ok",
                            said + (": above %g %%, snapshots may time out" % params["memory_threshold"] if busy else ""), mem))
    return findings


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type="str", default="eth0"),
            sample_seconds=dict(type="float", default=2),
            cpu_threshold=dict(type="float", default=90),
            memory_threshold=dict(type="float", default=90),
        ),
        supports_check_mode=True,
    )
    findings = [dhcp_finding(module.params["interface"])] + load_findings(module.params)
    module.exit_json(changed=False, findings=findings)


if __name__ == "__main__":
    main()
