# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_TEMP_FILES: more than 60,000 files with the extension TMP in C:\\Windows\\Temp break the agent's registration
(article 004, "Weitere Empfehlungen": check for more than 60,000 or 65,000 .tmp files and delete them).

Only files directly in the folder whose name ends in ".tmp" are counted and deleted. The wildcard alone is not enough:
on Windows PowerShell (.NET Framework) Directory.EnumerateFiles(path, "*.tmp") also returns "x.tmpl", since a pattern
whose extension has exactly three characters matches every extension that begins with it (learn.microsoft.com,
Directory.EnumerateFiles(String, String), Remarks), so each name is tested for the exact suffix too. The count and
the deletion are each one script run, however many files there are; a file in use stays and is counted as kept."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

READ = r"""#azure_backup.remediation/mars_temp_files.read
# The MARS agent, and how many files named *<Extension> lie directly in the Windows temp folder, with their size.
# Counted, not listed: there may be a hundred thousand. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Extension
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + r"""
$folder = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
$count = 0
$bytes = [long]0
# '*.tmp' alone also returns 'x.tmpl' (a three-character extension matches every extension beginning with it).
foreach ($name in [System.IO.Directory]::EnumerateFiles($folder, '*' + $Extension)) {
    if (-not $name.EndsWith($Extension, [System.StringComparison]::OrdinalIgnoreCase)) { continue }
    $count++
    $bytes += ([System.IO.FileInfo]::new($name)).Length
}
$Ansible.Result = @{ agent = Get-MarsAgent; folder = $folder; count = $count; bytes = $bytes }
"""

DELETE = r"""#azure_backup.remediation/mars_temp_files.delete
# Deletes the files named *<Extension> directly in the Windows temp folder, one by one: a file in use or refused stays
# and is counted as kept. Answers with what was removed and kept and the bytes freed. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$Extension
)
$ErrorActionPreference = 'Stop'
$folder = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
$result = @{ folder = $folder; removed = 0; kept = 0; bytes_freed = [long]0; kept_examples = [System.Collections.Generic.List[string]]::new() }
try {
    # Listed first, then deleted: deleting while enumerating the same folder may skip files.
    $names = @([System.IO.Directory]::EnumerateFiles($folder, '*' + $Extension) |
            Where-Object { $_.EndsWith($Extension, [System.StringComparison]::OrdinalIgnoreCase) })
    foreach ($name in $names) {
        try {
            $size = ([System.IO.FileInfo]::new($name)).Length
            [System.IO.File]::Delete($name)
            $result.removed++
            $result.bytes_freed += $size
        }
        catch [System.IO.IOException], [System.UnauthorizedAccessException] {
            $result.kept++
            if ($result.kept_examples.Count -lt 5) { $result.kept_examples.Add("$name ($($_.Exception.Message))") }
        }
    }
}
catch {
    $result.error = $_.Exception.Message
}
$Ansible.Changed = ($result.removed -gt 0)
$Ansible.Result = $result
"""


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_TEMP_FILES"
    ARGUMENT_SPEC = {"limit": {"type": "int", "default": causes.TEMP_LIMIT}}

    def first_read(self) -> tuple:
        return READ, "the .tmp files in the Windows temp folder", {"Extension": causes.TEMP_EXTENSION}

    def steps(self):
        if self.args["limit"] < 1:
            raise RemediationError("MARS_TEMP_FILES on %s: mars_agent_temp_files_limit must be a number of files above 0, not %s. Nothing "
                                   "was read." % (self.host, self.args["limit"]), check="arguments")
        state = self.read(READ, "the .tmp files in the Windows temp folder", Extension=causes.TEMP_EXTENSION)
        if not self.installed(state):
            yield self.not_installed_step()
            return
        count, limit = int(state.get("count") or 0), self.args["limit"]
        detail = {"folder": state.get("folder"), "count": count, "bytes": state.get("bytes"), "limit": limit}
        words = "%d %s file(s) in %s (%s)" % (count, causes.TEMP_EXTENSION, state.get("folder"), causes.mib(state.get("bytes")))
        if count <= limit:
            yield Step("temp_files", "ok", "%s, not more than %d" % (words, limit), detail)
            return
        diff = text_diff("%s\\*%s" % (state.get("folder"), causes.TEMP_EXTENSION), "%d files\n" % count, "0 files (files in use stay)\n")
        yield Step("temp_files", "found", "%s, more than %d" % (words, limit), detail, change=Change(
            "delete the %d %s files (only those; a file in use stays)" % (count, causes.TEMP_EXTENSION), lambda: self.delete(detail), diff))

    def delete(self, detail: dict) -> Step:
        answer = self.apply("win_powershell", "deleting the %s files" % causes.TEMP_EXTENSION, script=DELETE,
                            parameters={"Extension": causes.TEMP_EXTENSION})
        result = answer.get("result") or {}
        detail.update(removed=result.get("removed"), kept=result.get("kept"), bytes_freed=result.get("bytes_freed"),
                      kept_examples=result.get("kept_examples") or [])
        status, summary = causes.temp_summary(result)
        if status == "fixed" and int(result.get("kept") or 0) > self.args["limit"]:
            status, summary = "found", summary + ", still more than %d" % self.args["limit"]
        return Step("temp_files", status, summary, detail)
