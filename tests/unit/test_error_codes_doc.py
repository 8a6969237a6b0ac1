"""docs/error-codes.md: its table is the catalogue's, row by row (codes, messages, causes in order, what to do).

Regenerate the table after changing the catalogue:
  PYTHONPATH=.collections .venv/bin/python tests/unit/test_error_codes_doc.py
"""
from __future__ import annotations

import os
import re
import sys

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "error-codes.md")
START, END = "<!-- table: generated from catalogue.py by tests/unit/test_error_codes_doc.py -->", "<!-- end of table -->"


def cell(text) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def table() -> str:
    rows = ["| code | message (EN) | message (DE) | causes, in order | OS | source | what to do besides or instead |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for code, entry in catalogue.ERROR_CODES.items():
        name = "`%s`" % code if " " not in code else "(no code) %s" % code
        if entry.get("numbers"):
            name += " (%s)" % ", ".join("`%s`" % n for n in entry["numbers"])
        causes = ", ".join(entry["causes"]) or "no role checks it"
        where = " ".join(p.capitalize() for p in catalogue.platforms(code))
        cells = (name, entry["message"], entry.get("message_de"), causes, where, entry["source"], entry.get("remedy"))
        rows.append("| %s |" % " | ".join(cell(c) for c in cells))
    return "\n".join(rows)


def current() -> str:
    with open(DOC, encoding="utf-8") as handle:
        return handle.read()


def test_the_table_of_docs_error_codes_is_the_catalogue_s():
    text = current()
    found = re.search(re.escape(START) + r"\n(.*)\n" + re.escape(END), text, re.S)
    assert found and found.group(1) == table(), "regenerate the table (see this file's docstring)"


def test_every_cause_of_the_table_links_its_section_in_the_roles_page():
    text = current()
    for cause in {c for entry in catalogue.ERROR_CODES.values() for c in entry["causes"]}:
        assert "[%s](roles.md#%s)" % (cause, cause.lower()) in text or cause in ("RP_LOCK",), cause


if __name__ == "__main__":
    text = current()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(head + START + "\n" + table() + "\n" + END + tail)
    sys.exit(0)
