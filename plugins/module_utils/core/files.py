# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The one way the collection's modules replace a file on the VM."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

# Backups of files whose folder a service reads whole (ifupdown's `source interfaces.d/*`
# would read a backup beside the original and bring the old setting back).
BACKUP_DIR = "/var/backups/azure-backup"


def backup_apart(path: str) -> str:
    """Copy `path` to BACKUP_DIR under its own path, stamped like backup_local's copies."""
    dest = os.path.join(BACKUP_DIR, path.lstrip("/")) + time.strftime(".%Y-%m-%d@%H:%M:%S~")
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    shutil.copy2(path, dest)
    return dest


def replace_file(module, path: str, data: bytes, backup: bool, apart: bool = False) -> str | None:
    """Write `data` to `path` atomically: a temp file in the same folder, then atomic_move
    (which keeps an existing file's owner, mode and SELinux context). A copy of the file
    it replaces is kept when `backup` is set, beside it or, with `apart`, under BACKUP_DIR;
    returns that copy's path."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    saved = None
    if backup and os.path.exists(path):
        saved = backup_apart(path) if apart else module.backup_local(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".azure-backup-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError:
        os.unlink(tmp)  # a full disk leaves no half-written temp file behind
        raise
    module.atomic_move(tmp, path)
    return saved
