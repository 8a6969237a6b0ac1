# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The one way the collection's modules replace a file on the VM."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import time

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError, append_only, immutable

# Backups of files whose folder a service reads whole (ifupdown's `source interfaces.d/*`
# would read a backup beside the original and bring the old setting back).
BACKUP_DIR = "/var/backups/azure-backup"


class Changed(RemediationError):
    """The file changed between our read and our write (another run, the agent, an admin)."""


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def backup_apart(path: str) -> str:
    """Copy `path` to BACKUP_DIR under its own path, stamped like backup_local's copies."""
    dest = os.path.join(BACKUP_DIR, path.lstrip("/")) + time.strftime(".%Y-%m-%d@%H:%M:%S~")
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    shutil.copy2(path, dest)
    return dest


def replace_file(module, path: str, data: bytes, backup: bool, apart: bool = False, expected: bytes | None | bool = False) -> str | None:
    """Write `data` to `path` atomically: a temp file in the same folder, then atomic_move
    (which keeps an existing file's owner, mode and SELinux context).

    ``expected`` is the content the caller decided on (None: the file did not exist); when the file
    no longer holds it, Changed is raised and nothing is written (compare-and-swap). False skips the
    comparison. A copy of the replaced file is kept when `backup` is set, beside it or, with `apart`,
    under BACKUP_DIR; it is made only once the new content is on disk, and removed again when the
    rename fails, so a failed write leaves no stray copy. Returns the copy's path."""
    # The file a symlink points to is the one replaced: the link stays (a waagent.conf or netplan file
    # kept elsewhere), and the temp file is made beside the real file so the rename stays atomic.
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    for where in (path, folder):
        if immutable(where) or append_only(where):
            # Refused before any copy: a backup would inherit the attribute (backup_local keeps attributes)
            # and could not be removed again, leaving one stray copy per try.
            raise OSError(errno.EPERM, "Operation not permitted", where)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".azure-backup-")
    saved = None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if expected is not False and read_bytes(path) != expected:
            raise Changed("%s changed while this run decided on it; read it again" % path, check="compare_and_swap")
        if backup and os.path.exists(path):
            if apart:
                saved = backup_apart(path)
            else:
                with _raising(module, path):
                    saved = module.backup_local(path)
        with _raising(module, path):
            module.atomic_move(tmp, path)
    except BaseException:
        for leftover in (tmp, saved):
            try:
                if leftover and os.path.lexists(leftover):
                    os.unlink(leftover)
            except OSError:
                pass  # best effort: the error that stopped the write is the one to report
        raise
    return saved


@contextlib.contextmanager
def _raising(module, path: str):
    """backup_local's and atomic_move's failure reaches the caller as an OSError naming `path`, on every
    ansible-core: 2.17 and 2.18 call fail_json (which would end the process and every cause's findings),
    2.19 raises a plain Exception with the OSError as its cause."""
    def fail_json(msg="", **_kwargs):
        current = sys.exc_info()[1]
        if isinstance(current, OSError):
            raise OSError(current.errno, current.strerror, path) from current
        raise OSError(errno.EIO, msg or "failed", path)

    had_own = "fail_json" in vars(module)
    own = vars(module).get("fail_json")
    module.fail_json = fail_json
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__
        if cause is None:
            raise OSError(errno.EIO, str(exc) or type(exc).__name__, path) from exc
        raise OSError(cause.errno, cause.strerror, path) from exc
    finally:
        if had_own:
            module.fail_json = own
        else:
            del module.fail_json
