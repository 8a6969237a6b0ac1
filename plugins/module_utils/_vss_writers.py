# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""VSS writers (cause VSS_WRITERS): read `vssadmin list writers` and decide which services to restart.

The output is localised (English "Writer name: 'X'", German Windows prints other labels and quotes),
so it is read by structure: a writer is a block of five lines, the name in quotes, two GUIDs, the
state as "[n] text" and the last error. Only the number in brackets decides; the texts are reported.
"""

from __future__ import annotations

import re

STABLE = 1

# Writer -> service that hosts it, from the community table in shared/reference/windows (Microsoft
# publishes none). Rows known to be wrong there are left out on purpose, so those writers are
# reported instead of having an unrelated service restarted: NTDS lives in lsass, the Certificate
# Authority writer in CertSvc, and NPS and MS Search are not EventSystem's.
# Inventories add or override rows with vss_writers_services.
WRITER_SERVICES = {
    "ASR Writer": "VSS",
    "BITS Writer": "BITS",
    "COM+ REGDB Writer": "VSS",
    "DFS Replication service writer": "DFSR",
    "DHCP Jet Writer": "DHCPServer",
    "FRS Writer": "NtFrs",
    "FSRM writer": "srmsvc",
    "IIS Config Writer": "AppHostSvc",
    "IIS Metabase Writer": "IISADMIN",
    "Microsoft Exchange Replica Writer": "MSExchangeRepl",
    "Microsoft Exchange Writer": "MSExchangeIS",
    "Microsoft Hyper-V VSS Writer": "vmms",
    "MSMQ Writer (MSMQ)": "MSMQ",
    "OSearch VSS Writer": "OSearch",
    "OSearch14 VSS Writer": "OSearch14",
    "OSearch15 VSS Writer": "OSearch15",
    "Registry Writer": "VSS",
    "Shadow Copy Optimization Writer": "VSS",
    "Sharepoint Services Writer": "SPWriter",
    "SPSearch VSS Writer": "SPSearch",
    "SPSearch4 VSS Writer": "SPSearch4",
    "SqlServerWriter": "SQLWriter",
    "System Writer": "CryptSvc",
    "TermServLicensing": "TermServLicensing",
    "WDS VSS Writer": "WDSServer",
    "WIDWriter": "WIDWriter",
    "Windows Server Storage VSS Writer": "WseStorageSvc",
    "WMI Writer": "Winmgmt",
}

_QUOTED = re.compile(r"^[^:]+:\s*['\"\u201e\u201c\u201d\u201a\u2018\u2019](.*)['\"\u201c\u201d\u2018\u2019]\s*$")
_GUID = re.compile(r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}")
_STATE = re.compile(r"^[^:]+:\s*\[(\d+)\]\s*(.*?)\s*$")


def _value(line: str) -> str:
    return line.split(":", 1)[1].strip() if ":" in line else line.strip()


def parse(text: str) -> list[dict]:
    """Every writer in `vssadmin list writers` output, in order.

    Lines before the first writer (the tool's banner, the command echo) are not writers and are
    skipped; CRLF and LF both work. Raises ValueError when the text holds no writer at all,
    which is what vssadmin prints when it fails (an error message instead of the list).
    """
    writers = []
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    for i, line in enumerate(lines):
        name = _QUOTED.match(line)
        block = [entry.strip() for entry in lines[i + 1:i + 5]]
        if not name or len(block) < 4 or not (_GUID.search(block[0]) and _GUID.search(block[1])):
            continue
        state = _STATE.match(block[2])
        if not state:
            continue
        writers.append({
            "name": name.group(1),
            "id": _GUID.search(block[0]).group(0).lower(),
            "instance_id": _GUID.search(block[1]).group(0).lower(),
            "state": int(state.group(1)),
            "state_text": state.group(2),
            "last_error": _value(block[3]),
        })
    if not writers:
        first = next((line.strip() for line in lines if line.strip() and not line.lower().startswith(("vssadmin", "(c)"))), "")
        raise ValueError("no writer in the output of vssadmin list writers%s" % (": %s" % first if first else ""))
    return writers


def service_map(overrides: dict | None) -> dict:
    """The built-in map with the inventory's rows on top; an empty value removes a row."""
    merged = dict(WRITER_SERVICES)
    for writer, service in (overrides or {}).items():
        if service:
            merged[writer] = service
        else:
            merged.pop(writer, None)
    return merged


def bad(writers: list[dict]) -> list[dict]:
    return [w for w in writers if w["state"] != STABLE]


def plan(writers: list[dict], services: dict) -> tuple[list[str], list[dict]]:
    """Services to restart (each once, in first-seen order) and bad writers with no known service."""
    restart, unknown = [], []
    for writer in bad(writers):
        service = services.get(writer["name"])
        if service is None:
            unknown.append(writer)
        elif service not in restart:
            restart.append(service)
    return restart, unknown


def describe(writer: dict) -> str:
    """"'System Writer' [7] Failed, last error: Retryable error"."""
    return "'%s' [%d] %s, last error: %s" % (writer["name"], writer["state"], writer["state_text"], writer["last_error"])
