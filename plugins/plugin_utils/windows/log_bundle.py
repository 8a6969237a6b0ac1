# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The log bundle's Windows side: what Microsoft support asks for, read in ONE win_powershell execution.

READ gathers, up to the size cap, the backup-related event log entries of the last hours (exported as text, not
counted), then the files the patterns name (newest first per pattern), then the MARS agent's Temp folder where
the agent is installed. Every file's content comes back in the one answer, base64; ``read()`` turns it into the
archive the Linux bundle has (same members, same MANIFEST.json shape), and plugin_utils/log_bundle.py writes it
on the controller like the Linux one.

The size cap and WinRM: the answer carries the content as base64, so a cap of N bytes is about 4/3 N in the JSON
win_powershell returns (20M: about 27 MB), and WinRM's own stream encoding adds base64 again on the wire (about
36 MB). WinRM sends that in envelopes of at most MaxEnvelopeSizekb (500 KB by default) one after the other, so no
single limit refuses it; what can is the memory of the WinRM shell: MaxMemoryPerShellMB, 1024 MB by default
(learn.microsoft.com, "Quota Management for Remote Shells"; 150 MB under WinRM 2.0, and a Group Policy may set it
lower). PowerShell holds the bytes, their base64 text (UTF-16: 8/3 of the cap) and the JSON of the answer at once:
a few hundred MB for 20M, an estimate, not measured on Windows. So the default cap stays 20M, as on Linux, and a
failed read says to lower log_bundle_max_size.
"""

from __future__ import annotations

import base64
import io
import json
import re
import tarfile
import time

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle as bundle
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import _why
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.mars import GET_MARS_AGENT

# The event logs and what of them is exported. VSS writes its errors (8193, 12289, ...) to the Application log,
# its drivers (volsnap) to the System log (learn.microsoft.com, "VSS Error Logging"). SQLWRITER and SQLVDI are the
# source names SQL Server's VSS writer and virtual device interface log under (as Event Viewer shows them; not
# taken from a Microsoft page here). The backup extension's process crashing is an Application Error event 1000
# whose first data item is the faulting image, IaaSBcdrExtension.exe (azure-docs, backup-azure-vms-troubleshoot.md).
EVENT_LOGS = ("Application", "System")
EVENT_PROVIDERS = ("VSS", "volsnap", "SQLWRITER", "SQLVDI")
FAULTING_IMAGES = ("IaaSBcdrExtension.exe",)
# win_powershell's depth for the answer: result.files[i].<key> is 3 deep.
_DEPTH = 4
REDACTED = "redacted by azure_backup.remediation"

READ = r"""#azure_backup.remediation/log_bundle.read
# The log bundle: the event log entries of the last EventHours (providers, and Application Error 1000 of the
# faulting images) exported as text, then the files the Paths name (a folder with everything below it; newest
# first per path), then the MARS agent's Temp folder where it is installed; at most MaxBytes of content, the
# newest part (the tail) of the file the cap cuts. Reads only; nothing is written on the VM.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string[]]$Paths,
    [long]$MaxBytes,
    [int]$EventHours,
    [string[]]$EventLogs,
    [string[]]$Providers,
    [string[]]$FaultingImages,
    [string]$Redacted
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + GET_MARS_AGENT + r"""
# Event levels are numbers in every language (the System/Level of an event); the words are for people.
$levelNames = @{ 0 = 'LogAlways'; 1 = 'Critical'; 2 = 'Error'; 3 = 'Warning'; 4 = 'Information'; 5 = 'Verbose' }
$invariant = [System.Globalization.CultureInfo]::InvariantCulture
$now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()

function Get-EventQuery {
    param([string]$Log)
    # timediff(@SystemTime) is the age of the event in milliseconds: the window needs no clock or time zone of ours.
    $time = 'TimeCreated[timediff(@SystemTime) &lt;= {0}]' -f ([long]$EventHours * 3600000)
    $names = ($Providers | ForEach-Object { "@Name='$_'" }) -join ' or '
    $selects = @("<Select Path='$Log'>*[System[Provider[$names] and $time]]</Select>")
    foreach ($image in $FaultingImages) {
        $selects += "<Select Path='$Log'>*[System[Provider[@Name='Application Error'] and EventID=1000 and $time]] and *[EventData[Data='$image']]</Select>"
    }
    "<QueryList><Query Id='0' Path='$Log'>$($selects -join '')</Query></QueryList>"
}

function Export-EventLog {
    # One log's entries as text, oldest first (so the tail the cap keeps is the newest): a line with the time (UTC),
    # level, provider, event id and record id, then the message indented. An entry whose provider's message file
    # is missing gets its data items instead.
    param([string]$Log)
    $entry = [ordered]@{ path = "events\$Log.txt"; mtime = $now; events = 0 }
    try {
        $found = @(Get-WinEvent -FilterXml ([xml](Get-EventQuery -Log $Log)) -ErrorAction Stop)
    }
    catch {
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
            $entry.skipped = 'unreadable: ' + $_.Exception.Message
            return $entry
        }
        $found = @()
    }
    [array]::Reverse($found)
    # ($record, not $event: $Event is an automatic variable.)
    $text = foreach ($record in $found) {
        $message = $record.Message
        if (-not $message) {
            $message = ($record.Properties | ForEach-Object { [string]$_.Value }) -join ' | '
        }
        $level = [int]$record.Level
        $word = if ($levelNames.ContainsKey($level)) { $levelNames[$level] } else { 'Level' }
        $stamp = $record.TimeCreated.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
        '{0}  {1} ({2})  {3}  id {4}  record {5}' -f $stamp, $word, $level, $record.ProviderName, $record.Id, $record.RecordId
        foreach ($line in ($message -split "`r?`n")) { '    ' + $line }
        ''
    }
    $entry.events = $found.Count
    $entry.data = [System.Text.Encoding]::UTF8.GetBytes((@($text) -join "`r`n"))
    $entry
}

function Get-BundleFile {
    # The regular files one path names, newest first; links (reparse points) are left out. A folder below that
    # cannot be listed is named in the manifest.
    param([string]$Pattern)
    $batch = @()
    foreach ($top in @(Get-Item -Path $Pattern -Force -ErrorAction SilentlyContinue)) {
        if ($top.PSIsContainer) {
            $batch += @(Get-ChildItem -LiteralPath $top.FullName -File -Recurse -Force -ErrorAction SilentlyContinue -ErrorVariable walkErrors)
            foreach ($problem in $walkErrors) { $script:denied.Add($problem) }
        }
        else {
            $batch += $top
        }
    }
    $batch | Where-Object { -not ($_.Attributes -band [System.IO.FileAttributes]::ReparsePoint) } |
        Sort-Object -Property LastWriteTimeUtc -Descending
}

function Read-Tail {
    # The last $Take bytes of a file and its size, read while the agent may be writing it (FileShare ReadWrite, Delete).
    param([string]$Path, [long]$Take)
    $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]'ReadWrite, Delete')
    try {
        $size = $stream.Length
        $length = [Math]::Min($size, $Take)
        $null = $stream.Seek($size - $length, [System.IO.SeekOrigin]::Begin)
        $buffer = [byte[]]::new($length)
        $done = 0
        while ($done -lt $length) {
            $read = $stream.Read($buffer, $done, $length - $done)
            if ($read -le 0) { break }
            $done += $read
        }
        [Array]::Resize([ref]$buffer, $done)
        @{ size = $size; data = $buffer }
    }
    finally {
        $stream.Dispose()
    }
}

$files = [System.Collections.Generic.List[object]]::new()
$denied = [System.Collections.Generic.List[object]]::new()
$left = $MaxBytes
function Hide-Signatures {
    # A SAS URL's signature (sig=...) in any file (the extension's status and settings carry blob URLs with one): each
    # character masked with '*', so the length and every offset stay the file's. Latin-1 maps each byte to one char.
    param([byte[]]$Data)
    $latin1 = [System.Text.Encoding]::GetEncoding(28591)
    $text = $latin1.GetString($Data)
    # Also as XML (&amp;sig=), JSON (\u0026sig=) and URL-encoded (%26sig%3D) write it. UTF-16 files are not looked into.
    $masked = [regex]::Replace($text, '(?i)(?<=(?:[?&]|&amp;|\\u0026|%26)sig(?:=|%3D))[^&"''\s<>\\]+',
                               [System.Text.RegularExpressions.MatchEvaluator] { param($m) '*' * $m.Value.Length })
    @{ data = $latin1.GetBytes($masked); hidden = ($masked -ne $text) }
}

function Add-Part {
    # Spends the cap on one entry whose newest bytes are $Data, of $Size in all: whole while it fits, else its
    # newest part; nothing left: named as left out.
    param($Entry, [byte[]]$Data, [long]$Size)
    $take = [Math]::Min([long]$Data.Length, $script:left)
    $Entry.size = $Size
    $Entry.offset = $Size - $take
    $Entry.length = $take
    $Entry.truncated = ($take -gt 0) -and ($take -lt $Size)
    $Entry.left_out = ($take -eq 0) -and ($Size -gt 0)
    if ($Entry.left_out) { $Entry.skipped = 'cap reached' }
    if ($take -gt 0) {
        $Entry.content = [Convert]::ToBase64String($Data, [int]($Data.Length - $take), [int]$take)
    }
    $script:left -= $take
    $script:files.Add($Entry)
}

if ($EventHours -gt 0) {
    foreach ($log in $EventLogs) {
        $entry = Export-EventLog -Log $log
        if ($entry.Contains('skipped')) {
            $entry.size = 0; $entry.offset = 0; $entry.length = 0; $entry.truncated = $false; $entry.left_out = $false
            $files.Add($entry)
            continue
        }
        $data = $entry.data
        $entry.Remove('data')
        Add-Part -Entry $entry -Data $data -Size $data.Length
    }
}

$agent = Get-MarsAgent
$patterns = @($Paths | Where-Object { $_ })
if ($agent.installed) {
    $patterns += Join-Path -Path $agent.install_path -ChildPath 'Temp'
}
$seen = @{}
foreach ($pattern in $patterns) {
    foreach ($file in @(Get-BundleFile -Pattern $pattern)) {
        if ($seen.ContainsKey($file.FullName)) { continue }
        $seen[$file.FullName] = $true
        $entry = [ordered]@{
            path = $file.FullName; size = [long]$file.Length; offset = 0; length = 0; truncated = $false; left_out = $false
            mtime = ([DateTimeOffset]::new($file.LastWriteTimeUtc)).ToUnixTimeSeconds()
        }
        if ($left -le 0) {
            $entry.left_out = $entry.size -gt 0
            if ($entry.left_out) { $entry.skipped = 'cap reached' }
            $files.Add($entry)
            continue
        }
        try {
            if ($file.Name -like '*.settings') {
                # An extension's RuntimeSettings: protectedSettings is encrypted, but to a certificate on this VM.
                $whole = Read-Tail -Path $file.FullName -Take ([long]::MaxValue)
                # objectStr (VMSnapshot's public settings) is a blob of the backup's own settings and URLs: left out too.
                $text = [regex]::Replace([System.Text.Encoding]::UTF8.GetString($whole.data), '("(?:protectedSettings|objectStr)"\s*:\s*)"[^"]*"',
                                         ('$1"' + $Redacted + '"'))
                $entry.redacted = 'protectedSettings, objectStr'
                $data = [System.Text.Encoding]::UTF8.GetBytes($text)
                $part = @{ size = [long]$data.Length; data = $data }
            }
            else {
                $part = Read-Tail -Path $file.FullName -Take $left
            }
        }
        catch {
            # A sharing or lock violation (HRESULT 0x80070020, 0x80070021): a file held open without sharing.
            $inner = $_.Exception
            while ($inner.InnerException) { $inner = $inner.InnerException }
            $locked = ($inner -is [System.IO.IOException]) -and ($inner.HResult -eq -2147024864 -or $inner.HResult -eq -2147024863)
            $why = if ($locked) { 'locked: ' } else { 'unreadable: ' }
            $entry.skipped = $why + $inner.Message
            $files.Add($entry)
            continue
        }
        $clean = Hide-Signatures -Data $part.data
        if ($clean.hidden) { $entry.signatures = 'masked' }
        Add-Part -Entry $entry -Data $clean.data -Size $part.size
    }
}
foreach ($problem in $denied) {
    $files.Add([ordered]@{ path = [string]$problem.TargetObject; size = 0; offset = 0; length = 0; truncated = $false; left_out = $false
        skipped = 'unreadable: ' + $problem.Exception.Message })
}

$Ansible.Result = @{
    agent = $agent
    files = $files.ToArray()
}
"""


def parameters(args: dict) -> dict:
    """READ's parameters from the log bundle's Windows options."""
    return {"Paths": list(args.get("paths") or bundle.DEFAULT_WINDOWS_PATHS), "MaxBytes": bundle.parse_size(args["max_size"]),
            "EventHours": int(args.get("event_hours", bundle.DEFAULT_EVENT_HOURS)), "EventLogs": list(EVENT_LOGS),
            "Providers": list(EVENT_PROVIDERS), "FaultingImages": list(FAULTING_IMAGES), "Redacted": REDACTED}


def member_name(path: str) -> str:
    r"""The name in the archive: C:\WindowsAzure\Logs\WaAppAgent.log is C/WindowsAzure/Logs/WaAppAgent.log, as the
    Linux bundle names /var/log/waagent.log var/log/waagent.log; events\System.txt is events/System.txt."""
    return re.sub(r"^([A-Za-z]):", r"\1", path).replace("\\", "/").lstrip("/")


def archive(files: list, manifest: dict) -> bytes:
    """A gzipped tar of the parts READ returned, with MANIFEST.json; every member owner-only, as on Linux."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in files:
            if not item.get("content"):
                continue
            data = base64.b64decode(item["content"])
            info = tarfile.TarInfo(member_name(item["path"]))
            info.size, info.mtime, info.mode = len(data), int(item.get("mtime") or 0), 0o600
            tar.addfile(info, io.BytesIO(data))
        text = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("MANIFEST.json")
        info.size, info.mtime, info.mode = len(text), int(time.time()), 0o600
        tar.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


def read(action, task_vars: dict, args: dict, reasons: list) -> dict:
    """The bundle of a Windows host in one execution: the Linux log_bundle module's answer ({archive (base64),
    reasons, files}), or failed with the reason and the remedy."""
    host = task_vars.get("inventory_hostname", "this host")
    hours = args.get("event_hours", bundle.DEFAULT_EVENT_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= 8760:
        return {"failed": True, "msg": "event_hours (log_bundle_event_hours) = %r is not allowed on %s: a whole number of hours from 0 "
                "to 8760. Nothing was collected." % (hours, host)}
    sent = parameters(args)
    answer = action._execute_module(module_name="ansible.windows.win_powershell", task_vars=task_vars,  # pylint: disable=protected-access
                                    module_args={"script": READ, "parameters": sent, "depth": _DEPTH})
    result = answer.get("result")
    if answer.get("failed") or not isinstance(result, dict) or not isinstance(result.get("files"), list):
        return {"failed": True, "msg": "reading the logs on %s failed: %s. Nothing was changed. The answer carries the logs as base64 "
                "(4/3 of log_bundle_max_size, %s): where WinRM's shell ran out of memory (MaxMemoryPerShellMB), lower "
                "log_bundle_max_size." % (host, _why(answer), args["max_size"])}
    files = [dict(f) for f in result["files"] if isinstance(f, dict)]
    listed = [{k: v for k, v in f.items() if k != "content"} for f in files]
    manifest = {"reasons": reasons, "collected": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "max_bytes": sent["MaxBytes"],
                "files": listed,
                "events": {"hours": sent["EventHours"], "logs": sent["EventLogs"], "providers": sent["Providers"],
                           "application_errors_of": sent["FaultingImages"]},
                "redacted": "protectedSettings and objectStr of every *.settings file (the extensions' RuntimeSettings) are replaced by "
                            "'%s'; in every file read as bytes (not UTF-16 files, not the events), a SAS URL's signature (sig=..., also "
                            "as &amp;sig=, \\u0026sig= and %%26sig%%3D) is masked with * (files marked signatures: masked); a cut tail may "
                            "begin inside one" % REDACTED,
                "mars_agent": result.get("agent") or {}}
    return {"changed": False, "reasons": reasons, "files": listed, "archive": base64.b64encode(archive(files, manifest)).decode("ascii")}
