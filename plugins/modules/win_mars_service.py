#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_service
short_description: Keep the MARS engine service (obengine) running (cause MARS_SERVICE)
version_added: 0.2.0
description:
  - Article 004 (basic troubleshooting) says the MARS agent's service must run, and to restart it and retry when in
    doubt. Starts C(obengine) where it is stopped; a disabled one is set to start manually first. Its start type is
    otherwise left as the agent's installer set it.
  - With O(restart_service), restarts it even when it runs. That is a change on every run, so set it for one run only.
    The restart is one script. It asks the agent's MSOnlineBackup module whether a MARS job runs (Get-OBJob). When one
    runs, or that cannot be told, the engine is left alone and reported. Otherwise it stops and starts the engine, each
    within 120 seconds, and reports an engine stuck stopping. It never uses win_service C(state=restarted).
  - On a DPM or MABS server (C(HKLM\SOFTWARE\Microsoft\Microsoft Data Protection Manager\Setup) exists) DPM runs the engine's
    jobs, so the restart is reported, not done; a stopped engine is still started.
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  restart_service:
    description: Restart C(obengine) even when it runs.
    type: bool
    default: false
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Start (and restart) the MARS engine
  azure_backup.remediation.win_mars_service:
    restart_service: true
"""

RETURN = r"""
findings:
  description: The check C(service).
  returned: always
  type: list
  elements: dict
"""
