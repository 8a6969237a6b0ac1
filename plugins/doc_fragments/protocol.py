# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every Linux cause module takes (module_utils/linux/cause.py).
    DOCUMENTATION = r"""
options:
  lock_wait:
    description:
      - Seconds to wait for another run that is changing this VM (an flock on C(/run/azure-backup-remediation.lock)).
      - When it is still held after that, the cause changes nothing and reports a C(failed) finding naming the holder
        (since when, pid, user). Check mode takes no lock.
      - With M(azure_backup.remediation.remediate) (C(fix_backup.yml) and the roles), when not given, the variable
        C(azure_backup_lock_wait) sets it, from 0 to 3600.
    type: float
    default: 120
"""
