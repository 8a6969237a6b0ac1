"""The roles' settings: every variable has a rule of range or form, one good and one bad value each, the error
names variable, value and what is allowed, and the options are described once (roles' argument_specs)."""
from __future__ import annotations

import glob
import importlib
import os
import re

import pytest
import yaml

from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# fix_backup runs the others: its options are the run's (the action plugin checks them), no cause's.
ROLES = sorted(os.path.basename(os.path.dirname(os.path.dirname(p))) for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))
               if "fix_backup" not in p)
ALL = {name: (role, spec) for role in ROLES for name, spec in settings.role_options(role).items()}

# One good value (not the default where one can tell) and one bad value (of the right type where one can tell).
GOOD_BAD = {
    "linux_agent_unit": ("waagent.service", "walinux agent;rm"),
    "linux_agent_settle_timeout": (10, -1),
    "linux_agent_auto_restart": ("no", "maybe"),
    "linux_agent_min_version": ("2.9.1.1", "latest"),
    "linux_agent_upgrade": (False, "perhaps"),
    "linux_agent_package_lock_timeout": (120, 0),
    "linux_agent_log_hours": (48, -5),
    "linux_agent_config_path": ("/etc/waagent.d/waagent.conf", "etc/waagent.conf"),
    "linux_agent_verbose_logs": (True, "loud"),
    "snapshot_status_interface": ("ens5", "eth0; reboot"),
    "snapshot_status_sample_seconds": (1, -2),
    "snapshot_status_cpu_threshold": (80, 150),
    "snapshot_status_memory_threshold": (95.5, 0),
    "snapshot_status_fix_dhcp": (True, "later"),
    "snapshot_status_dhcp_timeout": (300, 30),
    "snapshot_status_use_vss_copy_backup": (True, "sometimes"),
    "backup_extension_lib_dir": ("/srv/waagent", "var/lib/waagent"),
    "backup_extension_config_path": ("/etc/azure/other.conf", "vmbackup.conf"),
    "network_wireserver": ("10.0.0.4", "168.63.129.16:80"),
    "network_wireserver_port": (8080, 0),
    "network_hostplugin_port": (32527, 70000),
    "network_storage_host": ("acct.blob.core.windows.net", "https://acct.blob.core.windows.net/"),
    "network_storage_ports": ([443], []),
    "network_dns_names": (["login.microsoftonline.com"], ["bad name"]),
    "network_timeout": (2.5, -1),
    "network_http_proxy_host": ("proxy.contoso.com", "proxy contoso"),
    "network_http_proxy_port": (8080, -3128),
    "network_ca_file": ("/etc/ssl/certs/ca.pem", "ca.pem"),
    "network_http_proxy_bypass": (["*.contoso.com", "<local>"], ["a b"]),
    "log_bundle_when": ("always", "sometimes"),
    "log_bundle_dir": ("/tmp/bundles", ""),
    "log_bundle_max_size": ("512K", "2G"),
    "log_bundle_paths": (["/var/log/waagent.log"], []),
    "log_bundle_windows_paths": (["C:\\WindowsAzure\\Logs\\*.log", "D:\\app\\logs"], ["/var/log/waagent.log"]),
    "log_bundle_event_hours": (24, 8761),
    "vss_writers_services": ({"My Writer": "MySvc", "SqlServerWriter": ""}, {"My Writer": "C:\\svc"}),
    "vss_writers_restart_workloads": (["NTDS"], [""]),
    "vss_writers_service_timeout": (120, 0),
    "shadow_storage_volumes": (["C:", "e"], ["C:\\Data"]),
    "shadow_storage_max_size": ("20GB", "10 parsecs"),
    "shadow_storage_min_free": ("5%", "UNBOUNDED"),
    "shadow_storage_shrink": ("keep_copies", "always"),
    "shadow_storage_grow": ("always", "never"),
    "shadow_storage_event_days": (30, 0),
    "machinekeys_delete_certificates": (False, "delete"),
    "machinekeys_backup_dir": ("D:\\backups", "/var/backups"),
    "machinekeys_restart_agent": (False, "restart"),
    "machinekeys_service_timeout": (90, -60),
    "bitlocker_disable": (True, "never"),
    "win_agent_min_version": ("2.7.41491.1102", "2.7.x"),
    "win_agent_install": (False, "install"),
    "win_agent_msi_url": ("https://example.com/agent.msi", "ftp://example.com/agent.msi"),
    "win_agent_msi_src": ("files/WindowsAzureVmAgent.msi", "files/agent.exe"),
    "win_agent_msi_checksum": ("a" * 64, "abc"),
    "win_agent_msi_busy_retries": (5, 21),
    "win_agent_msi_busy_wait": (60, 0),
    "win_agent_restart": (True, "now"),
    "mars_agent_restart_service": (True, "always"),
    "mars_agent_min_version": ("2.0.9262.0", "newest"),
    "mars_agent_scratch_min_free_percent": (10, 0),
    "mars_agent_temp_files_limit": (65000, 0),
    "mars_agent_temp_files_min_age_hours": (48, -1),
    "mars_agent_enable_iscsi": (True, "always"),
    "mars_agent_max_clock_skew": (60, 0),
    "mars_agent_endpoints": (["login.microsoftonline.com", "127.0.0.1:8443"], ["*.windows.net"]),
    "mars_agent_timeout": (10, 0),
    "mars_agent_schedule_fix_principal": (True, "always"),
    "mars_agent_enable_tasks": (False, "sometimes"),
    "mars_agent_set_execution_policy": (False, "never"),
}


def check(values: dict, roles=None):
    return settings.settings(roles or ROLES, lambda name: (name in values, values.get(name)))


def test_every_option_of_every_role_has_a_rule_and_a_good_and_a_bad_value():
    assert set(settings.RULES) == set(ALL)
    assert set(GOOD_BAD) == set(ALL)


def test_the_defaults_are_allowed():
    values, errors = check({})
    assert errors == []
    assert values["network_timeout"] == 5.0 and values["log_bundle_dir"].endswith("log-bundles")


@pytest.mark.parametrize("name", sorted(GOOD_BAD))
def test_a_good_value_passes_and_a_bad_one_is_named_with_value_and_what_is_allowed(name):
    good, bad = GOOD_BAD[name]
    role = ALL[name][0]
    values, errors = check({name: good}, [role])
    assert errors == [], name
    _values, errors = check({name: bad}, [role])
    assert len(errors) == 1, (name, errors)
    shown = "'%s'" % bad if isinstance(bad, str) else None
    assert errors[0].startswith("%s = %s is not allowed: " % (name, shown)) if shown else errors[0].startswith(name + " = ")
    assert errors[0].split(" is not allowed: ", 1)[1] == settings.RULES[name].allowed


def test_the_issue_example_reads_as_asked():
    _values, errors = check({"network_timeout": -1}, ["network"])
    assert errors == ["network_timeout = -1 is not allowed: a number of seconds > 0 and <= 300"]


def test_every_bad_value_of_a_host_is_reported_not_just_the_first():
    _values, errors = check({"network_timeout": -1, "linux_agent_log_hours": -24, "linux_agent_unit": "a b"})
    assert [e.split(" = ")[0] for e in errors] == ["linux_agent_unit", "linux_agent_log_hours", "network_timeout"]


def test_a_value_of_the_wrong_type_is_refused_with_what_is_allowed():
    _values, errors = check({"linux_agent_settle_timeout": "soon"}, ["linux_agent"])
    assert errors == ["linux_agent_settle_timeout = 'soon' is not allowed: a number of seconds > 0 and <= 300"]


def test_values_are_converted_to_the_option_type():
    values, errors = check({"network_storage_ports": ["443"], "linux_agent_upgrade": "no", "linux_agent_package_lock_timeout": "30"})
    assert errors == [] and values["network_storage_ports"] == [443] and values["linux_agent_upgrade"] is False
    assert values["linux_agent_package_lock_timeout"] == 30


def test_busy_retries_and_wait_are_bounded_together():
    _values, errors = check({"win_agent_msi_busy_retries": 20, "win_agent_msi_busy_wait": 600}, ["win_agent"])
    assert errors == ["win_agent_msi_busy_retries x win_agent_msi_busy_wait = 20 x 600 is not allowed: "
                      "their product at most 1800 seconds, so a run ends"]


def test_the_agent_configuration_follows_verbose_logs():
    values, _errors = check({"linux_agent_verbose_logs": True}, ["linux_agent"])
    args = settings.cause_args("linux_agent", "linux", values)
    assert args["config"] == {"Extensions.Enabled": "y", "Logs.Verbose": "y"}
    assert args["lock_timeout"] == 60 and args["config_report"] == ["AutoUpdate.Enabled"]
    values, _errors = check({}, ["linux_agent"])
    assert settings.cause_args("linux_agent", "linux", values)["config"] == {"Extensions.Enabled": "y"}


def test_windows_gets_the_proxy_as_host_and_port_and_empty_optional_values_are_left_out():
    values, _errors = check({"network_http_proxy_host": "proxy.contoso.com"}, ["network", "win_agent"])
    assert settings.cause_args("network", "windows", values)["http_proxy"] == "proxy.contoso.com:3128"
    assert "ca_file" not in settings.cause_args("network", "linux", values)
    args = settings.cause_args("win_agent", "windows", values)
    assert "msi_src" not in args and "msi_checksum" not in args


def test_the_deprecated_sample_seconds_is_passed_on_only_when_set():
    values, errors = check({}, ["snapshot_status"])
    assert errors == [] and "sample_seconds" not in settings.cause_args("snapshot_status", "linux", values)
    values, errors = check({"snapshot_status_sample_seconds": 3}, ["snapshot_status"])
    assert errors == [] and settings.cause_args("snapshot_status", "linux", values)["sample_seconds"] == 3.0


def test_the_os_is_decided_as_the_grouping_play_decides_it():
    assert settings.host_os(None, "winrm") == settings.host_os(None, "psrp") == "windows"
    assert settings.host_os(None, None) == settings.host_os(None, "ssh") == "linux"
    assert settings.host_os("linux", "winrm") == "linux"
    assert settings.host_os(None, "ansible.builtin.winrm") == settings.host_os(None, "ansible.builtin.psrp") == "windows"
    assert settings.host_os(None, "ssh", "powershell") == "windows"  # Windows over OpenSSH


def test_a_boolean_is_not_a_number():
    values, errors = settings.settings(["linux_agent"], lambda name: (name == "linux_agent_log_hours", True))
    assert errors and errors[0].startswith("linux_agent_log_hours = true is not allowed")


def test_causes_of_another_os_are_named():
    assert settings.unknown_causes(["linux_agent", "vss_writers", "log_bundle"], "linux") == ["vss_writers", "log_bundle"]
    assert settings.unknown_causes(settings.CAUSES["windows"], "windows") == []


# -- each option described once ----------------------------------------------------------------------------------

MODULES = {"linux": {c: c for c in settings.CAUSES["linux"] + ["log_bundle"]},
           "windows": {c: c if c.startswith("win_") else "win_" + c for c in settings.CAUSES["windows"]}}
MODULES["windows"]["log_bundle"] = "win_log_bundle"


def module_options(name: str) -> dict:
    """A module's documented options, its doc fragments included (as ansible-doc shows them)."""
    doc = yaml.safe_load(importlib.import_module("ansible_collections.azure_backup.remediation.plugins.modules." + name).DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        parts = fragment.split(".")  # azure_backup.remediation.<file>[.<VARIABLE>]
        source = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.doc_fragments." + parts[2]).ModuleDocFragment
        options.update(yaml.safe_load(getattr(source, parts[3] if len(parts) > 3 else "DOCUMENTATION")).get("options") or {})
    return options


@pytest.mark.parametrize("role,os_name", sorted(settings.OPTIONS))
def test_every_mapped_option_exists_with_the_role_variable_s_type_and_default(role, os_name):
    options = module_options(MODULES[os_name][role])
    for option, source in settings.OPTIONS[(role, os_name)].items():
        assert option in options, (role, option)
        if callable(source):
            continue
        spec = settings.role_options(role)[source]
        for key in ("type", "elements", "choices", "default"):
            assert options[option].get(key) == spec.get(key), (role, option, key)


@pytest.mark.parametrize("role,os_name", sorted(settings.OPTIONS))
def test_every_windows_option_is_one_the_action_plugin_takes(role, os_name):
    if os_name != "windows":
        pytest.skip("the Linux classes' ARGUMENT_SPEC is checked by the remediate module on the VM")
    from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.causes import ACTIONS
    # The log bundle is no cause: its role's Windows options are win_log_bundle's.
    action = "win_log_bundle" if role == settings.LOG_BUNDLE else ACTIONS[role]
    plugin = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.action." + action)
    assert set(settings.OPTIONS[(role, os_name)]) <= set(plugin.ActionModule.ARGUMENT_SPEC)


def test_every_role_variable_maps_to_a_cause_option():
    used = {s for table in settings.OPTIONS.values() for s in table.values() if isinstance(s, str)}
    # Read by a function of the table (the agent's configuration, the Windows proxy and the optional values).
    used |= {"linux_agent_verbose_logs", "network_ca_file", "win_agent_msi_src", "win_agent_msi_checksum", "snapshot_status_sample_seconds"}
    assert used == set(ALL)


def test_roles_keep_no_second_copy_of_their_defaults():
    assert glob.glob(os.path.join(ROOT, "roles", "*", "defaults", "*")) == []
    assert glob.glob(os.path.join(ROOT, "roles", "*", "vars", "*")) == []


def test_every_role_is_one_task_through_remediate():
    for role in ROLES:
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            entries = list(yaml.safe_load(handle)["argument_specs"])
        assert sorted(os.listdir(os.path.join(ROOT, "roles", role, "tasks"))) == sorted(e + ".yml" for e in entries)
        for entry in entries:
            with open(os.path.join(ROOT, "roles", role, "tasks", entry + ".yml")) as handle:
                [task] = yaml.safe_load(handle)
            causes = task["azure_backup.remediation.remediate"]["causes"]
            if role == settings.MARS_ROLE and entry == "main":
                # Every entry point's cause, in the order of the Windows play.
                assert causes == [c for c in settings.CAUSES["windows"] if settings.role_entry(c)[0] == role]
                assert sorted(causes) == sorted("mars_" + e for e in entries if e != "main")
            else:
                assert causes == ([] if role == "log_bundle" else [role] if entry == "main" else ["mars_" + entry])
                assert settings.role_entry(causes[0] if causes else role) == (role, entry)


def test_the_mars_role_s_main_entry_takes_every_option_of_its_causes():
    entries = {e: settings.role_options("mars_" + e) for e in ("service", "version", "connectivity", "scratch", "temp_files", "schedule",
                                                               "powershell", "antivirus", "prereqs", "restore_mount")}
    merged = {name: spec for options in entries.values() for name, spec in options.items()}
    assert settings.role_options(settings.MARS_ROLE) == merged


def test_readme_and_docs_do_not_restate_an_option_s_default():
    """Options are described once (argument_specs, shown by ansible-doc -t role): the README and docs/ link there."""
    restated = []
    for path in [os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "*.md")):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for name, (_role, spec) in ALL.items():
            default = spec.get("default")
            if default in (None, "", [], {}) or isinstance(default, bool):
                continue
            shown = re.escape(str(default))
            if re.search(r"`%s`[^|\n]{0,30}?(\(|default `?)%s\b" % (name, shown), text):
                restated.append("%s: %s" % (os.path.basename(path), name))
    assert restated == []


def test_a_url_s_query_is_not_repeated_in_the_error():
    # A SAS token's signature would otherwise land in the AWX job's output.
    url = "ftp://x.blob.core.windows.net/c/agent.msi?sv=2020&sig=SECRET"  # refused: not http(s)
    _values, errors = settings.settings(["win_agent"], lambda name: (name == "win_agent_msi_url", url))
    assert errors and "win_agent_msi_url = 'ftp://x.blob.core.windows.net/c/agent.msi?...'" in errors[0]
    assert "SECRET" not in " ".join(errors)


def test_each_role_option_s_docs_say_what_its_rule_allows():
    # ansible-doc -t role shows what may be set; the words come from the rule that checks it, so they cannot drift.
    for role in settings.CAUSES["linux"] + settings.CAUSES["windows"] + [settings.LOG_BUNDLE]:
        for name, spec in settings.role_options(role).items():
            assert spec["description"][-1] == "Allowed: %s." % settings.RULES[name].allowed, (role, name)
