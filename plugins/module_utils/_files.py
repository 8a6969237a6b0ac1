# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The one way the collection's modules replace a file on the VM."""

from __future__ import annotations

import os
import tempfile


def replace_file(module, path: str, data: bytes, backup: bool) -> str | None:
    """Write `data` to `path` atomically: a temp file in the same folder, then atomic_move
    (which keeps an existing file's owner, mode and SELinux context). A copy of the file
    it replaces is kept when `backup` is set; returns that copy's path."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    saved = module.backup_local(path) if backup and os.path.exists(path) else None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".azure-backup-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    module.atomic_move(tmp, path)
    return saved
