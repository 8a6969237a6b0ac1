#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: remediate
short_description: Check and fix the causes of failed Azure VM backups on one VM, in one task
version_added: 0.2.0
description:
  - Runs the causes named in O(causes), in order, on a Linux or Windows VM (the OS is picked as C(fix_backup.yml) groups
    the VMs, from C(azure_backup_os), else from a C(winrm) or C(psrp) connection).
  - Each cause's options are the variables of its role (C(ansible-doc -t role azure_backup.remediation.<cause>)), read from
    the host's variables, with the defaults of the role's C(meta/argument_specs.yml). Every value is checked for type and
    sense (range, form) first; a bad value fails the task naming the variable, the value and what is allowed, before the VM
    is contacted.
  - Linux, one execution on the VM runs every cause; a host reached without root gets one C(HOST/privileges) finding and no
    cause runs. With O(log_bundle), the agent's logs are then collected where a cause persists (a second execution, only then).
  - Windows, the causes run from the controller through C(ansible.windows).
  - Each cause is isolated, a failing cause never stops the next. The task fails once all ran, naming each failed cause.
  - Publishes the findings in the host fact C(azure_backup_findings), added to those of earlier tasks of the same
    C(ansible-playbook) run (C(azure_backup_findings_run) names the run, so findings a fact cache kept from an earlier
    run are not carried over). A task that fails publishes no facts (Ansible keeps none from failed tasks); its
    findings are in its result and in the report.
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  causes:
    description:
      - The causes to run, by role name, in order. Omitted, every cause of the VM's operating system
        (Linux V(linux_agent), V(snapshot_status), V(backup_extension), V(network), V(disk_limits); Windows V(win_agent),
        V(snapshot_status), V(backup_extension), V(network), V(vss_writers), V(machinekeys), V(bitlocker), V(com_msdtc),
        V(disk_limits)).
    type: list
    elements: str
  log_bundle:
    description:
      - Collect the agent's logs after the causes where one persists, under the C(log_bundle_*) variables
        (C(ansible-doc -t role azure_backup.remediation.log_bundle)). On Linux through the log_bundle module, on
        Windows in one PowerShell read with the backup-related event log entries
        (M(azure_backup.remediation.win_log_bundle)).
    type: bool
    default: false
  validate_only:
    description:
      - Only check the settings of O(causes) (and of the log bundle with O(log_bundle)); nothing is sent to the VM.
        C(fix_backup.yml) does this for every host before the first connection.
      - The host also joins the group C(azure_backup_linux) or C(azure_backup_windows), as M(ansible.builtin.group_by) would.
    type: bool
    default: false
  error:
    description:
      - The error a failed backup job showed, to run only its causes (diagnosis by error code). Omitted, the variable
        C(azure_backup_error); neither set (or empty), every cause of O(causes) runs as without it.
      - A symbolic code (portal, Log Analytics C(JobFailureCode)), a numeric code of the job API that the articles pair
        with a name (V(320001), V(400094), V(380008)), a MARS agent message ID (V(34513), V(0x1FC07), ...), or the error
        message in English or German; case, punctuation and spacing do not matter, and a message cut short matches when at
        least 16 characters of it are given and no other message starts so. Several at once as a comma list (or a list), and
        their causes are merged in order, each once.
      - The host works through the codes' causes in the catalogue's order (not the order of O(causes)), only those of its
        operating system that O(causes) (or, omitted, its operating system) allows. A code whose step is in Azure (a resource
        group lock, Key Vault permissions, a running backup) adds a finding with status C(found) that says what to do there;
        a code of the other operating system adds one C(skipped) finding.
      - An unknown code fails the task before the VM is contacted, naming the closest known codes. The table of codes and
        causes is in C(ansible-doc -t role azure_backup.remediation.fix_backup) and C(docs/error-codes.md).
    type: raw
  cause_options:
    description:
      - Set by the action plugin from the roles' variables, per cause; not for playbooks.
    type: dict
    default: {}
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
"""

EXAMPLES = r"""
- name: Check and fix every cause of the VM's operating system, then collect the logs where one persists
  azure_backup.remediation.remediate:
    log_bundle: true

- name: Only the agent
  azure_backup.remediation.remediate:
    causes: [linux_agent]

- name: Only the causes of the error the failed backup job showed, in the documented order
  azure_backup.remediation.remediate:
    error: ExtensionFailedVssWriterInBadState

- name: Check every host's settings before any VM is contacted
  azure_backup.remediation.remediate:
    validate_only: true
"""

RETURN = r"""
findings:
  description: Every cause's findings, with C(host) filled in.
  returned: unless O(validate_only)
  type: list
  elements: dict
causes:
  description: Per cause ID, whether it changed something, failed, and why, and how many seconds it took on the VM (Linux).
  returned: unless O(validate_only)
  type: dict
  sample: {"LINUX_AGENT": {"changed": false, "failed": false, "msg": "", "seconds": 0.42}}
diagnosis:
  description:
    - With O(error) (or C(azure_backup_error)) set, what was diagnosed on this host. C(codes), the catalogue's keys of the
      codes given, in the order given; C(causes), the cause IDs tried on this host, in order; C(not_here), the cause IDs of
      the codes this host does not run (another operating system's, none in the guest like C(RP_LOCK), or left out of
      O(causes)); C(control_plane), the codes that ask for a step in Azure (the portal, the vault, a policy, the
      C(RP_LOCK) lock); C(by_hand), the codes that ask for a step in the guest that no role takes (chkdsk, a registry
      value, a reinstall). Each such step has an C(ERROR_CODE) (or C(RP_LOCK)) finding saying what to do, C(found) when it
      is the fix itself or nothing of the code is checked on the host, else C(skipped), worded as what to do if the
      checks pass.
  returned: when O(error) or C(azure_backup_error) is set, unless O(validate_only)
  type: dict
  sample: {"codes": ["BackUpOperationFailed"], "causes": ["LINUX_AGENT", "SNAPSHOT_STATUS", "BACKUP_EXTENSION", "NETWORK"],
           "not_here": ["WIN_AGENT", "RP_LOCK"], "control_plane": ["BackUpOperationFailed"], "by_hand": ["BackUpOperationFailed"]}
log_bundle:
  description: Where the log bundle was written, and why it was collected.
  returned: when a log bundle was written
  type: dict
unsupported_host:
  description: True when no cause could be checked on the host (no root, no administrator, too old a PowerShell).
  returned: then
  type: bool
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import COMMON_ARGUMENT_SPEC, run_cause, without_root
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.lock import VmLock


def linux_causes() -> dict:
    """The Linux cause classes by role name (imported here so the table is the only place that names them)."""
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.linux_agent import LinuxAgent
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.snapshot_status import SnapshotStatus
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.backup_extension import BackupExtension
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.network import Network
    from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.disk_limits import DiskLimits
    return {"linux_agent": LinuxAgent, "snapshot_status": SnapshotStatus, "backup_extension": BackupExtension,
            "network": Network, "disk_limits": DiskLimits}


def run_one(module, cause_class, options: dict, lock: VmLock) -> dict:
    """One cause, isolated: bad options or an unexpected error become a failed finding of that cause only."""
    checked = ArgumentSpecValidator(cause_class.ARGUMENT_SPEC).validate(options)
    if checked.error_messages:
        msg = "%s: options refused: %s" % (cause_class.ID, "; ".join(checked.error_messages))
        return {"changed": False, "failed": True, "msg": msg, "findings": [finding(cause_class.ID, "options", "failed", msg)]}
    try:
        return run_cause(module, cause_class, checked.validated_parameters, lock)
    except Exception as exc:  # a bug in one cause must not hide the others
        msg = "%s: unexpected error: %s: %s" % (cause_class.ID, type(exc).__name__, exc)
        return {"changed": False, "failed": True, "msg": msg,
                "findings": [finding(cause_class.ID, "run", "failed", msg, {"traceback": traceback.format_exc()})]}


def run_causes(module, classes: dict, causes: list, options: dict, lock_wait: float) -> dict:
    """Every cause in order; the joined result. A host without root runs none (one HOST finding)."""
    refusal = without_root()
    if refusal:
        return {"changed": False, "failed": True, "msg": refusal["summary"], "findings": [refusal], "causes": {}, "unsupported_host": True}
    # One wait for another run's lock per execution, not one per cause; check mode takes none.
    lock = VmLock(lock_wait)
    if not module.check_mode:
        try:
            lock.acquire()
        except RemediationError as exc:
            return {"changed": False, "failed": True, "msg": exc.msg, "causes": {},
                    "findings": [finding("HOST", "lock", "failed", exc.msg + ". No cause was checked.", exc.detail)]}
    try:
        return run_each(module, classes, causes, options, lock)
    finally:
        lock.release()


def run_each(module, classes: dict, causes: list, options: dict, lock: VmLock) -> dict:
    out = {"changed": False, "findings": [], "diff": [], "causes": {}}
    errors = []
    for name in causes:
        cause_class = classes[name]
        started = time.monotonic()
        one = run_one(module, cause_class, options.get(name) or {}, lock)
        seconds = round(time.monotonic() - started, 2)
        out["findings"] += one.get("findings") or []
        out["diff"] += one.get("diff") or []
        out["changed"] = out["changed"] or bool(one.get("changed"))
        msg = one.get("msg") or ""
        out["causes"][cause_class.ID] = {"changed": bool(one.get("changed")), "failed": bool(one.get("failed")), "msg": msg, "seconds": seconds}
        if one.get("failed"):
            errors.append(msg if msg.startswith(cause_class.ID) else "%s: %s" % (cause_class.ID, msg))
    if errors:
        out.update(failed=True, msg=" | ".join(errors))
    return out


def main() -> None:
    module = AnsibleModule(argument_spec=dict(
        causes=dict(type="list", elements="str"),
        log_bundle=dict(type="bool", default=False),  # the action plugin's
        validate_only=dict(type="bool", default=False),  # the action plugin's
        error=dict(type="raw"),  # the action plugin's
        cause_options=dict(type="dict", default={}),
        **COMMON_ARGUMENT_SPEC), supports_check_mode=True)
    classes = linux_causes()
    causes = module.params["causes"] if module.params["causes"] is not None else list(classes)
    unknown = [c for c in causes if c not in classes]
    if unknown:
        module.fail_json(msg="no Linux cause %s; the Linux causes are %s" % (", ".join(unknown), ", ".join(classes)), findings=[])
    result = run_causes(module, classes, causes, module.params["cause_options"], module.params["lock_wait"])
    if not module._diff or not result["diff"]:
        result.pop("diff", None)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
