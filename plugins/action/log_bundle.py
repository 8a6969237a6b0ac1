# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decides on the controller whether a host needs a log bundle, has the log_bundle module
read the files in one round trip, and writes the archive on the controller."""

from __future__ import annotations

import base64
import datetime
import os

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as _log_bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_atomically


class ActionModule(ActionBase):
    _supports_check_mode = True  # the module only reads the VM

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=_log_bundle.argument_spec())
        try:
            _log_bundle.parse_size(args["max_size"])
        except ValueError as exc:
            return dict(result, failed=True, msg="max_size (log_bundle_max_size): %s. Nothing was collected." % exc)
        if not _log_bundle.wanted(args["when"], args["findings"], args["failures"]):
            # Nothing persists on this host: no round trip.
            return dict(result, skipped=True, skip_reason="no cause persists on this host", reasons=[])
        answer = self._execute_module(module_name="azure_backup.remediation.log_bundle", module_args=args, task_vars=task_vars)
        if answer.get("failed") or "archive" not in answer:
            return dict(result, **answer)
        host = task_vars.get("inventory_hostname", "host")
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = os.path.join(args["dest"], "%s-%s.tar.gz" % (host, stamp))
        try:
            write_atomically(path, base64.b64decode(answer.pop("archive")))
        except OSError as exc:
            return dict(result, failed=True, msg="cannot write the log bundle for %s to %s: %s. "
                        "Point log_bundle_dir at a writable folder." % (host, args["dest"], exc))
        # The VM is unchanged; the archive on the controller is the task's output, like the report.
        return dict(result, changed=False, path=path, reasons=answer["reasons"], files=answer["files"])
