"""The cause catalogue's error codes: every code maps to known causes in order, and codes are found as people copy them."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import CAUSES

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
SEED_004 = [os.path.join(ROOT, "..", "shared", "seeds", f) for f in os.listdir(os.path.join(ROOT, "..", "shared", "seeds"))
            if f.startswith("004_")] if os.path.isdir(os.path.join(ROOT, "..", "shared", "seeds")) else []


@pytest.mark.parametrize("code", sorted(catalogue.ERROR_CODES))
def test_every_code_names_known_causes_once_each_or_says_what_to_do_instead(code):
    entry = catalogue.ERROR_CODES[code]
    assert entry["message"] and entry["source"]
    assert all(c in CAUSES and c != "HOST" for c in entry["causes"]), code
    assert len(set(entry["causes"])) == len(entry["causes"]), code
    if not entry["causes"]:
        assert entry.get("remedy"), "%s has no in-guest cause: it must say what a person does instead" % code


def test_the_mars_article_s_ids_and_codes_are_all_in_the_catalogue():
    # Article 004 keys its sections by these (CAUSES.md section 1).
    for code in ("34513", "403", "100050", "407", "100110", "34506", "0x1FC07", "230006", "SalChecksumStoreInitializationFailed",
                 "SalVhdInitializationError", "SalLowDiskSpace", "SalBitmapError", "0x80070570", "0x80070002", "0x80070003",
                 "0x80070005", "0x8007018b", "backups-dont-run-according-to-schedule",
                 "job-could-not-be-started-as-another-job-was-in-progress", "troubleshoot-restore-problems"):
        assert catalogue.lookup(code) is not None, code


@pytest.mark.skipif(not SEED_004, reason="the seeds sit beside the project, not in a clean clone")
def test_every_id_the_german_article_prints_is_in_the_catalogue():
    with open(SEED_004[0], encoding="utf-8") as handle:
        text = handle.read()
    printed = set(re.findall(r"\(ID: (\d+)\)", text)) | set(re.findall(r"Fehler (\d{5})", text)) | set(re.findall(r"\[(0x[0-9A-F]+)\]", text))
    assert printed and all(catalogue.lookup(code) for code in printed), printed


def test_every_mars_cause_is_reached_by_some_code():
    reached = {c for entry in catalogue.ERROR_CODES.values() for c in entry["causes"]}
    assert {c for c in CAUSES if c.startswith("MARS_")} - reached <= {"MARS_SERVICE", "MARS_PREREQS"}


@pytest.mark.parametrize("given,key", [
    ("34513", "34513"), ("ID: 34513", "34513"), ("(ID: 100050)", "100050"), ("Error 34506", "34506"), ("Fehler 34506", "34506"),
    ("[0x1FC07]", "0x1FC07"), ("0x1fc07", "0x1FC07"), ("0X8007018B", "0x8007018b"), ("sallowdiskspace", "SalLowDiskSpace"),
    (" usererrorguestagentstatusunavailable ", "UserErrorGuestAgentStatusUnavailable"),
])
def test_codes_are_found_as_people_copy_them(given, key):
    assert catalogue.lookup(given)["code"] == key


def test_an_unknown_code_is_none_not_a_guess():
    assert catalogue.lookup("UserErrorSomethingNew") is None and catalogue.lookup("") is None and catalogue.lookup(None) is None


def test_every_cause_names_a_role_entry_point_that_exists():
    for cause in CAUSES:
        assert cause in catalogue.ROLES, cause
        target = catalogue.ROLES[cause]
        if target is None:
            continue
        role, entry = target
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            assert entry in yaml.safe_load(handle)["argument_specs"], (cause, role, entry)
