# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""BACKUP_EXTENSION on a Linux VM: the VMSnapshotLinux extension the agent installed, its handler
state, its last status and /etc/azure/vmbackup.conf. Reports only: a failed extension is reloaded
from the platform, not from inside the VM."""

from __future__ import annotations

import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import backup_extension as ext
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.checks import isolated


def read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


class BackupExtension(LinuxCause):
    ID = "BACKUP_EXTENSION"
    ARGUMENT_SPEC = {
        "lib_dir": {"type": "path", "default": "/var/lib/waagent"},
        "config_path": {"type": "path", "default": "/etc/azure/vmbackup.conf"},
    }

    def steps(self):
        self.latest = None  # (folder name, version) of the newest extension, once installed_step found it
        yield isolated("extension_installed", self.installed_step, self.params["lib_dir"])
        if self.latest:
            folder = os.path.join(self.params["lib_dir"], self.latest[0])
            yield isolated("extension_state", self.state_step, folder, self.latest[1])
            yield isolated("extension_status", self.status_step, folder)
        yield isolated("vmbackup_conf", self.conf_step, self.params["config_path"])

    def installed_step(self, lib_dir: str) -> Step:
        self.latest = ext.latest_extension(os.listdir(lib_dir) if os.path.isdir(lib_dir) else [])
        if self.latest is None:
            return Step("extension_installed", "found",
                        "VMSnapshotLinux is not installed in %s: the platform installs it with the first backup of "
                        "this VM; if backups ran before, the agent cannot install extensions" % lib_dir,
                        {"lib_dir": lib_dir}, severity="warning")
        folder = os.path.join(lib_dir, self.latest[0])
        return Step("extension_installed", "ok", "VMSnapshotLinux %s in %s" % (self.latest[1], folder),
                    {"folder": folder, "version": self.latest[1]})

    def state_step(self, folder: str, version: str) -> Step:
        path = os.path.join(folder, "config", "HandlerState")
        state = read(path).strip() if os.path.isfile(path) else None
        status, summary = ext.state_verdict(version, state)
        return Step("extension_state", status, summary, {"handler_state": state, "file": path})

    def status_step(self, folder: str) -> Step:
        status_dir = os.path.join(folder, "status")
        newest = ext.latest_status_file(os.listdir(status_dir)) if os.path.isdir(status_dir) else None
        if newest is None:
            return Step("extension_status", "skipped", "VMSnapshotLinux has reported no status yet", {"dir": status_dir})
        path = os.path.join(status_dir, newest)
        try:
            last = dict(ext.parse_status(read(path)), file=path)
        except ValueError as exc:
            return Step("extension_status", "found", "%s is unreadable: %s" % (path, exc), {"file": path})
        return Step("extension_status", *ext.status_verdict(last), detail=last)

    def conf_step(self, path: str) -> Step:
        if not os.path.isfile(path):
            return Step("vmbackup_conf", "ok", "%s does not exist: the extension's defaults apply" % path, {"path": path})
        try:
            settings = ext.parse_vmbackup_conf(read(path))
        except ValueError as exc:
            return Step("vmbackup_conf", "found", "%s cannot be read as the extension expects (%s): fix or remove it" % (path, exc),
                        {"path": path}, severity="warning")
        return Step("vmbackup_conf", "ok", "%s: %s" % (path, settings), {"path": path, "settings": settings})
