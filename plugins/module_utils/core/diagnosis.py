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
    run (another OS's, no role, not in its task), control_plane: the codes that ask for a step in Azure (their
    remedy's "where" is azure, or RP_LOCK), by_hand: the codes that ask for a step in the guest that no role takes,
    findings: one per such step, and one skipped finding per code of another OS}.
    A step's finding is ``found`` when it is the fix itself (the entry's ``todo``) or nothing of the code is checked
    on this host; otherwise ``skipped``, worded as what to do if the checks pass: an unchecked lead must not turn a
    healthy host red."""
    causes, not_here, control_plane, by_hand, findings = [], [], [], [], []
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
        checked = [c for c in here if catalogue.play_name(c) in allowed and catalogue.play_name(c) is not None]
        # RP_LOCK: the lock is the control plane's, not checked from the VM; its text is worded conditionally.
        outside = [c for c in here if catalogue.play_name(c) is None]
        for cause in outside:
            findings.append(_finding(cause, code, "skipped" if checked else "found", "%s: %s" % (code, catalogue.cause_text(cause)["remedy"])))
        if outside:
            control_plane.append(code)
        if entry.get("remedy"):
            status = "found" if entry.get("todo") or not checked else "skipped"
            findings.append(_finding("ERROR_CODE", code, status, "%s: %s%s" % (
                code, "" if status == "found" else "if its checks pass and the job still fails: ", entry["remedy"])))
            where = control_plane if entry.get("where") == "azure" else by_hand
            if code not in where:
                where.append(code)
        if entry["causes"] and not outside and not [c for c in here if c in causes]:
            findings.append(_finding("ERROR_CODE", code, "skipped", "%s: none of its causes (%s) is run by this host's task"
                                     % (code, ", ".join(entry["causes"]))))
    return {"codes": list(codes), "causes": causes, "not_here": not_here, "control_plane": control_plane, "by_hand": by_hand,
            "findings": findings}


def _finding(cause: str, code: str, status: str, summary: str) -> dict:
    entry = catalogue.ERROR_CODES[code]
    result = finding(cause, "error_code_" + re.sub(r"\W+", "_", code).strip("_"), status, summary, detail={"code": code, "message": entry["message"]})
    if entry["source"] == "004":
        result["doc"] = _MARS_DOC
    return result
