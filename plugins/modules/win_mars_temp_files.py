#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_temp_files
short_description: Delete the .tmp files that pile up in C:\Windows\Temp (cause MARS_TEMP_FILES)
version_added: 0.2.0
description:
  - Counts the files directly in C(%SystemRoot%\Temp) whose name ends in C(.tmp). More than O(limit) break the MARS
    agent (article 004 says to delete them when there are more than 60,000 or 65,000).
  - Over the limit, deletes those files and no others in one script run, and only those last written more than
    O(min_age_hours) ago. A younger file, or one in use or refused, stays and is counted as kept; a file deleted by someone
    else between the listing and its delete is counted as gone. Reports how many were removed, kept and gone and the
    bytes freed. In check mode it only counts.
  - Each name is tested for the exact C(.tmp) ending, because on Windows PowerShell the wildcard C(*.tmp) also returns
    C(x.tmpl) (a three-character extension in a search pattern matches every extension that begins with it).
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  limit:
    description: The most C(.tmp) files the folder may hold before they are deleted.
    type: int
    default: 60000
  min_age_hours:
    description: Only files last written more than this many hours ago are deleted (0 to 8760; 0 deletes them whatever their age).
    type: int
    default: 24
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Delete the .tmp files once there are more than 65,000
  azure_backup.remediation.win_mars_temp_files:
    limit: 65000
"""

RETURN = r"""
findings:
  description: The check C(temp_files); once deleted, its detail has C(removed), C(kept) and C(bytes_freed).
  returned: always
  type: list
  elements: dict
"""
