# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's outcome for an AWX workflow's next node, as set_stats would publish it (per_host false). Runs on the
controller only and reads nothing but host variables: no round trip to any VM (plugins/modules/fleet_stats.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.azure_backup.remediation.plugins.action.remediate import run_id
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.workflow import stats

GROUPS = ("azure_backup_linux", "azure_backup_windows")
# Set by fix_backup.yml's rescue for a host whose remediate task failed: Ansible keeps no facts of a failed task.
FAILED_VAR = "azure_backup_failed"


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        self.validate_argument_spec(argument_spec={})
        task_vars = task_vars or {}
        groups, hostvars = task_vars.get("groups") or {}, task_vars.get("hostvars") or {}
        names = sorted({name for group in GROUPS for name in groups.get(group) or []})
        run = run_id()
        outcomes = {name: self.outcome(hostvars[name], run) for name in names}
        data = stats(outcomes, self.plain(task_vars.get("awx_job_id")), bool(task_vars.get("ansible_check_mode")))
        broken = data["azure_backup_broken_hosts"]
        return dict(result, changed=False, ansible_stats={"data": data, "per_host": False, "aggregate": False},
                    hosts=data["azure_backup_hosts"], totals=data["azure_backup_totals"], broken=data["azure_backup_broken"],
                    msg="%d host(s), still broken: %s" % (len(names), ", ".join(broken) or "none"))

    def outcome(self, host_vars, run: str):
        """What this run left of a host: its failure (the rescue's variable), its facts of THIS run (a fact cache
        may hold an earlier run's), or None."""
        failed = self.plain(host_vars.get(FAILED_VAR))
        if isinstance(failed, dict):
            return {"findings": failed.get("findings") or [], "msg": str(failed.get("msg") or "failed")}
        if self.plain(host_vars.get("azure_backup_findings_run")) == run:
            return {"findings": self.plain(host_vars.get("azure_backup_findings")) or []}
        return None

    def plain(self, value):
        return self._templar.template(value) if value is not None else None
