# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection writes on the controller (the report, log bundles)."""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, data: bytes) -> None:
    """Write ``path`` whole or not at all: a reader (AWX, a browser) never sees half a file.
    The file is readable by its owner only (mkstemp's mode 0600)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_new(folder: str, stem: str, suffix: str, data: bytes) -> str:
    """Write a new file ``<stem><suffix>`` in ``folder``, whole, never over another: where that name is taken (a
    second run in the same second, an AWX job beside a run by hand), ``<stem>-2<suffix>``, ``-3``, ... The name is
    taken by a hard link of the finished temp file, which fails where the name exists, so two writers never get
    the same one. Returns the path."""
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + stem + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        for number in range(1, 10000):
            path = os.path.join(folder, "%s%s%s" % (stem, "" if number == 1 else "-%d" % number, suffix))
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                continue
        raise FileExistsError("no free name for %s%s in %s" % (stem, suffix, folder))
    finally:
        os.unlink(tmp)
