# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task per host: the roles' settings are read and checked on the controller (plugin_utils/settings.py), then
every cause runs, on Linux in ONE execution of the remediate module on the VM, on Windows through the Windows driver.
The log bundle follows where a cause persists (plugin_utils/log_bundle.py). Findings are published once, here."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue, diagnosis
from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.log_bundle import collect_after_causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.causes import run_windows_causes

ARGUMENT_SPEC = {
    "causes": {"type": "list", "elements": "str"},
    "log_bundle": {"type": "bool", "default": False},
    "validate_only": {"type": "bool", "default": False},
    "lock_wait": {"type": "raw"},
    "error": {"type": "raw"},
}
# Seconds a run waits for another run that is changing the same VM (azure_backup_lock_wait).
LOCK_WAIT = 120.0
LOCK_WAIT_MAX = 3600.0


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self.task_vars = task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "this host")
        os_name = settings.host_os(self.var("azure_backup_os"), self.var("ansible_connection"), self.var("ansible_shell_type"))
        if os_name not in settings.CAUSES:
            return dict(result, failed=True, changed=False, msg="%s: azure_backup_os = '%s' is not allowed: linux or windows" % (host, os_name))
        causes = settings.CAUSES[os_name] if args["causes"] is None else args["causes"]
        unknown = settings.unknown_causes(causes, os_name)
        if unknown:
            return dict(result, failed=True, changed=False, msg="%s: no %s cause %s; the %s causes are %s. Nothing was contacted."
                        % (host, os_name.capitalize(), ", ".join(unknown), os_name.capitalize(), ", ".join(settings.CAUSES[os_name])))
        # An error code given (azure_backup_error): only its causes, in the catalogue's order, of those this task may run.
        diagnosed = None
        error = args["error"] if args["error"] is not None else self.var("azure_backup_error")
        # An AWX survey passes an unanswered question as "": no code, as if none was given.
        if error if isinstance(error, (list, tuple)) else str(error if error is not None else "").strip():
            codes, problem = catalogue.resolve(error)
            if problem:
                return dict(result, failed=True, changed=False, msg="%s: azure_backup_error: %s. Known codes and messages: ansible-doc -t role "
                            "azure_backup.remediation.fix_backup. Nothing was contacted." % (host, problem))
            diagnosed = diagnosis.plan(codes, os_name, causes)
            causes = [catalogue.play_name(c) for c in diagnosed["causes"]]
        bundle = args["log_bundle"]
        roles = causes + ([settings.LOG_BUNDLE] if bundle else [])

        unreadable = []
        values, errors = settings.settings(roles, lambda name: self.lookup(name, unreadable))
        lock_wait, lock_error = self.lock_wait(args["lock_wait"])
        errors = unreadable + errors + ([lock_error] if lock_error else [])
        if errors:
            # Every bad value of this host in one message, before any connection.
            return dict(result, failed=True, changed=False, settings_errors=errors, msg="%s: %s" % (host, "; ".join(errors)))
        if args["validate_only"]:
            # Also sorts the host into azure_backup_linux or azure_backup_windows (as group_by would), so the
            # playbook needs no task of its own for that.
            return dict(result, changed=False, msg="%s: the settings of %s are valid" % (host, ", ".join(roles) or "no cause"),
                        add_group="azure_backup_%s" % os_name, parent_groups=["all"])

        plan = [(role, settings.cause_args(role, os_name, values)) for role in causes]
        if not plan:
            outcome = {"changed": False, "findings": [], "causes": {}}
        elif os_name == "linux":
            outcome = self.run_linux(plan, lock_wait)
        else:
            outcome = run_windows_causes(self, task_vars, plan, lock_wait)
        if diagnosed is not None:
            result["diagnosis"] = {k: v for k, v in diagnosed.items() if k != "findings"}
            outcome = dict(outcome, findings=list(outcome.get("findings") or []) + diagnosed["findings"])
        return self.report(result, host, os_name, outcome, values if bundle else None)

    def var(self, name: str):
        value = self.task_vars.get(name)
        return self._templar.template(value) if value is not None else None

    def lock_wait(self, given) -> tuple:
        """(seconds, None) or (None, the error): the task's lock_wait, else azure_backup_lock_wait, else 120."""
        name, value = ("lock_wait", given) if given is not None else ("azure_backup_lock_wait", self.var("azure_backup_lock_wait"))
        if value is None:
            return LOCK_WAIT, None
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not 0 <= seconds <= LOCK_WAIT_MAX:
            return None, "%s = %s is not allowed: a number of seconds from 0 to %d" % (name, value, LOCK_WAIT_MAX)
        return seconds, None

    def lookup(self, name: str, unreadable: list):
        """(True, templated value) for a variable that is set, (False, None) for one that is not."""
        if name not in self.task_vars:
            return False, None
        try:
            return True, self._templar.template(self.task_vars[name])
        except AnsibleError as exc:
            unreadable.append("%s cannot be read: %s" % (name, str(exc).splitlines()[0]))
            return True, None

    def run_linux(self, plan: list, lock_wait: float) -> dict:
        """Every cause in one execution on the VM (the remediate module, each cause through linux/cause.py's run_cause)."""
        return self._execute_module(module_name="azure_backup.remediation.remediate", task_vars=self.task_vars, module_args={
            "causes": [role for role, _args in plan], "cause_options": dict(plan), "lock_wait": lock_wait})

    def report(self, result: dict, host: str, os_name: str, outcome: dict, bundle_settings: dict | None) -> dict:
        findings = [dict(f, host=host) for f in outcome.get("findings") or [] if isinstance(f, dict)]
        causes = outcome.get("causes") or {}
        # Facts of this action land in the fact cache (AWX fact storage, jsonfile): findings of an earlier run
        # must not come back as this run's, so they are kept under this run's id only.
        run = run_id()
        previous = (self.var("azure_backup_findings") or []) if self.var("azure_backup_findings_run") == run else []
        result.update(changed=bool(outcome.get("changed")), findings=findings, causes=causes,
                      ansible_facts=dict(outcome.get("ansible_facts") or {}, azure_backup_findings=list(previous) + findings,
                                         azure_backup_findings_run=run))
        for key in ("warnings", "deprecations"):
            if outcome.get(key):
                result[key] = list(result.get(key) or []) + list(outcome[key])
        if outcome.get("diff") and self._task.diff:
            result["diff"] = outcome["diff"]
        if outcome.get("unsupported_host"):
            result["unsupported_host"] = True
        if outcome.get("unreachable"):  # the connection failed mid-host: Ansible marks the host unreachable
            result["unreachable"] = True
        failed = bool(outcome.get("failed"))
        msg = outcome.get("msg") or ""
        if failed and not causes and not findings:
            # The execution itself failed (no Python, a module error): what it said, as it said it.
            result.update({k: v for k, v in outcome.items() if k not in result})
        if bundle_settings is not None and not outcome.get("unsupported_host") and not outcome.get("unreachable"):
            failures = [{"id": cause_id, "msg": c.get("msg") or "failed"} for cause_id, c in causes.items() if c.get("failed")]
            if failed and not causes:
                failures.append({"id": "HOST", "msg": msg or "failed"})
            try:
                bundle = collect_after_causes(self, self.task_vars, os_name, bundle_settings, list(previous) + findings, failures)
            except AnsibleError as exc:  # the VM went away after the causes ran: keep what they found
                bundle = {"failed": True, "msg": "the logs could not be collected: %s" % str(exc).splitlines()[0]}
            if bundle.get("path"):
                result["log_bundle"] = {"path": bundle["path"], "reasons": bundle.get("reasons"), "files": bundle.get("files")}
            elif bundle.get("failed"):
                failed = True
                msg = " | ".join(m for m in (msg, "LOG_BUNDLE: %s" % (bundle.get("msg") or "failed")) if m)
        if failed:
            result.update(failed=True, msg=msg or "failed")
        return result


def run_id() -> str:
    """This ansible-playbook run: the PID of the process that forked this worker, and when it started."""
    parent = os.getppid()
    try:
        with open("/proc/%d/stat" % parent) as handle:
            return "%d-%s" % (parent, handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError):
        return str(parent)
