"""The fix_backup role: one remediate task, and its documentation's table of error codes equals the catalogue's.

Regenerate roles/fix_backup/meta/argument_specs.yml after changing the catalogue:
  PYTHONPATH=.collections .venv/bin/python tests/unit/test_fix_backup_role.py > roles/fix_backup/meta/argument_specs.yml
"""
from __future__ import annotations

import os
import sys

import yaml

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue

HEAD = """---
# The table of azure_backup_error's description is the catalogue's (plugins/module_utils/core/catalogue.py doc_table());
# a unit test keeps them equal. Regenerate: see tests/unit/test_fix_backup_role.py.
"""
INTRO = [
    "The error a failed backup job showed (portal, Log Analytics C(JobFailureCode), C(az backup job show)): only its causes run,"
    " in the order below, those of the VM's operating system. Unset or empty, every cause runs.",
    "A symbolic code, a numeric code of the job API the articles pair with a name, a MARS agent message ID, or the error message"
    " in English or German (case, punctuation and spacing do not matter; a message cut short matches from 16 characters on)."
    " Several as a comma list or a list: their causes merge in order, each once.",
    "An unknown code fails the run before any VM is contacted, naming the closest known codes. A code's step that no role"
    " takes (in Azure or by hand) adds an C(ERROR_CODE) finding saying what to do: C(found) when it is the fix itself or"
    " nothing of the code is checked, else C(skipped), as what to do if the checks pass. The result's C(diagnosis) says"
    " which codes and causes ran, and lists the codes with a step in Azure (C(control_plane)) or by hand (C(by_hand)).",
    "Full table with the messages in English and German: C(docs/error-codes.md).",
    "The codes, each with its causes in order ([linux] or [windows] where it occurs on one only):",
]


def spec():
    return {"argument_specs": {"main": {
        "short_description": "Check and fix every cause of failed Azure VM backups on a VM, or those of one error code",
        "description": [
            "One task, M(azure_backup.remediation.remediate), with the log bundle: every cause of the VM's operating system in"
            " the order of Microsoft's articles, or with O(azure_backup_error) only that error code's causes. For your own plays:"
            " C(ansible.builtin.include_role: name=azure_backup.remediation.fix_backup).",
            "Each cause's variables are those of its role (for example C(ansible-doc -t role azure_backup.remediation.win_agent)).",
            "Publishes the findings in the host fact C(azure_backup_findings).",
        ],
        "options": {
            "azure_backup_error": {"type": "raw", "description": INTRO + catalogue.doc_table()},
            "azure_backup_os": {"type": "str", "choices": ["linux", "windows"], "description": [
                "The VM's operating system. Unset, Windows where the connection is C(winrm) or C(psrp) or the shell PowerShell,"
                " else Linux."]},
            "azure_backup_lock_wait": {"type": "float", "default": 120, "description": [
                "Seconds to wait for another run that is changing the same VM, from 0 to 3600."]},
        },
    }}}


class _Indented(yaml.SafeDumper):
    """Lists indented under their key, as yamllint wants them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def text():
    return HEAD + yaml.dump(spec(), Dumper=_Indented, sort_keys=False, allow_unicode=True, width=110)


ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_the_role_s_table_of_error_codes_is_the_catalogue_s():
    with open(os.path.join(ROOT, "roles", "fix_backup", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        documented = yaml.safe_load(handle)
    table = documented["argument_specs"]["main"]["options"]["azure_backup_error"]["description"][len(INTRO):]
    assert table == catalogue.doc_table(), "regenerate roles/fix_backup/meta/argument_specs.yml (see this file's docstring)"
    assert documented == spec()


def test_the_table_names_every_code_with_its_causes_in_order():
    lines = catalogue.doc_table()
    assert len(lines) == len(catalogue.ERROR_CODES)
    for line, (code, entry) in zip(lines, catalogue.ERROR_CODES.items()):
        assert line.startswith("C(%s)" % code)
        assert (", ".join(entry["causes"]) or "no role checks it") in line


def test_the_role_is_one_remediate_task_with_the_log_bundle():
    with open(os.path.join(ROOT, "roles", "fix_backup", "tasks", "main.yml")) as handle:
        [task] = yaml.safe_load(handle)
    assert task["azure_backup.remediation.remediate"] == {"log_bundle": True}


if __name__ == "__main__":
    sys.stdout.write(text())
