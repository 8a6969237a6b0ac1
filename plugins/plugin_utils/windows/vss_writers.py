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


# Writers whose service cannot restart without taking a workload down with it. They are reported, not
# restarted, unless the inventory names them in vss_writers_restart_workloads. The reason is reported.
WORKLOAD_WRITERS = {
    # The Information Store hosts the mailbox databases: stopping it dismounts every one of them.
    "Microsoft Exchange Writer": "restarting its service dismounts every mailbox database on this server",
    # The Replication service copies and replays database logs; stopping it suspends every database copy.
    "Microsoft Exchange Replica Writer": "restarting its service suspends replication of every database copy",
    # Active Directory Domain Services: a restart takes the directory on this domain controller offline.
    "NTDS": "restarting its service takes Active Directory on this domain controller offline",
    # Message Queuing: while MSMQ is down no queue on this server accepts or delivers messages.
    "MSMQ Writer (MSMQ)": "restarting Message Queuing stops every queue on this server from sending and receiving",
    # The DHCP Server service: while it is down no client gets or renews a lease from this server.
    "DHCP Jet Writer": "restarting the DHCP Server service stops this server from giving out and renewing leases",
    # DFS Replication and its predecessor FRS replicate SYSVOL on a domain controller and replicated folders on
    # file servers: a restart suspends replication and makes the service re-scan its folders. Held on every server,
    # not only on domain controllers: a file server's replicated folders are as much a workload, and nothing
    # is gained by telling them apart.
    "DFS Replication service writer": "restarting DFS Replication suspends replication of SYSVOL or the replicated folders",
    "FRS Writer": "restarting the File Replication service suspends replication of SYSVOL or the replicated folders",
}
# Writers named by prefix: SharePoint's search (OSearch, OSearch14, OSearch15, SPSearch, SPSearch4...).
WORKLOAD_WRITER_PREFIXES = {
    "OSearch": "restarting SharePoint's search service stops crawling and queries of the search index",
    "SPSearch": "restarting SharePoint's search service stops crawling and queries of the search index",
}

# Win32_Service.State of a service that was asked to stop and has not stopped yet (not localised).
STOP_PENDING = "Stop Pending"

# What the restart script says per service (plugins/plugin_utils/windows/scripts.py RESTART_SERVICES).
RESTART_STATUSES = ("restarted", "stuck", "stop_failed", "start_failed", "dependants_failed", "missing", "backup_running")


def workload(name: str, opted_in) -> str | None:
    """Why a writer is report-only, or None when its service may be restarted."""
    if name in set(opted_in or ()):
        return None
    if name in WORKLOAD_WRITERS:
        return WORKLOAD_WRITERS[name]
    return next((why for prefix, why in WORKLOAD_WRITER_PREFIXES.items() if name.startswith(prefix)), None)


def failed_outcome(service: str, status: str, error: str) -> dict:
    """The outcome of a service the restart script did not answer for (it failed, or the connection was lost)."""
    return {"name": service, "status": status, "error": error, "dependants": [], "restarted": [], "not_restarted": []}


def stop_pending(services: list[dict]) -> list[str]:
    """Installed services the read found stuck in StopPending: never touched, only reported."""
    return [s["name"] for s in services if s.get("exists") and s.get("state") == STOP_PENDING]


def running_dependants(state: dict) -> dict:
    """Service -> its running dependants (dependants of dependants too) in the order they are stopped."""
    return {entry["name"]: list(entry.get("running") or []) for entry in state.get("dependants") or []}


def read_restart(result: dict, services: list[str]) -> dict:
    """The restart script's answer, service -> outcome. A service it does not answer for is a ValueError."""
    outcomes = {}
    for entry in (result or {}).get("services") or []:
        if not isinstance(entry, dict) or entry.get("status") not in RESTART_STATUSES:
            raise ValueError("the restart script gave an entry it should not: %r" % (entry,))
        outcomes[entry["name"]] = dict(entry, dependants=list(entry.get("dependants") or []),
                                       restarted=list(entry.get("restarted") or []),
                                       not_restarted=list(entry.get("not_restarted") or []))
    missing = [s for s in services if s not in outcomes]
    if missing:
        raise ValueError("the restart script said nothing about %s" % ", ".join(missing))
    return outcomes


def would_restart(service: str, dependants: list[str]) -> str:
    """"restart Winmgmt (stopping its running dependants iphlpsvc first and starting them again after)"."""
    if not dependants:
        return "restart %s" % service
    return "restart %s (stopping its running dependants %s first and starting them again after)" % (service, ", ".join(dependants))


def restart_failure(outcome: dict, timeout: int) -> str | None:
    """What went wrong restarting one service, in words; None when it and its dependants run again."""
    name, status = outcome["name"], outcome["status"]
    error = (": %s" % outcome["error"]) if outcome.get("error") else ""
    if status == "restarted":
        return None
    if status == "missing":
        return "%s is not installed" % name
    if status == "connection_lost":
        # The script was ended with the connection; the services were read again after reconnecting.
        down = outcome.get("not_running")
        if down is None:
            return ("the WinRM connection was lost while restarting %s (%s) and the services could not be read again, so what state %s "
                    "and its dependants are in is not known" % (name, outcome.get("error"), name))
        if not down:
            return None
        return ("the WinRM connection was lost while restarting %s (%s); read again after reconnecting, %s %s not running: start %s"
                % (name, outcome.get("error"), ", ".join(down), "is" if len(down) == 1 else "are", "it" if len(down) == 1 else "them"))
    if status == "backup_running":
        text = ("a backup snapshot started (%s) before %s was to stop, so the restart stopped there"
                % (", ".join(outcome.get("backup") or []) or "the backup extension", outcome.get("stuck") or name))
        if outcome["restarted"]:
            text += "; its dependants %s were started again" % ", ".join(outcome["restarted"])
        if outcome["not_restarted"]:
            text += "; its dependants %s do not run again%s" % (", ".join(outcome["not_restarted"]), error)
        return text
    if status == "script_failed":
        # Nothing says how far it got: the writers listed again and the services' state tell.
        return "the restart script failed (%s), so what state %s and its dependants are in is not known" % (outcome.get("error"), name)
    if status == "stuck" and outcome.get("stuck") == name:
        text = "%s did not stop within %d s and is stuck in StopPending" % (name, timeout)
    elif status == "stuck":
        text = "its dependant %s did not stop within %d s and is stuck in StopPending, so %s was not stopped" % (
            outcome.get("stuck"), timeout, name)
    elif status == "stop_failed":
        text = "%s refused to stop%s" % (name, error)
    elif status == "start_failed":
        text = "%s stopped but did not run again within %d s%s" % (name, timeout, error)
    else:
        text = "%s was restarted" % name
    if outcome["not_restarted"]:
        text += "; its dependants %s do not run again%s" % (", ".join(outcome["not_restarted"]), error if status == "dependants_failed" else "")
    if outcome["restarted"]:
        text += "; its dependants %s were started again" % ", ".join(outcome["restarted"])
    return text


def services_not_running(outcomes: dict, services: list[dict], dependants: dict) -> None:
    """For each restart whose WinRM connection was lost, what of the service and its dependants does not run
    now (``not_running``), from the services read again after reconnecting (Win32_Service State)."""
    state = {s["name"].lower(): s for s in services}
    for name, outcome in outcomes.items():
        if outcome["status"] != "connection_lost":
            continue
        names = [name] + list(dependants.get(name, []))
        if not all(n.lower() in state for n in names):
            outcome["not_running"] = None
            continue
        outcome["not_running"] = [n for n in names if state[n.lower()].get("exists") and state[n.lower()].get("state") != "Running"]
