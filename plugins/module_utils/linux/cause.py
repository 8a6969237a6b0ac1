# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The Linux driver of the fix protocol (core/runner.py): a cause runs in a module on the VM.

A Linux cause is a class with ID (the cause ID of CAUSES.md), ARGUMENT_SPEC (its module's options) and
steps(), built from the module and its validated options. Its module is a thin main():
``module_main(TheCause)``; the remediate module runs several causes in one execution the same way.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import CauseRun
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.lock import VmLock, user

# Options every Linux cause module takes besides its own (doc fragment azure_backup.remediation.protocol).
COMMON_ARGUMENT_SPEC = {"lock_wait": {"type": "float", "default": 120}}


class LinuxCause:
    """Base of a Linux cause: subclasses set ID and ARGUMENT_SPEC and implement steps()."""

    ID = ""
    ARGUMENT_SPEC: dict = {}

    def __init__(self, module: AnsibleModule, params: dict) -> None:
        self.module, self.params = module, params

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    def steps(self):
        raise NotImplementedError


class LinuxCauseRun(CauseRun):
    UNEXPECTED = (Exception,)


def without_root() -> dict | None:
    """The one finding for a host the checks cannot see as root, or None when running as root."""
    if os.geteuid() == 0:
        return None
    return finding("HOST", "privileges", "failed",
                   "The checks run as %s, not root, so they cannot read or fix what the causes need (the agent's files, "
                   "its unit, the network configuration). Set ansible_become: true for this host (Azure VMs are reached as "
                   "an admin user with sudo). No cause was checked." % user(), {"euid": os.geteuid()})


def run_cause(module: AnsibleModule, cause_class, params: dict, lock: VmLock) -> dict:
    """One cause through the runner; its result (findings, changed, diff, failed/msg)."""
    cause = cause_class(module, params)
    run = LinuxCauseRun(cause_class.ID, module.check_mode, lock)
    return run.run(cause.steps).result()


def module_main(cause_class) -> None:
    """The whole main() of a Linux cause's module."""
    module = AnsibleModule(argument_spec=dict(cause_class.ARGUMENT_SPEC, **COMMON_ARGUMENT_SPEC), supports_check_mode=True)
    refusal = without_root()
    if refusal:
        module.fail_json(msg=refusal["summary"], findings=[refusal], changed=False, unsupported_host=True)
    params = dict(module.params)
    result = run_cause(module, cause_class, params, VmLock(params.pop("lock_wait"), cause=cause_class.ID))
    if not module._diff:
        result.pop("diff", None)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)
