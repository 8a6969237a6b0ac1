#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_antivirus
short_description: Exclude the MARS agent's folders and files from Microsoft Defender (cause MARS_ANTIVIRUS)
version_added: 0.2.0
description:
  - Only where the MARS agent (Microsoft Azure Recovery Services agent) is installed; elsewhere the cause is skipped.
  - Article 004 asks antivirus products to exclude the scratch (cache) folder (C(ScratchLocation)), the agent's C(Bin) folder,
    and the files C(CBengine.exe) and C(CSC.exe) of every .NET Framework version.
  - Where Microsoft Defender Antivirus runs (service WinDefend, Get-MpComputerStatus), the missing ones are added with
    Add-MpPreference as path exclusions, which take files and folders; a folder covers what is under it, so C(cbengine.exe)
    needs nothing beyond C(<install>\Bin). Each C(csc.exe) found under C(%windir%\Microsoft.NET\Framework) and
    C(Framework64) (C(v*) folders) is excluded as a file. No process exclusion is added; one by bare name would skip every
    file any process of that name opens (csc.exe is a known living-off-the-land binary). Process exclusions of cbengine.exe
    or csc.exe already there are reported and kept. Nothing is removed; the diff shows the path list before and after.
  - Where Defender hides its exclusions from local administrators (HideExclusionsFromLocalAdmins), Get-MpPreference shows
    C(N/A) text instead of the lists; the exclusions are then reported as unknown and nothing is added.
  - Where Defender does not run, another product may scan; that is reported with the folders and files to exclude by hand.
    Windows Server has no Security Center (C(root\SecurityCenter2)), so the product cannot be named.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options: {}
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Exclude the MARS agent from Microsoft Defender
  azure_backup.remediation.win_mars_antivirus:
"""

RETURN = r"""
findings:
  description: The check C(exclusions), or C(defender) where Microsoft Defender does not run.
  returned: always
  type: list
  elements: dict
"""
