# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DISK_LIMITS on Windows: fewer than 16 data disks, none over 4095 GB. Reported only."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _disk_limits as limits
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import WinCauseAction

READ = r"""#azure_backup.remediation/disk_limits.read
# The data disks: every disk but the boot/system disk and Azure's temporary disk. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$TempLabel
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$temp = @(Get-Volume | Where-Object { $_.FileSystemLabel -eq $TempLabel } |
        Get-Partition -ErrorAction SilentlyContinue | ForEach-Object { $_.DiskNumber })
$Ansible.Result = @{
    disks = @(Get-Disk | Where-Object { -not $_.IsBoot -and -not $_.IsSystem -and $temp -notcontains $_.Number } |
            ForEach-Object { @{ disk = [string]$_.Number; location = $_.Location; size_bytes = [long]$_.Size } })
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "DISK_LIMITS"
    ARGUMENT_SPEC = {}

    def check_and_fix(self) -> None:
        disks = self.read(READ, "the data disks", TempLabel="Temporary Storage").get("disks") or []
        self.add("data_disks", *limits.judge(disks))
