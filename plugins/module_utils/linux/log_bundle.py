# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The log bundle's VM side: read the agent's files into an archive, nothing written on the VM.

Not a cause (it makes no finding): LogBundle(module, params).collect() answers the reasons, the files
and the archive (base64), which the log_bundle action plugin writes on the controller. The remediate
module builds it in the same execution as the causes, from their findings, when one persists.
"""

from __future__ import annotations

import base64
import glob
import io
import json
import os
import stat
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as bundle
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError


def regular_files(patterns: list) -> list[dict]:
    """The regular files the patterns name, folders walked, links not followed; newest first per pattern."""
    found, seen = [], set()
    for pattern in patterns:
        batch = []
        for top in sorted(glob.glob(pattern)):
            paths = [top]
            if os.path.isdir(top) and not os.path.islink(top):
                paths = [os.path.join(folder, name) for folder, _dirs, names in os.walk(top) for name in names]
            for path in paths:
                try:
                    info = os.lstat(path)
                except OSError:  # rotated away since the listing
                    continue
                if stat.S_ISREG(info.st_mode) and path not in seen:
                    seen.add(path)
                    batch.append({"path": path, "size": info.st_size, "mtime": int(info.st_mtime)})
        found += sorted(batch, key=lambda f: -f["mtime"])
    return found


def archive(planned: list, manifest: dict) -> bytes:
    """A gzipped tar of the planned parts of the files, with MANIFEST.json; every member owner-only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in planned:
            if not item["length"]:
                continue
            with open(item["path"], "rb") as handle:
                handle.seek(item["offset"])
                data = handle.read(item["length"])
            info = tarfile.TarInfo(item["path"].lstrip("/"))
            info.size, info.mtime, info.mode = len(data), item["mtime"], 0o600
            tar.addfile(info, io.BytesIO(data))
        text = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("MANIFEST.json")
        info.size, info.mtime, info.mode = len(text), int(time.time()), 0o600
        tar.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


class LogBundle:
    """The files Microsoft support asks for when a cause persists, read in one go."""

    ARGUMENT_SPEC = bundle.argument_spec()

    def __init__(self, module: AnsibleModule | None, params: dict) -> None:
        self.module, self.params = module, params

    def collect(self) -> dict:
        """{changed, reasons, files, archive}; no archive (and nothing read) when no bundle is wanted.
        Raises RemediationError for a max_size that is not a size."""
        try:
            max_bytes = bundle.parse_size(self.params.get("max_size", "20M"))
        except ValueError as exc:
            raise RemediationError("max_size: %s. Nothing was collected." % exc)
        reasons = bundle.wanted(self.params.get("when", "problems"), self.params.get("findings") or [], self.params.get("failures") or [])
        if not reasons:
            return {"changed": False, "reasons": [], "files": []}
        planned = bundle.plan(regular_files(self.params.get("paths") or list(bundle.DEFAULT_PATHS)), max_bytes)
        manifest = {"reasons": reasons, "collected": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "max_bytes": max_bytes, "files": planned}
        return {"changed": False, "reasons": reasons, "files": planned, "archive": base64.b64encode(archive(planned, manifest)).decode("ascii")}


def module_main() -> None:
    """The whole main() of the log_bundle module (the VM side of its action plugin)."""
    module = AnsibleModule(argument_spec=LogBundle.ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = LogBundle(module, dict(module.params)).collect()
    except RemediationError as exc:
        module.fail_json(msg=exc.msg)
    module.exit_json(**result)
