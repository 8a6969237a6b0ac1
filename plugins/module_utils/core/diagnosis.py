# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Diagnosis by error code: which causes one host works through for the codes a person gave (azure_backup_error),
and the findings for what no cause of the host can do.

Pure: the remediate action plugin resolves the codes (catalogue.resolve) and hands in the host's operating system
and the causes its task may run.
"""

from __future__ import annotations

import re

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding

_MARS_DOC = "https://learn.microsoft.com/azure/backup/backup-azure-mars-troubleshoot"


def plan(codes: list, os_name: str, allowed: list) -> dict:
    """The diagnosis of ``codes`` (catalogue keys, in the order given) on a host of ``os_name`` whose task may run
    the causes ``allowed`` (play names: linux_agent, mars_scratch, ...):
    {codes, causes: cause IDs to run in order (each once), not_here: cause IDs of the codes this host does not
    run (another OS's, no role, not in its task), control_plane: the codes that ask for a step outside the guest,
    findings: one per such step (status found, the remedy in the summary), and one skipped finding per code of
    another OS}."""
    causes, not_here, control_plane, findings = [], [], [], []
    for code in codes:
        entry = catalogue.ERROR_CODES[code]
        here = catalogue.causes_for(code, os_name)
        for cause in entry["causes"]:
            name = catalogue.play_name(cause)
            if cause in here and name in allowed:
                if cause not in causes:
                    causes.append(cause)
            elif cause not in not_here:
                not_here.append(cause)
        if os_name not in catalogue.platforms(code):
            findings.append(_finding("ERROR_CODE", code, "skipped", "%s is not a %s error: it occurs on %s; nothing to check on this host"
                                     % (code, os_name.capitalize(), " and ".join(p.capitalize() for p in catalogue.platforms(code)))))
            continue
        # RP_LOCK: the lock is the control plane's; the finding says what to do there.
        outside = [c for c in here if catalogue.play_name(c) is None]
        for cause in outside:
            findings.append(_finding(cause, code, "found", "%s: %s" % (code, catalogue.cause_text(cause)["remedy"])))
        if not entry["causes"] and entry.get("remedy"):
            findings.append(_finding("ERROR_CODE", code, "found", "%s: %s" % (code, entry["remedy"])))
        if outside or not entry["causes"]:
            control_plane.append(code)
        elif not [c for c in here if c in causes]:
            findings.append(_finding("ERROR_CODE", code, "skipped", "%s: none of its causes (%s) is run by this host's task"
                                     % (code, ", ".join(entry["causes"]))))
    return {"codes": list(codes), "causes": causes, "not_here": not_here, "control_plane": control_plane, "findings": findings}


def _finding(cause: str, code: str, status: str, summary: str) -> dict:
    entry = catalogue.ERROR_CODES[code]
    result = finding(cause, "error_code_" + re.sub(r"\W+", "_", code).strip("_"), status, summary, detail={"code": code, "message": entry["message"]})
    if entry["source"] == "004":
        result["doc"] = _MARS_DOC
    return result
