# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A capture: what the collection's read scripts answered on one Windows VM, kept in one JSON file
so the simulator's script twins can be checked against real Windows (docs/capture.md).

Pure functions only; the action plugins run the scripts and write the files.
"""

from __future__ import annotations

import copy
import hashlib
import re

FORMAT = "azure_backup.remediation/capture"
FORMAT_VERSION = 1
TAG_PREFIX = "#azure_backup.remediation/"
# Parameter names whose values are never written into a capture (no read script takes one today).
_SECRET = re.compile(r"password|secret|token|credential", re.IGNORECASE)
REDACTED = "(not captured)"


def script_tag(script: str) -> str:
    """The tag a collection script names on its first line, '' for anything else."""
    first = script.lstrip().split("\n", 1)[0].strip()
    return first[len(TAG_PREFIX):].strip() if first.startswith(TAG_PREFIX) else ""


def script_hash(script: str) -> str:
    """SHA-256 of the script text as sent: a capture names the script version that produced it."""
    return hashlib.sha256(script.encode("utf-8")).hexdigest()


def redact(parameters: dict) -> dict:
    return {name: REDACTED if _SECRET.search(name) else value for name, value in (parameters or {}).items()}


def read_entry(cause: str, script: str, purpose: str, parameters: dict, answer: dict) -> dict:
    """One read as a capture keeps it: which script with which parameters, and what it answered."""
    failed = bool(answer.get("failed") or answer.get("skipped"))
    return {
        "cause": cause,
        "tag": script_tag(script),
        "purpose": purpose,
        "script_sha256": script_hash(script),
        "parameters": redact(parameters),
        "failed": failed,
        # A copy: the cause goes on to work with the same answer and may change it.
        "result": None if failed else copy.deepcopy(answer.get("result") or {}),
        # What win_powershell said when the script failed: its error records' messages.
        "error": [str((e.get("exception") or {}).get("message") or e.get("output") or e) if isinstance(e, dict) else str(e)
                  for e in answer.get("error") or []] or ([answer["msg"]] if failed and answer.get("msg") else []),
    }


def part_name(sequence: int, cause: str) -> str:
    """File name of one cause's reads among a host's parts; sorted names keep the order they ran in."""
    return "%03d-%s.json" % (sequence, re.sub(r"[^A-Za-z0-9_.-]", "_", cause))


def host_file_name(host: str) -> str:
    """The capture of one host: its inventory name, made safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host) + ".json"


def document(host: str, collection_version: str, captured_at: str, environment: dict | None, reads: list[dict]) -> dict:
    """The capture file's content. ``scripts`` maps each tag to the hash(es) of the script text that ran."""
    scripts: dict = {}
    for entry in reads + ([environment] if environment else []):
        hashes = scripts.setdefault(entry["tag"], [])
        if entry["script_sha256"] not in hashes:
            hashes.append(entry["script_sha256"])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "collection_version": collection_version,
        "captured_at": captured_at,
        "host": host,
        "source": "ansible-playbook capture.yml (check mode)",
        "environment": environment,
        "reads": reads,
        "scripts": scripts,
    }


def check_document(doc: dict) -> list[str]:
    """What is wrong with a capture's shape, for a loader to refuse it with a reason ([] when fine)."""
    problems = []
    if doc.get("format") != FORMAT:
        problems.append("format is %r, not %r" % (doc.get("format"), FORMAT))
    if doc.get("format_version") != FORMAT_VERSION:
        problems.append("format_version is %r; this collection reads %d" % (doc.get("format_version"), FORMAT_VERSION))
    for index, entry in enumerate(doc.get("reads") or []):
        missing = [k for k in ("tag", "parameters", "failed", "result") if k not in entry]
        if missing:
            problems.append("reads[%d] lacks %s" % (index, ", ".join(missing)))
    return problems
