#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: merge_reports
short_description: Merge the fleet reports of several runs (the slices of an AWX job) into one
version_added: 0.3.0
description:
  - Reads the JSON fleet reports the C(azure_backup.remediation.report) callback wrote, one per run (AWX runs each
    slice of a sliced job as a job of its own, with its own report), and writes one fleet report from them as JSON,
    HTML and JUnit XML, C(<dest>/<name>.json), C(.html), C(.xml), each written whole or not at all.
  - Hosts are merged by name. A host in more than one report is taken from the run that started last; the merged
    report (C(merged.replaced)) and the task's result say which run was kept and which dropped.
  - Totals are counted again from the hosts. Runs in check mode merged with applied runs make C(check_mode=mixed),
    and each host keeps the mode of its run. The error codes of the runs are merged in order (C(diagnosis.codes)).
  - Every report must be one the callback wrote, of one playbook; a file that is not (another playbook's report,
    a JSON file of something else, a broken file) fails the task naming the file, and nothing is written.
  - Runs on the controller only; no host is contacted, a play on C(localhost) is enough; see C(playbooks/merge_reports.yml).
  - Publishes the merged report's outcome as the job's statistics (as C(ansible.builtin.set_stats) with C(per_host=false)),
    C(azure_backup_hosts), C(azure_backup_totals), C(azure_backup_broken), C(azure_backup_broken_hosts) and
    C(azure_backup_azure_steps), judged as C(azure_backup.remediation.fleet_stats) judges. In an AWX workflow the node
    after the merge reads these, not the slices' own, which AWX merges in the order the slices finished.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  src:
    description:
      - Report files, or folders whose C(*.json) files are all reports (the report_dir of the slices' runs).
      - A merged report found in a folder is left out (its runs' reports are merged instead, and the result's
        RV(ignored) says so); named as a file it is merged.
    type: list
    elements: path
    required: true
  dest:
    description: Folder the merged files are written to; created if missing.
    type: path
    required: true
  name:
    description:
      - File name of the merged report, without suffix.
      - Default C(azure-backup-fleet-workflow<awx_workflow_job_id>) in an AWX workflow, else
        C(azure-backup-fleet-<UTC time, YYYYMMDDTHHMMSS>). Files of that name are replaced.
    type: str
  language:
    description: Language of the HTML page, English or German.
    type: str
    choices: [en, de]
    default: en
extends_documentation_fragment:
  - azure_backup.remediation.attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written (not changed), the result says what would be.
  diff_mode:
    support: none
  action:
    description: The module is an action plugin; it runs on the controller.
    support: full
  platform:
    description: Runs on the controller.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Merge the reports of the slices into one fleet report
  azure_backup.remediation.merge_reports:
    src: [reports]
    dest: reports/fleet
    language: de

- name: Merge two runs named as files
  azure_backup.remediation.merge_reports:
    src:
      - reports/azure-backup-report-job101.json
      - reports/azure-backup-report-job102.json
    dest: reports
    name: azure-backup-fleet-nightly
"""

RETURN = r"""
paths:
  description: The files written (in check mode, that would be written).
  returned: success
  type: dict
  sample: {"json": "reports/azure-backup-fleet-workflow100.json", "html": "reports/azure-backup-fleet-workflow100.html",
           "xml": "reports/azure-backup-fleet-workflow100.xml"}
totals:
  description: How many hosts of the merged report have each status.
  returned: success
  type: dict
  sample: {"unreachable": 0, "failed": 1, "found": 2, "fixed": 5, "ok": 12, "skipped": 0}
sources:
  description: The report files merged, oldest run first.
  returned: success
  type: list
  elements: str
ignored:
  description: Files found in a folder of O(src) and left out, with why.
  returned: success
  type: list
  elements: dict
replaced:
  description: Hosts more than one run reported, C({host, kept, dropped}) naming the files.
  returned: success
  type: list
  elements: dict
ansible_stats:
  description: The statistics published for the next workflow node, over the merged report.
  returned: success
  type: dict
  sample: {"data": {"azure_backup_broken": true, "azure_backup_broken_hosts": ["vm03"], "azure_backup_azure_steps": [],
           "azure_backup_hosts": {"vm01": "ok", "vm03": "found"},
           "azure_backup_totals": {"unreachable": 0, "failed": 0, "found": 1, "fixed": 0, "ok": 1, "skipped": 0}},
           "per_host": false, "aggregate": false}
"""
