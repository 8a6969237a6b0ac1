# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's folders on a Windows VM, C:\\ProgramData\\azure-backup and the folders in it: made for SYSTEM
and Administrators only, or refused.

Ordinary users may create folders under C:\\ProgramData and own what they create, so a folder that is already
there is trusted only when its owner is SYSTEM or Administrators (or TrustedInstaller, or the administrator
running the script), it is no link (reparse point), and nobody else may write to it (its parent: delete,
rename or re-permission it). A missing folder is created with its protected ACL in one call
(Directory.CreateDirectory with a DirectorySecurity). Used by the detached runner (detached.py: its working
folder) and the run lock (lock.py: its folder). No imports: both import it.
"""

from __future__ import annotations

ROOT = r"C:\ProgramData\azure-backup"

# PowerShell functions a script includes: Get-FolderProblem, New-ProtectedFolder, Assert-WorkFolder.
WORK_FOLDER = r"""
$system = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-18'
$admins = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'
# SYSTEM, Administrators, TrustedInstaller, and the administrator running this.
$trusted = @($system.Value, $admins.Value, 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464',
    [System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value)

function Get-FolderProblem {
    # Why a folder cannot be trusted, or $null. $Forbidden: the rights nobody else may hold on it.
    param([string]$Path, [long]$Forbidden)
    $item = Get-Item -LiteralPath $Path -Force
    if (-not $item.PSIsContainer) { return "$Path is a file" }
    if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) { return "$Path is a link (reparse point)" }
    $acl = $item.GetAccessControl()
    $owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($trusted -notcontains $owner) { return "$Path is owned by $owner, not by SYSTEM or Administrators" }
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = $rule.IdentityReference.Value
        if ([string]$rule.AccessControlType -ne 'Allow' -or $trusted -contains $sid) { continue }
        # An inherit-only entry gives nothing on the folder itself.
        if ($rule.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) { continue }
        if ([long]$rule.FileSystemRights -band $Forbidden) { return "$Path lets $sid change it ($($rule.FileSystemRights))" }
    }
    $null
}

function New-ProtectedFolder {
    # Created with its ACL in one call: there is no moment in which it inherits C:\ProgramData's.
    param([string]$Path)
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetOwner($admins)
    $security.SetAccessRuleProtection($true, $false)
    foreach ($sid in @($system, $admins)) {
        $security.AddAccessRule((New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList `
                    $sid, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'))
    }
    [System.IO.Directory]::CreateDirectory($Path, $security) | Out-Null
}

function Assert-WorkFolder {
    # Root and Directory made if missing; refused (an exception) when they are not safe for what SYSTEM runs.
    # The parent may let others add entries (as C:\ProgramData does), not delete, rename or re-permission ours;
    # the working folder lets nobody else write at all. Write, append, extended attributes, delete child,
    # attributes, delete, change permissions, take ownership, generic all, generic write.
    param([string]$Root, [string]$Directory)
    # Each folder is checked before anything is made in it: nothing is created inside a folder that is refused.
    $created = $false
    $problem = $null
    foreach ($check in @(@($Root, 0x100D0040), @($Directory, 0x500D0156))) {
        if (-not (Test-Path -LiteralPath $check[0])) { New-ProtectedFolder -Path $check[0]; $created = $true }
        $problem = Get-FolderProblem -Path $check[0] -Forbidden $check[1]
        if ($problem) { break }
    }
    if ($problem) {
        throw ("refusing to use $Directory for what runs as SYSTEM: $problem. Look at what is in it, delete it, and run " +
            'again: it is created for SYSTEM and Administrators only')
    }
    $created
}

"""
