# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_TEMP_FILES: more than 60,000 files with the extension TMP in C:\\Windows\\Temp break the agent's registration
(article 004, "Weitere Empfehlungen": check for more than 60,000 or 65,000 .tmp files and delete them).

Only files directly in the folder whose name ends in ".tmp" are counted and deleted. The wildcard alone is not enough:
on Windows PowerShell (.NET Framework) Directory.EnumerateFiles(path, "*.tmp") also returns "x.tmpl", since a pattern
whose extension has exactly three characters matches every extension that begins with it (learn.microsoft.com,
Directory.EnumerateFiles(String, String), Remarks), so each name is tested for the exact suffix too. The count and
the deletion are each one script run, however many files there are. Only files last written more than min_age_hours ago
are deleted: a younger one may belong to a setup or a job running now, and stays (counted as kept), as does a file in
use; a file gone between the listing and its delete was removed by someone else and is counted apart."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import text_diff

READ = r"""#azure_backup.remediation/mars_temp_files.read
# The MARS agent, and how many files named *<Extension> lie directly in the Windows temp folder, with their size, and
# how many of them were last written more than MinAgeHours ago. Counted, not listed: there may be a hundred thousand.
# Reads only.
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$Extension,
    [int]$MinAgeHours
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + r"""
$folder = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
$cutoff = [DateTime]::UtcNow.AddHours(-$MinAgeHours)
$count = 0
$old = 0
$bytes = [long]0
# '*.tmp' alone also returns 'x.tmpl' (a three-character extension matches every extension beginning with it).
foreach ($name in [System.IO.Directory]::EnumerateFiles($folder, '*' + $Extension)) {
    if (-not $name.EndsWith($Extension, [System.StringComparison]::OrdinalIgnoreCase)) { continue }
    $info = [System.IO.FileInfo]::new($name)
    # Deleted by someone else since it was listed: not counted.
    if (-not $info.Exists) { continue }
    $count++
    $bytes += $info.Length
    if ($info.LastWriteTimeUtc -lt $cutoff) { $old++ }
}
$Ansible.Result = @{ agent = Get-MarsAgent; folder = $folder; count = $count; old = $old; bytes = $bytes }
"""

DELETE = r"""#azure_backup.remediation/mars_temp_files.delete
# Deletes the files named *<Extension> directly in the Windows temp folder last written more than MinAgeHours ago, one
# by one: a younger file, or one in use or refused, stays and is counted as kept; one already gone is counted as gone.
# Answers with what was removed, kept and gone and the bytes freed. Never sent in check mode.
[CmdletBinding()]
param(
    [string]$Extension,
    [int]$MinAgeHours
)
$ErrorActionPreference = 'Stop'
$folder = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
$cutoff = [DateTime]::UtcNow.AddHours(-$MinAgeHours)
$result = @{ folder = $folder; removed = 0; kept = 0; young = 0; gone = 0; bytes_freed = [long]0
    kept_examples = [System.Collections.Generic.List[string]]::new() }
try {
    # Listed first, then deleted: deleting while enumerating the same folder may skip files.
    $names = @([System.IO.Directory]::EnumerateFiles($folder, '*' + $Extension) |
            Where-Object { $_.EndsWith($Extension, [System.StringComparison]::OrdinalIgnoreCase) })
    foreach ($name in $names) {
        try {
            $info = [System.IO.FileInfo]::new($name)
            # File.Delete does not throw for a file that is not there (learn.microsoft.com, File.Delete), so it is looked for:
            # deleted by someone else since the listing.
            if (-not $info.Exists) {
                $result.gone++
                continue
            }
            if ($info.LastWriteTimeUtc -ge $cutoff) {
                $result.young++
                $result.kept++
                continue
            }
            $size = $info.Length
            [System.IO.File]::Delete($name)
            $result.removed++
            $result.bytes_freed += $size
        }
        catch [System.IO.FileNotFoundException] {
            # An IOException too: gone, not kept.
            $result.gone++
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
    ARGUMENT_SPEC = {"limit": {"type": "int", "default": causes.TEMP_LIMIT}, "min_age_hours": {"type": "int", "default": causes.TEMP_MIN_AGE}}

    def parameters(self) -> dict:
        return {"Extension": causes.TEMP_EXTENSION, "MinAgeHours": self.args["min_age_hours"]}

    def first_read(self) -> tuple:
        return READ, "the .tmp files in the Windows temp folder", self.parameters()

    def steps(self):
        if self.args["limit"] < 1:
            raise RemediationError("MARS_TEMP_FILES on %s: mars_agent_temp_files_limit must be a number of files above 0, not %s. Nothing "
                                   "was read." % (self.host, self.args["limit"]), check="arguments")
        if not 0 <= self.args["min_age_hours"] <= causes.TEMP_MAX_AGE:
            raise RemediationError("MARS_TEMP_FILES on %s: mars_agent_temp_files_min_age_hours must be a number of hours from 0 to %d, not %s. "
                                   "Nothing was read." % (self.host, causes.TEMP_MAX_AGE, self.args["min_age_hours"]), check="arguments")
        state = self.read(READ, "the .tmp files in the Windows temp folder", **self.parameters())
        if not self.installed(state):
            yield self.not_installed_step()
            return
        count, limit, hours = int(state.get("count") or 0), self.args["limit"], self.args["min_age_hours"]
        old = int(state.get("old") or 0)
        detail = {"folder": state.get("folder"), "count": count, "old": old, "bytes": state.get("bytes"), "limit": limit, "min_age_hours": hours}
        words = "%d %s file(s) in %s (%s)" % (count, causes.TEMP_EXTENSION, state.get("folder"), causes.mib(state.get("bytes")))
        if count <= limit:
            yield Step("temp_files", "ok", "%s, not more than %d" % (words, limit), detail)
            return
        words = "%s, more than %d; %d of them last written more than %d h ago" % (words, limit, old, hours)
        if not old:
            yield Step("temp_files", "found", "%s: none is deleted yet (younger files may belong to a setup or job running now); "
                       "run again later, or lower mars_agent_temp_files_min_age_hours" % words, detail)
            return
        diff = text_diff("%s\\*%s" % (state.get("folder"), causes.TEMP_EXTENSION), "%d files\n" % count,
                         "%d files (those written in the last %d h, and files in use, stay)\n" % (count - old, hours))
        yield Step("temp_files", "found", words, detail, change=Change(
            "delete the %d %s files last written more than %d h ago (only those; a file in use stays)" % (old, causes.TEMP_EXTENSION, hours),
            lambda: self.delete(detail), diff))

    def delete(self, detail: dict) -> Step:
        answer = self.apply("win_powershell", "deleting the %s files" % causes.TEMP_EXTENSION, script=DELETE, parameters=self.parameters())
        result = answer.get("result") or {}
        detail.update(removed=result.get("removed"), kept=result.get("kept"), young=result.get("young"), gone=result.get("gone"),
                      bytes_freed=result.get("bytes_freed"), kept_examples=result.get("kept_examples") or [])
        status, summary = causes.temp_summary(result, self.args["min_age_hours"])
        if status == "fixed" and int(result.get("kept") or 0) > self.args["limit"]:
            status, summary = "found", summary + ", still more than %d" % self.args["limit"]
        return Step("temp_files", status, summary, detail)
