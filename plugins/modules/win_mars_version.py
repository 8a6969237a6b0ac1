#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_version
short_description: Report a MARS agent older than a minimum version (cause MARS_VERSION)
version_added: 0.2.0
description:
  - Reads the FileVersion of C(Bin\cbengine.exe) in the agent's folder and reports an agent older than O(min_version),
    saying where to get the current one (U(https://aka.ms/azurebackup_agent)). Changes nothing.
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  min_version:
    description:
      - The oldest version that passes. The default is the version article 004 asks for to register with vault credentials
        (ID 34513).
    type: str
    default: 2.0.9249.0
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report an outdated MARS agent
  azure_backup.remediation.win_mars_version:
    min_version: 2.0.9262.0
"""

RETURN = r"""
findings:
  description: The check C(version).
  returned: always
  type: list
  elements: dict
"""
