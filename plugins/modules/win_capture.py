#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_capture
short_description: Write what the Windows read scripts answered on a VM into one file on the controller
version_added: 0.2.0
description:
  - Part of C(playbooks/capture.yml) (C(ansible-playbook capture.yml -l <windows host>)). While the host variable
    C(azure_backup_capture) is true, every Windows cause's action plugin keeps each read script it runs (its tag,
    the hash of its text, its parameters and what it answered) in C(<azure_backup_capture_dir>/.<host>.json.parts/);
    the causes then refuse to run outside check mode.
  - O(step=begin) removes reads an interrupted capture left behind. O(step=finish) runs one more read-only script
    (C($PSVersionTable), the Windows caption and build, UI culture, culture, system locale, ANSI, OEM and console code
    pages), joins everything into C(<azure_backup_capture_dir>/<host>.json) (written whole or not at all, readable by
    its owner only) and removes the parts.
  - The file holds the format version, the collection version, the time and, per script tag, the SHA-256 of the
    script text that ran, so a capture can be matched to the script version that produced it.
  - It holds no password (parameters named like a password, secret, token or credential are replaced), but it does
    hold what the scripts read - service names and image paths, installed programs, VSS writers, the MachineKeys SDDL,
    machine certificates' subjects and thumbprints, IP addresses, names and ports the VM resolves or reaches.
    Review it before sharing; see C(docs/capture.md).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  step:
    description: V(begin) clears what an earlier capture of the host left behind; V(finish) writes the capture.
    type: str
    choices: [begin, finish]
    default: finish
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
# Normally run by playbooks/capture.yml; by hand it needs the capture switch and check mode.
- name: Write the capture of this host
  azure_backup.remediation.win_capture:
    step: finish
  vars:
    azure_backup_capture: true
    azure_backup_capture_dir: captures
  check_mode: true
"""

RETURN = r"""
path:
  description: The capture file written on the controller (O(step=finish)).
  returned: success
  type: str
  sample: captures/win01.json
reads:
  description: How many reads the file holds, the environment read included.
  returned: success
  type: int
failed_reads:
  description: The tags of the scripts that failed on the VM (kept in the file with their error).
  returned: success
  type: list
  elements: str
"""
