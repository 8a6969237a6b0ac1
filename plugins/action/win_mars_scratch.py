# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_SCRATCH: the MARS scratch (cache) folder (article 004: errors 34506, 0x1FC07, SalChecksumStoreInitializationFailed,
SalVhdInitializationError, SalLowDiskSpace; the MARS FAQ, "Manage the backup cache folder").

Both ScratchLocation values must name the folder. A mismatch is fixed only towards the value whose folder exists and
holds OnlineBackup.KEK, in one script (SET) that does what the FAQ's "How do I change the cache location" does: where
the engine runs, it asks the agent's module whether a MARS job runs (Get-OBJob) and changes nothing when one does or
when that cannot be told; it stops obengine (bounded), sets both values, and starts it again (bounded). A stopped engine
is not started: it reads the values when it starts. On a DPM or MABS server it is reported, not changed; no data is
ever moved. The folder must exist and be listable, carry no attribute the FAQ rules out, lie on a local volume with
enough free space, and hold OnlineBackup.KEK: reported."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import GET_SERVICE_STATE, text_diff

READ = r"""#azure_backup.remediation/mars_scratch.read
# The MARS agent, both ScratchLocation values (and their kinds), and for each folder they name: whether it exists and
# can be listed, its attributes, OnlineBackup.KEK in it, and its volume (drive type, file system, size, free space,
# de-duplication); the engine service. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$ConfigKey,
    [string]$ProviderKey,
    [string]$ValueName,
    [string]$KekName,
    [string]$Service
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + GET_SERVICE_STATE + r"""
function Get-RegistryString {
    param([string]$Key, [string]$Name)
    if (-not (Test-Path -LiteralPath $Key)) {
        return @{ value = $null; kind = $null }
    }
    $item = Get-Item -LiteralPath $Key
    if ($item.GetValueNames() -notcontains $Name) {
        return @{ value = $null; kind = $null }
    }
    # DoNotExpandEnvironmentNames: an ExpandString is compared and copied as it is written.
    @{ value = [string]$item.GetValue($Name, $null, 'DoNotExpandEnvironmentNames'); kind = [string]$item.GetValueKind($Name) }
}

function Get-ScratchFolder {
    param([string]$Value)
    $Path = [Environment]::ExpandEnvironmentVariables($Value)
    $folder = @{ path = $Value; expanded = $Path; exists = $false; accessible = $false; kek = $false; attributes = $null; volume = $null; error = $null }
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) {
        return $folder
    }
    $folder.exists = $true
    try {
        $item = Get-Item -LiteralPath $Path -Force
        $folder.attributes = [int]$item.Attributes
        # Listing it is what the agent needs first: an ACL or a filter driver that refuses it shows here.
        $null = @(Get-ChildItem -LiteralPath $Path -Force | Select-Object -First 1)
        $folder.accessible = $true
        $folder.kek = Test-Path -LiteralPath (Join-Path -Path $Path -ChildPath $KekName) -PathType Leaf
    }
    catch {
        $folder.error = $_.Exception.Message
        return $folder
    }
    # The volume whose root or mount point is the longest start of the folder's path.
    $full = $item.FullName.TrimEnd('\') + '\'
    $ignoreCase = [System.StringComparison]::OrdinalIgnoreCase
    $volume = @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.Name -and $full.StartsWith($_.Name, $ignoreCase) } |
            Sort-Object -Property { $_.Name.Length } -Descending) | Select-Object -First 1
    if ($volume) {
        $dedup = $null
        if (Get-Command -Name Get-DedupVolume -ErrorAction SilentlyContinue) {
            try {
                $dedup = [bool](Get-DedupVolume -Volume $volume.Name.TrimEnd('\') -ErrorAction SilentlyContinue)
            }
            catch {
                # A terminating error (the Data Deduplication service or its WMI provider not answering): unknown, not the read's end.
                $dedup = $null
            }
        }
        $folder.volume = @{ name = $volume.Name; drive_type = [int]$volume.DriveType; file_system = $volume.FileSystem
            capacity = [long]$volume.Capacity; free = [long]$volume.FreeSpace; dedup = $dedup }
    }
    $folder
}

$config = Get-RegistryString -Key $ConfigKey -Name $ValueName
$provider = Get-RegistryString -Key $ProviderKey -Name $ValueName
$paths = @(@($config.value, $provider.value) | Where-Object { $_ } | Sort-Object -Unique)
$Ansible.Result = @{
    agent = Get-MarsAgent
    config = $config.value; config_kind = $config.kind
    provider = $provider.value; provider_kind = $provider.kind
    folders = @(foreach ($path in $paths) { Get-ScratchFolder -Value $path })
    service = Get-ServiceState -Name $Service
}
"""

SET = r"""#azure_backup.remediation/mars_scratch.set
# Sets both ScratchLocation values as the MARS FAQ changes the cache location: where the engine runs, Get-OBJob first
# (a job running, or no answer, changes nothing), then a bounded stop, both values, a bounded start. A stopped engine
# stays stopped. Says which values it wrote, and where it stopped. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$Service,
    [string]$InstallPath,
    [int]$TimeoutSeconds,
    [string[]]$Keys,
    [string]$ValueName,
    [string]$Value,
    [string]$Kind
)
$ErrorActionPreference = 'Stop'
$changed = $false
""" + mars.ENGINE_FUNCTIONS + r"""
$engine = Get-Service -Name $Service -ErrorAction SilentlyContinue
$result = @{ job = $null; stop = $null; start = $null; written = @(); error = $null; was_running = $false }
$go = $true
if ($engine -and $engine.Status -ne 'Stopped') {
    $result.was_running = $true
    $result.job = Get-MarsJob -InstallPath $InstallPath
    $go = ($result.job.running -eq $false)
    if ($go) {
        $result.stop = Stop-Engine -Engine $engine -TimeoutSeconds $TimeoutSeconds
        $go = ($result.stop.status -eq 'stopped')
        $changed = $go
    }
}
if ($go) {
    foreach ($key in $Keys) {
        try {
            if (-not (Test-Path -LiteralPath $key)) {
                $null = New-Item -Path $key -Force
            }
            # -Type keeps the kind (String or ExpandString) of the value it copies.
            Set-ItemProperty -LiteralPath $key -Name $ValueName -Value $Value -Type $Kind
            $result.written += $key
            $changed = $true
        }
        catch {
            $result.error = "$($key): $($_.Exception.Message)"
            break
        }
    }
    # What was stopped runs again, also when a value could not be set.
    if ($result.was_running) {
        $result.start = Start-Engine -Engine $engine -TimeoutSeconds $TimeoutSeconds
    }
}
$Ansible.Changed = $changed
$Ansible.Result = $result
"""

# The kinds a path may be written as (RegistryValueKind names, as Set-ItemProperty -Type takes them).
_KINDS = ("String", "ExpandString")


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_SCRATCH"
    ARGUMENT_SPEC = {"min_free_percent": {"type": "float", "default": 5.0}}

    @staticmethod
    def parameters() -> dict:
        return {"ConfigKey": causes.CONFIG_KEY, "ProviderKey": causes.PROVIDER_KEY, "ValueName": causes.VALUE, "KekName": causes.KEK,
                "Service": mars.SERVICE}

    def first_read(self) -> tuple:
        return READ, "the MARS scratch folder", self.parameters()

    def steps(self):
        minimum = self.args["min_free_percent"]
        if not causes.MIN_FREE_LOW < minimum <= causes.MIN_FREE_HIGH:
            raise RemediationError("MARS_SCRATCH on %s: mars_agent_scratch_min_free_percent must be above %s and at most %s, not %s. "
                                   "Nothing was read." % (self.host, causes.MIN_FREE_LOW, causes.MIN_FREE_HIGH, minimum), check="arguments")
        state = self.read(READ, "the MARS scratch folder", **self.parameters())
        if not self.installed(state):
            yield self.not_installed_step()
            return
        decision = causes.location_decision(state)
        detail = {"config": state.get("config"), "provider": state.get("provider")}
        if decision["status"] == "missing":
            yield Step("scratch_location", "found", "%s: the agent is not registered, or its settings are gone; register the server in "
                       "the MARS console (Register Server)" % decision["why"], detail)
            return
        if decision["status"] == "report":
            yield Step("scratch_location", "found", "the two ScratchLocation values differ and none can be chosen without moving data: %s. "
                       "Set both to the folder that holds the agent's data (FAQ: How do I change the cache location)" % decision["why"], detail)
            return
        if decision["status"] == "agree":
            yield Step("scratch_location", "ok", "both ScratchLocation values name %s" % decision["folder"], detail)
        else:
            yield self.location_fix(state, decision, detail)
        yield from self.folder_steps(causes.folder_of(state, decision["folder"]), decision["folder"], minimum)

    def location_fix(self, state: dict, decision: dict, detail: dict) -> Step:
        target = decision["target"]
        source = "config" if causes.same_path(state.get("config"), target) else "provider"
        kind = state.get(source + "_kind") if state.get(source + "_kind") in _KINDS else "String"
        detail = dict(detail, old=dict(decision["change"]), target=target)
        before = "".join("%s\\%s = %s\n" % (key, causes.VALUE, old if old is not None else "(not set)") for key, old in decision["change"])
        after = "".join("%s\\%s = %s\n" % (key, causes.VALUE, target) for key, _old in decision["change"])
        why = "the ScratchLocation values differ: %s" % decision["why"]
        if self.dpm(state):
            return Step("scratch_location", "found", "%s. Not changed: %s" % (why, mars.dpm_words("changing the cache location")), detail)
        names = " and ".join("%s\\%s" % (key, causes.VALUE) for key, _old in decision["change"])
        action = ("set %s to %s (where %s runs: unless a MARS job runs, stop it first and start it again after, as the FAQ's "
                  "How do I change the cache location does)" % (names, target, mars.SERVICE))
        return Step("scratch_location", "found", why, detail, change=Change(
            action, lambda: self.set_location(state, decision, target, kind, detail), text_diff("ScratchLocation", before, after)))

    def set_location(self, state: dict, decision: dict, target: str, kind: str, detail: dict) -> Step:
        # Both values, Config first, as the FAQ sets them; the one that already names the target is written unchanged.
        keys = [causes.CONFIG_KEY, causes.PROVIDER_KEY]
        answer = self.apply("win_powershell", "setting ScratchLocation", script=SET, parameters={
            "Service": mars.SERVICE, "InstallPath": (state.get("agent") or {}).get("install_path") or mars.DEFAULT_INSTALL_PATH,
            "TimeoutSeconds": mars.ENGINE_TIMEOUT, "Keys": keys, "ValueName": causes.VALUE, "Value": target, "Kind": kind})
        result = answer.get("result") or {}
        written = list(result.get("written") or [])
        detail = dict(detail, job=result.get("job"), stop=result.get("stop"), start=result.get("start"), written=written)
        old = "; ".join("%s\\%s was %s" % (key, causes.VALUE, value if value is not None else "not set") for key, value in decision["change"])
        problem = mars.engine_problem(result)
        if problem:
            return Step("scratch_location", problem[0], "ScratchLocation not changed (%s): %s" % (old, problem[1]), detail)
        started = mars.start_problem(result)
        if result.get("error"):
            done = ", ".join("%s\\%s" % (key, causes.VALUE) for key in written) or "none"
            return Step("scratch_location", "failed", "setting ScratchLocation to %s failed at %s; already written: %s (%s)%s"
                        % (target, result["error"], done, old, "; " + started if started else ""), detail)
        now = self.read(READ, "the MARS scratch folder after the change", **self.parameters())
        if not causes.same_path(now.get("config"), now.get("provider")):
            return Step("scratch_location", "failed", "set ScratchLocation to %s (%s), but they still differ: %s and %s"
                        % (target, old, now.get("config"), now.get("provider")), detail)
        if started:
            return Step("scratch_location", "failed", "set ScratchLocation to %s (%s), but %s" % (target, old, started), detail)
        if not result.get("was_running"):
            return Step("scratch_location", "fixed", "set ScratchLocation to %s (%s); %s is not running and reads it when it starts"
                        % (target, old, mars.SERVICE), detail)
        return Step("scratch_location", "fixed", "stopped %s, set ScratchLocation to %s (%s) and started it again so it uses it (no MARS "
                    "job was running)" % (mars.SERVICE, target, old), detail)

    def folder_steps(self, folder: dict, path: str, minimum: float):
        detail = {"path": path}
        if not folder.get("exists"):
            yield Step("folder", "found", "the scratch folder %s does not exist: restore it, or point both ScratchLocation values at the "
                       "folder that holds the agent's data (FAQ: How do I change the cache location)" % path, detail)
            return
        if not folder.get("accessible"):
            yield Step("folder", "found", "the scratch folder %s cannot be listed (%s): give SYSTEM and Administrators full control, and "
                       "check that antivirus or another process does not block it" % (path, folder.get("error")), detail)
            return
        yield Step("folder", "ok", "the scratch folder %s exists and can be listed" % path, detail)
        bad = causes.bad_attributes(folder.get("attributes"))
        attributes = dict(detail, attributes=folder.get("attributes"))
        if bad:
            yield Step("attributes", "found", "the scratch folder %s is %s, which the agent does not support (FAQ: attributes of the cache "
                       "folder): clear them, or move the cache folder" % (path, ", ".join(bad)), attributes)
        else:
            yield Step("attributes", "ok", "%s has no attribute the agent does not support" % path, attributes)
        volume = folder.get("volume") or {}
        problems = causes.volume_problems(volume)
        where = dict(detail, volume=volume)
        if problems:
            yield Step("volume", "found", "the scratch folder %s: %s (FAQ: Where should the cache folder be located?)" % (path, "; ".join(problems)),
                       where)
        else:
            yield Step("volume", "ok", "%s is on the local volume %s (%s)" % (path, volume.get("name"), volume.get("file_system")), where)
        percent = causes.free_percent(volume)
        if percent is not None:
            space = dict(where, free_percent=round(percent, 2), min_free_percent=minimum)
            words = "%.1f %% of volume %s is free (%s of %s)" % (
                percent, volume.get("name"), causes.gib(volume.get("free")), causes.gib(volume.get("capacity")))
            if percent < minimum:
                yield Step("free_space", "found", "%s, below %s %%: free space on it, extend it, or move the cache folder to a volume with "
                           "more (Microsoft sizes the free space at 5-10 %% of the backup data, plus 30-35 GB with System State)"
                           % (words, minimum), space)
            else:
                yield Step("free_space", "ok", words, space)
        kek = dict(detail, file=causes.KEK)
        if folder.get("kek"):
            yield Step("kek", "ok", "%s holds %s" % (path, causes.KEK), kek)
        else:
            yield Step("kek", "found", "%s is missing from %s (errors 34506 and 0x1FC07): if the cache folder was moved, point both "
                       "ScratchLocation values at the old folder or copy its whole content here (copy, not move)" % (causes.KEK, path), kek)
