# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""SNAPSHOT_STATUS on Linux: is the guest's address configured by DHCP (Azure hands
out the wireserver route with it), and is the VM too busy to take a snapshot."""

from __future__ import annotations

import fnmatch
import re

# Where each network configuration system keeps its files (globs, as the module lists them).
CONFIG_GLOBS = (
    "/etc/network/interfaces", "/etc/network/interfaces.d/*",
    "/etc/netplan/*.yaml", "/etc/netplan/*.yml",
    "/etc/NetworkManager/system-connections/*",
    "/etc/systemd/network/*.network",
    "/etc/sysconfig/network-scripts/ifcfg-*", "/etc/sysconfig/network/ifcfg-*",
)


def _ifupdown(text: str, iface: str) -> bool | None:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 4 and words[0] == "iface" and words[1] == iface and words[2] == "inet":
            return words[3] == "dhcp"
    return None


def _netplan(text: str, iface: str) -> bool | None:
    # Without a YAML library on the VM: find the interface's block by indentation.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)%s\s*:\s*$" % re.escape(iface), line)
        if not match:
            continue
        indent, dhcp, static = len(match.group(1)), None, False
        for inner in lines[i + 1:]:
            if inner.strip() and len(inner) - len(inner.lstrip()) <= indent:
                break
            found = re.match(r"^\s*dhcp4\s*:\s*(\S+)", inner)
            if found:
                dhcp = found.group(1).lower() in ("true", "yes", "on")
            static = static or bool(re.match(r"^\s*addresses\s*:", inner))
        return dhcp if dhcp is not None else (False if static else None)
    return None


def _networkd(text: str, iface: str) -> bool | None:
    names = re.findall(r"(?m)^\s*Name\s*=\s*(.+)$", text)
    if not any(fnmatch.fnmatch(iface, pattern) for name in names for pattern in name.split()):
        return None
    dhcp = re.search(r"(?mi)^\s*DHCP\s*=\s*(yes|true|ipv4|both|on)\s*$", text)
    return bool(dhcp) or (False if re.search(r"(?m)^\s*Address\s*=", text) else None)


def _ifcfg(text: str, iface: str, path: str) -> bool | None:
    device = re.search(r"(?m)^\s*DEVICE\s*=\s*\"?([^\"\s]+)", text)
    if (device.group(1) if device else path.rsplit("ifcfg-", 1)[-1]) != iface:
        return None
    proto = re.search(r"(?mi)^\s*BOOTPROTO\s*=\s*\"?(\w+)", text)
    return proto.group(1).lower() == "dhcp" if proto else None


def _nmconnection(text: str, iface: str) -> bool | None:
    if not re.search(r"(?m)^\s*interface-name\s*=\s*%s\s*$" % re.escape(iface), text):
        return None
    section = re.search(r"(?ms)^\[ipv4\](.*?)(^\[|\Z)", text)
    method = re.search(r"(?m)^\s*method\s*=\s*(\S+)", section.group(1)) if section else None
    return method.group(1) == "auto" if method else None


def dhcp_config(files: dict, iface: str) -> list[dict]:
    """Every configuration file that configures iface, and whether it says DHCP."""
    found = []
    for path, text in sorted(files.items()):
        if path.startswith("/etc/network/interfaces"):
            source, dhcp = "ifupdown", _ifupdown(text, iface)
        elif path.startswith("/etc/netplan/"):
            source, dhcp = "netplan", _netplan(text, iface)
        elif path.startswith("/etc/NetworkManager/"):
            source, dhcp = "NetworkManager", _nmconnection(text, iface)
        elif path.startswith("/etc/systemd/network/"):
            source, dhcp = "systemd-networkd", _networkd(text, iface)
        elif "/ifcfg-" in path:
            source, dhcp = "ifcfg", _ifcfg(text, iface, path)
        else:
            continue
        if dhcp is not None:
            found.append({"source": source, "path": path, "dhcp": dhcp})
    return found


def dhcp_verdict(configs: list[dict], iface: str) -> tuple:
    """(status, summary) of the guest_dhcp check for dhcp_config's answer; ``found`` means a
    static address that switching to DHCP would repair."""
    static = [c for c in configs if not c["dhcp"]]
    if not configs:
        return "skipped", "no network configuration for %s found" % iface
    if not static:
        return "ok", "%s uses DHCP (%s)" % (iface, ", ".join(c["source"] for c in configs))
    where = ", ".join("%s (%s)" % (c["path"], c["source"]) for c in static)
    return "found", "%s has a static address in %s: Azure gives the wireserver route by DHCP" % (iface, where)


# Said when the operator has not opted in to the switch.
NOT_OPTED_IN = ("set the address in the platform's NIC configuration and use DHCP in the guest "
                "(snapshot_status_fix_dhcp=true does the guest's part)")


def load_average(loadavg: str) -> tuple:
    """The 1-, 5- and 15-minute load averages of /proc/loadavg."""
    fields = loadavg.split()
    try:
        return tuple(float(v) for v in fields[:3]) if len(fields) >= 3 else ()
    except ValueError:
        return ()


def cpu_load(loadavg: str, cpus: int, psi_cpu: str | None = None) -> dict:
    """How busy the CPUs are, from counters the kernel keeps, without sampling.

    The article's question is whether the VM's CPUs are so busy that the snapshot waits for them.
    The 1-minute load average per CPU answers it: the tasks that ran or waited to run (and those
    waiting for a disk), per CPU; 100 % means every CPU had work all the time, more means tasks
    queued. PSI ("some", where the kernel has /proc/pressure/cpu) says how long tasks waited for a
    CPU; it is kept as a second figure, not judged, because CPUs busy with low-priority work
    show little waiting although they are fully used, and the article judges use.
    """
    averages = load_average(loadavg)
    if not averages:
        raise ValueError("/proc/loadavg reads %r, not three load averages" % loadavg.strip()[:80])
    cpus = max(1, int(cpus or 1))
    load_percent = round(100.0 * averages[0] / cpus, 1)
    return {"counter": "/proc/loadavg (1-minute load average per CPU)", "load_1m": averages[0], "load_5m": averages[1],
            "cpus": cpus, "load_percent": load_percent, "busy_percent": min(100.0, load_percent),
            "psi_cpu_some_avg10": psi_some(psi_cpu, "avg10"), "psi_cpu_some_avg60": psi_some(psi_cpu, "avg60")}


def cpu_said(load: dict) -> str:
    said = "CPU %.1f %% busy over the last minute (load average %.2f on %d CPU%s, /proc/loadavg)" % (
        load["busy_percent"], load["load_1m"], load["cpus"], "" if load["cpus"] == 1 else "s")
    if load["load_percent"] > 100:
        said += ", tasks queued for a CPU"
    return said


def memory(meminfo: str) -> dict:
    """Total and available memory (MiB) and the share in use, from /proc/meminfo."""
    kib = {m.group(1): int(m.group(2)) for m in re.finditer(r"(?m)^(\w+):\s+(\d+)", meminfo)}
    total, available = kib["MemTotal"], kib.get("MemAvailable", kib.get("MemFree", 0))
    return {"total_mib": total // 1024, "available_mib": available // 1024, "used_percent": round(100.0 * (total - available) / total, 1)}


def over(said: str, value: float, threshold: float) -> tuple:
    """(status, summary) of a CPU or memory figure against its threshold, on Linux and Windows alike."""
    if value > threshold:
        return "found", "%s: above %g %%, snapshots may time out" % (said, threshold)
    return "ok", said


def memory_said(used_percent: float, available_mib: int, total_mib: int) -> str:
    return "memory %.1f %% used (%d of %d MiB available)" % (used_percent, available_mib, total_mib)


def psi_some(pressure: str | None, window: str = "avg10") -> float | None:
    """A 'some' figure of a /proc/pressure file (avg10, avg60, avg300): the share of that many
    seconds in which at least one task waited; None without PSI."""
    match = re.search(r"(?m)^some\s.*\b%s=([\d.]+)" % re.escape(window), pressure or "")
    return float(match.group(1)) if match else None


def psi_some_avg10(pressure: str | None) -> float | None:
    """The 'some avg10' figure of a /proc/pressure file: share of time tasks waited."""
    return psi_some(pressure, "avg10")


# --- The opt-in fix: the same file, switched to DHCP, everything else kept ---------------

# Keys that only mean something with a static address, per system (case-insensitive prefixes).
_STATIC_IFUPDOWN = ("address", "netmask", "gateway", "broadcast", "network", "pointopoint")
_IFUPDOWN_STANZAS = ("iface", "auto", "mapping", "source", "source-directory", "no-auto-down", "no-scripts")
_STATIC_IFCFG = ("IPADDR", "NETMASK", "PREFIX", "GATEWAY", "BROADCAST", "NETWORK")
_STATIC_NM = ("address", "addresses", "gateway")


def _ifupdown_to_dhcp(lines: list, iface: str) -> list:
    # A stanza runs until the next stanza keyword; its option lines need no indentation.
    out, inside = [], False
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words and (words[0] in _IFUPDOWN_STANZAS or words[0].startswith("allow-")):
            inside = len(words) >= 4 and words[:3] == ["iface", iface, "inet"]
            if inside:
                line = re.sub(r"^(\s*iface\s+\S+\s+inet\s+)\S+", r"\1dhcp", line)
        elif inside and words and words[0] in _STATIC_IFUPDOWN:
            continue
        out.append(line)
    return out


def _netplan_to_dhcp(lines: list, iface: str) -> list:
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = re.match(r"^(\s*)%s\s*:\s*$" % re.escape(iface), line)
        if not match:
            continue
        indent, block = len(match.group(1)), []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        child = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=indent + 2)
        kept, skipping, has_dhcp = [], False, False
        for inner in block:
            depth = len(inner) - len(inner.lstrip())
            if skipping and (not inner.strip() or depth > child):
                continue
            key = re.match(r"^\s*([\w-]+)\s*:", inner) if depth == child else None
            skipping = bool(key) and key.group(1) in ("addresses", "gateway4")
            if skipping:
                continue
            if key and key.group(1) == "dhcp4":
                inner, has_dhcp = " " * child + "dhcp4: true", True
            kept.append(inner)
        out += ([] if has_dhcp else [" " * child + "dhcp4: true"]) + kept
    return out


def _section_edit(lines: list, section: str, drop: tuple, set_key: str, set_value: str, sep: str = "=") -> list:
    """In an ini-style [section]: drop the keys in `drop`, set `set_key`, add it if absent."""
    out, inside, done = [], False, False
    for line in lines:
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            if inside and not done:
                out.append(set_key + sep + set_value)
                done = True
            inside = header.group(1).strip().lower() == section.lower()
        elif inside:
            key = line.split(sep, 1)[0].strip()
            if re.sub(r"\d+$", "", key).lower() in drop:
                continue
            if key.lower() == set_key.lower():
                if done:
                    continue
                line, done = set_key + sep + set_value, True
        out.append(line)
    if inside and not done:
        out.append(set_key + sep + set_value)
    return out


def _ifcfg_to_dhcp(lines: list) -> list:
    out, done = [], False
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if re.sub(r"\d+$", "", key) in _STATIC_IFCFG:
            continue
        if key == "BOOTPROTO":
            line, done = "BOOTPROTO=dhcp", True
        out.append(line)
    return out + ([] if done else ["BOOTPROTO=dhcp"])


def to_dhcp(source: str, text: str, iface: str) -> str:
    """The configuration file `text` of `source` (as dhcp_config names it) with iface on DHCP:
    static addresses and gateways of that interface removed, every other line kept."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    if source == "ifupdown":
        lines = _ifupdown_to_dhcp(lines, iface)
    elif source == "netplan":
        lines = _netplan_to_dhcp(lines, iface)
    elif source == "systemd-networkd":
        lines = _section_edit(lines, "Network", ("address", "gateway"), "DHCP", "yes")
    elif source == "NetworkManager":
        lines = _section_edit(lines, "ipv4", _STATIC_NM, "method", "auto")
    elif source == "ifcfg":
        lines = _ifcfg_to_dhcp(lines)
    else:
        raise ValueError("no DHCP edit for %s" % source)
    return newline.join(lines) + (newline if text.endswith(("\n", "\r")) or not text else "")
