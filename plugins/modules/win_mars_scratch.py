#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_scratch
short_description: Check the MARS scratch (cache) folder and make both ScratchLocation values agree (cause MARS_SCRATCH)
version_added: 0.2.0
description:
  - Reads C(ScratchLocation) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Config) and under
    C(...\Config\CloudBackupProvider); both must name the same folder (article 004, error 34506).
  - When they differ, both are set to the value whose folder exists and holds C(OnlineBackup.KEK), with its kind, as the
    MARS FAQ changes the cache location, in one script. Where C(obengine) runs, it first asks Get-OBJob whether a MARS job
    runs; when one runs, or that cannot be told, nothing is changed and that is reported. Otherwise it stops the engine
    (within 120 seconds), sets both values and starts it again. A stopped engine stays stopped. Both values are read back.
    It never moves data. When a value cannot be set, the finding names those already written.
  - When neither or both folders qualify, or neither value is set, or on a DPM or MABS server, it reports. The old values
    are in the finding's detail and in the diff.
  - Reports, without changing them, a scratch folder that does not exist or cannot be listed; the attributes the FAQ rules
    out (encrypted, compressed, sparse, reparse point) and a de-duplicated volume; a volume that is not a local disk or
    not NTFS or ReFS (the FAQ names no file system, so that part is unverified); free space on its volume below
    O(min_free_percent) of the volume's size; a missing C(OnlineBackup.KEK) (errors 34506 and 0x1FC07).
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  min_free_percent:
    description:
      - The least free space on the scratch folder's volume, in percent of the volume's size. Microsoft sizes it at 5-10 %
        of the total size of the backup data (30-35 GB more with System State), which the server cannot know; its FAQ says
        to act when the volume has less than 5 % free.
      - Above 0 and at most 50.
    type: float
    default: 5
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the scratch folder, wanting 10 % free on its volume
  azure_backup.remediation.win_mars_scratch:
    min_free_percent: 10
"""

RETURN = r"""
findings:
  description: The checks C(scratch_location), C(folder), C(attributes), C(volume), C(free_space) and C(kek).
  returned: always
  type: list
  elements: dict
"""
