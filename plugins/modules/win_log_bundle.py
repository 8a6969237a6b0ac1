#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_log_bundle
short_description: Collect a Windows VM's backup logs and event log entries into an archive on the controller
version_added: 0.2.0
description:
  - When a cause persists after the fixes, Microsoft support asks for the guest agent's logs (C(WaAppAgent.log),
    C(TransparentInstaller.log)), the backup extension's logs, status and settings, and the VSS errors of the event
    logs. This collects them in ONE PowerShell execution into C(<dest>/<host>-<time>.tar.gz) on the controller, in
    the form of the Linux bundle (M(azure_backup.remediation.log_bundle)); the remediate task does the same after the
    causes where its O(azure_backup.remediation.remediate#module:log_bundle) is on.
  - Whether a bundle is needed is decided on the controller from O(findings) and O(failures) (see O(when)),
    so a healthy host costs no round trip.
  - First the Application and System log entries of the last O(event_hours) whose provider is C(VSS), C(volsnap),
    C(SQLWRITER) or C(SQLVDI), and the Application Error events 1000 of C(IaaSBcdrExtension.exe) (the backup
    extension crashing), exported as C(events/Application.txt) and C(events/System.txt), oldest first, one entry
    per block (time in UTC, level, provider, event ID, record ID, then the message). Then the files of O(paths),
    then, where the MARS agent is installed, its C(<InstallPath>\Temp) folder.
  - The files are read, never changed, and nothing is written on the VM; files the agent holds open are read
    shared. In every C(*.settings) file (an extension's C(RuntimeSettings)) the value of C(protectedSettings) is
    replaced by C(redacted by azure_backup.remediation). The C(MANIFEST.json) names the reasons, every file with its
    size and part taken, and each one truncated or skipped (C(cap reached), C(locked), C(unreadable)).
  - "The size cap and WinRM: the content comes back as base64 in the one answer, 4/3 of O(max_size) (about 27 MB for
    20M), and WinRM encodes its stream as base64 again (about 36 MB on the wire), sent in envelopes of
    MaxEnvelopeSizekb one after the other. PowerShell holds the content, its base64 and the JSON at once in the WinRM
    shell, whose memory MaxMemoryPerShellMB bounds (1024 MB by default; 150 MB under WinRM 2.0, and a Group Policy may
    set less). That is a few hundred MB for 20M, an estimate not measured on Windows. Where the read fails, lower
    O(max_size)."
  - The archive is written readable by its owner only.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  paths:
    description:
      - Files to collect on the VM, absolute Windows paths with PowerShell's wildcards; a folder is collected with
        everything below it, newest first. Links (reparse points) are left out.
    type: list
    elements: str
    default:
      - C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot\*\Status
      - C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot\*\RuntimeSettings
      - C:\WindowsAzure\Logs\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot
      - C:\WindowsAzure\Logs\*.log
  event_hours:
    description: How many hours back the exported event log entries go; V(0) exports none.
    type: int
    default: 72
  max_size:
    description:
      - The most bytes of content in one bundle, as a size (V(20M), V(512K), V(1G)). The events go first, then the
        files in the order of O(paths); the first that does not fit goes in with its newest part, the ones after it
        are named in the manifest as left out.
    type: str
    default: 20M
extends_documentation_fragment:
  - azure_backup.remediation.log_bundle
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
attributes:
  check_mode:
    support: full
    details: Only reads the VM; the archive is written on the controller in check mode too.
  diff_mode:
    support: none
    details: Nothing on the VM is changed.
"""

EXAMPLES = r"""
- name: Collect the backup logs where a cause persists
  azure_backup.remediation.win_log_bundle:
    dest: reports/log-bundles
    findings: "{{ azure_backup_findings | default([]) }}"

- name: Always collect, a week of events, at most 5 MiB
  azure_backup.remediation.win_log_bundle:
    dest: reports/log-bundles
    when: always
    event_hours: 168
    max_size: 5M
"""

RETURN = r"""
path:
  description: The archive on the controller; absent when no bundle was needed.
  returned: when a bundle was collected
  type: str
  sample: reports/log-bundles/win01-20261202T101500.tar.gz
reasons:
  description: Why the bundle was collected (failed checks, critical problems still found).
  returned: always
  type: list
  elements: str
  sample: ["VSS_WRITERS/writer_wmi_writer: failed"]
files:
  description:
    - Every entry considered (the event exports first), with C(size), the bytes taken (C(length)), C(truncated),
      C(left_out), and C(skipped) with the reason where it was not read.
  returned: when a bundle was collected
  type: list
  elements: dict
"""
