"""Builds the reference captures in this folder from the published real outputs in tests/data/reference/windows/.

No Windows VM ran these: each capture holds a real output where one was published, and fills in
the rest. ``provenance`` in each file says, field by field, which value is real (with its reference
file) and which is filled in (and how). Parameters are what the action plugins send today (taken
from the collection's constants), so rebuild after a read script's parameters change:

  .venv/bin/python tests/data/captures/make_reference.py
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
REFERENCE = os.path.join(ROOT, "tests", "data", "reference", "windows")
sys.path[:0] = [os.path.join(ROOT, ".collections"), os.path.join(ROOT, "tests", "winsim")]

import host as hostmod  # noqa: E402
import scripts  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import vss_writers as vss  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import win_agent as agent  # noqa: E402

BUILT = "built by tests/data/captures/make_reference.py from published outputs; no VM ran it"
HEALTHY = "filled in: what a healthy simulated Windows Server 2019 answers (tests/winsim)"


def reference(name: str) -> str:
    with open(os.path.join(REFERENCE, name), encoding="utf-8") as handle:
        return handle.read()


def out_string(lines: list) -> str:
    # Out-String joins a native command's lines with CRLF and ends with one (reference files are stored with LF).
    return "".join(line + "\r\n" for line in lines)


def entry(cause: str, tag: str, parameters: dict, result: dict) -> dict:
    return {"cause": cause, "tag": tag, "purpose": "", "script_sha256": None, "parameters": parameters,
            "failed": False, "result": result, "error": []}


def doc(host: str, environment: dict | None, reads: list, provenance: dict) -> dict:
    env = entry("CAPTURE", "capture.read", {}, environment) if environment else None
    built = capture.document(host, "reference", None, env, reads)
    built.update(source=BUILT, provenance=provenance)
    return built


def vssadmin_writers() -> dict:
    # The reference file is a monitoring plugin's copy of `vssadmin list writers` (2011): the writer blocks only.
    lines = reference("vssadmin-writers-en-1.txt").rstrip("\n").split("\n")
    services = sorted(set(vss.service_map({}).values()))
    healthy = hostmod.SimHost.create("healthy", "en", [])
    result = {"text": out_string(lines), "exit_code": 0,
              "services": [scripts._service_state(healthy, name) for name in services],  # pylint: disable=protected-access
              "backup_processes": []}
    parameters = {"Services": services, "BackupProcesses": list(agent.BACKUP_PROCESSES)}
    return doc("reference-vssadmin-writers-en-1", None, [entry("VSS_WRITERS", "vss_writers.read", parameters, result)], {
        "reads[vss_writers.read].result.text": "real: reference/windows/vssadmin-writers-en-1.txt (writer blocks; the preamble "
                                               "was not published); CRLF line endings filled in, as Out-String joins lines",
        "reads[vss_writers.read].result.exit_code": "filled in: 0, as vssadmin listed writers",
        "reads[vss_writers.read].result.services": HEALTHY,
        "reads[vss_writers.read].result.backup_processes": "filled in: none",
        "reads[vss_writers.read].parameters": "filled in: what win_vss_writers sends today",
        "environment": "not published with the output; Windows version unknown (Exchange writer: a 2011 server)",
    })


def machinekeys() -> dict:
    lines = reference("machinekeys-sddl-default-ws2012r2.txt").strip().split("\n")
    result = {"path": hostmod.MACHINEKEYS, "sddl": lines[-1].strip(), "certificates": []}
    environment = {"os_caption": "Microsoft Windows Server 2012 R2", "os_version": "6.3.9600", "os_build": "9600"}
    return doc("reference-machinekeys-ws2012r2", environment, [entry("MACHINEKEYS", "machinekeys.read", {"Path": ""}, result)], {
        "reads[machinekeys.read].result.sddl": "real: reference/windows/machinekeys-sddl-default-ws2012r2.txt (Get-Acl ... Sddl)",
        "reads[machinekeys.read].result.path": "filled in: the default folder (%ProgramData% is C:\\ProgramData)",
        "reads[machinekeys.read].result.certificates": "filled in: none",
        "reads[machinekeys.read].result.icacls": "not published: left out, so not compared",
        "reads[machinekeys.read].parameters": "filled in: what win_machinekeys sends by default",
        "environment.result.os_caption": "real: Windows Server 2012 R2 (the reference file's name); edition unknown",
        "environment.result.os_version": "filled in: 6.3.9600 is Windows Server 2012 R2's version (Microsoft's OS version table)",
    })


def guest_agent() -> dict:
    guest = "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-01-23_194431\\WindowsAzureGuestAgent.exe"
    rd = "C:\\WindowsAzure\\Packages_20191212_124856\\WaAppAgent.exe"
    result = {
        "services": [
            {"name": "WindowsAzureGuestAgent", "exists": True, "state": "Running", "start_mode": "Auto", "delayed": False, "path": guest},
            {"name": "RdAgent", "exists": True, "state": "Running", "start_mode": "Auto", "delayed": False, "path": rd},
        ],
        "version": "2.7.41491.949",
        "products": [{"name": "Windows Azure VM Agent - 2.7.41491.949", "version": "2.7.41491.949",
                      "product_id": "{00000000-0000-0000-0000-000000000949}"}],
        "dotnet_release": 528049,
        "backup_processes": [],
    }
    parameters = {"Services": list(agent.SERVICES), "ProductName": agent.PRODUCT_NAME, "BackupProcesses": list(agent.BACKUP_PROCESSES)}
    return doc("reference-guest-agent-names", None, [entry("WIN_AGENT", "win_agent.read", parameters, result)], {
        "reads[win_agent.read].result.services[].name": "real: reference/windows/agent-names-and-paths.tsv (win_service rows)",
        "reads[win_agent.read].result.services[].path": "real: observed folder names in agent-names-and-paths.tsv (win_path rows)",
        "reads[win_agent.read].result.services[].state,start_mode,delayed": "filled in: running and automatic, as the article expects",
        "reads[win_agent.read].result.products[].name": "real: the ARP name in agent-names-and-paths.tsv (win_arp row)",
        "reads[win_agent.read].result.products[].version,product_id": "filled in (the product code is made up)",
        "reads[win_agent.read].result.version": "filled in: the ARP name's version",
        "reads[win_agent.read].result.dotnet_release": "filled in: a .NET 4.8 Release value",
        "reads[win_agent.read].result.backup_processes": "filled in: none",
        "reads[win_agent.read].parameters": "filled in: what win_agent sends today",
        "environment": "not published",
    })


def main() -> None:
    for built in (vssadmin_writers(), machinekeys(), guest_agent()):
        path = os.path.join(HERE, built["host"] + ".json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(built, handle, indent=1, sort_keys=True)
            handle.write("\n")
        print(path)


if __name__ == "__main__":
    main()
