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
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._win_action import GET_SERVICE_STATE, WinCauseAction

# Where the MSI is put on the VM before win_package installs it; left there, as a record of what was installed.
MSI_DEST = r"C:\Windows\Temp\azure-backup-WindowsAzureVmAgent.msi"

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

# RdAgent's image is WaAppAgent.exe; its product version is the agent's version.
$version = $null
$rdAgent = $found | Where-Object { $_.name -eq 'RdAgent' -and $_.exists }
if ($rdAgent) {
    $exe = $rdAgent.path -replace '^"([^"]+)".*$', '$1'
    if (Test-Path -LiteralPath $exe) {
        $version = (Get-Item -LiteralPath $exe).VersionInfo.ProductVersion
    }
}

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
    products = $products
    dotnet_release = if ($dotnet) { $dotnet.Release } else { $null }
    backup_processes = @(Get-Process -Name $BackupProcesses -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
}
"""


class ActionModule(WinCauseAction):
    CAUSE = "WIN_AGENT"
    ARGUMENT_SPEC = {
        "min_version": {"type": "str", "default": agent.MIN_VERSION},
        "install": {"type": "bool", "default": True},
        "msi_url": {"type": "str", "default": agent.MSI_URL},
        "msi_src": {"type": "path"},
        "msi_checksum": {"type": "str"},
        "restart": {"type": "bool", "default": False},
    }

    def check_and_fix(self) -> None:
        try:
            agent.validate_minimum(self.args["min_version"])
        except ValueError as exc:
            raise RemediationError("WIN_AGENT on %s: %s. Nothing was read or changed." % (self.host, exc)) from None
        state = self.read_state()
        self.check_dotnet(state)
        reason = agent.needs_install(state["services"], state["version"], self.args["min_version"])
        if reason and self.install(state, reason) and not self.check_mode:
            state = self.read_state()
            still = agent.needs_install(state["services"], state["version"], self.args["min_version"])
            if still:
                raise RemediationError("WIN_AGENT on %s: the agent MSI was installed but %s. See "
                                       r"C:\Windows\Panther\msiexec.log and C:\WindowsAzure\Logs\TransparentInstaller.log"
                                       " on the VM, and whether the MSI is the current agent." % (self.host, still), changed=True)
        self.check_version(state)
        for service in state["services"]:
            if reason and not service.get("exists"):
                continue  # the install finding already says so, and what is done about it
            self.ensure_service("service_" + service["name"].lower(), service, "install the agent (win_agent_install)",
                                automatic=True, restart=self.args["restart"])

    def read_state(self) -> dict:
        return self.read(READ, "the guest agent's services and version", Services=list(agent.SERVICES),
                         ProductName=agent.PRODUCT_NAME, BackupProcesses=list(agent.BACKUP_PROCESSES))

    def check_dotnet(self, state: dict) -> None:
        version = agent.dotnet_version(state.get("dotnet_release"))
        detail = {"release": state.get("dotnet_release"), "version": version}
        if version:
            self.add("dotnet", "ok", ".NET Framework %s is installed" % version, detail)
        else:
            self.add("dotnet", "found", ".NET Framework 4.5 or later is missing (Release %s); the agent needs it: install "
                     ".NET Framework 4.8 on the VM" % state.get("dotnet_release"), detail)

    def check_version(self, state: dict) -> None:
        version = agent.file_version(state.get("version"))
        detail = {"version": version, "product_version": state.get("version"), "min_version": self.args["min_version"]}
        if version is None:
            self.add("version", "skipped", "no WaAppAgent.exe to read a version from", detail)
        elif agent.older(version, self.args["min_version"]):
            # Where installing is refused, turned off, or pending in check mode.
            self.add("version", "found", "agent %s is older than %s" % (version, self.args["min_version"]), detail)
        else:
            self.add("version", "ok", "agent %s (at least %s)" % (version, self.args["min_version"]), detail)

    def install(self, state: dict, reason: str) -> bool:
        """Install the agent MSI; False when it may not be, with a finding that says why."""
        detail = {"reason": reason, "products": state["products"], "source": self.args["msi_src"] or self.args["msi_url"]}
        running = agent.backup_running(state["backup_processes"])
        if running:
            self.add("install", "failed", "%s, but a backup snapshot is running (%s): the agent is not reinstalled or updated "
                     "while a backup runs (Microsoft's troubleshooting article). Run again when the backup job has finished."
                     % (reason, ", ".join(running)), dict(detail, backup_processes=running))
            return False
        if not self.args["install"]:
            self.add("install", "found", "%s; installing is turned off (win_agent_install)" % reason, detail)
            return False
        # A leftover entry of a broken install is removed first (the article); an update installs over it.
        old = state["products"] if any(not s.get("exists") for s in state["services"]) else []
        steps = ["uninstall %s" % p["name"] for p in old] + ["install the agent MSI from %s" % detail["source"]]
        self.diff("installed programs", "".join("%s\n" % p["name"] for p in state["products"]), "%s (from the MSI)\n" % agent.PRODUCT_NAME)
        if self.check_mode:
            self.add("install", self.fixed_or_found(), "%s: would %s" % (reason, ", then ".join(steps)), detail)
            return True
        self.put_msi()
        for product in old:
            self.apply("win_package", "uninstalling %s" % product["name"], product_id=product["product_id"], state="absent")
        self.apply("win_package", "installing the agent MSI", path=MSI_DEST, state="present")
        self.add("install", self.fixed_or_found(), "%s: %s" % (reason, ", then ".join(steps)), detail)
        return True

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
