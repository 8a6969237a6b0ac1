#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_schedule
short_description: Repair the MARS agent's scheduled backup tasks (cause MARS_SCHEDULE)
version_added: 0.2.0
description:
  - Only where the MARS agent (Microsoft Azure Recovery Services agent) is installed; elsewhere the cause is skipped.
  - Reads every task under C(\Microsoft\OnlineBackup\) (Get-ScheduledTask). Article 004 ("Backups don't run according to
    schedule", "Job could not be started as another job was in progress") asks that every trigger is enabled, the task runs as
    SYSTEM or a local administrator, and that it starts no new instance while one runs.
  - Enables a disabled task and its disabled triggers (unless O(enable_tasks) is false), and sets "Do not start a new
    instance" (MultipleInstances IgnoreNew), with Set-ScheduledTask; the tasks are read back.
  - A task saved with an account's password (LogonType Password) is reported instead of changed, because Set-ScheduledTask
    cannot save it without that password (0x8007052E); re-enter the task's account in Task Scheduler or the MARS console.
  - Accounts are compared by SID (SYSTEM S-1-5-18, members of BUILTIN\Administrators S-1-5-32-544), not by localised names.
    Membership is read through ADSI (WinNT), nested groups included (Domain Admins in Administrators), which works on Windows
    Server 2012 R2 too (Get-LocalGroupMember does not exist there). A task running as another account is reported, and set to
    run as SYSTEM only with O(fix_principal). Where part of the membership cannot be read (a domain group while no domain
    controller answers), the account is reported as unknown and never changed.
  - On a DPM or MABS server, which schedules its jobs itself, the check is skipped.
  - No task at all is reported; the agent has no backup schedule until one is made in the MARS console (Schedule Backup).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  fix_principal:
    description: Run a task whose account is neither SYSTEM nor a local administrator as SYSTEM. Off, it is only reported.
    type: bool
    default: false
  enable_tasks:
    description: Enable a disabled task and its disabled triggers. False where backups are off on purpose; then only reported.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Repair the MARS backup tasks, and run them as SYSTEM where a plain user runs them
  azure_backup.remediation.win_mars_schedule:
    fix_principal: true
"""

RETURN = r"""
findings:
  description: The checks C(tasks), C(triggers), C(instances) and C(principal).
  returned: always
  type: list
  elements: dict
"""
