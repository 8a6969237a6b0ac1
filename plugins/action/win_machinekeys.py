# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MACHINEKEYS: the MachineKeys folder has Windows' default DACL, and the extensions' certificate is
deleted after a reset so the agent makes a new one (article 000, "parsing failure of the configuration")."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import machinekeys as keys
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, WinCauseAction, text_diff
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.scripts import CONNECTION_ERRORS, INVOKE_NATIVE, restart_services

READ = r"""#azure_backup.remediation/machinekeys.read
# The MachineKeys folder's security descriptor as SDDL (compared on the controller), icacls' view of
# it for people, how many key files inherit from it, who this session is (its SIDs), the certificates
# in LocalMachine\My, the guest agent's service and a running backup. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Path,
    [string]$AgentService,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + INVOKE_NATIVE + r"""
if (-not $Path) {
    $Path = Join-Path -Path $env:SystemDrive -ChildPath 'ProgramData\Microsoft\Crypto\RSA\MachineKeys'
}
$acl = Get-Acl -LiteralPath $Path
$icacls = Invoke-Native -FilePath 'icacls.exe' -ArgumentList $Path
# Only files whose DACL is not protected can change when the folder's DACL does. Counted, not listed: an
# RDS or IIS server can hold a hundred thousand key files; the reset finds them again right before it acts.
$keyFiles = @{ total = 0; inheriting = 0; only_inherited = 0; unreadable = 0 }
foreach ($file in @(Get-ChildItem -LiteralPath $Path -File -Force)) {
    $keyFiles.total++
    try {
        $fileAcl = $file.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
        $rules = @($fileAcl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
        $inherited = @($rules | Where-Object { $_.IsInherited }).Count
        if (-not $fileAcl.AreAccessRulesProtected -and $inherited) {
            $keyFiles.inheriting++
            if ($inherited -eq $rules.Count) { $keyFiles.only_inherited++ }
        }
    }
    catch {
        $keyFiles.unreadable++
    }
}
$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$certificates = @(Get-ChildItem -LiteralPath 'Cert:\LocalMachine\My' | ForEach-Object {
        @{ thumbprint = $_.Thumbprint; subject = $_.Subject; issuer = $_.Issuer; not_after = $_.NotAfter.ToString('o') }
    })

$Ansible.Result = @{
    path = $Path
    sddl = $acl.Sddl
    icacls = $icacls.output
    icacls_exit_code = $icacls.exit_code
    key_files = $keyFiles
    caller = @{ user = $identity.User.Value; groups = @($identity.Groups | ForEach-Object { $_.Value }) }
    certificates = $certificates
    agent = Get-ServiceState -Name $AgentService
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""

RESET = r"""#azure_backup.remediation/machinekeys.reset
# Saves the folder's security descriptor to the backup folder; takes ownership (as Administrators) where
# asked, because only the owner regains WRITE_DAC without an ACE; then, right before the folder's DACL is
# set, finds the key files whose DACL is not protected and holds inherited ACEs (a file created since the
# read too), saves their SDDL and protects their DACLs keeping the inherited ACEs as explicit ones, so the
# folder's new DACL does not take them away (a key file it cannot write it takes ownership of first); then
# sets the folder's DACL (owner and group stay). Answers with counts and the protected paths, not each
# file's SDDL. Stops at the first error and says what was done by then. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$Path,
    [string]$Dacl,
    [string]$BackupDir,
    [bool]$TakeOwnership
)
$ErrorActionPreference = 'Stop'
""" + INVOKE_NATIVE + r"""
function Set-OwnerToAdministrators {
    param([string]$LiteralPath)
    # takeown /A: "Gives ownership to the Administrators group"; it uses the take-ownership privilege.
    $takeown = Invoke-Native -FilePath 'takeown.exe' -ArgumentList '/F', $LiteralPath, '/A'
    if ($takeown.exit_code -ne 0) {
        throw "takeown.exe /F $LiteralPath /A failed (exit code $($takeown.exit_code)): $($takeown.output)"
    }
}

# Who must still read a key file once it is protected: the agent runs as LocalSystem, whose token holds SYSTEM,
# Administrators, Everyone and Authenticated Users.
$readers = @('S-1-5-18', 'S-1-5-32-544', 'S-1-1-0', 'S-1-5-11')
$access = [System.Security.AccessControl.AccessControlSections]::Access
$sid = [System.Security.Principal.SecurityIdentifier]
$done = [System.Collections.Generic.List[string]]::new()
$protected = [System.Collections.Generic.List[string]]::new()
$onlyInherited = [System.Collections.Generic.List[string]]::new()
$unreadable = [System.Collections.Generic.List[string]]::new()
$owned = 0
$result = @{ before = (Get-Acl -LiteralPath $Path).Sddl; done = $done; protected = $protected; only_inherited = $onlyInherited
    unreadable = $unreadable }
try {
    New-Item -Path $BackupDir -ItemType Directory -Force | Out-Null
    $stamp = '{0:yyyyMMddTHHmmss}' -f (Get-Date)
    $result.backup = Join-Path -Path $BackupDir -ChildPath "MachineKeys-$stamp.sddl"
    Set-Content -LiteralPath $result.backup -Value $result.before -Encoding ASCII
    if ($TakeOwnership) {
        Set-OwnerToAdministrators -LiteralPath $Path
        $done.Add("took ownership of $Path")
    }
    $result.files_backup = Join-Path -Path $BackupDir -ChildPath "MachineKeys-$stamp-files.sddl"
    foreach ($file in @(Get-ChildItem -LiteralPath $Path -File -Force)) {
        $fileAcl = $file.GetAccessControl($access)
        $rules = @($fileAcl.GetAccessRules($true, $true, $sid))
        $inherited = @($rules | Where-Object { $_.IsInherited }).Count
        if ($fileAcl.AreAccessRulesProtected -or -not $inherited) { continue }
        Add-Content -LiteralPath $result.files_backup -Encoding ASCII -Value ("{0}`t{1}" -f $fileAcl.GetSecurityDescriptorSddlForm($access), $file.FullName)
        # Only the DACL is read and written back: writing the owner too needs the restore privilege.
        $fileAcl.SetAccessRuleProtection($true, $true)
        try {
            $file.SetAccessControl($fileAcl)
        }
        catch [System.UnauthorizedAccessException] {
            Set-OwnerToAdministrators -LiteralPath $file.FullName
            $owned++
            $file.SetAccessControl($fileAcl)
        }
        $protected.Add($file.FullName)
        if ($inherited -eq $rules.Count) { $onlyInherited.Add($file.FullName) }
        $readable = @($file.GetAccessControl($access).GetAccessRules($true, $true, $sid) | Where-Object {
                $_.AccessControlType -eq 'Allow' -and $readers -contains $_.IdentityReference.Value -and
                ($_.FileSystemRights -band [System.Security.AccessControl.FileSystemRights]::ReadData) })
        if (-not $readable) { $unreadable.Add($file.FullName) }
    }
    if ($owned) { $done.Add("took ownership of $owned key file(s) it could not write") }
    if ($protected.Count) { $done.Add("protected $($protected.Count) key file(s), keeping their inherited ACEs as explicit ones") }
    $folder = Get-Item -LiteralPath $Path
    $acl = $folder.GetAccessControl($access)
    $acl.SetSecurityDescriptorSddlForm($Dacl, $access)
    $folder.SetAccessControl($acl)
    $done.Add("set the DACL of $Path")
}
catch {
    $result.error = $_.Exception.Message
}
$after = Get-Acl -LiteralPath $Path
$result.after = $after.Sddl
$result.owner = $after.GetOwner($sid).Value
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
        "service_timeout": {"type": "int", "default": 60},
    }

    def first_read(self) -> tuple:
        return READ, "the MachineKeys folder's ACL", {"Path": self.args["path"], "AgentService": agent.SERVICES[0],
                                                      "BackupProcesses": list(agent.BACKUP_PROCESSES)}

    def steps(self):
        if self.args["service_timeout"] <= 0:
            raise RemediationError("MACHINEKEYS on %s: machinekeys_service_timeout must be a number of seconds above 0, not %s"
                                   % (self.host, self.args["service_timeout"]), check="arguments")
        try:
            keys.parse_dacl(self.args["default_sddl"])
        except ValueError as exc:
            raise RemediationError("MACHINEKEYS on %s: machinekeys_default_sddl is not SDDL (%s). Nothing was read or "
                                   "changed." % (self.host, exc), check="arguments") from None
        state = self.read(READ, "the MachineKeys folder's ACL", Path=self.args["path"], AgentService=agent.SERVICES[0],
                          BackupProcesses=list(agent.BACKUP_PROCESSES))
        try:
            difference = keys.compare(state["sddl"], self.args["default_sddl"])
        except ValueError as exc:
            raise RemediationError("MACHINEKEYS on %s: cannot read the ACL of %s (%s): %s. Nothing was changed."
                                   % (self.host, state.get("path"), state.get("sddl"), exc), check="acl") from None
        detail = {"path": state["path"], "sddl": state["sddl"], "icacls": state.get("icacls", ""), **difference}
        if difference["default"]:
            yield Step("acl", "ok", "%s has the default permissions" % state["path"], detail)
            return
        what = "; ".join(part for part in (
            "missing " + ", ".join(difference["missing"]) if difference["missing"] else "",
            "extra " + ", ".join(difference["extra"]) if difference["extra"] else "",
            "inherits from its parent" if difference["inherits"] else "") if part)
        caller = state.get("caller") or {}
        sids = [s for s in [caller.get("user")] + list(caller.get("groups") or []) if s] or list(keys.ADMIN_SIDS)
        take_ownership = keys.needs_ownership(state["sddl"], sids)
        files = keys.key_file_counts(state.get("key_files"))
        detail.update(owner=keys.owner(state["sddl"]), take_ownership=take_ownership, key_files=files)
        reset = {}  # the reset script's answer, once it ran
        acl = Step("acl", "found", "%s differs from the default (%s)" % (state["path"], what), detail, change=Change(
            self._steps(state["path"], take_ownership, files), lambda: self.reset(state["path"], what, take_ownership, detail, reset),
            text_diff("DACL of %s" % state["path"], keys.dacl_part(state["sddl"]) + "\n", keys.dacl_part(self.args["default_sddl"]) + "\n")))
        yield acl
        unreadable = (reset.get("unreadable") or []) if acl.change.done else []
        if unreadable:
            yield Step("key_files", "failed", "after the reset SYSTEM cannot read %s; their old SDDL is in %s"
                       % (", ".join(unreadable), reset.get("files_backup")), detail)
        if not (acl.change.done or self.check_mode):
            return  # the certificate is deleted only once the folder's permissions let the agent make a new one
        stale = keys.stale_certificates(state.get("certificates") or []) if self.args["delete_certificates"] else []
        # Article 000: after the reset, delete the certificate so the agent makes a new one with a readable key.
        diff = text_diff(r"Cert:\LocalMachine\My", "".join("%s %s\n" % (c["thumbprint"], c["subject"]) for c in stale), "")
        deleted = False
        for cert in stale:
            step = Step("certificate", "found", "certificate %s (%s, issued by %s)" % (cert["thumbprint"], cert["subject"], cert["issuer"]),
                        cert, change=self.change("delete it, so the agent makes a new one", "win_certificate_store",
                                                 "deleting certificate %s" % cert["thumbprint"], diff, thumbprint=cert["thumbprint"],
                                                 store_location="LocalMachine", store_name="My", state="absent"))
            diff = None
            yield step
            deleted = deleted or step.change.done
        if stale and (deleted or self.check_mode):
            yield self._restart_agent(state)

    def reset(self, path: str, what: str, take_ownership: bool, detail: dict, reset: dict) -> Step:
        """The reset script, its answer kept in ``reset``; the acl finding as the folder is afterwards."""
        answer = self.apply("win_powershell", "resetting the permissions of %s" % path, script=RESET,
                            parameters={"Path": path, "Dacl": keys.dacl_part(self.args["default_sddl"]),
                                        "BackupDir": self.args["backup_dir"], "TakeOwnership": take_ownership})
        result = reset
        result.update(answer.get("result") or {})
        detail.update(before_sddl=result.get("before"), after_sddl=result.get("after"), backup=result.get("backup"),
                      files_backup=result.get("files_backup"), protected=result.get("protected") or [],
                      only_inherited=result.get("only_inherited") or [], done=result.get("done"), owner_after=result.get("owner"))
        if result.get("error") or not keys.compare(result.get("after") or "", self.args["default_sddl"])["default"]:
            return Step("acl", "failed", "%s: the reset stopped (%s). Done before that: %s. Now: %s; the old SDDL is in %s"
                        % (path, result.get("error") or "the DACL still differs", "; ".join(result.get("done") or []) or "nothing",
                           result.get("after"), result.get("backup")), detail)
        return Step("acl", "fixed", "%s differed from the default (%s): %s%s; the old SDDL is in %s"
                    % (path, what, "; ".join(result.get("done") or []), keys.owner_note(take_ownership, detail["owner"], result.get("owner")),
                       result.get("backup")), detail)

    @staticmethod
    def _steps(path: str, take_ownership: bool, files: dict) -> str:
        """What the reset does, in order, for the finding."""
        steps = []
        if take_ownership:
            steps.append("take ownership of %s as Administrators (no WRITE_DAC for this session without it)" % path)
        if files["inheriting"]:
            others = " (%d of them have no others)" % files["only_inherited"] if files["only_inherited"] else ""
            steps.append("protect the key files that inherit from it (%d at the read)%s, keeping their inherited ACEs as explicit ones"
                         % (files["inheriting"], others))
        steps.append("reset the DACL")
        return "; ".join(steps)

    def _restart_agent(self, state: dict) -> Step:
        """The agent makes a new certificate when it restarts (Microsoft's extension troubleshooting: restart the
        guest agent); never while a backup snapshot runs."""
        service = state.get("agent") or {"name": agent.SERVICES[0]}
        detail = {"service": service["name"]}
        if not self.args["restart_agent"]:
            return Step("agent_restart", "found", "certificates deleted: restart %s so it makes a new one (machinekeys_restart_agent is off)"
                        % service["name"], detail)
        if not service.get("exists"):
            return Step("agent_restart", "found", "%s is not installed: nothing makes a new certificate until the agent is installed"
                        % service["name"], detail)
        running = agent.backup_running(state.get("backup_processes") or [])
        if running:
            return Step("agent_restart", "found", "%s not restarted while a backup snapshot runs (%s): restart it when the backup job "
                        "has finished, so it makes a new certificate" % (service["name"], ", ".join(running)), detail)
        return Step("agent_restart", "found", "the agent makes its certificate when it starts", detail, change=Change(
            "restart %s so it makes a new certificate" % service["name"], lambda: self.restart_agent(state, service, detail)))

    def restart_agent(self, state: dict, service: dict, detail: dict) -> Step:
        # Bounded, and checked for a backup right before the stop: the restart script VSS_WRITERS sends.
        outcome = restart_services(self, [service["name"]], self.args["service_timeout"], agent.BACKUP_PROCESSES,
                                   "restarting %s" % service["name"])[service["name"]]
        if outcome["status"] == "connection_lost":
            now = self.read_agent(state)
            vss.services_not_running({service["name"]: outcome}, [now] if now else [], {service["name"]: outcome["dependants"]})
        detail = dict(detail, restart=outcome)
        failure = vss.restart_failure(outcome, self.args["service_timeout"])
        if outcome["status"] == "backup_running":
            return Step("agent_restart", "found", "%s not restarted: %s. Restart it when the backup job has finished, so it makes a new "
                        "certificate" % (service["name"], failure), detail)
        if failure:
            return Step("agent_restart", "failed", "restarting %s failed: %s. It makes a new certificate once it runs again: check it in "
                        "services.msc; a service stuck in StopPending needs its process ended or the VM restarted" % (service["name"], failure),
                        detail)
        return Step("agent_restart", "fixed", "restarted %s so it makes a new certificate" % service["name"], detail)

    def read_agent(self, state: dict) -> dict | None:
        """The agent's service read again after a lost connection; None when the host does not answer."""
        try:
            return self.read(READ, "the guest agent's service", Path=state["path"], AgentService=(state.get("agent") or {})["name"],
                             BackupProcesses=list(agent.BACKUP_PROCESSES)).get("agent")
        except (RemediationError,) + CONNECTION_ERRORS:
            return None
