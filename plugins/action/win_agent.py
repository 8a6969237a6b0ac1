# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WIN_AGENT: the Windows guest agent's services run and start automatically, the agent is recent
enough, .NET 4.5+ is there; a missing or outdated agent is (re)installed from its MSI, never while a
backup snapshot runs."""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleError

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import detached
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, text_diff

# Where the agent MSI is put on the VM before it is installed: the detached runner's working folder, which
# only SYSTEM and Administrators may write to, so no other local user can swap the package msiexec runs as
# SYSTEM (C:\Windows\Temp and C:\ProgramData let any user create files and folders and own them).
MSI_DEST = detached.WORK_DIR + r"\WindowsAzureVmAgent.msi"
# Where msiexec writes its logs, each under its own time-stamped name: C:\Windows\Panther\msiexec.log is
# the provisioning log support asks for and is left alone.
MSI_LOG_DIR = r"C:\Windows\Panther"
AGENT_ROOT = r"C:\WindowsAzure"

# A PowerShell function both scripts use: the executable of a service's image path. Quoted: what is
# between the quotes; unquoted: everything up to and with the first ".exe" (an unquoted image path may
# carry arguments after it).
GET_IMAGE_FILE = r"""
function Get-ImageFile {
    param([string]$ImagePath)
    if ($ImagePath -match '^\s*"([^"]+)"') { return $Matches[1] }
    if ($ImagePath -match '^\s*(.*?\.exe)(\s|$)') { return $Matches[1] }
    $ImagePath.Trim()
}
"""

READ = r"""#azure_backup.remediation/win_agent.read
# The guest agent's services, the version of WaAppAgent.exe, the agent among installed programs,
# the .NET 4.x release and whether the backup extension is taking a snapshot. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Services,
    [string]$ProductName,
    [string[]]$BackupProcesses
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_SERVICE_STATE + GET_IMAGE_FILE + r"""
$found = @(foreach ($name in $Services) { Get-ServiceState -Name $name })

# The product version of a service's image (the path without quotes and arguments), or $null.
function Get-ImageVersion {
    param([string]$Name)
    $service = $found | Where-Object { $_.name -eq $Name -and $_.exists }
    if (-not $service) { return $null }
    $exe = Get-ImageFile -ImagePath $service.path
    if (-not (Test-Path -LiteralPath $exe)) { return $null }
    (Get-Item -LiteralPath $exe).VersionInfo.ProductVersion
}
# RdAgent's image is WaAppAgent.exe (the version the MSI installed); WindowsAzureGuestAgent's image lives in
# C:\WindowsAzure\GuestAgent_<version>_<date>, where the agent updates itself: that is the agent that runs.
$version = Get-ImageVersion -Name 'RdAgent'
$guestAgentVersion = Get-ImageVersion -Name 'WindowsAzureGuestAgent'

# Installed programs from the registry; Win32_Product would start a consistency check of every MSI.
$uninstall = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*'
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
)
$products = @(Get-ItemProperty -Path $uninstall -ErrorAction SilentlyContinue |
        Where-Object { $_.DisplayName -like "$ProductName*" } |
        ForEach-Object { @{ name = $_.DisplayName; version = $_.DisplayVersion; product_id = $_.PSChildName } })

$dotnet = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' -ErrorAction SilentlyContinue

$Ansible.Result = @{
    services = $found
    version = $version
    guest_agent_version = $guestAgentVersion
    products = $products
    dotnet_release = if ($dotnet) { $dotnet.Release } else { $null }
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""


INSTALL = r"""#azure_backup.remediation/win_agent.install
# Installs the agent MSI on the VM. Runs detached from the WinRM session (plugin_utils/windows/detached.py), as
# SYSTEM, so that a dropped connection cannot end it half-way; it emits its result.
# upgrade: msiexec /i over the working agent; Windows Installer rolls a failed install back, the old agent stays.
# reinstall (a service is missing): the procedure of Microsoft's "Troubleshoot Azure Windows VM Agent issues":
# stop and delete the services, move C:\WindowsAzure\Packages* and GuestAgent* into OLD, uninstall the
# registered agent (msiexec /x), install. When a step fails, or the install leaves a service or its image
# missing, the folders go back and the services are re-created as recorded (recovery actions, dependencies,
# service SID type included) and started again.
# Right before each step that changes the VM, no backup snapshot may be running. Every wait is bounded.
param(
    [ValidateSet('upgrade', 'reinstall')][string]$Mode,
    [string]$MsiPath,
    [string]$LogDir,
    [string[]]$Services,
    [string]$AgentRoot,
    [string[]]$BackupProcesses,
    [int]$BusyRetries,
    [int]$BusyWaitSeconds,
    [int]$StartWaitSeconds,
    [int]$ServiceWaitSeconds,
    [int]$DeleteWaitSeconds,
    [string[]]$ProductCodes,
    [bool]$CheckSignature,
    [string]$Signer
)
$ErrorActionPreference = 'Stop'
""" + GET_SERVICE_STATE + GET_IMAGE_FILE + r"""
$stamp = Get-Date -Format 'yyyyMMdd_HHmmss'
$result = @{
    mode = $Mode; steps = [System.Collections.Generic.List[string]]::new(); refused = $null; error = $null
    rc = $null; attempts = 0; waited_seconds = 0; log = Join-Path $LogDir "azure-backup-agent-install-$stamp.log"; old_dir = $null
    moved = [System.Collections.Generic.List[object]]::new(); removed = [System.Collections.Generic.List[object]]::new()
    restored = $false; restore_errors = [System.Collections.Generic.List[string]]::new(); services = @()
    signature = $null; hung = $null; marked_for_deletion = @(); missing_after_install = @()
    uninstalled = [System.Collections.Generic.List[object]]::new()
}
$waitTime = [TimeSpan]::FromSeconds($ServiceWaitSeconds)

function Assert-NoBackup {
    param([string]$Step)
    $running = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
    if ($running.Count -gt 0) {
        $result.refused = @{ step = $Step; processes = $running }
        throw "a backup snapshot is running ($($running -join ', '))"
    }
}

# Unless the MSI's SHA-256 was given and matched, it must carry a valid Authenticode signature of Microsoft.
function Assert-MsiSignature {
    if (-not $CheckSignature) { return }
    $signature = Get-AuthenticodeSignature -LiteralPath $MsiPath
    $subject = if ($signature.SignerCertificate) { $signature.SignerCertificate.Subject } else { '' }
    $result.signature = @{ status = [string]$signature.Status; signer = $subject }
    if ([string]$signature.Status -ne 'Valid' -or $subject -notmatch ('(^|,\s*)O=' + [regex]::Escape($Signer) + '(,|$)')) {
        throw "the MSI's Authenticode signature is $($signature.Status)$(if ($subject) { " by $subject" }), not a valid signature of $Signer; not installing it"
    }
}

# msiexec with its own log, retried while another installation runs (1618 ERROR_INSTALL_ALREADY_RUNNING),
# a bounded number of times. Returns the exit code.
function Invoke-Msiexec {
    param([string[]]$Arguments, [string]$Step, [string]$Log)
    $attempt = 0
    while ($true) {
        Assert-NoBackup -Step $Step
        $attempt++
        $result.attempts++
        $all = $Arguments + @('/qn', '/norestart', '/L*v', "`"$Log`"")
        $msiexec = Start-Process -FilePath "$env:SystemRoot\System32\msiexec.exe" -ArgumentList $all -Wait -PassThru
        if ($msiexec.ExitCode -ne 1618 -or $attempt -gt $BusyRetries) { return $msiexec.ExitCode }
        Start-Sleep -Seconds $BusyWaitSeconds
        $result.waited_seconds += $BusyWaitSeconds
    }
}

# ServiceController.Stop/Start and WaitForStatus with a timeout (it throws when the time is up): a hung
# agent service is reported, not waited for without end.
function Stop-AgentService {
    param([string]$Name)
    $service = [System.ServiceProcess.ServiceController]::new($Name)
    if ($service.Status -eq 'Stopped') { return }
    if ($service.Status -ne 'StopPending') { $service.Stop() }
    try { $service.WaitForStatus('Stopped', $waitTime) } catch { $null = $_ }
    $service.Refresh()
    if ($service.Status -ne 'Stopped') {
        $result.hung = $Name
        throw "$Name did not stop within $ServiceWaitSeconds s (it is $($service.Status)): the service hangs"
    }
}

function Start-AgentService {
    param([string]$Name)
    $service = [System.ServiceProcess.ServiceController]::new($Name)
    if ($service.Status -eq 'Running') { return }
    $service.Start()
    try { $service.WaitForStatus('Running', $waitTime) } catch { $null = $_ }
    $service.Refresh()
    if ($service.Status -ne 'Running') { throw "$Name did not start within $ServiceWaitSeconds s (it is $($service.Status))" }
}

# What the SCM keeps beside the basics, read from the service's key (HKLM\SYSTEM\CurrentControlSet\Services\<name>),
# so that a service re-created by Restore-Agent gets it back. FailureActions is a SERVICE_FAILURE_ACTIONS:
# reset period (s) at 0, the number of actions at 12, then from 20 one SC_ACTION (type, delay in ms) each.
function Get-ServiceSettings {
    param([string]$Name)
    $key = Get-Item -LiteralPath "HKLM:\SYSTEM\CurrentControlSet\Services\$Name"
    $settings = @{
        depends_on = @($key.GetValue('DependOnService') | Where-Object { $_ }); sid_type = $key.GetValue('ServiceSidType')
        failure_command = $key.GetValue('FailureCommand'); failure_non_crash = $key.GetValue('FailureActionsOnNonCrashFailures')
        reset_seconds = $null; actions = @()
    }
    $failure = [byte[]]$key.GetValue('FailureActions')
    if ($failure -and $failure.Length -ge 20) {
        $settings.reset_seconds = [BitConverter]::ToUInt32($failure, 0)
        $count = [BitConverter]::ToUInt32($failure, 12)
        $settings.actions = @(for ($i = 0; $i -lt $count -and 28 + 8 * $i -le $failure.Length; $i++) {
                @{ type = [BitConverter]::ToUInt32($failure, 20 + 8 * $i); delay_ms = [BitConverter]::ToUInt32($failure, 24 + 8 * $i) }
            })
    }
    $settings
}

function Invoke-Sc {
    param([string[]]$Arguments)
    $output = & sc.exe @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "sc.exe $($Arguments -join ' ') failed with $($LASTEXITCODE): $output" }
}

# The recorded settings back on a re-created service, through the SCM (sc.exe), which keeps them.
function Set-ServiceSettings {
    param($Record)
    $settings = $Record.settings
    if ($null -ne $settings.sid_type) {
        $type = @{ 0 = 'none'; 1 = 'unrestricted'; 3 = 'restricted' }[[int]$settings.sid_type]
        if ($type) { Invoke-Sc -Arguments @('sidtype', $Record.name, $type) }
    }
    if (@($settings.actions).Count -gt 0) {
        $words = @{ 0 = ''; 1 = 'restart'; 2 = 'reboot'; 3 = 'run' }
        $actions = (@($settings.actions) | ForEach-Object { '{0}/{1}' -f $words[[int]$_.type], $_.delay_ms }) -join '/'
        $arguments = @('failure', $Record.name, 'reset=', [string]$settings.reset_seconds, 'actions=', $actions)
        if ($settings.failure_command) { $arguments += @('command=', $settings.failure_command) }
        Invoke-Sc -Arguments $arguments
    }
    if ($settings.failure_non_crash -eq 1) { Invoke-Sc -Arguments @('failureflag', $Record.name, '1') }
}

function Restore-Agent {
    # Folders first: the recorded services' images live in them. A folder whose place is taken again is not
    # moved into it (Move-Item would put it inside), but reported.
    for ($i = $result.moved.Count - 1; $i -ge 0; $i--) {
        $move = $result.moved[$i]
        try {
            if (Test-Path -LiteralPath $move.from) {
                $result.restore_errors.Add("$($move.from) exists again, so $($move.to) was not moved back")
                continue
            }
            Move-Item -LiteralPath $move.to -Destination $move.from
            $result.steps.Add("moved $($move.to) back")
        } catch { $result.restore_errors.Add("moving $($move.to) back: $($_.Exception.Message)") }
    }
    foreach ($record in $result.removed) {
        try {
            if ($record.deleted -and -not (Get-CimInstance -ClassName Win32_Service -Filter "Name='$($record.name)'")) {
                $startup = @{ Auto = 'Automatic'; Manual = 'Manual'; Disabled = 'Disabled' }[$record.start_mode]
                $new = @{ Name = $record.name; BinaryPathName = $record.path; DisplayName = $record.display_name; StartupType = $startup }
                if (@($record.settings.depends_on).Count -gt 0) { $new.DependsOn = @($record.settings.depends_on) }
                New-Service @new | Out-Null
                if ($record.delayed) { Invoke-Sc -Arguments @('config', $record.name, 'start=', 'delayed-auto') }
                if ($record.description) { Set-Service -Name $record.name -Description $record.description }
                Set-ServiceSettings -Record $record
                $result.steps.Add("re-created the service $($record.name)")
            }
            # A service that hangs in stopping cannot be started until it has stopped: reported, not retried.
            if ($record.was_running -and $record.name -ne $result.hung -and (Get-Service -Name $record.name).Status -ne 'Running') {
                Start-AgentService -Name $record.name
                $result.steps.Add("started $($record.name)")
            }
        } catch { $result.restore_errors.Add("$($record.name): $($_.Exception.Message)") }
    }
    $result.restored = $result.restore_errors.Count -eq 0
}

try {
    Assert-MsiSignature
    if ($Mode -eq 'reinstall') {
        foreach ($name in $Services) {
            $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$name'"
            if (-not $service) { continue }
            # Recorded before anything changes: what Restore-Agent needs to create the service again.
            $record = @{
                name = $name; display_name = $service.DisplayName; path = $service.PathName; start_mode = $service.StartMode
                delayed = [bool]$service.DelayedAutoStart; account = $service.StartName; description = $service.Description
                was_running = $service.State -eq 'Running'; deleted = $false; settings = Get-ServiceSettings -Name $name
            }
            if ($record.account -and $record.account -ne 'LocalSystem') {
                throw "$name runs as $($record.account), whose password cannot be restored; not removing it"
            }
            $result.removed.Add($record)
        }
        foreach ($record in $result.removed) {
            Assert-NoBackup -Step "stop $($record.name)"
            Stop-AgentService -Name $record.name
            $result.steps.Add("stopped $($record.name)")
        }
        foreach ($record in $result.removed) {
            Assert-NoBackup -Step "delete the service $($record.name)"
            Invoke-Sc -Arguments @('delete', $record.name)
            $record.deleted = $true
            $result.steps.Add("deleted the service $($record.name)")
        }
        # sc delete only marks a service for deletion while another process holds a handle to it; it is gone
        # when the last handle closes. Nothing is moved before both are really gone.
        $deadline = (Get-Date).AddSeconds($DeleteWaitSeconds)
        while ($true) {
            $left = @($result.removed | Where-Object { Get-CimInstance -ClassName Win32_Service -Filter "Name='$($_.name)'" } | ForEach-Object { $_.name })
            if ($left.Count -eq 0 -or (Get-Date) -ge $deadline) { break }
            Start-Sleep -Seconds 2
        }
        if ($left.Count -gt 0) {
            $result.marked_for_deletion = $left
            throw "$($left -join ' and ') stayed marked for deletion for $DeleteWaitSeconds s (another program holds a handle to it)"
        }
        # A VM that never had the agent may have no C:\WindowsAzure at all: then there is nothing to move.
        $folders = @(if (Test-Path -LiteralPath $AgentRoot) {
                Get-ChildItem -LiteralPath $AgentRoot -Directory | Where-Object { $_.Name -like 'Packages*' -or $_.Name -like 'GuestAgent*' }
            })
        if ($folders.Count -gt 0) {
            $result.old_dir = Join-Path $AgentRoot ('OLD\' + $stamp)
            $null = New-Item -ItemType Directory -Path $result.old_dir -Force
        }
        foreach ($folder in $folders) {
            Assert-NoBackup -Step "move $($folder.FullName) aside"
            $to = Join-Path $result.old_dir $folder.Name
            Move-Item -LiteralPath $folder.FullName -Destination $to
            $result.moved.Add(@{ from = $folder.FullName; to = $to })
            $result.steps.Add("moved $($folder.FullName) to $to")
        }
        # The registered agent is uninstalled before the install: while its product code is registered,
        # msiexec /i of the same package is only a maintenance run that puts back neither services nor files.
        foreach ($code in $ProductCodes) {
            $log = Join-Path $LogDir "azure-backup-agent-uninstall-$stamp-$($code.Trim('{}')).log"
            $rc = Invoke-Msiexec -Arguments @('/x', $code) -Step "uninstall $code" -Log $log
            $result.uninstalled.Add(@{ product_code = $code; rc = $rc; log = $log })
            # 1605 ERROR_UNKNOWN_PRODUCT: not installed (any more), nothing to uninstall.
            if ($rc -notin 0, 1605, 1641, 3010) { throw "msiexec /x $code ended with exit code $rc; its log is $log" }
            if ($rc -ne 1605) { $result.steps.Add("uninstalled $code (exit code $rc)") }
        }
    }
    Assert-MsiSignature
    $result.rc = Invoke-Msiexec -Arguments @('/i', "`"$MsiPath`"") -Step 'install the agent MSI' -Log $result.log
    # 0, 1641 and 3010 are success; 3010 and 1641 also mean a reboot completes the installation.
    if ($result.rc -notin 0, 1641, 3010) {
        $busy = if ($result.rc -eq 1618) { " after $($result.attempts) attempts" } else { '' }
        throw "msiexec /i ended with exit code $($result.rc)$busy; its log is $($result.log)"
    }
    $result.steps.Add("installed the agent MSI (exit code $($result.rc))")
    # An exit code of 0 is not enough: each service and its image must be there.
    $result.missing_after_install = @(foreach ($name in $Services) {
            $state = Get-ServiceState -Name $name
            if (-not $state.exists) { "the service $name" }
            elseif (-not (Test-Path -LiteralPath (Get-ImageFile -ImagePath $state.path) -PathType Leaf)) { "the image of $name ($($state.path))" }
        })
    if ($result.missing_after_install.Count -gt 0) {
        throw "msiexec /i returned $($result.rc), but $($result.missing_after_install -join ' and ') is missing"
    }
    $deadline = (Get-Date).AddSeconds($StartWaitSeconds)
    do {
        $states = @(foreach ($name in $Services) { Get-ServiceState -Name $name })
        if (@($states | Where-Object { $_.state -ne 'Running' }).Count -eq 0) { break }
        Start-Sleep -Seconds 5
    } while ((Get-Date) -lt $deadline)
} catch {
    $result.error = $_.Exception.Message
    if ($Mode -eq 'reinstall') { Restore-Agent }
}
$result.services = @(foreach ($name in $Services) { Get-ServiceState -Name $name })
$result.changed = $result.steps.Count -gt 0
$result
"""


class ActionModule(detached.WinDetachedAction):
    CAUSE = "WIN_AGENT"
    ARGUMENT_SPEC = {
        "min_version": {"type": "str", "default": agent.MIN_VERSION},
        "install": {"type": "bool", "default": True},
        "msi_url": {"type": "str", "default": agent.MSI_URL},
        "msi_src": {"type": "path"},
        "msi_checksum": {"type": "str"},
        "msi_busy_retries": {"type": "int", "default": 10},
        "msi_busy_wait": {"type": "int", "default": 30},
        "restart": {"type": "bool", "default": False},
    }

    install_log = None
    install_result = None

    def first_read(self) -> tuple:
        return READ, "the guest agent's services and version", {"Services": list(agent.SERVICES), "ProductName": agent.PRODUCT_NAME,
                                                                "BackupProcesses": list(agent.BACKUP_PROCESSES)}

    def steps(self):
        try:
            agent.validate_minimum(self.args["min_version"])
            agent.validate_busy(self.args["msi_busy_retries"], self.args["msi_busy_wait"])
        except ValueError as exc:
            raise RemediationError("WIN_AGENT on %s: %s. Nothing was read or changed." % (self.host, exc), check="arguments") from None
        state = self.read_state()
        yield self.dotnet_step(state)
        reason = agent.needs_install(state["services"], self.version(state)[0], self.args["min_version"])
        if reason:
            install = self.install_step(state, reason)
            yield install
            if install.change is not None and install.change.error is not None and self.changed:
                return  # an install whose end is not known may still run: its services are not read or touched now
            if install.change is not None and install.change.done:
                state = self.read_state()
                still = agent.needs_install(state["services"], self.version(state)[0], self.args["min_version"])
                if still:
                    raise RemediationError("WIN_AGENT on %s: the agent MSI was installed but %s. See %s and "
                                           r"C:\WindowsAzure\Logs\TransparentInstaller.log on the VM, and whether the MSI is the current "
                                           "agent." % (self.host, still, self.install_log or MSI_LOG_DIR), changed=True, check="install")
                rc = (self.install_result or {}).get("rc")
                if rc in agent.MSI_REBOOT:
                    yield Step("reboot", "found", "msiexec returned %s: the agent is installed, and a reboot of the VM completes the "
                               "installation" % agent.msi_exit(rc), {"rc": rc, "log": self.install_result.get("log")}, severity="warning")
            elif self.changed and not self.check_mode:
                state = self.read_state()  # an install that failed and was undone: the services as they are now
        yield self.version_step(state)
        restart, refused = self.restart_allowed(state)
        if refused:
            yield refused
        for service in state["services"]:
            if reason and not service.get("exists"):
                continue  # the install finding already says so, and what is done about it
            yield self.service_step("service_" + service["name"].lower(), service, "install the agent (win_agent_install)",
                                    automatic=True, restart=restart)

    def read_state(self) -> dict:
        return self.read(READ, "the guest agent's services and version", Services=list(agent.SERVICES),
                         ProductName=agent.PRODUCT_NAME, BackupProcesses=list(agent.BACKUP_PROCESSES))

    @staticmethod
    def version(state: dict) -> tuple:
        return agent.running_version(state["services"], state.get("version"), state.get("guest_agent_version"))

    def restart_allowed(self, state: dict) -> tuple:
        """(restart, the skipped Step that says why not): win_agent_restart restarts running services, never while a
        backup snapshot runs, checked again right before."""
        if not self.args["restart"]:
            return False, None
        if not any(s.get("exists") and s.get("state") == "Running" for s in state["services"]):
            return True, None  # nothing would be restarted, only started
        running = agent.backup_running(state["backup_processes"])
        if not running and not self.check_mode:
            running = agent.backup_running(self.read_state()["backup_processes"])
        if running:
            return False, Step("restart", "skipped", "win_agent_restart is set, but a backup snapshot is running (%s): the agent's "
                               "services are not restarted while a backup runs. Run again when the backup job has finished."
                               % ", ".join(running), {"backup_processes": running})
        return True, None

    @staticmethod
    def dotnet_step(state: dict) -> Step:
        version = agent.dotnet_version(state.get("dotnet_release"))
        detail = {"release": state.get("dotnet_release"), "version": version}
        if version:
            return Step("dotnet", "ok", ".NET Framework %s is installed" % version, detail)
        return Step("dotnet", "found", ".NET Framework 4.5 or later is missing (Release %s); the agent needs it: install "
                    ".NET Framework 4.8 on the VM" % state.get("dotnet_release"), detail)

    def version_step(self, state: dict) -> Step:
        version, source = self.version(state)
        detail = {"version": version, "read_from": source, "waappagent_version": state.get("version"),
                  "guest_agent_version": state.get("guest_agent_version"), "min_version": self.args["min_version"]}
        if version is None:
            return Step("version", "skipped", "no agent image (WindowsAzureGuestAgent.exe, WaAppAgent.exe) to read a version from", detail)
        if agent.older(version, self.args["min_version"]):
            # Where installing is refused, turned off, or pending in check mode.
            return Step("version", "found", "agent %s (%s) is older than %s" % (version, source, self.args["min_version"]), detail)
        return Step("version", "ok", "agent %s (%s, at least %s)" % (version, source, self.args["min_version"]), detail)

    def install_step(self, state: dict, reason: str) -> Step:
        """Install the agent MSI: a Change, or a finding that says why it may not be."""
        mode = agent.install_mode(state["services"])
        steps = agent.install_steps(mode, state["services"], state["products"])
        detail = {"reason": reason, "mode": mode, "products": state["products"], "source": self.args["msi_src"] or self.args["msi_url"]}
        running = agent.backup_running(state["backup_processes"])
        if running:
            return Step("install", "failed", "%s, but a backup snapshot is running (%s): the agent is not reinstalled or updated "
                        "while a backup runs (Microsoft's troubleshooting article). Run again when the backup job has finished."
                        % (reason, ", ".join(running)), dict(detail, backup_processes=running))
        if not self.args["install"]:
            return Step("install", "found", "%s; installing is turned off (win_agent_install)" % reason, detail)
        diff = text_diff("installed programs", "".join("%s\n" % p["name"] for p in state["products"]), "%s (from the MSI)\n" % agent.PRODUCT_NAME)
        return Step("install", "found", reason, detail, change=Change(", then ".join(steps), lambda: self.install(state, mode, reason, detail), diff))

    def install(self, state: dict, mode: str, reason: str, detail: dict) -> Step:
        """The MSI onto the VM and the install script run; the install finding from what the script says it did."""
        self.put_msi()
        result = self.run_install(mode, agent.product_codes(state["products"]) if mode == "reinstall" else [])
        self.install_result = result
        status, summary = agent.install_summary(result)
        return Step("install", status, "%s: %s" % (reason, summary), dict(detail, result=result))

    def run_install(self, mode: str, product_codes: list) -> dict:
        """The install script, on the VM in one detached run. Its result says what was done, also when it failed."""
        outcome = self.run_detached("win_agent.install", INSTALL, self.install_parameters(mode, product_codes), "the agent install",
                                    agent.install_timeout(self.args["msi_busy_retries"], self.args["msi_busy_wait"]))
        where = "the agent's services and %s\\OLD on the VM; what the run wrote is in %s" % (AGENT_ROOT, outcome["marker"])
        if outcome["state"] == "unknown":
            seen = outcome.get("last_error") or "no error seen"
            raise RemediationError("WIN_AGENT: the install on %s gave no answer within its time (%s); it may still be running or "
                                   "have been stopped. Look at %s, and run again once it has ended." % (self.host, seen, where), changed=True)
        if outcome["state"] == "failed":
            raise RemediationError("WIN_AGENT: the install script on %s failed before it could report: %s. Look at %s."
                                   % (self.host, outcome["error"], where), changed=True)
        self.install_log = outcome["result"].get("log")
        return outcome["result"]

    def install_parameters(self, mode: str, product_codes: list) -> dict:
        return {"Mode": mode, "MsiPath": MSI_DEST, "LogDir": MSI_LOG_DIR, "Services": list(agent.SERVICES), "AgentRoot": AGENT_ROOT,
                "BackupProcesses": list(agent.BACKUP_PROCESSES), "BusyRetries": self.args["msi_busy_retries"],
                "BusyWaitSeconds": self.args["msi_busy_wait"], "StartWaitSeconds": agent.START_WAIT_SECONDS,
                "ServiceWaitSeconds": agent.SERVICE_WAIT_SECONDS, "DeleteWaitSeconds": agent.DELETE_WAIT_SECONDS,
                "ProductCodes": list(product_codes), "CheckSignature": agent.signature_required(self.args["msi_checksum"]),
                "Signer": agent.MSI_SIGNER}

    def put_msi(self) -> None:
        """The MSI onto the VM, into its protected folder: copied from the controller (air-gapped fleets), checked
        first, or downloaded by the VM."""
        src, checksum = self.args["msi_src"], (self.args["msi_checksum"] or "").lower() or None
        if not src:
            self.prepare_work_folder("the agent MSI")
            args = {"url": self.args["msi_url"], "dest": MSI_DEST, "force": True}
            if checksum:
                args.update(checksum=checksum, checksum_algorithm="sha256")
            self.apply("win_get_url", "downloading the agent MSI from %s" % self.args["msi_url"], **args)
            return
        try:
            src = self._find_needle("files", src)  # relative to the role's or playbook's files/, as copy does
        except AnsibleError:
            raise RemediationError("WIN_AGENT on %s: win_agent_msi_src %s is not a file on the controller. Nothing was "
                                   "changed." % (self.host, src)) from None
        if checksum:
            with open(src, "rb") as handle:
                actual = hashlib.sha256(handle.read()).hexdigest()
            if actual != checksum:
                raise RemediationError("WIN_AGENT on %s: %s has SHA-256 %s, not %s (win_agent_msi_checksum). Nothing was "
                                       "changed." % (self.host, src, actual, checksum))
        self.prepare_work_folder("the agent MSI")
        self._connection.put_file(src, MSI_DEST)
        self.changed = True
