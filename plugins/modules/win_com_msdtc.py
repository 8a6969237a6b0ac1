#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_com_msdtc
short_description: Start the COM+ System Application and MSDTC services (cause COM_MSDTC)
version_added: 0.2.0
description:
  - Article 000 ("COM+ was unable to talk to the Microsoft Distributed Transaction Coordinator") says the services
    C(COMSysApp) and C(MSDTC) must run. Starts them; a disabled one is set to start manually first. Their start type
    is otherwise left alone (COM+ System Application starts on demand by default).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Start COM+ and MSDTC
  azure_backup.remediation.win_com_msdtc:
"""

RETURN = r"""
findings:
  description: The checks C(service_comsysapp) and C(service_msdtc).
  returned: always
  type: list
  elements: dict
"""
