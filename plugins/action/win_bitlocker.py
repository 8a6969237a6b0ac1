# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BITLOCKER: a volume BitLocker keeps locked fails the VSS snapshot. Reported; turning BitLocker
off (article 000's advice) only on request, and only where the volume is unlocked."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _bitlocker as bitlocker
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import WinCauseAction

READ = r"""#azure_backup.remediation/bitlocker.read
# Every volume BitLocker knows, with its protection and lock status as numbers. Reads only.
# Without the BitLocker feature the namespace does not exist: no volume is encrypted then; any
# other error (access denied) is an error.
[CmdletBinding(SupportsShouldProcess)]
param()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

try {
    $encryptable = @(Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume)
}
catch [Microsoft.Management.Infrastructure.CimException] {
    if ($_.Exception.NativeErrorCode -ne 'InvalidNamespace') {
        throw
    }
    $encryptable = @()
}
$volumes = @(foreach ($volume in $encryptable) {
        # In check mode the script runs with -WhatIf, which Invoke-CimMethod would honour by not asking.
        $lock = Invoke-CimMethod -InputObject $volume -MethodName GetLockStatus -WhatIf:$false
        @{
            mount = $volume.DriveLetter
            protection_status = [int]$volume.ProtectionStatus
            lock_status = if ($lock) { [int]$lock.LockStatus } else { $null }
        }
    })

$Ansible.Result = @{ volumes = $volumes }
"""

DISABLE = r"""#azure_backup.remediation/bitlocker.disable
# Turns BitLocker off on the given unlocked volumes; Windows decrypts them in the background.
# Changes the VM: sent only on request, never in check mode.
[CmdletBinding()]
param(
    [string[]]$MountPoints
)
$ErrorActionPreference = 'Stop'

$Ansible.Result = @{
    volumes = @(foreach ($mount in $MountPoints) {
            $volume = Disable-BitLocker -MountPoint $mount
            @{ mount = $mount; status = [string]$volume.VolumeStatus }
        })
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "BITLOCKER"
    ARGUMENT_SPEC = {
        "disable": {"type": "bool", "default": False},
    }

    def check_and_fix(self) -> None:
        volumes = self.read(READ, "BitLocker's volumes").get("volumes") or []
        locked, protected = bitlocker.locked(volumes), bitlocker.protected(volumes)
        detail = {"volumes": [bitlocker.describe(v) for v in volumes]}
        if locked:
            self.add("locked", "found", "locked by BitLocker: %s. VSS cannot snapshot a locked volume: unlock it with its "
                     "recovery key (manage-bde -unlock), then run again" % ", ".join(v["volume"] for v in locked), detail)
        else:
            self.add("locked", "ok", "no volume is locked by BitLocker (%d known to BitLocker)" % len(volumes), detail)
        if not protected:
            return
        names = [v["volume"] for v in protected]
        if not self.args["disable"]:
            self.add("protection", "found", "BitLocker is on for %s; if snapshots fail with a BitLocker VSS error, set "
                     "bitlocker_disable to turn it off (article 000)" % ", ".join(names), detail, severity="info")
            return
        self.diff("BitLocker", "".join("%s on\n" % n for n in names), "".join("%s off (decrypting)\n" % n for n in names))
        if self.check_mode:
            self.add("protection", self.fixed_or_found(), "BitLocker is on for %s: would turn it off" % ", ".join(names), detail)
            return
        answer = self.apply("win_powershell", "turning BitLocker off on %s" % ", ".join(names), script=DISABLE,
                            parameters={"MountPoints": names})
        self.add("protection", self.fixed_or_found(), "turned BitLocker off for %s; Windows decrypts in the background"
                 % ", ".join(names), dict(detail, after=(answer.get("result") or {}).get("volumes")))
