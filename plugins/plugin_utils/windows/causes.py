# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Windows cause of one host in one task, for the remediate action plugin.

The simplest version: each cause through its own action plugin, one after the other. The Windows driver's
version (one host read for every cause's first read, the admin check, the run lock) replaces this file.
"""

from __future__ import annotations

import importlib

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding

# The Windows causes' action plugins by role name (plugins/action/win_*.py).
ACTIONS = {
    "win_agent": "win_agent", "snapshot_status": "win_snapshot_status", "backup_extension": "win_backup_extension",
    "network": "win_network", "vss_writers": "win_vss_writers", "machinekeys": "win_machinekeys", "bitlocker": "win_bitlocker",
    "com_msdtc": "win_com_msdtc", "disk_limits": "win_disk_limits",
}


def run_windows_causes(action, task_vars: dict, causes: list, lock_wait: float = 120) -> dict:
    """Every Windows cause of ``causes`` ([(role name, its action's args), ...]) in order, each through its own action
    plugin sharing ``action``'s connection, loader and templar; one result {changed, findings, diff, failed, msg,
    causes: {ID: {changed, failed, msg}}, unsupported_host?}. One cause's failure never stops the next; a host no
    cause can be checked on (unsupported_host) stops them all, with its one HOST finding. ``lock_wait`` is for the
    VM's run lock, which this simple version does not take yet."""
    out = {"changed": False, "findings": [], "diff": [], "causes": {}}
    errors = []
    for role, args in causes:
        plugin_module = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.action." + ACTIONS[role])
        task = action._task.copy()
        task.args = dict(args)
        cause = plugin_module.ActionModule(task, action._connection, action._play_context, action._loader, action._templar,
                                           action._shared_loader_obj)
        try:
            one = cause.run(task_vars=task_vars)
        except AnsibleConnectionFailure:
            raise  # the connection is gone: the host is unreachable, as for any task
        except Exception as exc:  # a bug in one cause must not hide the others
            msg = "%s: unexpected error: %s: %s" % (cause.CAUSE, type(exc).__name__, exc)
            one = {"failed": True, "changed": cause.changed if hasattr(cause, "changed") else False, "msg": msg,
                   "findings": [finding(cause.CAUSE, "run", "failed", msg)]}
        found = list(one.get("findings") or [])
        if one.get("failed") and not any(f.get("status") == "failed" for f in found):
            # One task reports every cause: a failure must be a finding, or the report could not tell whose it was.
            found.append(finding(cause.CAUSE, "run", "failed", one.get("msg") or "failed"))
        out["findings"] += found
        out["diff"] += one.get("diff") or []
        out["changed"] = out["changed"] or bool(one.get("changed"))
        if one.get("unsupported_host"):
            out.update(unsupported_host=True, failed=True, msg=one.get("msg") or "no cause can be checked on this host")
            return out
        msg = one.get("msg") or ""
        out["causes"][cause.CAUSE] = {"changed": bool(one.get("changed")), "failed": bool(one.get("failed")), "msg": msg}
        if one.get("failed"):
            errors.append(msg if msg.startswith(cause.CAUSE) else "%s: %s" % (cause.CAUSE, msg))
    if errors:
        out.update(failed=True, msg=" | ".join(errors))
    return out
