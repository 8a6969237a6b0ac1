# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MACHINEKEYS: the MachineKeys folder has Windows' default DACL, and the extensions' certificate is
deleted after a reset so the agent makes a new one (article 000, "parsing failure of the configuration")."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _machinekeys as keys
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import WinCauseAction

READ = r"""#azure_backup.remediation/machinekeys.read
# The MachineKeys folder's security descriptor as SDDL (compared on the controller), icacls' view of
# it for people, and the certificates in LocalMachine\My. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Path
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

if (-not $Path) {
    $Path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
}
$acl = Get-Acl -LiteralPath $Path
$icacls = & icacls.exe $Path | Out-String
$certificates = @(Get-ChildItem -LiteralPath 'Cert:\LocalMachine\My' | ForEach-Object {
        @{ thumbprint = $_.Thumbprint; subject = $_.Subject; issuer = $_.Issuer; not_after = $_.NotAfter.ToString('o') }
    })

$Ansible.Result = @{
    path = $Path
    sddl = $acl.Sddl
    icacls = $icacls
    certificates = $certificates
}
"""

RESET = r"""#azure_backup.remediation/machinekeys.reset
# Sets the folder's DACL to the given one (owner and group stay), after saving the old security
# descriptor to the backup folder. Changes the VM: never sent in check mode.
[CmdletBinding()]
param(
    [string]$Path,
    [string]$Dacl,
    [string]$BackupDir
)
$ErrorActionPreference = 'Stop'

$before = (Get-Acl -LiteralPath $Path).Sddl
New-Item -Path $BackupDir -ItemType Directory -Force | Out-Null
$backup = Join-Path -Path $BackupDir -ChildPath ('MachineKeys-{0:yyyyMMddTHHmmss}.sddl' -f (Get-Date))
Set-Content -LiteralPath $backup -Value $before -Encoding ASCII
# Only the DACL is read and written back: Set-Acl with Get-Acl's full descriptor would write the owner
# too, which Windows refuses ("not allowed to be the owner") unless the restore privilege is enabled.
$folder = Get-Item -LiteralPath $Path
$acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
$acl.SetSecurityDescriptorSddlForm($Dacl, [System.Security.AccessControl.AccessControlSections]::Access)
$folder.SetAccessControl($acl)

$Ansible.Result = @{
    before = $before
    after = (Get-Acl -LiteralPath $Path).Sddl
    backup = $backup
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "MACHINEKEYS"
    ARGUMENT_SPEC = {
        "path": {"type": "str", "default": ""},
        "default_sddl": {"type": "str", "default": keys.DEFAULT_SDDL},
        "backup_dir": {"type": "str", "default": r"C:\ProgramData\azure-backup\backups"},
        "delete_certificates": {"type": "bool", "default": True},
    }

    def check_and_fix(self) -> None:
        try:
            keys.parse_dacl(self.args["default_sddl"])
        except ValueError as exc:
            raise RemediationError("MACHINEKEYS on %s: machinekeys_default_sddl is not SDDL (%s). Nothing was read or "
                                   "changed." % (self.host, exc)) from None
        state = self.read(READ, "the MachineKeys folder's ACL", Path=self.args["path"])
        try:
            difference = keys.compare(state["sddl"], self.args["default_sddl"])
        except ValueError as exc:
            raise RemediationError("MACHINEKEYS on %s: cannot read the ACL of %s (%s): %s. Nothing was changed."
                                   % (self.host, state.get("path"), state.get("sddl"), exc)) from None
        detail = {"path": state["path"], "sddl": state["sddl"], "icacls": state.get("icacls", ""), **difference}
        if difference["default"]:
            self.add("acl", "ok", "%s has the default permissions" % state["path"], detail)
            return
        what = "; ".join(part for part in (
            "missing " + ", ".join(difference["missing"]) if difference["missing"] else "",
            "extra " + ", ".join(difference["extra"]) if difference["extra"] else "",
            "inherits from its parent" if difference["inherits"] else "") if part)
        self.diff("DACL of %s" % state["path"], keys.dacl_part(state["sddl"]) + "\n", keys.dacl_part(self.args["default_sddl"]) + "\n")
        stale = keys.stale_certificates(state.get("certificates") or []) if self.args["delete_certificates"] else []
        if stale:
            self.diff(r"Cert:\LocalMachine\My", "".join("%s %s\n" % (c["thumbprint"], c["subject"]) for c in stale), "")
        if self.check_mode:
            self.add("acl", self.fixed_or_found(), "%s differs from the default (%s): would reset it" % (state["path"], what), detail)
            for cert in stale:
                self.add("certificate", self.fixed_or_found(), "would delete certificate %s (%s)" % (cert["thumbprint"], cert["subject"]), cert)
            return
        reset = self.apply("win_powershell", "resetting the permissions of %s" % state["path"], script=RESET,
                           parameters={"Path": state["path"], "Dacl": keys.dacl_part(self.args["default_sddl"]),
                                       "BackupDir": self.args["backup_dir"]})
        result = reset.get("result") or {}
        detail.update(before_sddl=result.get("before"), after_sddl=result.get("after"), backup=result.get("backup"))
        if not keys.compare(result.get("after") or "", self.args["default_sddl"])["default"]:
            self.add("acl", "failed", "%s still differs from the default after the reset: %s" % (state["path"], result.get("after")), detail)
            return
        self.add("acl", self.fixed_or_found(), "%s differed from the default (%s): reset; the old SDDL is in %s"
                 % (state["path"], what, result.get("backup")), detail)
        # Article 000: after the reset, delete the certificate so the agent makes a new one with a readable key.
        for cert in stale:
            self.apply("win_certificate_store", "deleting certificate %s" % cert["thumbprint"], thumbprint=cert["thumbprint"],
                       store_location="LocalMachine", store_name="My", state="absent")
            self.add("certificate", self.fixed_or_found(), "deleted certificate %s (%s, issued by %s); the agent makes a new one"
                     % (cert["thumbprint"], cert["subject"], cert["issuer"]), cert)
