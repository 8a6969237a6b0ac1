# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of the log bundle, shared by the log_bundle and remediate action plugins: decide whether a
host needs one, read the files in one round trip (on Linux the log_bundle module, on Windows one win_powershell
read: plugin_utils/windows/log_bundle.py), write the archive on the controller."""

from __future__ import annotations

import base64
import datetime

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as _log_bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_new
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import log_bundle as _windows


def collect_after_causes(action, task_vars: dict, os_name: str, values: dict, findings: list, failures: list) -> dict:
    """The remediate task's bundle, after the causes: the log_bundle role's settings (``values``) as the options
    of this OS, and what the causes left (``findings``, ``failures``: ``{id, msg}`` of each failed cause)."""
    args = dict(settings.cause_args(settings.LOG_BUNDLE, os_name, values), findings=findings, failures=failures)
    return collect(action, task_vars, args, os_name)


def collect(action, task_vars: dict, args: dict, os_name: str = "linux") -> dict:
    """The bundle of this host under ``args`` (the log_bundle module's options; on Windows its Windows options):
    a result with ``path``, or ``skipped`` where nothing persists (no round trip), or ``failed`` with the reason."""
    try:
        _log_bundle.parse_size(args["max_size"])
    except ValueError as exc:
        return dict(failed=True, msg="max_size (log_bundle_max_size): %s. Nothing was collected." % exc)
    reasons = _log_bundle.wanted(args["when"], args["findings"], args["failures"])
    if not reasons:
        return dict(skipped=True, skip_reason="no cause persists on this host", reasons=[])
    if os_name == "windows":
        answer = _windows.read(action, task_vars, args, reasons)
    else:
        answer = action._execute_module(module_name="azure_backup.remediation.log_bundle", module_args=args, task_vars=task_vars)
    if answer.get("failed") or "archive" not in answer:
        return answer
    host = task_vars.get("inventory_hostname", "host")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    try:
        # A new name even when two runs bundle the same host in the same second.
        path = write_new(args["dest"], "%s-%s" % (host, stamp), ".tar.gz", base64.b64decode(answer.pop("archive")))
    except OSError as exc:
        return dict(failed=True, msg="cannot write the log bundle for %s to %s: %s. "
                    "Point log_bundle_dir at a writable folder." % (host, args["dest"], exc))
    # The VM is unchanged; the archive on the controller is the task's output, like the report.
    return dict(changed=False, path=path, reasons=answer["reasons"], files=answer["files"])
