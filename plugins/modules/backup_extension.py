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
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report the backup extension's state
  azure_backup.remediation.backup_extension:
  register: extension
"""

RETURN = r"""
extension:
  description: The extension found, or null.
  returned: always
  type: dict
  sample: {"folder": "/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9188.0", "version": "1.0.9188.0",
           "handler_state": "Enabled", "status": {"status": "success", "code": 1, "operation": "Enable"}}
findings:
  description: The checks C(extension_installed), C(extension_state), C(extension_status), C(vmbackup_conf).
  returned: always
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import backup_extension as ext
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding

RELOAD = ("uninstall the extension from the platform (Azure portal: VM > Extensions, or the Azure API) "
          "so that the next backup installs it again")


def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def inspect(lib_dir: str, config_path: str) -> tuple:
    findings = []
    entries = os.listdir(lib_dir) if os.path.isdir(lib_dir) else []
    latest = ext.latest_extension(entries)
    if latest is None:
        findings.append(finding("BACKUP_EXTENSION", "extension_installed", "found",
                                "VMSnapshotLinux is not installed in %s: the platform installs it with the first backup of "
                                "this VM; if backups ran before, the agent cannot install extensions" % lib_dir,
                                {"lib_dir": lib_dir}, severity="warning"))
        return None, findings + [conf_finding(config_path)]

    folder = os.path.join(lib_dir, latest[0])
    info = {"folder": folder, "version": latest[1]}
    findings.append(finding("BACKUP_EXTENSION", "extension_installed", "ok", "VMSnapshotLinux %s in %s" % (latest[1], folder), info))

    state_file = os.path.join(folder, "config", "HandlerState")
    info["handler_state"] = read(state_file).strip() if os.path.isfile(state_file) else None
    state = info["handler_state"]
    if state == "Enabled":
        findings.append(finding("BACKUP_EXTENSION", "extension_state", "ok", "VMSnapshotLinux %s is Enabled" % latest[1], {"handler_state": state}))
    else:
        findings.append(finding("BACKUP_EXTENSION", "extension_state", "found",
                                "VMSnapshotLinux %s handler state is %s, not Enabled: %s" % (latest[1], state or "missing", RELOAD),
                                {"handler_state": state, "file": state_file}))

    status_dir = os.path.join(folder, "status")
    newest = ext.latest_status_file(os.listdir(status_dir)) if os.path.isdir(status_dir) else None
    if newest is None:
        findings.append(finding("BACKUP_EXTENSION", "extension_status", "skipped", "VMSnapshotLinux has reported no status yet", {"dir": status_dir}))
    else:
        path = os.path.join(status_dir, newest)
        try:
            info["status"] = status = dict(ext.parse_status(read(path)), file=path)
        except ValueError as exc:
            findings.append(finding("BACKUP_EXTENSION", "extension_status", "found", "%s is unreadable: %s" % (path, exc), {"file": path}))
        else:
            said = "last %s of VMSnapshotLinux at %s: %s (code %s)%s" % (
                status["operation"], status["timestamp"], status["status"], status["code"],
                ": %s" % status["message"] if status["message"] and status["status"] == "error" else "")
            if status["status"] == "error":
                findings.append(finding("BACKUP_EXTENSION", "extension_status", "found", "%s; %s" % (said, RELOAD), status))
            else:
                findings.append(finding("BACKUP_EXTENSION", "extension_status", "ok", said, status))
    return info, findings + [conf_finding(config_path)]


def conf_finding(path: str) -> dict:
    if not os.path.isfile(path):
        return finding("BACKUP_EXTENSION", "vmbackup_conf", "ok", "%s does not exist: the extension's defaults apply" % path, {"path": path})
    try:
        settings = ext.parse_vmbackup_conf(read(path))
    except ValueError as exc:
        return finding("BACKUP_EXTENSION", "vmbackup_conf", "found",
                       "%s cannot be read as the extension expects (%s): fix or remove it" % (path, exc), {"path": path}, severity="warning")
    return finding("BACKUP_EXTENSION", "vmbackup_conf", "ok", "%s: %s" % (path, settings), {"path": path, "settings": settings})


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            lib_dir=dict(type="path", default="/var/lib/waagent"),
            config_path=dict(type="path", default="/etc/azure/vmbackup.conf"),
        ),
        supports_check_mode=True,
    )
    info, findings = inspect(module.params["lib_dir"], module.params["config_path"])
    module.exit_json(changed=False, extension=info, findings=findings)


if __name__ == "__main__":
    main()
