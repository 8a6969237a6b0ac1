#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_stats
short_description: Publish a run's outcome per host and for the fleet for the next node of an AWX workflow
version_added: 0.3.0
description:
  - The last play of C(fix_backup.yml) runs it once. It returns what M(ansible.builtin.set_stats) would set, with
    C(per_host=false), so AWX / Automation Controller stores it as the job's artifacts and hands it to the next
    workflow node as extra variables (C(docs/awx.md)).
  - Judges each host of the groups C(azure_backup_linux) and C(azure_backup_windows) as the fleet report does,
    from what THIS run left of it. A host whose remediate task succeeded, by its facts C(azure_backup_findings) of this run
    (C(azure_backup_findings_run)); facts a fact cache kept from an earlier run do not count. A host whose task failed,
    by the variable C(azure_backup_failed) the playbook's rescue sets (Ansible keeps no facts of a failed task).
    A host with neither, C(unreachable).
  - Runs on the controller and reads only host variables; it contacts no VM.
  - Keys set, all at the top level of the artifacts. C(azure_backup_hosts), host name to status (C(unreachable),
    C(failed), C(found), C(fixed), C(ok), C(skipped)). C(azure_backup_totals), status to number of hosts.
    C(azure_backup_broken), true when any host is not C(ok), C(fixed) or C(skipped). C(azure_backup_broken_hosts), their
    names. C(azure_backup_azure_steps), the error codes given (C(azure_backup_error)) whose remedy is a step in Azure
    not in the VM; their findings (cause C(ERROR_CODE)) stay in the report but break no host here.
    C(azure_backup_check_mode). Under AWX (extra variable C(awx_job_id)) also C(azure_backup_job_<awx_job_id>),
    with C(hosts), C(totals), C(broken), C(broken_hosts), C(azure_steps), C(check_mode) and C(report), the base name of
    this job's report files (written only where the C(azure_backup.remediation.report) callback is enabled). Each slice
    of a sliced job has its own key; AWX merges the slices' artifacts in the order they finish, so the other keys are the
    last-finished slice's; after a sliced job, read the keys the C(azure_backup.remediation.merge_reports) node publishes.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
attributes:
  check_mode:
    support: full
    details: Only reads host variables; runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing is changed.
  platform:
    description: Runs on the controller.
    support: full
    platforms: all
notes:
  - In fix-backup.yml an unreachable host stays in the play (C(ignore_unreachable)) until this task has run, so the
    statistics are published even when no VM of the run answers; the last task then fails the host. A workflow
    should still treat a missing C(azure_backup_broken) as broken (a run stopped before this task, by a bad setting).
"""

EXAMPLES = r"""
# The last play of fix_backup.yml; the workflow's next node gets azure_backup_broken and the others as extra vars.
- name: Publish the run's outcome for the workflow
  azure_backup.remediation.fleet_stats:
  run_once: true
"""

RETURN = r"""
hosts:
  description: Host name to status, as in the fleet report.
  returned: always
  type: dict
  sample: {"vm01": "fixed", "vm02": "found"}
totals:
  description: Status to the number of hosts with it.
  returned: always
  type: dict
  sample: {"unreachable": 0, "failed": 0, "found": 1, "fixed": 1, "ok": 0, "skipped": 0}
broken:
  description: Whether any host is still broken (not C(ok), C(fixed) or C(skipped)).
  returned: always
  type: bool
ansible_stats:
  description: The statistics Ansible records for the run (C(per_host=false)), the keys named in the description.
  returned: always
  type: dict
"""
