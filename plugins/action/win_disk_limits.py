# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DISK_LIMITS on Windows: fewer than 16 data disks, none over 4095 GB. Reported only."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import disk_limits as limits
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction

READ = r"""#azure_backup.remediation/disk_limits.read
# Every disk with its boot/system flags and its volumes' letters, labels and whether Azure's
# data loss warning file is at their root (decided on the controller). Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$MarkerFile
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$Ansible.Result = @{
    disks = @(Get-Disk | ForEach-Object {
            $number = $_.Number
            @{
                disk = [string]$number; location = $_.Location; size_bytes = [long]$_.Size
                boot = [bool]$_.IsBoot; system = [bool]$_.IsSystem
                # DriveLetter is [char]0 on a partition without a letter (EFI, MSR, System Reserved), and
                # [char]0 is true in PowerShell: only a letter counts. The MSR partition has no volume, so
                # Get-Volume errors on it; a volume that cannot be read is skipped, not fatal.
                volumes = @(Get-Partition -DiskNumber $number -ErrorAction SilentlyContinue |
                        Where-Object { [char]::IsLetter($_.DriveLetter) } | ForEach-Object {
                            $volume = Get-Volume -Partition $_ -ErrorAction SilentlyContinue
                            @{
                                letter = [string]$_.DriveLetter; label = if ($volume) { $volume.FileSystemLabel } else { '' }
                                dataloss_warning = Test-Path -LiteralPath ('{0}:\{1}' -f $_.DriveLetter, $MarkerFile) -PathType Leaf
                            }
                        })
            }
        })
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "DISK_LIMITS"
    ARGUMENT_SPEC = {}

    def first_read(self) -> tuple:
        return READ, "the data disks", {"MarkerFile": limits.DATALOSS_WARNING}

    def steps(self):
        disks = self.read(READ, "the data disks", MarkerFile=limits.DATALOSS_WARNING).get("disks") or []
        data, left_out = limits.windows_data_disks(disks)
        status, summary, detail = limits.judge(data)
        yield Step("data_disks", status, summary, dict(detail, not_counted=left_out))
