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
  - Reads the version of the agent that runs from the image of C(WindowsAzureGuestAgent), in the
    C(C:\WindowsAzure\GuestAgent_<version>_<date>) folder the agent updates itself into, and falls back to C(WaAppAgent.exe)
    (the image of C(RdAgent)); compares it with O(min_version).
  - When a service is missing or the agent is older than O(min_version), installs the agent MSI (see O(install)) with one
    script that runs on the VM as SYSTEM, from a one-shot scheduled task, so that a dropped WinRM connection cannot end it
    half-way; the play reads its outcome back. The MSI is downloaded by the VM from O(msi_url), or copied from the controller from O(msi_src)
    for air-gapped fleets, into C(C:\ProgramData\azure-backup\tasks), a folder created for SYSTEM and Administrators only
    (an existing one owned by anyone else, or that anyone else may write to, is refused and nothing is installed).
    It is checked against O(msi_checksum) when given; otherwise, right before msiexec, it must carry a valid Authenticode
    signature of Microsoft Corporation, or nothing is changed.
  - An outdated agent whose services exist is updated by installing the MSI over it; a failed install is rolled back by
    Windows Installer and the old agent keeps running.
  - When a service is missing, follows the reinstall procedure of Microsoft's "Troubleshoot Azure Windows VM Agent issues";
    it records the services that are left (with their recovery actions, dependencies and service SID type), stops them
    (each stop bounded, a hung service is reported), deletes them and waits until Windows has really removed them (a service
    only marked for deletion stops the procedure before anything is moved), moves C(C:\WindowsAzure\Packages*) and
    C(GuestAgent*) into C(C:\WindowsAzure\OLD\<time>), uninstalls the registered agent (C(msiexec /x), so the install is
    not a maintenance run that brings nothing back), installs, and checks that both services and their images are there.
    When a step fails, the folders are moved back (never into a folder that took their place) and the services re-created
    as recorded and started again; the agent's installed-programs entry stays removed once it was uninstalled. The finding
    says what was done and in which state the VM is.
  - msiexec 1618 (another installation is running) is retried O(msi_busy_retries) times, O(msi_busy_wait) seconds apart.
    3010 (reboot required) counts as installed and adds a C(reboot) finding. The logs go to
    C(C:\Windows\Panther\azure-backup-agent-install-<time>.log) (and C(-uninstall-)), never over C(msiexec.log).
  - B(Refuses) to install or update the agent while the backup extension is taking a snapshot on the VM
    (process C(IaaSBcdrExtension) running), as Microsoft's article demands; that finding fails the host with the reason.
    The install script checks again right before each step that changes the VM, and stops there (putting back what it moved).
  - Does not restart the services for O(restart) while a snapshot runs (a C(restart) finding says so).
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
  msi_busy_retries:
    description:
      - How often the install is tried again while msiexec answers 1618 (another installation is running), 0 to 20.
      - O(msi_busy_retries) times O(msi_busy_wait) may be at most 1800 seconds.
    type: int
    default: 10
  msi_busy_wait:
    description: Seconds to wait before each new try after msiexec answered 1618, 1 to 600.
    type: int
    default: 30
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
  description:
    - The checks C(dotnet), C(install) and C(reboot) (when needed), C(restart) (when refused), C(version),
      C(service_windowsazureguestagent) and C(service_rdagent).
  returned: always
  type: list
  elements: dict
"""
