#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_agent
short_description: Check and fix the Windows guest agent (cause WIN_AGENT)
version_added: 0.2.0
description:
  - Checks that the services C(WindowsAzureGuestAgent) and C(RdAgent) exist, start automatically and run, and
    starts them or sets their start type where they do not (restarts them too with O(restart)).
  - Reads the agent's version from C(WaAppAgent.exe) (the image of C(RdAgent)) and compares it with O(min_version).
  - When a service is missing or the agent is older than O(min_version), installs the agent MSI (see O(install)).
    An old "Windows Azure VM Agent" among installed programs is uninstalled first when the services are missing;
    the MSI is downloaded by the VM from O(msi_url), or copied from the controller from O(msi_src) for air-gapped
    fleets, and checked against O(msi_checksum) when given.
  - B(Refuses) to install or update the agent while the backup extension is taking a snapshot on the VM
    (process C(IaaSBcdrExtension) running), as Microsoft's article demands; that finding fails the host with the reason.
  - Reports a missing .NET Framework 4.5 or later (the agent needs it); does not install it.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  min_version:
    description: The oldest agent version accepted. The 2016 article said 2.6.1198.718; current guidance is the default.
    type: str
    default: 2.7.41491.1010
  install:
    description: Install the agent MSI where a service is missing or the agent is older than O(min_version). When false, that is reported.
    type: bool
    default: true
  msi_url:
    description: Where the VM downloads the agent MSI from (the link of Microsoft's article). Not used when O(msi_src) is set.
    type: str
    default: https://go.microsoft.com/fwlink/?LinkID=394789&clcid=0x409
  msi_src:
    description: An agent MSI on the controller, copied to the VM instead of downloading it (fleets without internet access).
    type: path
  msi_checksum:
    description: The MSI's SHA-256. Checked by the VM after the download, or on the controller before copying O(msi_src).
    type: str
  restart:
    description: Restart both services even when they run (the article's first step for an unresponsive agent).
    type: bool
    default: false
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check and fix the guest agent
  azure_backup.remediation.win_agent:

- name: Install the agent from an MSI on the controller where it is missing
  azure_backup.remediation.win_agent:
    msi_src: files/WindowsAzureVmAgent.amd64_2.7.41491.1193.fre.msi
    msi_checksum: "{{ agent_msi_sha256 }}"
"""

RETURN = r"""
findings:
  description: The checks C(dotnet), C(install) (when needed), C(version), C(service_windowsazureguestagent) and C(service_rdagent).
  returned: always
  type: list
  elements: dict
"""
