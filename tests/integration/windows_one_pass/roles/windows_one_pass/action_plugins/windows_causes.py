# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test and bench only: every Windows cause of a host in one task, through run_windows_causes, as the
remediate action runs them. ``causes`` is [[role name, args], ...]; ``lock_wait`` as remediate passes it."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.causes import run_windows_causes


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        causes = [(role, dict(args or {})) for role, args in self._task.args["causes"]]
        result.update(run_windows_causes(self, task_vars or {}, causes, lock_wait=float(self._task.args.get("lock_wait", 120))))
        return result
