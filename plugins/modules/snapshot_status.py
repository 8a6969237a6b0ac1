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
  - Samples CPU use over O(sample_seconds) and reads memory use and pressure; a VM that is too busy delays
    the snapshot. Reported with figures.
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
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Report DHCP, CPU and memory pressure
  azure_backup.remediation.snapshot_status:
    sample_seconds: 3

- name: Also switch a static eth0 to DHCP
  azure_backup.remediation.snapshot_status:
    fix_dhcp: true
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
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import snapshot_status as snap
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.files import replace_file
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding


def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def dhcp_finding(module: AnsibleModule, diffs: list) -> dict:
    iface = module.params["interface"]
    files = {path: read(path) for pattern in snap.CONFIG_GLOBS for path in glob.glob(pattern)}
    configs = snap.dhcp_config(files, iface)
    static = [c for c in configs if not c["dhcp"]]
    detail = {"interface": iface, "configs": configs}
    if not configs:
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "skipped", "no network configuration for %s found" % iface, detail)
    if not static:
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "ok", "%s uses DHCP (%s)" % (iface, ", ".join(c["source"] for c in configs)), detail)
    where = ", ".join("%s (%s)" % (c["path"], c["source"]) for c in static)
    was = "%s has a static address in %s: Azure gives the wireserver route by DHCP" % (iface, where)
    if not module.params["fix_dhcp"]:
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "found",
                       "%s; set the address in the platform's NIC configuration and use DHCP in the guest "
                       "(snapshot_status_fix_dhcp=true does the guest's part)" % was, detail)
    edits = {c["path"]: snap.to_dhcp(c["source"], files[c["path"]], iface) for c in static}
    diffs += [{"before": files[path], "after": text, "before_header": path, "after_header": path} for path, text in edits.items()]
    if module.check_mode:
        return finding("SNAPSHOT_STATUS", "guest_dhcp", "found", "%s; would switch it to DHCP" % was, detail)
    detail["backup_files"] = [b for b in (replace_file(module, path, text.encode("utf-8"), module.params["backup"], apart=True)
                                          for path, text in edits.items()) if b]
    after = snap.dhcp_config({path: read(path) for path in edits}, iface)
    detail["after"] = after
    if not all(c["dhcp"] for c in after):
        raise RemediationError("switched %s to DHCP but %s still reads as static; the backups are %s"
                               % (iface, where, detail["backup_files"]),
                               [finding("SNAPSHOT_STATUS", "guest_dhcp", "failed", was, detail)], changed=True)
    detail["applied"] = apply_network(module, {c["source"] for c in static})
    return finding("SNAPSHOT_STATUS", "guest_dhcp", "fixed", "%s; switched it to DHCP, %s" % (was, detail["applied"]), detail)


def apply_network(module: AnsibleModule, sources: set) -> str:
    """networkd reloads without dropping the address; the others would cut the SSH session."""
    networkctl = module.get_bin_path("networkctl")
    if sources == {"systemd-networkd"} and networkctl:
        rc, out, err = module.run_command([networkctl, "reload"])
        if rc == 0:
            return "applied with networkctl reload"
        return "networkctl reload failed (%s): takes effect at the next boot" % (err or out).strip()
    return "takes effect when %s next restarts the interface or at the next boot" % " and ".join(sorted(sources))


def load_findings(params: dict) -> list:
    seconds = min(max(params["sample_seconds"], 0.2), 10)
    before = read("/proc/stat")
    time.sleep(seconds)
    cpu = snap.cpu_busy_percent(before, read("/proc/stat"))
    cpu_detail = {"busy_percent": cpu, "seconds": seconds, "threshold": params["cpu_threshold"]}
    findings = [finding("SNAPSHOT_STATUS", "cpu_load", *snap.over("CPU %.1f %% busy over %g s" % (cpu, seconds), cpu, params["cpu_threshold"]),
                        detail=cpu_detail)]
    mem = snap.memory(read("/proc/meminfo"))
    try:
        mem["psi_some_avg10"] = snap.psi_some_avg10(read("/proc/pressure/memory"))
    except OSError:  # kernels without PSI
        mem["psi_some_avg10"] = None
    mem["threshold"] = params["memory_threshold"]
    said = snap.memory_said(mem["used_percent"], mem["available_mib"], mem["total_mib"])
    findings.append(finding("SNAPSHOT_STATUS", "memory_pressure", *snap.over(said, mem["used_percent"], params["memory_threshold"]), detail=mem))
    return findings


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type="str", default="eth0"),
            sample_seconds=dict(type="float", default=2),
            cpu_threshold=dict(type="float", default=90),
            memory_threshold=dict(type="float", default=90),
            fix_dhcp=dict(type="bool", default=False),
            backup=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    diffs: list = []
    try:
        findings = [dhcp_finding(module, diffs)]
    except RemediationError as exc:
        # A failed DHCP switch does not hide the load figures: they are read all the same.
        module.fail_json(msg=exc.msg, findings=exc.findings + load_findings(module.params), changed=exc.changed)
    result = {"changed": bool(diffs), "findings": findings + load_findings(module.params)}
    if diffs and module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
