#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: log_bundle
short_description: Collect the Azure agent's logs from a VM into an archive on the controller
version_added: 0.1.0
description:
  - When a cause persists after the fixes, Microsoft support asks for the agent's goal-state files
    (C(/var/lib/waagent/*.xml)), its log (C(/var/log/waagent.log)) and the extensions' logs (C(/var/log/azure/)).
    This collects them in one round trip into C(<dest>/<host>-<time>.tar.gz) on the controller.
  - Whether a bundle is needed is decided on the controller from O(findings) and O(failures) (see O(when)),
    so a healthy host costs no round trip.
  - The files are read, never changed, and nothing is written on the VM. The archive holds a C(MANIFEST.json)
    with the reasons, and every file with its size and whether the size cap cut it.
  - The goal-state files hold the VM's extension settings (protected settings stay encrypted) and the log may
    name internal addresses, so the archive is written readable by its owner only.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  paths:
    description:
      - Files to collect, with shell-style wildcards; a folder is collected with everything below it.
        Symbolic links and special files are left out.
    type: list
    elements: str
    default: [/var/lib/waagent/*.xml, /var/log/waagent.log, /var/log/azure/*]
  max_size:
    description:
      - The most bytes of file content in one bundle, as a size (V(20M), V(512K), V(1G)).
        Files go in the order of O(paths); the first that does not fit goes in with its newest part
        (the tail of a log), and the ones after it are listed in the manifest as left out.
    type: str
    default: 20M
extends_documentation_fragment:
  - azure_backup.remediation.log_bundle
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
attributes:
  action:
    description: An action plugin decides on the controller and writes the archive there; the module only reads the VM.
    support: full
  check_mode:
    support: full
    details: Only reads the VM; the archive is written on the controller in check mode too.
  diff_mode:
    support: none
    details: Nothing on the VM is changed.
"""

EXAMPLES = r"""
- name: Collect the agent's logs where a cause persists
  azure_backup.remediation.log_bundle:
    dest: reports/log-bundles
    findings: "{{ azure_backup_findings | default([]) }}"

- name: Always collect, at most 5 MiB
  azure_backup.remediation.log_bundle:
    dest: /var/tmp/bundles
    when: always
    max_size: 5M
"""

RETURN = r"""
path:
  description: The archive on the controller; absent when no bundle was needed.
  returned: when a bundle was collected
  type: str
  sample: reports/log-bundles/vm01-20261122T101500.tar.gz
reasons:
  description: Why the bundle was collected (failed checks, critical problems still found).
  returned: always
  type: list
  elements: str
  sample: ["NETWORK/wireserver: found"]
files:
  description: Every file considered, with C(size), the bytes taken (C(length)), C(truncated) and C(left_out).
  returned: when a bundle was collected
  type: list
  elements: dict
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.log_bundle import module_main


def main() -> None:
    module_main()


if __name__ == "__main__":
    main()
