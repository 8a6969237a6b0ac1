# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decides on the controller whether a host needs a log bundle, has the log_bundle module
read the files in one round trip, and writes the archive on the controller (plugin_utils/log_bundle.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as _log_bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.log_bundle import collect


class ActionModule(ActionBase):
    _supports_check_mode = True  # the module only reads the VM

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=_log_bundle.argument_spec())
        return dict(result, **collect(self, task_vars or {}, args))
