#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_extension
short_description: Report the state of the Azure backup extension on a Linux VM (cause BACKUP_EXTENSION)
version_added: 0.1.0
description:
  - Finds the VMSnapshotLinux extension the agent installed (C(/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-<version>/)),
    and reports its version, its handler state (C(config/HandlerState)), its last status (the newest C(status/<n>.status))
    and the settings of C(/etc/azure/vmbackup.conf).
  - Changes nothing. Reloading a failed extension means uninstalling it from the platform (portal or Azure API),
    after which the next backup installs it again; the findings say so.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  lib_dir:
    description: The agent's state folder, where extensions are unpacked.
    type: path
    default: /var/lib/waagent
  config_path:
    description: The extension's optional configuration file.
    type: path
    default: /etc/azure/vmbackup.conf
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report the backup extension's state
  azure_backup.remediation.backup_extension:
  register: extension

- name: Show its version
  ansible.builtin.debug:
    msg: "{{ extension.findings | selectattr('check', 'eq', 'extension_installed') | map(attribute='detail.version') | first | default('none') }}"
"""

RETURN = r"""
findings:
  description:
    - The checks C(extension_installed) (detail C(folder), C(version)), C(extension_state) (detail C(handler_state)),
      C(extension_status) (detail C(status), C(code), C(operation), C(message), C(timestamp), C(file)) and C(vmbackup_conf).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.backup_extension import BackupExtension
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main


def main() -> None:
    module_main(BackupExtension)


if __name__ == "__main__":
    main()
