# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CAPTURE: joins the reads every Windows cause kept while azure_backup_capture was on, adds one read of
the VM's PowerShell, Windows build, language and code pages, and writes them as one JSON file per host on
the controller (docs/capture.md). Reads only; runs in check mode only."""

from __future__ import annotations

import datetime
import json
import os
import shutil

import yaml

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_atomically
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import WinCauseAction

# The collection's root: plugins/action/win_capture.py -> three levels up.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENVIRONMENT = r"""#azure_backup.remediation/capture.read
# What a capture records about the VM besides the causes' reads: PowerShell, the Windows build, the
# language and the code pages native tools print in (vssadmin, icacls). Reads only.
[CmdletBinding(SupportsShouldProcess)]
param()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$os = Get-CimInstance -ClassName Win32_OperatingSystem
# ACP and OEMCP: the ANSI and OEM (console) code pages the system locale chose.
$codePages = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage'
# Get-WinSystemLocale exists from Windows Server 2012 on; [Console] may have no console under WinRM.
$systemLocale = try { (Get-WinSystemLocale).Name } catch { $null }
$outputCodePage = try { [Console]::OutputEncoding.CodePage } catch { $null }

$Ansible.Result = @{
    ps_version = [string]$PSVersionTable.PSVersion
    ps_edition = [string]$PSVersionTable.PSEdition
    clr_version = [string]$PSVersionTable.CLRVersion
    os_caption = $os.Caption
    os_version = $os.Version
    os_build = $os.BuildNumber
    os_language = $os.OSLanguage
    ui_culture = (Get-UICulture).Name
    culture = (Get-Culture).Name
    system_locale = $systemLocale
    ansi_code_page = $codePages.ACP
    oem_code_page = $codePages.OEMCP
    output_code_page = $outputCodePage
}
"""


def collection_version() -> str:
    """The installed collection's version (MANIFEST.json), or the checkout's (galaxy.yml)."""
    try:
        with open(os.path.join(COLLECTION_ROOT, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(os.path.join(COLLECTION_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
            return str(yaml.safe_load(handle)["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "unknown"


class ActionModule(WinCauseAction):
    CAUSE = "CAPTURE"
    ARGUMENT_SPEC = {
        "step": {"type": "str", "choices": ["begin", "finish"], "default": "finish"},
    }

    def check_and_report(self, result: dict) -> dict:
        """Not a cause: no findings; the result says what was written (``path``, ``reads``, ``failed_reads``)."""
        try:
            if not self.capture_dir:
                raise RemediationError("CAPTURE on %s: azure_backup_capture is not on; run playbooks/capture.yml. Nothing was read."
                                       % self.host)
            outcome = self.begin() if self.args["step"] == "begin" else self.finish()
        except RemediationError as exc:
            return dict(result, failed=True, changed=False, msg=exc.msg)
        except OSError as exc:
            return dict(result, failed=True, changed=False, msg="CAPTURE: cannot write the capture of %s in %s: %s"
                        % (self.host, self.capture_dir, exc))
        return dict(result, changed=False, **outcome)

    def steps(self):
        raise NotImplementedError("win_capture reports through check_and_report")

    def begin(self) -> dict:
        # Reads left behind by an interrupted capture would be joined into this one otherwise.
        shutil.rmtree(self.capture_parts(), ignore_errors=True)
        return {"msg": "capture of %s begun in %s" % (self.host, self.capture_dir)}

    def finish(self) -> dict:
        try:
            self.read(ENVIRONMENT, "the PowerShell and Windows versions, language and code pages")
        except RemediationError:
            pass  # the failed read is captured as such: what failed is worth seeing too
        environment = self.captured.pop()
        parts, reads = self.capture_parts(), []
        for name in sorted(os.listdir(parts)) if os.path.isdir(parts) else []:
            with open(os.path.join(parts, name), encoding="utf-8") as handle:
                reads.extend(json.load(handle))
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = capture.document(self.host, collection_version(), now, environment, reads)
        path = os.path.join(self.capture_dir, capture.host_file_name(self.host))
        write_atomically(path, (json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8"))
        shutil.rmtree(parts, ignore_errors=True)
        failed = sorted({r["tag"] for r in reads + [environment] if r["failed"]})
        said = "; failed: " + ", ".join(failed) if failed else ""
        return {"path": path, "reads": len(reads) + 1, "failed_reads": failed,
                "msg": "wrote %s: %d reads by %d scripts%s" % (path, len(reads) + 1, len(doc["scripts"]), said)}

    def keep_capture(self) -> None:
        """This task writes the capture itself; it keeps no part of its own."""
