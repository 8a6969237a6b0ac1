# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MACHINEKEYS: the MachineKeys folder has Windows' default DACL, and the extensions' certificate is
deleted after a reset so the agent makes a new one (article 000, "parsing failure of the configuration")."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils import _machinekeys as keys
from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import GET_SERVICE_STATE, WinCauseAction

READ = r"""#azure_backup.remediation/machinekeys.read
# The MachineKeys folder's security descriptor as SDDL (compared on the controller), icacls' view of
# it for people, the key files that inherit from it, who this session is (its SIDs), the certificates
# in LocalMachine\My, the guest agent's service and a running backup. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Path,
    [string]$AgentService,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + r"""
if (-not $Path) {
    $Path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
}
$acl = Get-Acl -LiteralPath $Path
$icacls = & icacls.exe $Path | Out-String
# Only files whose DACL is not protected can change when the folder's DACL does.
$keyFiles = @(Get-ChildItem -LiteralPath $Path -File -Force | ForEach-Object {
        try {
            $fileAcl = Get-Acl -LiteralPath $_.FullName
            if (-not $fileAcl.AreAccessRulesProtected) {
                @{ path = $_.FullName; sddl = $fileAcl.Sddl }
            }
        }
        catch {
            @{ path = $_.TargetObject; error = $_.Exception.Message }
        }
    })
$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$certificates = @(Get-ChildItem -LiteralPath 'Cert:\LocalMachine\My' | ForEach-Object {
        @{ thumbprint = $_.Thumbprint; subject = $_.Subject; issuer = $_.Issuer; not_after = $_.NotAfter.ToString('o') }
    })

$Ansible.Result = @{
    path = $Path
    sddl = $acl.Sddl
    icacls = $icacls
    key_files = $keyFiles
    caller = @{ user = $identity.User.Value; groups = @($identity.Groups | ForEach-Object { $_.Value }) }
    certificates = $certificates
    agent = Get-ServiceState -Name $AgentService
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""

RESET = r"""#azure_backup.remediation/machinekeys.reset
# Saves the folder's and the given key files' security descriptors to the backup folder; takes ownership
# (as Administrators) where asked, because only the owner regains WRITE_DAC without an ACE; protects the
# given key files' DACLs keeping their inherited ACEs as explicit ones, so the folder's new DACL does not
# take them away; then sets the folder's DACL (owner and group stay). Stops at the first error and says
# what was done by then. Changes the VM: never sent in check mode.
[CmdletBinding()]
param(
    [string]$Path,
    [string]$Dacl,
    [string]$BackupDir,
    [bool]$TakeOwnership,
    [string[]]$ProtectFiles = @(),
    [string[]]$TakeFileOwnership = @()
)
$ErrorActionPreference = 'Stop'

function Set-OwnerToAdministrators {
    param([string]$LiteralPath)
    # takeown /A: "Gives ownership to the Administrators group"; it uses the take-ownership privilege.
    $output = & takeown.exe /F $LiteralPath /A 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        throw "takeown.exe /F $LiteralPath /A failed ($LASTEXITCODE): $output"
    }
}

$done = [System.Collections.Generic.List[string]]::new()
$result = @{ before = (Get-Acl -LiteralPath $Path).Sddl; done = $done; files_before = @{}; files_after = @{} }
try {
    New-Item -Path $BackupDir -ItemType Directory -Force | Out-Null
    $stamp = '{0:yyyyMMddTHHmmss}' -f (Get-Date)
    $result.backup = Join-Path -Path $BackupDir -ChildPath "MachineKeys-$stamp.sddl"
    Set-Content -LiteralPath $result.backup -Value $result.before -Encoding ASCII
    if ($ProtectFiles.Count) {
        foreach ($file in $ProtectFiles) {
            $result.files_before[$file] = (Get-Acl -LiteralPath $file).Sddl
        }
        $result.files_backup = Join-Path -Path $BackupDir -ChildPath "MachineKeys-$stamp-files.sddl"
        Set-Content -LiteralPath $result.files_backup -Encoding ASCII -Value @(
            foreach ($file in $ProtectFiles) { "{0}`t{1}" -f $result.files_before[$file], $file })
    }
    if ($TakeOwnership) {
        Set-OwnerToAdministrators -LiteralPath $Path
        $done.Add("took ownership of $Path")
    }
    foreach ($file in $ProtectFiles) {
        if ($file -in $TakeFileOwnership) {
            Set-OwnerToAdministrators -LiteralPath $file
            $done.Add("took ownership of $file")
        }
        # Only the DACL is read and written back: writing the owner too needs the restore privilege.
        $item = Get-Item -LiteralPath $file -Force
        $fileAcl = $item.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
        $fileAcl.SetAccessRuleProtection($true, $true)
        $item.SetAccessControl($fileAcl)
        $done.Add("protected $file")
    }
    $folder = Get-Item -LiteralPath $Path
    $acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl.SetSecurityDescriptorSddlForm($Dacl, [System.Security.AccessControl.AccessControlSections]::Access)
    $folder.SetAccessControl($acl)
    $done.Add("set the DACL of $Path")
}
catch {
    $result.error = $_.Exception.Message
}
$result.after = (Get-Acl -LiteralPath $Path).Sddl
foreach ($file in $ProtectFiles) {
    $result.files_after[$file] = (Get-Acl -LiteralPath $file).Sddl
}
$Ansible.Result = $result
"""


class ActionModule(WinCauseAction):
    CAUSE = "MACHINEKEYS"
    ARGUMENT_SPEC = {
        "path": {"type": "str", "default": ""},
        "default_sddl": {"type": "str", "default": keys.DEFAULT_SDDL},
        "backup_dir": {"type": "str", "default": r"C:\ProgramData\azure-backup\backups"},
        "delete_certificates": {"type": "bool", "default": True},
        "restart_agent": {"type": "bool", "default": True},
    }

    def check_and_fix(self) -> None:
        try:
            keys.parse_dacl(self.args["default_sddl"])
        except ValueError as exc:
            raise RemediationError("MACHINEKEYS on %s: machinekeys_default_sddl is not SDDL (%s). Nothing was read or "
                                   "changed." % (self.host, exc)) from None
        state = self.read(READ, "the MachineKeys folder's ACL", Path=self.args["path"], AgentService=agent.SERVICES[0],
                          BackupProcesses=list(agent.BACKUP_PROCESSES))
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
        caller = state.get("caller") or {}
        sids = [s for s in [caller.get("user")] + list(caller.get("groups") or []) if s] or list(keys.ADMIN_SIDS)
        take_ownership = keys.needs_ownership(state["sddl"], sids)
        protect = keys.files_to_protect(state.get("key_files") or [])
        take_file_ownership = [f["path"] for f in protect if keys.needs_ownership(f["sddl"], sids)]
        detail.update(owner=keys.owner(state["sddl"]), take_ownership=take_ownership,
                      protect_files=[f["path"] for f in protect], only_inherited=[f["path"] for f in protect if f["only_inherited"]])
        steps = self._steps(state["path"], take_ownership, protect, take_file_ownership)
        self.diff("DACL of %s" % state["path"], keys.dacl_part(state["sddl"]) + "\n", keys.dacl_part(self.args["default_sddl"]) + "\n")
        stale = keys.stale_certificates(state.get("certificates") or []) if self.args["delete_certificates"] else []
        if stale:
            self.diff(r"Cert:\LocalMachine\My", "".join("%s %s\n" % (c["thumbprint"], c["subject"]) for c in stale), "")
        if self.check_mode:
            self.add("acl", self.fixed_or_found(), "%s differs from the default (%s): would %s" % (state["path"], what, steps), detail)
            for cert in stale:
                self.add("certificate", self.fixed_or_found(), "would delete certificate %s (%s)" % (cert["thumbprint"], cert["subject"]), cert)
            if stale:
                self._restart_agent(state)
            return
        reset = self.apply("win_powershell", "resetting the permissions of %s" % state["path"], script=RESET,
                           parameters={"Path": state["path"], "Dacl": keys.dacl_part(self.args["default_sddl"]),
                                       "BackupDir": self.args["backup_dir"], "TakeOwnership": take_ownership,
                                       "ProtectFiles": [f["path"] for f in protect], "TakeFileOwnership": take_file_ownership})
        result = reset.get("result") or {}
        detail.update(before_sddl=result.get("before"), after_sddl=result.get("after"), backup=result.get("backup"),
                      files_backup=result.get("files_backup"), files_before=result.get("files_before"),
                      files_after=result.get("files_after"), done=result.get("done"))
        unreadable = [path for path, sddl in (result.get("files_after") or {}).items()
                      if not keys.granted(sddl, keys.SYSTEM_SIDS, keys.FILE_READ_DATA)]
        if result.get("error") or not keys.compare(result.get("after") or "", self.args["default_sddl"])["default"]:
            self.add("acl", "failed", "%s: the reset stopped (%s). Done before that: %s. Now: %s; the old SDDL is in %s"
                     % (state["path"], result.get("error") or "the DACL still differs", "; ".join(result.get("done") or []) or "nothing",
                        result.get("after"), result.get("backup")), detail)
            return
        if unreadable:
            self.add("key_files", "failed", "after the reset SYSTEM cannot read %s; their old SDDL is in %s"
                     % (", ".join(unreadable), result.get("files_backup")), detail)
        self.add("acl", self.fixed_or_found(), "%s differed from the default (%s): %s; the old SDDL is in %s"
                 % (state["path"], what, "; ".join(result.get("done") or []), result.get("backup")), detail)
        # Article 000: after the reset, delete the certificate so the agent makes a new one with a readable key.
        for cert in stale:
            self.apply("win_certificate_store", "deleting certificate %s" % cert["thumbprint"], thumbprint=cert["thumbprint"],
                       store_location="LocalMachine", store_name="My", state="absent")
            self.add("certificate", self.fixed_or_found(), "deleted certificate %s (%s, issued by %s); the agent makes a new one"
                     % (cert["thumbprint"], cert["subject"], cert["issuer"]), cert)
        if stale:
            self._restart_agent(state)

    @staticmethod
    def _steps(path: str, take_ownership: bool, protect: list[dict], take_file_ownership: list[str]) -> str:
        """What the reset does, in order, for the finding."""
        steps = []
        if take_ownership:
            steps.append("take ownership of %s as Administrators (no WRITE_DAC for this session without it)" % path)
        for entry in protect:
            owner = "take ownership of and " if entry["path"] in take_file_ownership else ""
            others = " (it had no others)" if entry["only_inherited"] else ""
            steps.append("%sprotect %s keeping its inherited ACEs as explicit ones%s" % (owner, entry["path"], others))
        steps.append("reset the DACL")
        return "; ".join(steps)

    def _restart_agent(self, state: dict) -> None:
        """The agent makes a new certificate when it restarts (Microsoft's extension troubleshooting: restart the
        guest agent); never while a backup snapshot runs."""
        service = state.get("agent") or {"name": agent.SERVICES[0]}
        detail = {"service": service["name"]}
        if not self.args["restart_agent"]:
            self.add("agent_restart", "found", "certificates deleted: restart %s so it makes a new one (machinekeys_restart_agent is off)"
                     % service["name"], detail)
            return
        if not service.get("exists"):
            self.add("agent_restart", "found", "%s is not installed: nothing makes a new certificate until the agent is installed"
                     % service["name"], detail)
            return
        running = agent.backup_running(state.get("backup_processes") or [])
        if running:
            self.add("agent_restart", "found", "%s not restarted while a backup snapshot runs (%s): restart it when the backup job "
                     "has finished, so it makes a new certificate" % (service["name"], ", ".join(running)), detail)
            return
        if self.check_mode:
            self.add("agent_restart", self.fixed_or_found(), "would restart %s so it makes a new certificate" % service["name"], detail)
            return
        self.apply("win_service", "restarting %s" % service["name"], name=service["name"], state="restarted")
        self.add("agent_restart", self.fixed_or_found(), "restarted %s so it makes a new certificate" % service["name"], detail)
