# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""For the integration tests: each host's result of the remediate task (plays 2 and 3 of fix-backup.yml), one JSON
file per host as the tree callback writes them. The tree callback would keep the host's last result, which since
the last play (fleet_stats, the deferred failure) is no longer the remediate task's."""

from __future__ import annotations

DOCUMENTATION = r"""
name: remediate_tree
type: aggregate
short_description: Writes each host's remediate result to a file (tests only)
description:
  - Writes the result of every host's azure_backup.remediation.remediate task (not validate_only) to
    C(REMEDIATE_TREE_DIR/<host>).
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "remediate_tree"
    CALLBACK_NEEDS_ENABLED = True

    def _keep(self, result) -> None:
        task = result._task
        if task.action != "azure_backup.remediation.remediate" or task.args.get("validate_only"):
            return
        folder = os.environ["REMEDIATE_TREE_DIR"]
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, result._host.get_name()), "w", encoding="utf-8") as handle:
            json.dump(result._result, handle, default=str)

    def v2_runner_on_ok(self, result) -> None:
        self._keep(result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._keep(result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._keep(result)
