# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WIN_AGENT: the Windows guest agent's services run and start automatically, the agent is recent
enough, .NET 4.5+ is there; a missing or outdated agent is (re)installed from its MSI, never while a
backup snapshot runs."""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleError

from ansible_collections.azure_backup.remediation.plugins.module_utils import _win_agent as agent
from ansible_collections.azure_backup.remediation.plugins.module_utils._errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import GET_SERVICE_STATE, WinCauseAction, _why

# Where the MSI is put on the VM before win_package installs it; left there, as a record of what was installed.
MSI_DEST = r"C:\Windows\Temp\azure-backup-WindowsAzureVmAgent.msi"
# Where the support article has msiexec write its log, and where C:\WindowsAzure keeps the agent.
MSI_LOG = r"C:\Windows\Panther\msiexec.log"
AGENT_ROOT = r"C:\WindowsAzure"

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
""" + GET_SERVICE_STATE + r"""
$found = @(foreach ($name in $Services) { Get-ServiceState -Name $name })

# The product version of a service's image (the path without quotes and arguments), or $null.
function Get-ImageVersion {
    param([string]$Name)
    $service = $found | Where-Object { $_.name -eq $Name -and $_.exists }
    if (-not $service) { return $null }
    $exe = $service.path -replace '^"([^"]+)".*$', '$1'
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
# Installs the agent MSI in one run on the VM, so a dropped connection cannot leave it half done.
# upgrade: msiexec /i over the working agent; Windows Installer rolls a failed install back, the old agent stays.
# reinstall (a service is missing): the procedure of Microsoft's "Troubleshoot Azure Windows VM Agent issues":
# stop and delete the services, move C:\WindowsAzure\Packages* and GuestAgent* into OLD, install; when the
# install fails, the folders go back and the services are re-created as recorded and started again.
# Right before each step that changes the VM, no backup snapshot may be running.
param(
    [ValidateSet('upgrade', 'reinstall')][string]$Mode,
    [string]$MsiPath,
    [string]$LogPath,
    [string[]]$Services,
    [string]$AgentRoot,
    [string[]]$BackupProcesses,
    [int]$BusyRetries,
    [int]$BusyWaitSeconds,
    [int]$StartWaitSeconds
)
$ErrorActionPreference = 'Stop'
""" + GET_SERVICE_STATE + r"""
$result = @{
    mode = $Mode; steps = [System.Collections.Generic.List[string]]::new(); refused = $null; error = $null
    rc = $null; attempts = 0; waited_seconds = 0; log = $LogPath; old_dir = $null
    moved = [System.Collections.Generic.List[object]]::new(); removed = [System.Collections.Generic.List[object]]::new()
    restored = $false; restore_errors = [System.Collections.Generic.List[string]]::new(); services = @()
}

function Assert-NoBackup {
    param([string]$Step)
    $running = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
    if ($running.Count -gt 0) {
        $result.refused = @{ step = $Step; processes = $running }
        throw "a backup snapshot is running ($($running -join ', '))"
    }
}

function Invoke-AgentMsi {
    $arguments = @('/i', "`"$MsiPath`"", '/qn', '/norestart', '/L*v', "`"$LogPath`"")
    while ($true) {
        Assert-NoBackup -Step 'install the agent MSI'
        $result.attempts++
        $msiexec = Start-Process -FilePath "$env:SystemRoot\System32\msiexec.exe" -ArgumentList $arguments -Wait -PassThru
        $result.rc = $msiexec.ExitCode
        # 1618 ERROR_INSTALL_ALREADY_RUNNING: another installation runs; wait for it, a bounded number of times.
        if ($result.rc -ne 1618 -or $result.attempts -gt $BusyRetries) { return }
        Start-Sleep -Seconds $BusyWaitSeconds
        $result.waited_seconds += $BusyWaitSeconds
    }
}

function Restore-Agent {
    # Folders first: the recorded services' images live in them.
    for ($i = $result.moved.Count - 1; $i -ge 0; $i--) {
        $move = $result.moved[$i]
        try {
            Move-Item -LiteralPath $move.to -Destination $move.from
            $result.steps.Add("moved $($move.to) back")
        } catch { $result.restore_errors.Add("moving $($move.to) back: $($_.Exception.Message)") }
    }
    foreach ($record in $result.removed) {
        try {
            if ($record.deleted -and -not (Get-CimInstance -ClassName Win32_Service -Filter "Name='$($record.name)'")) {
                $startup = @{ Auto = 'Automatic'; Manual = 'Manual'; Disabled = 'Disabled' }[$record.start_mode]
                New-Service -Name $record.name -BinaryPathName $record.path -DisplayName $record.display_name -StartupType $startup | Out-Null
                if ($record.delayed) { $null = & sc.exe config $record.name start= delayed-auto }
                if ($record.description) { Set-Service -Name $record.name -Description $record.description }
                $result.steps.Add("re-created the service $($record.name)")
            }
            if ($record.was_running -and (Get-Service -Name $record.name).Status -ne 'Running') {
                Start-Service -Name $record.name
                $result.steps.Add("started $($record.name)")
            }
        } catch { $result.restore_errors.Add("$($record.name): $($_.Exception.Message)") }
    }
    $result.restored = $result.restore_errors.Count -eq 0
}

try {
    if ($Mode -eq 'reinstall') {
        foreach ($name in $Services) {
            $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$name'"
            if (-not $service) { continue }
            # Recorded before anything changes: what Restore-Agent needs to create the service again.
            $record = @{
                name = $name; display_name = $service.DisplayName; path = $service.PathName; start_mode = $service.StartMode
                delayed = [bool]$service.DelayedAutoStart; account = $service.StartName; description = $service.Description
                was_running = $service.State -eq 'Running'; deleted = $false
            }
            if ($record.account -and $record.account -ne 'LocalSystem') {
                throw "$name runs as $($record.account), whose password cannot be restored; not removing it"
            }
            $result.removed.Add($record)
        }
        foreach ($record in $result.removed) {
            Assert-NoBackup -Step "stop $($record.name)"
            Stop-Service -Name $record.name -Force
            $result.steps.Add("stopped $($record.name)")
        }
        foreach ($record in $result.removed) {
            Assert-NoBackup -Step "delete the service $($record.name)"
            $output = & sc.exe delete $record.name
            if ($LASTEXITCODE -ne 0) { throw "sc.exe delete $($record.name) failed with $($LASTEXITCODE): $output" }
            $record.deleted = $true
            $result.steps.Add("deleted the service $($record.name)")
        }
        # A VM that never had the agent may have no C:\WindowsAzure at all: then there is nothing to move.
        $folders = @(if (Test-Path -LiteralPath $AgentRoot) {
                Get-ChildItem -LiteralPath $AgentRoot -Directory | Where-Object { $_.Name -like 'Packages*' -or $_.Name -like 'GuestAgent*' }
            })
        if ($folders.Count -gt 0) {
            $result.old_dir = Join-Path $AgentRoot ('OLD\' + (Get-Date -Format 'yyyyMMdd_HHmmss'))
            $null = New-Item -ItemType Directory -Path $result.old_dir -Force
        }
        foreach ($folder in $folders) {
            Assert-NoBackup -Step "move $($folder.FullName) aside"
            $to = Join-Path $result.old_dir $folder.Name
            Move-Item -LiteralPath $folder.FullName -Destination $to
            $result.moved.Add(@{ from = $folder.FullName; to = $to })
            $result.steps.Add("moved $($folder.FullName) to $to")
        }
    }
    Invoke-AgentMsi
    # 0, 1641 and 3010 are success; 3010 and 1641 also mean a reboot completes the installation.
    if ($result.rc -notin 0, 1641, 3010) {
        $busy = if ($result.rc -eq 1618) { " after $($result.attempts) attempts" } else { '' }
        throw "msiexec /i ended with exit code $($result.rc)$busy; its log is $LogPath"
    }
    $result.steps.Add("installed the agent MSI (exit code $($result.rc))")
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
$Ansible.Changed = $result.steps.Count -gt 0
$Ansible.Result = $result
"""


class ActionModule(WinCauseAction):
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

    def check_and_fix(self) -> None:
        try:
            agent.validate_minimum(self.args["min_version"])
            agent.validate_busy(self.args["msi_busy_retries"], self.args["msi_busy_wait"])
        except ValueError as exc:
            raise RemediationError("WIN_AGENT on %s: %s. Nothing was read or changed." % (self.host, exc)) from None
        state = self.read_state()
        self.check_dotnet(state)
        reason = agent.needs_install(state["services"], self.version(state)[0], self.args["min_version"])
        if reason and self.install(state, reason) and not self.check_mode:
            state = self.read_state()
            still = agent.needs_install(state["services"], self.version(state)[0], self.args["min_version"])
            if still:
                raise RemediationError("WIN_AGENT on %s: the agent MSI was installed but %s. See %s and "
                                       r"C:\WindowsAzure\Logs\TransparentInstaller.log on the VM, and whether the MSI is the current "
                                       "agent." % (self.host, still, MSI_LOG), changed=True)
        elif reason and self.changed:
            state = self.read_state()  # an install that failed and was undone: the services as they are now
        self.check_version(state)
        restart = self.args["restart"] and self.restart_allowed(state)
        for service in state["services"]:
            if reason and not service.get("exists"):
                continue  # the install finding already says so, and what is done about it
            self.ensure_service("service_" + service["name"].lower(), service, "install the agent (win_agent_install)",
                                automatic=True, restart=restart)

    def read_state(self) -> dict:
        return self.read(READ, "the guest agent's services and version", Services=list(agent.SERVICES),
                         ProductName=agent.PRODUCT_NAME, BackupProcesses=list(agent.BACKUP_PROCESSES))

    @staticmethod
    def version(state: dict) -> tuple:
        return agent.running_version(state["services"], state.get("version"), state.get("guest_agent_version"))

    def restart_allowed(self, state: dict) -> bool:
        """win_agent_restart restarts running services: never while a backup snapshot runs, checked again right before."""
        if not any(s.get("exists") and s.get("state") == "Running" for s in state["services"]):
            return True  # nothing would be restarted, only started
        running = agent.backup_running(state["backup_processes"])
        if not running and not self.check_mode:
            running = agent.backup_running(self.read_state()["backup_processes"])
        if running:
            self.add("restart", "skipped", "win_agent_restart is set, but a backup snapshot is running (%s): the agent's "
                     "services are not restarted while a backup runs. Run again when the backup job has finished."
                     % ", ".join(running), {"backup_processes": running})
            return False
        return True

    def check_dotnet(self, state: dict) -> None:
        version = agent.dotnet_version(state.get("dotnet_release"))
        detail = {"release": state.get("dotnet_release"), "version": version}
        if version:
            self.add("dotnet", "ok", ".NET Framework %s is installed" % version, detail)
        else:
            self.add("dotnet", "found", ".NET Framework 4.5 or later is missing (Release %s); the agent needs it: install "
                     ".NET Framework 4.8 on the VM" % state.get("dotnet_release"), detail)

    def check_version(self, state: dict) -> None:
        version, source = self.version(state)
        detail = {"version": version, "read_from": source, "waappagent_version": state.get("version"),
                  "guest_agent_version": state.get("guest_agent_version"), "min_version": self.args["min_version"]}
        if version is None:
            self.add("version", "skipped", "no agent image (WindowsAzureGuestAgent.exe, WaAppAgent.exe) to read a version from", detail)
        elif agent.older(version, self.args["min_version"]):
            # Where installing is refused, turned off, or pending in check mode.
            self.add("version", "found", "agent %s (%s) is older than %s" % (version, source, self.args["min_version"]), detail)
        else:
            self.add("version", "ok", "agent %s (%s, at least %s)" % (version, source, self.args["min_version"]), detail)

    def install(self, state: dict, reason: str) -> bool:
        """Install the agent MSI; False when it may not be, with a finding that says why."""
        mode = agent.install_mode(state["services"])
        steps = agent.install_steps(mode, state["services"])
        detail = {"reason": reason, "mode": mode, "products": state["products"], "source": self.args["msi_src"] or self.args["msi_url"]}
        running = agent.backup_running(state["backup_processes"])
        if running:
            self.add("install", "failed", "%s, but a backup snapshot is running (%s): the agent is not reinstalled or updated "
                     "while a backup runs (Microsoft's troubleshooting article). Run again when the backup job has finished."
                     % (reason, ", ".join(running)), dict(detail, backup_processes=running))
            return False
        if not self.args["install"]:
            self.add("install", "found", "%s; installing is turned off (win_agent_install)" % reason, detail)
            return False
        self.diff("installed programs", "".join("%s\n" % p["name"] for p in state["products"]), "%s (from the MSI)\n" % agent.PRODUCT_NAME)
        if self.check_mode:
            self.add("install", self.fixed_or_found(), "%s: would %s" % (reason, ", then ".join(steps)), detail)
            return True
        self.put_msi()
        result = self.run_install(mode)
        status, summary = agent.install_summary(result)
        detail.update(result=result)
        self.add("install", status, "%s: %s" % (reason, summary), detail)
        if status == "failed":
            return False  # the finding fails the host
        if result.get("rc") in agent.MSI_REBOOT:
            self.add("reboot", "found", "msiexec returned %s: the agent is installed, and a reboot of the VM completes the "
                     "installation" % agent.msi_exit(result["rc"]), {"rc": result["rc"], "log": MSI_LOG}, severity="warning")
        return True

    def run_install(self, mode: str) -> dict:
        """The install script, on the VM in one run. Its result says what was done, also when it failed."""
        answer = self._execute_module(
            module_name="ansible.windows.win_powershell",
            module_args={"script": INSTALL, "depth": 6, "parameters": {
                "Mode": mode, "MsiPath": MSI_DEST, "LogPath": MSI_LOG, "Services": list(agent.SERVICES), "AgentRoot": AGENT_ROOT,
                "BackupProcesses": list(agent.BACKUP_PROCESSES), "BusyRetries": self.args["msi_busy_retries"],
                "BusyWaitSeconds": self.args["msi_busy_wait"], "StartWaitSeconds": agent.START_WAIT_SECONDS}},
            task_vars=self.task_vars)
        result = answer.get("result") or {}
        self.changed = self.changed or bool(answer.get("changed"))
        if answer.get("failed") and not result:
            raise RemediationError("WIN_AGENT: the install script on %s failed before it could report: %s. Look at the agent's "
                                   r"services and C:\WindowsAzure\OLD on the VM." % (self.host, _why(answer)),
                                   changed=True)
        return result

    def put_msi(self) -> None:
        """The MSI onto the VM: copied from the controller (air-gapped fleets) or downloaded by the VM."""
        src, checksum = self.args["msi_src"], (self.args["msi_checksum"] or "").lower() or None
        if not src:
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
        self._connection.put_file(src, MSI_DEST)
        self.changed = True
