#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_shadow_storage
short_description: Give every volume's shadow copy storage room for VSS snapshots (cause MARS_SHADOW_STORAGE)
version_added: 0.2.0
description:
  - Article 004 ("Increase shadow copy storage") asks for enough shadow copy storage for the MARS agent; the VM backup's VSS
    snapshots need it too, so this runs on every Windows VM.
  - Reads every shadow copy storage association from C(Win32_ShadowStorage) (used, allocated and maximum space in bytes; a maximum
    of C(UNBOUNDED) reads as 2^64-1) and the volumes from C(Win32_Volume). Where C(Win32_ShadowStorage) cannot be read, the text of
    C(vssadmin list shadowstorage) is read instead, by the shape of its lines (labels are localised; a console's line wrap inside a
    volume GUID is joined), and the finding says the sizes are rounded.
  - An association needs the larger of O(max_size) and the space in use plus O(min_free), bounded by the size of its storage
    volume and at least the 320 MB Windows requires (32 MB on a volume under 500 MB). Less is resized with
    C(vssadmin resize shadowstorage /For= /On= /MaxSize=<bytes>); a maximum above the volume's free space plus what the association
    holds is a warning (the maximum is a limit, not a reservation).
  - More than needed (also C(UNBOUNDED)) is left as it is, unless O(shrink) is C(keep_copies) (shrink, but never below the space in
    use plus O(min_free)) or C(delete_copies).
  - B(Shrinking below the space in use deletes the oldest shadow copies.) Only O(shrink=delete_copies) does that; the finding names
    how many copies the volume has and the oldest one's date.
  - vssadmin's exit code is checked and its output kept in the finding; the association is read back through C(Win32_ShadowStorage)
    in the same run and is C(fixed) only when its maximum is the one asked for. The diff shows the maximum before and after.
  - A volume named in O(volumes) without an association is reported, not given one (Windows makes it with the first shadow copy).
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  volumes:
    description: Drive letters of the volumes to check. Empty checks every volume that has shadow copy storage.
    type: list
    elements: str
    default: []
  max_size:
    description:
      - The maximum each association should have at least, as a size (C(10GB), C(512MB); units B, KB, MB, GB, TB, 1024-based), a
        percentage of the storage volume (C(10%)), or C(UNBOUNDED).
      - A value that is none of these fails before anything is read.
    type: str
    default: "10%"
  min_free:
    description:
      - Room each association should keep free (maximum less space in use), as a size or a percentage of the storage volume.
        C(0) checks none.
      - Where Previous Versions or System Restore keep shadow copies, a full storage area is normal (Windows deletes the oldest
        copy to make room), and a free room raises the maximum again each time the copies fill it, up to the volume's size.
      - With O(shrink=delete_copies) it never raises the maximum above O(max_size); too little room is reported instead.
    type: str
    default: "0"
  shrink:
    description:
      - C(never) leaves a larger maximum as it is. C(keep_copies) shrinks it without losing a shadow copy.
      - C(delete_copies) shrinks it to O(max_size) even below the space in use, and Windows then deletes the oldest shadow copies.
    type: str
    default: never
    choices: [never, keep_copies, delete_copies]
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Give every association at least 10 % of its volume and 1 GB free room
  azure_backup.remediation.win_shadow_storage:

- name: 20 GB on C:, shrinking a larger maximum without losing a shadow copy
  azure_backup.remediation.win_shadow_storage:
    volumes: ["C:"]
    max_size: 20GB
    shrink: keep_copies
"""

RETURN = r"""
findings:
  description:
    - One check C(volume_<letter>) per association, its detail with the volumes, used, allocated and maximum space in bytes,
      the maximum before (and after, with vssadmin's output and exit code, once resized), and the shadow copies' count and oldest date.
    - A check C(source) (a warning) when the sizes come from vssadmin's text.
  returned: always
  type: list
  elements: dict
"""
