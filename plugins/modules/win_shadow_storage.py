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
    snapshots need it too, so this runs on every Windows VM, and its findings say they are about the storage VSS snapshots need
    (VM backup and MARS alike), whatever the cause's ID says.
  - Reads every shadow copy storage association from C(Win32_ShadowStorage) (used, allocated and maximum space in bytes; a maximum
    of C(UNBOUNDED) reads as 2^64-1) and the volumes from C(Win32_Volume). Where C(Win32_ShadowStorage) cannot be read, the text of
    C(vssadmin list shadowstorage) is read instead, by the shape of its lines (labels are localised; a console's line wrap inside a
    volume GUID is joined), and the finding says the sizes are rounded.
  - An association needs the larger of O(max_size) and the space in use plus O(min_free), bounded by the size of its storage
    volume and at least the 320 MB Windows requires (32 MB on a volume under 500 MB).
  - Admins size Previous Versions and System Restore on purpose, so with O(grow=evidence) (the default) a smaller maximum is grown
    only where the System log holds evidence that it is too small for a snapshot, or where it is below the minimum Windows allows.
    The evidence is volsnap event 36 ("The shadow copies of volume X were aborted because the shadow copy storage could not grow
    due to a user imposed limit") or 25 ("... were deleted because the shadow copy storage could not grow in time") for that
    volume within the last O(event_days) days; the volume is the event's second data item, the same in every language. Without
    evidence the finding is C(ok) and its detail has the numbers. O(grow=always) grows every smaller maximum.
  - Growing runs C(vssadmin resize shadowstorage /For= /On= /MaxSize=<bytes>); a maximum above the volume's free space plus what the
    association holds is a warning (the maximum is a limit, not a reservation).
  - More than needed (also C(UNBOUNDED)) is left as it is, unless O(shrink) is C(keep_copies) (shrink, but never below the space in
    use plus headroom, the larger of O(min_free), 320 MB and a tenth of the space in use) or C(delete_copies).
  - No shrink runs while a backup does - the VM backup extension's C(IaaSBcdrExtension.exe), or where the MARS agent is installed a
    job C(Get-OBJob) lists (or C(Get-OBJob) failing, so it cannot be told) - checked in the read and again just before the resize;
    the finding says so and nothing is changed.
  - B(Shrinking below the space in use deletes the oldest shadow copies.) Only O(shrink=delete_copies) does that; the finding names
    how many copies the volume has and the oldest one's date.
  - vssadmin's exit code is checked and its output kept in the finding; the association is read back through C(Win32_ShadowStorage)
    in the same run, a few times over about 10 seconds (a new maximum "may not have an immediate effect"), and is C(fixed) only
    when its maximum is the one asked for. The diff shows the maximum before and after.
  - Over WinRM, vssadmin prints without a console, so its lines are not wrapped at 80 columns; the parser reads both forms.
  - A volume named in O(volumes) without an association is reported, not given one (Windows makes it with the first shadow copy;
    C(vssadmin add shadowstorage) exists on Windows Server editions only).
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
      - C(never) leaves a larger maximum as it is. C(keep_copies) shrinks it, but keeps headroom above the space in use (the larger
        of O(min_free), 320 MB and a tenth of the space in use), so the shrink deletes no shadow copy and copy-on-write has room;
        later snapshots can still fill it, and Windows then deletes the oldest copy as with any maximum.
      - C(delete_copies) shrinks it to O(max_size) even below the space in use, and Windows then deletes the oldest shadow copies.
      - Neither shrinks while a backup runs.
    type: str
    default: never
    choices: [never, keep_copies, delete_copies]
  grow:
    description:
      - C(evidence) grows a smaller maximum only where volsnap events 25 or 36 of the last O(event_days) days name its volume, or
        where it is below the minimum Windows allows. C(always) grows every maximum below what is wanted.
    type: str
    default: evidence
    choices: [evidence, always]
  event_days:
    description: How many days back the System log is searched for volsnap events 25 and 36 (1 to 365).
    type: int
    default: 30
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Grow an association to 10 % of its volume where volsnap events of the last 30 days show it too small
  azure_backup.remediation.win_shadow_storage:

- name: Every association at least 10 % of its volume and 1 GB free room, with or without evidence
  azure_backup.remediation.win_shadow_storage:
    grow: always
    min_free: 1GB

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
      the maximum before (and after, with vssadmin's output and exit code, once resized), the shadow copies' count and oldest date,
      and the volsnap events taken as evidence.
    - A check C(source) (a warning) when the sizes come from vssadmin's text.
  returned: always
  type: list
  elements: dict
"""
