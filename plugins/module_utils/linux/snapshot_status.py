# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""SNAPSHOT_STATUS on a Linux VM: DHCP in the guest (switched to DHCP on request), CPU and memory load.

Each check reads on its own: a configuration file that cannot be read or written fails guest_dhcp
only, and the load figures are still reported.
"""

from __future__ import annotations

import glob
import os

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import snapshot_status as snap
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError, explain
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.files import Changed, read_bytes, replace_file
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Change, Step
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import LinuxCause
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.checks import isolated

# Prefixed to every path this cause reads or writes; tests point it at a folder of their own.
ROOT = ""


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def read(path: str) -> str:
    with open(ROOT + path, "rb") as handle:
        return text(handle.read())


def read_optional(path: str) -> str | None:
    """A file the kernel may not have (PSI before Linux 4.20, or switched off)."""
    try:
        return read(path)
    except OSError:
        return None


def online_cpus() -> int:
    return os.cpu_count() or 1


def network_configs() -> dict:
    """{path: bytes} of every network configuration file, as read now."""
    found = {}
    for pattern in snap.CONFIG_GLOBS:
        for path in glob.glob(ROOT + pattern):
            data = read_bytes(path)
            if data is not None:  # removed since the listing
                found[path[len(ROOT):]] = data
    return found


class SnapshotStatus(LinuxCause):
    ID = "SNAPSHOT_STATUS"
    ARGUMENT_SPEC = {
        "interface": {"type": "str", "default": "eth0"},
        # Deprecated: the CPU figure is read from the kernel's load average, nothing is sampled.
        "sample_seconds": {"type": "float"},
        "cpu_threshold": {"type": "float", "default": 90},
        "memory_threshold": {"type": "float", "default": 90},
        "fix_dhcp": {"type": "bool", "default": False},
        "backup": {"type": "bool", "default": True},
    }

    def steps(self):
        if self.params.get("sample_seconds") is not None:
            self.module.warn("snapshot_status: sample_seconds is deprecated and ignored; the CPU load is read from the "
                             "kernel's 1-minute load average (/proc/loadavg), nothing is sampled")
        yield isolated("guest_dhcp", self.dhcp_step)
        yield isolated("cpu_load", self.cpu_step)
        yield isolated("memory_pressure", self.memory_step)

    # --- guest_dhcp ----------------------------------------------------------------------

    def dhcp_step(self) -> Step:
        iface = self.params["interface"]
        files = network_configs()
        configs = snap.dhcp_config({path: text(data) for path, data in files.items()}, iface)
        status, summary = snap.dhcp_verdict(configs, iface)
        step = Step("guest_dhcp", status, summary, {"interface": iface, "configs": configs})
        if status != "found":
            return step
        if not self.params["fix_dhcp"]:
            step.summary = "%s; %s" % (summary, snap.NOT_OPTED_IN)
            return step
        static = {c["path"]: c["source"] for c in configs if not c["dhcp"]}
        edits = {path: snap.to_dhcp(source, text(files[path]), iface) for path, source in static.items()}
        step.change = Change("switch %s to DHCP in %s" % (iface, ", ".join(sorted(edits))),
                             lambda: self.switch_to_dhcp(iface, static, files, step.detail),
                             diff=file_diff({path: (text(files[path]), edits[path]) for path in edits}),
                             path=next(iter(edits)) if len(edits) == 1 else None)
        return step

    def switch_to_dhcp(self, iface: str, static: dict, files: dict, detail: dict) -> str:
        """Write each file with the interface on DHCP, read them back, apply where that cuts no session."""
        detail["backup_files"] = []
        done = []
        for path in sorted(static):
            try:
                saved = self.write_dhcp(path, static[path], files[path], iface)
            except (OSError, Changed) as exc:
                if not done:
                    raise  # nothing changed yet: the runner explains the error
                reason, remedy = explain(exc, path) if isinstance(exc, OSError) else (exc.msg, "")
                raise RemediationError("%s: %s%s; %s already switched (backups %s)" % (
                    path, reason, (". " + remedy) if remedy else "", ", ".join(done), detail["backup_files"]), changed=True)
            done.append(path)
            if saved:
                detail["backup_files"].append(saved)
        now = {path: text(data) for path in static for data in [read_bytes(ROOT + path)] if data is not None}
        after = snap.dhcp_config(now, iface)
        detail["configs_after"] = after
        if not all(c["dhcp"] for c in after):
            raise RemediationError("switched %s to DHCP but %s still reads as static; the backups are %s"
                                   % (iface, ", ".join(c["path"] for c in after if not c["dhcp"]), detail["backup_files"]), changed=True)
        detail["applied"] = self.apply_network(set(static.values()))
        return "%s reads as DHCP; %s" % (iface, detail["applied"])

    def write_dhcp(self, path: str, source: str, before: bytes, iface: str) -> str | None:
        """One file switched, compare-and-swap: when the file changed since it was read (another run,
        the agent, an admin), read it again and decide again, once. Returns the backup's path."""
        for attempt in (1, 2):
            wanted = snap.to_dhcp(source, text(before), iface)
            if wanted == text(before):
                return None  # someone else switched it meanwhile
            try:
                return replace_file(self.module, ROOT + path, wanted.encode("utf-8"), self.params["backup"], apart=True, expected=before)
            except Changed:
                current = read_bytes(ROOT + path)
                if attempt == 2 or current is None:
                    raise
                before = current
        return None

    def apply_network(self, sources: set) -> str:
        """networkd reloads without dropping the address; the others would cut the SSH session."""
        networkctl = self.module.get_bin_path("networkctl")
        if sources == {"systemd-networkd"} and networkctl:
            rc, out, err = self.module.run_command([networkctl, "reload"], handle_exceptions=False)
            if rc == 0:
                return "applied with networkctl reload"
            return "networkctl reload failed (%s): takes effect at the next boot" % (err or out).strip()
        return "takes effect when %s next restarts the interface or at the next boot" % " and ".join(sorted(sources))

    # --- cpu_load, memory_pressure ---------------------------------------------------------

    def cpu_step(self) -> Step:
        load = snap.cpu_load(read("/proc/loadavg"), online_cpus(), read_optional("/proc/pressure/cpu"))
        load["threshold"] = self.params["cpu_threshold"]
        status, summary = snap.over(snap.cpu_said(load), load["busy_percent"], self.params["cpu_threshold"])
        return Step("cpu_load", status, summary, load)

    def memory_step(self) -> Step:
        mem = snap.memory(read("/proc/meminfo"))
        mem["psi_some_avg10"] = snap.psi_some(read_optional("/proc/pressure/memory"), "avg10")
        mem["threshold"] = self.params["memory_threshold"]
        said = snap.memory_said(mem["used_percent"], mem["available_mib"], mem["total_mib"])
        status, summary = snap.over(said, mem["used_percent"], self.params["memory_threshold"])
        return Step("memory_pressure", status, summary, mem)


def file_diff(edits: dict) -> dict:
    """One --diff entry for the files switched ({path: (before, after)}); with several files, each
    is headed by its path."""
    if len(edits) == 1:
        [(path, (before, after))] = edits.items()
        return {"before": before, "after": after, "before_header": path, "after_header": path}
    names = ", ".join(sorted(edits))
    return {"before": "".join("# %s\n%s" % (p, edits[p][0]) for p in sorted(edits)),
            "after": "".join("# %s\n%s" % (p, edits[p][1]) for p in sorted(edits)),
            "before_header": names, "after_header": names}
