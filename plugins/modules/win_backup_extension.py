#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_backup_extension
short_description: Check the Windows backup extension's service and folder (cause BACKUP_EXTENSION)
version_added: 0.2.0
description:
  - The C(IaaSVmProvider) service must be enabled with start type Automatic (article 001); sets it and starts it.
  - Reports the VMSnapshot extension's versions under C(C:\Packages\Plugins\Microsoft.Azure.RecoveryServices.VMSnapshot).
    Reloading the extension means uninstalling it from the platform; the findings say so.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the backup extension
  azure_backup.remediation.win_backup_extension:
"""

RETURN = r"""
findings:
  description: The checks C(iaasvmprovider) and C(extension_installed).
  returned: always
  type: list
  elements: dict
"""
