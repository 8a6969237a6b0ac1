# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The collection's one domain exception, and what an operating-system error means for an operator."""

from __future__ import annotations

import errno
import os

# Linux's FS_IOC_GETFLAGS and FS_IMMUTABLE_FL (linux/fs.h): how chattr +i shows.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x00000010
_FS_APPEND_FL = 0x00000020  # chattr +a: append only, cannot be replaced or renamed over either


class RemediationError(Exception):
    """A check or fix cannot go on; the message names what failed and what to do.

    ``findings`` carries what was learnt before the failure, so it is not lost;
    ``changed`` says whether the machine was changed before it; ``check`` and ``detail``
    name the check the failure belongs to when it becomes a finding.
    """

    def __init__(self, msg: str, findings: list | None = None, changed: bool = False,
                 check: str | None = None, detail: dict | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.findings = findings or []
        self.changed = changed
        self.check = check
        self.detail = detail or {}


def _flags(path: str) -> int:
    """The file's attributes as lsattr shows them (0 when they cannot be read, or it does not exist)."""
    try:
        import array
        import fcntl
        flags = array.array("l", [0])
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        finally:
            os.close(fd)
        return flags[0]
    except (ImportError, OSError):
        return 0


def immutable(path: str) -> bool:
    """Whether `path` (or, when it does not exist, nothing) carries the immutable attribute."""
    return bool(_flags(path) & _FS_IMMUTABLE_FL)


def append_only(path: str) -> bool:
    """Whether `path` carries the append-only attribute (chattr +a)."""
    return bool(_flags(path) & _FS_APPEND_FL)


def _attribute_of(where: str) -> tuple[str, str, str] | None:
    """(the path, the attribute's name, its chattr letter) when `where` or its folder is immutable or append-only."""
    for path in (where, os.path.dirname(where.rstrip("/")) or "/"):
        if immutable(path):
            return path, "immutable", "i"
        if append_only(path):
            return path, "append-only", "a"
    return None


def explain(exc: BaseException, path: str | None = None) -> tuple[str, str]:
    """The host-side reason for an OSError and the remedy, in an operator's words."""
    where = path or getattr(exc, "filename", None) or ""
    code = getattr(exc, "errno", None)
    attribute = _attribute_of(where) if code in (errno.EPERM, errno.EACCES) and where else None
    if attribute:
        return ("%s is %s (chattr +%s)" % attribute,
                "Remove the attribute with `chattr -%s %s` if whoever set it agrees, then run again" % (attribute[2], attribute[0]))
    if code == errno.EROFS:
        return ("the file system holding %s is mounted read-only" % (where or "the file"),
                "Remount it read-write (mount -o remount,rw) or change the image, then run again")
    if code in (errno.EACCES, errno.EPERM) and os.geteuid() == 0:
        folder = (os.path.dirname(where.rstrip("/")) or "/") if where else "<dir>"
        return ("permission denied on %s although running as root" % (where or "the host"),
                "Check lsattr -d %s, SELinux (ausearch -m avc -ts recent) or AppArmor (dmesg | grep apparmor), then run again" % folder)
    if code in (errno.EACCES, errno.EPERM):
        return ("permission denied on %s" % (where or "the host"),
                "The checks need root: set ansible_become: true for this host")
    if code == errno.ENOENT:
        return "%s does not exist" % (where or "a file or program it needs"), "Reinstall the package it belongs to, then run again"
    if code == errno.ENOSPC:
        return "no space left for %s" % (where or "the file"), "Free space on that file system, then run again"
    return str(exc), ""
