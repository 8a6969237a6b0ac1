# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The log bundle of a Windows host on its own: decided on the controller, read in one win_powershell execution,
written on the controller (plugin_utils/log_bundle.py, plugin_utils/windows/log_bundle.py). The remediate task
collects it the same way after the causes."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as _log_bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.log_bundle import collect


class ActionModule(ActionBase):
    ARGUMENT_SPEC = _log_bundle.windows_argument_spec()
    _supports_check_mode = True  # the script only reads the VM

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return dict(result, **collect(self, task_vars or {}, args, "windows"))
