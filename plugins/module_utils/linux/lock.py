# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""One run at a time changes a VM: a scheduled AWX job and an admin's run take turns.

An flock on a file under /run: the kernel releases it when the holding process ends, however it ends,
so a killed run never leaves the VM locked. The holder writes who it is into the file, so the one
that waits can say whom it waited for.
"""

from __future__ import annotations

import datetime
import fcntl
import getpass
import os
import time

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError

PATH = "/run/azure-backup-remediation.lock"


class VmLock:
    def __init__(self, timeout: float, path: str = PATH, cause: str = "") -> None:
        self.timeout, self.path, self.cause = timeout, path, cause
        self.fd: int | None = None
        self.depth = 0  # the remediate module holds it around all causes; each cause's acquire nests inside

    def acquire(self) -> None:
        if self.fd is not None:
            self.depth += 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + max(0.0, self.timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "an unknown run"
                    os.close(fd)
                    raise RemediationError(
                        "%snot changed: another run holds the lock %s since %s; waited %g s. Run again once it has ended "
                        "(raise azure_backup_lock_wait to wait longer)" % (self.cause + " " if self.cause else "", self.path, holder, self.timeout),
                        check="lock", detail={"lock": self.path, "holder": holder, "waited_s": self.timeout})
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("%s (pid %d, user %s)\n" % (datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                                                   os.getpid(), user())).encode(), 0)
        self.fd, self.depth = fd, 1

    def release(self) -> None:
        self.depth -= 1
        if self.fd is not None and self.depth <= 0:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def user() -> str:
    """The user who started the run: sudo's caller when become is used, else the process's user."""
    return os.environ.get("SUDO_USER") or getpass.getuser()
