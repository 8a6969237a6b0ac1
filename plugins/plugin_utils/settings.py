# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' settings, on the controller: read, checked for type AND sense, and turned into each cause's options.

Each role option is described once, in ``roles/<role>/meta/argument_specs.yml`` (its type, default and
description). This file adds what a type cannot say: the range or form a value must have (RULES, one per
option; a unit test keeps that complete), and how the options map onto the options of the module (Linux) or
action plugin (Windows) that runs the cause (OPTIONS). Pure functions: the action plugin hands in the
variables it templated.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "roles"))

# The causes of each OS, in the order Microsoft's articles work through them.
CAUSES = {
    "linux": ["linux_agent", "snapshot_status", "backup_extension", "network", "disk_limits"],
    "windows": ["win_agent", "snapshot_status", "backup_extension", "network", "vss_writers", "shadow_storage", "machinekeys",
                "bitlocker", "com_msdtc", "disk_limits",
                "mars_service", "mars_version", "mars_connectivity", "mars_scratch", "mars_temp_files",
                "mars_schedule", "mars_powershell", "mars_antivirus", "mars_prereqs", "mars_restore_mount"],
}
LOG_BUNDLE = "log_bundle"


def host_os(azure_backup_os, connection, shell_type=None) -> str:
    """linux or windows, decided on the controller (fix_backup.yml's settings check sorts the hosts by it):
    azure_backup_os wins, else a WinRM or PSRP connection (also by its FQCN, ansible.builtin.winrm) or a
    PowerShell shell (Windows over OpenSSH) means Windows."""
    if azure_backup_os:
        return str(azure_backup_os)
    windows = str(connection or "ssh").rsplit(".", maxsplit=1)[-1] in ("winrm", "psrp") or str(shell_type or "") == "powershell"
    return "windows" if windows else "linux"


# -- the one description of each option -----------------------------------------------------------------------

# The MARS causes are the entry points of one role, mars_agent (mars_scratch is its entry point ``scratch``).
MARS_ROLE = "mars_agent"


def role_entry(cause: str) -> tuple[str, str]:
    """(role, entry point) that describes the options of ``cause``."""
    if cause.startswith("mars_") and cause != MARS_ROLE:
        return MARS_ROLE, cause[len("mars_"):]
    return cause, "main"


@functools.lru_cache(maxsize=None)
def role_options(cause: str) -> dict:
    """The options of a cause's role entry point (its argument_specs.yml), by variable name."""
    role, entry = role_entry(cause)
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"][entry].get("options") or {}


def default_of(name: str, spec: dict):
    if name == "log_bundle_dir" and "default" not in spec:
        # Beside the fleet report when AZURE_BACKUP_REPORT_DIR names its folder (as the report callback reads it).
        return os.path.join(os.environ.get("AZURE_BACKUP_REPORT_DIR") or "reports", "log-bundles")
    return spec.get("default")


# -- what a type cannot say: the range or form of each value ---------------------------------------------------

class Rule:
    """``allowed`` says in words what may be set; ``accepts`` decides on a value already of the option's type."""

    def __init__(self, allowed: str, accepts) -> None:
        self.allowed, self.accepts = allowed, accepts


def number(low, high, unit: str = "", low_open: bool = False) -> Rule:
    what = "a number%s" % (" of " + unit if unit else "")
    lowest = "> %s" % low if low_open else ">= %s" % low
    return Rule("%s %s and <= %s" % (what, lowest, high),
                lambda v: (v > low if low_open else v >= low) and v <= high)


def whole(low, high, unit: str = "") -> Rule:
    return Rule("a whole number%s from %s to %s" % (" of " + unit if unit else "", low, high), lambda v: low <= v <= high)


def flag() -> Rule:
    return Rule("true or false", lambda v: isinstance(v, bool))


def matching(pattern: str, allowed: str, empty: bool = False) -> Rule:
    form = re.compile(pattern)
    return Rule(("empty, or " if empty else "") + allowed, lambda v: (empty and v == "") or bool(form.fullmatch(v)))


def each(rule: Rule, allowed: str, non_empty: bool = True) -> Rule:
    return Rule(("a non-empty list of " if non_empty else "a list of ") + allowed,
                lambda v: (bool(v) or not non_empty) and all(rule.accepts(i) for i in v))


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(r"(?=.{1,253}$)%s(?:\.%s)*\.?" % (_LABEL, _LABEL))


def is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.fullmatch(value))


def host(empty: bool = False) -> Rule:
    return Rule(("empty, or " if empty else "") + "a host name or IP address (letters, digits, '-' and '.', no port)",
                lambda v: (empty and v == "") or is_host(v))


def size_ok(text) -> bool:
    from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import log_bundle
    try:
        return log_bundle.parse_size(text) <= 1024 ** 3
    except ValueError:
        return False


def mars_endpoint_ok(text) -> bool:
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_connectivity
    try:
        mars_connectivity.endpoint(text)
        return True
    except ValueError:
        return False


def shadow_size(unbounded: bool, zero: bool = False) -> Rule:
    """A shadow storage size, by the one parser the cause uses (plugin_utils/windows/shadow_storage.py)."""
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import shadow_storage
    allowed = ("a size such as 10GB or 512MB (%s), or a percentage of the volume such as 10%%%s"
               % ("0, or at least 1MB" if zero else "at least 1MB", ", or UNBOUNDED" if unbounded else ""))
    return Rule(allowed, lambda v: shadow_storage.size_ok(v, unbounded=unbounded, zero=zero))


PORT = whole(1, 65535)
VERSION = matching(r"\d+(\.\d+){1,3}", "a version of 2 to 4 numbers such as 2.2.53.1")
LINUX_PATH = matching(r"/[^\0\n]*", "an absolute path on the VM, starting with /")
# systemd.unit(5): unit names are made of ASCII letters, digits, ":", "-", "_", ".", "\" and "@".
UNIT = matching(r"auto|[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?(\.service)?",
                "auto, or a systemd service name such as walinuxagent.service (letters, digits and :-_.@\\ only, no spaces)")
WINDOWS_PATH = matching(r"[A-Za-z]:\\[^<>\"|?*\n]*", "an absolute Windows path such as C:\\ProgramData\\azure-backup\\backups")

RULES = {
    "linux_agent_unit": UNIT,
    "linux_agent_settle_timeout": number(0, 300, "seconds", low_open=True),
    "linux_agent_auto_restart": flag(),
    "linux_agent_min_version": VERSION,
    "linux_agent_upgrade": flag(),
    "linux_agent_package_lock_timeout": whole(1, 3600, "seconds"),
    "linux_agent_log_hours": number(1, 8760, "hours"),
    "linux_agent_config_path": LINUX_PATH,
    "linux_agent_verbose_logs": flag(),
    # Linux's IFNAMSIZ: at most 15 characters; no spaces, "/" or ":".
    "snapshot_status_interface": matching(r"[A-Za-z0-9_.@-]{1,15}", "a network interface name such as eth0 (at most 15 letters, digits or _.@-)"),
    # Deprecated (the CPU load is read from the kernel's counters): passed on only when set, so the module warns.
    "snapshot_status_sample_seconds": Rule("unset, or " + number(0.2, 10, "seconds").allowed,
                                           lambda v: v is None or number(0.2, 10).accepts(v)),
    "snapshot_status_cpu_threshold": number(0, 100, "percent", low_open=True),
    "snapshot_status_memory_threshold": number(0, 100, "percent", low_open=True),
    "snapshot_status_fix_dhcp": flag(),
    # The Windows switch task starts after its delay and waits 60 s for a lease: less can never see its result.
    "snapshot_status_dhcp_timeout": whole(75, 3600, "seconds"),
    "snapshot_status_use_vss_copy_backup": flag(),
    "backup_extension_lib_dir": LINUX_PATH,
    "backup_extension_config_path": LINUX_PATH,
    "network_wireserver": host(),
    "network_wireserver_port": PORT,
    "network_hostplugin_port": PORT,
    "network_storage_host": host(empty=True),
    "network_storage_ports": each(PORT, "ports from 1 to 65535"),
    "network_dns_names": each(host(), "host names", non_empty=False),
    "network_timeout": number(0, 300, "seconds", low_open=True),
    "network_http_proxy_host": host(empty=True),
    "network_http_proxy_port": PORT,
    "network_ca_file": matching(r"/[^\0\n]*", "an absolute path on the VM, starting with /", empty=True),
    "network_http_proxy_bypass": each(matching(r"[^\s;]+", ""), "host names or patterns such as *.contoso.com or <local> (no spaces or ;)",
                                      non_empty=False),
    "log_bundle_when": matching(r"problems|always|never", "problems, always or never"),
    "log_bundle_dir": matching(r"[^\0\n]+", "a folder on the controller"),
    "log_bundle_max_size": Rule("a size above 0 and at most 1G, such as 20M or 512K", size_ok),
    "log_bundle_paths": each(matching(r"/[^\0\n]*", ""), "absolute paths on the VM (wildcards allowed)"),
    # Windows paths with PowerShell's wildcards (* ? [ ]); <>"| cannot be in a Windows path.
    "log_bundle_windows_paths": each(matching(r"[A-Za-z]:\\[^<>\"|\0\n]*", ""),
                                     "absolute Windows paths such as C:\\WindowsAzure\\Logs\\*.log (wildcards allowed)"),
    "log_bundle_event_hours": whole(0, 8760, "hours"),
    "vss_writers_services": Rule("a mapping of writer names to service names (no \\ or /; empty removes a built-in row)",
                                 lambda v: all(str(k).strip() and re.fullmatch(r"[^\\/\n]{0,256}", str(s or "")) for k, s in v.items())),
    "vss_writers_restart_workloads": Rule("a list of writer names (none empty)", lambda v: all(str(i).strip() for i in v)),
    "vss_writers_service_timeout": whole(1, 3600, "seconds"),
    "shadow_storage_volumes": each(matching(r"[A-Za-z]:?\\?", ""), "drive letters such as C: (empty: every volume with shadow storage)",
                                   non_empty=False),
    "shadow_storage_max_size": shadow_size(unbounded=True),
    "shadow_storage_min_free": shadow_size(unbounded=False, zero=True),
    "shadow_storage_shrink": matching(r"never|keep_copies|delete_copies", "never, keep_copies or delete_copies"),
    "shadow_storage_grow": matching(r"evidence|always", "evidence or always"),
    "shadow_storage_event_days": whole(1, 365, "days"),
    "machinekeys_delete_certificates": flag(),
    "machinekeys_backup_dir": WINDOWS_PATH,
    "machinekeys_restart_agent": flag(),
    "machinekeys_service_timeout": whole(1, 3600, "seconds"),
    "bitlocker_disable": flag(),
    "win_agent_min_version": VERSION,
    "win_agent_install": flag(),
    "win_agent_msi_url": matching(r"https?://[^\s]+", "an http:// or https:// URL"),
    "win_agent_msi_src": matching(r"[^\n]+\.[mM][sS][iI]", "a .msi file on the controller", empty=True),
    "win_agent_msi_checksum": matching(r"[0-9A-Fa-f]{64}", "a SHA-256 of 64 hex digits", empty=True),
    "win_agent_msi_busy_retries": whole(0, 20),
    "win_agent_msi_busy_wait": whole(1, 600, "seconds"),
    "win_agent_restart": flag(),
    "mars_agent_restart_service": flag(),
    "mars_agent_min_version": VERSION,
    "mars_agent_scratch_min_free_percent": number(0, 50, "percent", low_open=True),
    "mars_agent_temp_files_limit": whole(1, 10000000, "files"),
    "mars_agent_temp_files_min_age_hours": whole(0, 8760, "hours"),
    "mars_agent_enable_iscsi": flag(),
    "mars_agent_max_clock_skew": whole(1, 86400, "seconds"),
    # MARS_CONNECTIVITY: a wildcard of the article names no machine to connect to.
    "mars_agent_endpoints": each(Rule("", mars_endpoint_ok), "host names or host:port, port 1 to 65535 (no wildcards: they cannot be probed; "
                                 "name a concrete host such as login.microsoftonline.com)"),
    "mars_agent_timeout": number(0, 300, "seconds", low_open=True),
    "mars_agent_schedule_fix_principal": flag(),
    "mars_agent_enable_tasks": flag(),
    "mars_agent_set_execution_policy": flag(),
}

# Rules on two options together: (names, allowed, accepts(values)).
TOGETHER = [
    (("win_agent_msi_busy_retries", "win_agent_msi_busy_wait"), "their product at most 1800 seconds, so a run ends",
     lambda v: v["win_agent_msi_busy_retries"] * v["win_agent_msi_busy_wait"] <= 1800),
]


def show(value) -> str:
    """The value as the error message names it; a URL's query (a SAS token's signature) is left out, since the
    message lands in the job's output."""
    if isinstance(value, str):
        return "'%s'" % re.sub(r"([a-z][a-z0-9+.-]*://[^?\s]*)\?\S*", r"\1?...", value, flags=re.I)
    try:
        return json.dumps(value, default=str)
    except ValueError:
        return str(value)


def typed(name: str, spec: dict, value):
    """The value converted to the option's type, as role argument validation would; raises ValueError."""
    # Paths are the VM's: not expanded with the controller's ~ or $VARS.
    option = {k: v for k, v in spec.items() if k in ("type", "elements", "choices")}
    if option.get("type") == "path":
        option["type"] = "str"
    # A YAML true is not the number 1: the type check alone would take it as one.
    if option.get("type") in ("int", "float") and isinstance(value, bool):
        raise ValueError("%s is a boolean, not a number" % name)
    checked = ArgumentSpecValidator({name: option}).validate({name: value})
    if checked.error_messages:
        raise ValueError(checked.error_messages[0])
    return checked.validated_parameters[name]


def settings(roles, lookup) -> tuple[dict, list[str]]:
    """Every option of ``roles``: ``lookup(name)`` answers (True, templated value) for a variable that is set,
    (False, None) otherwise. Returns (values by variable name, the errors: 'name = value is not allowed: ...')."""
    values, errors = {}, []
    for role in roles:
        for name, spec in role_options(role).items():
            present, value = lookup(name)
            if not present:
                value = default_of(name, spec)
            rule, given = RULES[name], value
            try:
                value = typed(name, spec, value)
                good = rule.accepts(value)
            except (ValueError, TypeError):
                good = False
            if not good:
                errors.append("%s = %s is not allowed: %s" % (name, show(given), rule.allowed))
            values[name] = value
    for names, allowed, accepts in TOGETHER:
        if all(n in values for n in names) and not any(e.split(" = ")[0] in names for e in errors) and not accepts(values):
            errors.append("%s = %s is not allowed: %s" % (" x ".join(names), " x ".join(show(values[n]) for n in names), allowed))
    return values, errors


# -- role settings to cause options --------------------------------------------------------------------------

OMIT = object()


def _unless_empty(name):
    return lambda s: s[name] or OMIT


def _agent_config(s) -> dict:
    # Extensions.Enabled=y is required: with n the agent runs no extension, the backup one included.
    return dict({"Extensions.Enabled": "y"}, **({"Logs.Verbose": "y"} if s["linux_agent_verbose_logs"] else {}))


_NETWORK = {
    "wireserver": "network_wireserver", "wireserver_port": "network_wireserver_port", "hostplugin_port": "network_hostplugin_port",
    "storage_host": "network_storage_host", "storage_ports": "network_storage_ports", "dns_names": "network_dns_names",
    "timeout": "network_timeout",
}

# (role, os) -> {cause option: role variable, or a function of all the host's settings (OMIT leaves it out)}.
OPTIONS = {
    ("linux_agent", "linux"): {
        "config_path": "linux_agent_config_path", "config": _agent_config, "config_report": lambda s: ["AutoUpdate.Enabled"],
        "unit": "linux_agent_unit", "settle_timeout": "linux_agent_settle_timeout", "auto_restart": "linux_agent_auto_restart",
        "min_version": "linux_agent_min_version", "upgrade": "linux_agent_upgrade", "lock_timeout": "linux_agent_package_lock_timeout",
        "log_hours": "linux_agent_log_hours",
    },
    ("snapshot_status", "linux"): {
        "interface": "snapshot_status_interface", "sample_seconds": lambda s: OMIT if s["snapshot_status_sample_seconds"] is None
        else s["snapshot_status_sample_seconds"],
        "cpu_threshold": "snapshot_status_cpu_threshold", "memory_threshold": "snapshot_status_memory_threshold",
        "fix_dhcp": "snapshot_status_fix_dhcp",
    },
    ("snapshot_status", "windows"): {
        "use_vss_copy_backup": "snapshot_status_use_vss_copy_backup", "fix_dhcp": "snapshot_status_fix_dhcp",
        "dhcp_timeout": "snapshot_status_dhcp_timeout", "cpu_threshold": "snapshot_status_cpu_threshold",
        "memory_threshold": "snapshot_status_memory_threshold",
    },
    ("backup_extension", "linux"): {"lib_dir": "backup_extension_lib_dir", "config_path": "backup_extension_config_path"},
    ("backup_extension", "windows"): {},
    ("network", "linux"): dict(_NETWORK, ca_file=_unless_empty("network_ca_file"), http_proxy_host="network_http_proxy_host",
                               http_proxy_port="network_http_proxy_port"),
    ("network", "windows"): dict(_NETWORK, http_proxy_bypass="network_http_proxy_bypass", http_proxy=lambda s: (
        "%s:%s" % (s["network_http_proxy_host"], s["network_http_proxy_port"]) if s["network_http_proxy_host"] else "")),
    ("disk_limits", "linux"): {},
    ("disk_limits", "windows"): {},
    ("win_agent", "windows"): {
        "min_version": "win_agent_min_version", "install": "win_agent_install", "msi_url": "win_agent_msi_url",
        "msi_src": _unless_empty("win_agent_msi_src"), "msi_checksum": _unless_empty("win_agent_msi_checksum"),
        "msi_busy_retries": "win_agent_msi_busy_retries", "msi_busy_wait": "win_agent_msi_busy_wait", "restart": "win_agent_restart",
    },
    ("vss_writers", "windows"): {"services": "vss_writers_services", "restart_workloads": "vss_writers_restart_workloads",
                                 "service_timeout": "vss_writers_service_timeout"},
    ("shadow_storage", "windows"): {"volumes": "shadow_storage_volumes", "max_size": "shadow_storage_max_size",
                                    "min_free": "shadow_storage_min_free", "shrink": "shadow_storage_shrink",
                                    "grow": "shadow_storage_grow", "event_days": "shadow_storage_event_days"},
    ("machinekeys", "windows"): {"delete_certificates": "machinekeys_delete_certificates", "backup_dir": "machinekeys_backup_dir",
                                 "restart_agent": "machinekeys_restart_agent", "service_timeout": "machinekeys_service_timeout"},
    ("bitlocker", "windows"): {"disable": "bitlocker_disable"},
    ("com_msdtc", "windows"): {},
    ("mars_service", "windows"): {"restart_service": "mars_agent_restart_service"},
    ("mars_version", "windows"): {"min_version": "mars_agent_min_version"},
    ("mars_scratch", "windows"): {"min_free_percent": "mars_agent_scratch_min_free_percent"},
    ("mars_temp_files", "windows"): {"limit": "mars_agent_temp_files_limit", "min_age_hours": "mars_agent_temp_files_min_age_hours"},
    ("mars_prereqs", "windows"): {"max_clock_skew": "mars_agent_max_clock_skew"},
    ("mars_restore_mount", "windows"): {"enable_iscsi": "mars_agent_enable_iscsi"},
    # NETWORK's proxy, when NETWORK runs too: MARS_CONNECTIVITY only says that NETWORK sets WinHTTP.
    ("mars_connectivity", "windows"): {"endpoints": "mars_agent_endpoints", "timeout": "mars_agent_timeout",
                                       "network_http_proxy": lambda s: (
                                           "%s:%s" % (s["network_http_proxy_host"], s["network_http_proxy_port"]) if s.get("network_http_proxy_host") else ""),
                                       "network_http_proxy_bypass": lambda s: s.get("network_http_proxy_bypass") or []},
    ("mars_schedule", "windows"): {"fix_principal": "mars_agent_schedule_fix_principal", "enable_tasks": "mars_agent_enable_tasks"},
    ("mars_powershell", "windows"): {"set_execution_policy": "mars_agent_set_execution_policy"},
    ("mars_antivirus", "windows"): {},
    (LOG_BUNDLE, "linux"): {"dest": "log_bundle_dir", "when": "log_bundle_when", "max_size": "log_bundle_max_size",
                            "paths": "log_bundle_paths"},
    (LOG_BUNDLE, "windows"): {"dest": "log_bundle_dir", "when": "log_bundle_when", "max_size": "log_bundle_max_size",
                              "paths": "log_bundle_windows_paths", "event_hours": "log_bundle_event_hours"},
}


def cause_args(role: str, os_name: str, values: dict) -> dict:
    """The options of the module or action plugin that runs ``role`` on ``os_name``."""
    args = {}
    for option, source in OPTIONS[(role, os_name)].items():
        value = source(values) if callable(source) else values[source]
        if value is not OMIT:
            args[option] = value
    return args


def unknown_causes(causes, os_name: str) -> list[str]:
    """Causes that do not exist on this OS."""
    return [c for c in causes if (c, os_name) not in OPTIONS or c == LOG_BUNDLE]
