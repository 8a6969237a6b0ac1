"""The capture file's pure parts: tags, hashes, redaction, the entry of a failed read, the document."""
from __future__ import annotations

import hashlib

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture

SCRIPT = "#azure_backup.remediation/vss_writers.read\n# Reads only.\nparam()\n"


def test_script_tag_and_hash():
    assert capture.script_tag(SCRIPT) == "vss_writers.read"
    assert capture.script_tag("# something else\n") == ""
    assert capture.script_hash(SCRIPT) == hashlib.sha256(SCRIPT.encode()).hexdigest()


def test_parameters_named_like_secrets_are_never_kept():
    kept = capture.redact({"Key": r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", "ProxyPassword": "p", "ApiToken": "t", "Credential": "c"})
    assert kept == {"Key": r"HKLM:\SOFTWARE\Microsoft\BCDRAGENT", "ProxyPassword": capture.REDACTED, "ApiToken": capture.REDACTED,
                    "Credential": capture.REDACTED}


def test_a_read_entry_keeps_the_answer_or_the_failure():
    ok = capture.read_entry("VSS_WRITERS", SCRIPT, "the VSS writers", {"Services": ["VSS"]}, {"changed": False, "result": {"text": "x"}})
    assert ok == {"cause": "VSS_WRITERS", "tag": "vss_writers.read", "purpose": "the VSS writers", "script_sha256": capture.script_hash(SCRIPT),
                  "parameters": {"Services": ["VSS"]}, "failed": False, "result": {"text": "x"}, "error": []}
    failed = capture.read_entry("VSS_WRITERS", SCRIPT, "p", {}, {"failed": True, "error": [{"exception": {"message": "Access is denied."}}]})
    assert failed["failed"] and failed["result"] is None and failed["error"] == ["Access is denied."]
    skipped = capture.read_entry("VSS_WRITERS", SCRIPT, "p", {}, {"skipped": True, "msg": "skipped, running in check mode"})
    assert skipped["failed"] and skipped["error"] == ["skipped, running in check mode"]


def test_the_document_names_format_version_and_script_hashes():
    read = capture.read_entry("VSS_WRITERS", SCRIPT, "p", {}, {"result": {}})
    env = capture.read_entry("CAPTURE", "#azure_backup.remediation/capture.read\n", "e", {}, {"result": {"ps_version": "5.1"}})
    doc = capture.document("win01", "0.2.0", "2026-12-02T10:00:00Z", env, [read, read])
    assert doc["format"] == capture.FORMAT and doc["format_version"] == 1 and doc["collection_version"] == "0.2.0"
    assert doc["scripts"] == {"vss_writers.read": [capture.script_hash(SCRIPT)], "capture.read": [env["script_sha256"]]}
    assert capture.check_document(doc) == []
    assert capture.check_document(dict(doc, format_version=2)) == ["format_version is 2; this collection reads 1"]
    assert capture.check_document(dict(doc, reads=[{"tag": "x"}])) == ["reads[0] lacks parameters, failed, result"]


def test_file_names_are_safe():
    assert capture.host_file_name("../win 01") == ".._win_01.json"
    assert capture.part_name(3, "WIN_AGENT") == "003-WIN_AGENT.json"


def test_a_read_is_kept_as_windows_answered_even_when_the_cause_changes_the_answer_afterwards():
    answer = {"result": {"sql_instances": {"64-bit": ["MSSQLSERVER"], "32-bit": []}}}
    entry = capture.read_entry("SNAPSHOT_STATUS", "#azure_backup.remediation/snapshot_status.read\n", "", {}, answer)
    answer["result"]["sql_instances"] = ["MSSQLSERVER"]  # what win_snapshot_status does with its state
    assert entry["result"] == {"sql_instances": {"64-bit": ["MSSQLSERVER"], "32-bit": []}}
