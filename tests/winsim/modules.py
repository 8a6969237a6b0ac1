"""Fakes of the ansible.windows modules the collection sends, answering from SimHost state.

Each fake mirrors the real module (ansible.windows 3.3.0, plugins/modules/*.ps1): its argument
spec as Ansible.Basic validates it (aliases, required, choices, mutually_exclusive, required_if,
required_by; the same error texts), its result keys, check mode and diff. What a real module would
do that the simulation cannot (run an executable, load a hive, a service store) fails with a
message that says the simulator does not implement it, never with a made-up success.

Result shapes (besides ``changed``, ``invocation`` and ``diff`` in diff mode):
  win_ping               ping
  win_service            exists, name, display_name, state, start_mode, path, username, dependencies,
                         depended_by, can_pause_and_continue, description, desktop_interact
  win_regedit            data_changed, data_type_changed
  win_package            rc, reboot_required, checksum (installing, not check mode); on failure stdout, stderr, log
  win_certificate_store  thumbprints
  win_get_url            dest, url, elapsed, status_code, msg, checksum_src, checksum_dest, size
  win_http_proxy         (only changed/diff)
  win_path               path_value
  win_powershell         result, host_out, host_err, output, error, warning, verbose, debug,
                         information, failed; msg when skipped
"""

from __future__ import annotations

import base64
import copy
import datetime
import email.utils
import hashlib
import json
import re
import traceback
import urllib.parse

import host as hostmod  # tests/winsim is on sys.path (no package: the winsim CLI and the tests run it as files)
import psbind
import scripts

NO_LOG = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
PASS_VARS = ("check_mode", "debug", "diff", "keep_remote_files", "ignore_unknown_opts", "module_name", "no_log",
             "remote_tmp", "selinux_special_fs", "shell_executable", "socket", "syslog_facility",
             "target_log_info", "tracebacks_for", "tmpdir", "verbosity", "version")
BOOLEANS_TRUE = ("y", "yes", "on", "1", "true", "t", "1.0")
BOOLEANS_FALSE = ("n", "no", "off", "0", "false", "f", "0.0")
MODULE_TMP = "C:\\Users\\azureuser\\AppData\\Local\\Temp\\ansible-moduletmp-133500000000000000-1234567890"


class ModuleFail(Exception):
    """$module.FailJson(msg)."""

    def __init__(self, msg: str, **extra):
        super().__init__(msg)
        self.msg = msg
        self.extra = extra


class ModuleExit(Exception):
    """$module.ExitJson() before the end of the module."""


class Unhandled(Exception):
    """An exception the module does not catch: the wrapper reports it."""


# -- Ansible.Basic argument validation ---------------------------------------------------------------

def _net_type(value) -> str:
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -2**31 <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, list):
        return "System.Collections.ArrayList"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return "System.Object"


def ps_str(value) -> str:
    """.NET ToString() of a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _parse_bool(value):
    if isinstance(value, bool):
        return value
    text = ps_str(value).lower().strip()
    if text in BOOLEANS_TRUE:
        return True
    if text in BOOLEANS_FALSE:
        return False
    raise ValueError("The value '%s' is not a valid boolean. Valid booleans include: %s"
                     % (text, ", ".join(BOOLEANS_TRUE + BOOLEANS_FALSE)))


def _parse_int(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = ps_str(value)
    if not re.fullmatch(r"\s*[-+]?\d+\s*", text):
        raise ValueError("Input string was not in a correct format.")
    return int(text)


def _parse_list(value):
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [s.strip() for s in value.split(",")]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise ValueError("%s cannot be converted to a list" % _net_type(value))


def _parse_dict(value):
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}"):
            return json.loads(value)
        if "=" in value:
            out = {}
            for field in re.split(r"[ ,]+", value.strip()):
                if field:
                    key, _sep, val = field.partition("=")
                    out[key] = val
            return out
        raise ValueError("string cannot be converted to a dict, must either be a JSON string or in the key=value form")
    raise ValueError("%s cannot be converted to a dict" % _net_type(value))


def _parse_path(value):
    text = ps_str(value)
    if text.startswith("\\\\?\\"):
        return text
    text = hostmod.expand_env(text)
    if any(c in text for c in '"<>|') or any(ord(c) < 32 for c in text):
        raise ValueError("string value contains invalid path characters, cannot convert to path")
    return text


PARSERS = {"str": ps_str, "bool": _parse_bool, "int": _parse_int, "list": _parse_list, "dict": _parse_dict,
           "path": _parse_path, "raw": lambda v: v, "float": float}


class Module:
    """What Ansible.Basic.AnsibleModule gives a module: validated params, result, diff, check mode."""

    def __init__(self, host, name: str, args: dict, spec: dict):
        self.host = host
        self.name = name
        self.result = {"changed": False}
        self.diff: dict = {}
        self.warnings: list = []
        self.check_mode = False
        self.diff_mode = False
        self.verbosity = 0
        self.no_log_values: set = set()
        self.context: list = []
        self.params = dict(args)
        self.p: dict = {}  # params with choices in their canonical spelling, for the module's logic
        self.check_mode_writes = False  # the real module changes something in check mode too
        self.spec = spec

    def validate(self):
        """AnsibleModule.Create: a failure here leaves the params as far as they got, like the real one."""
        self._validate(self.spec, self.params, root=True)
        self.p = self._canonical(self.spec, self.params)

    # Ansible.Basic
    def fail(self, msg: str, **extra):
        raise ModuleFail(msg, **extra)

    def warn(self, msg: str):
        self.warnings.append(msg)

    def _ctx(self, msg: str) -> str:
        return msg + (" found in %s" % " -> ".join(self.context) if self.context else "")

    def _validate(self, spec: dict, params: dict, root: bool):
        options = spec.get("options", {})
        aliases = {}
        for key, opt in options.items():
            for alias in opt.get("aliases", []):
                aliases[alias] = key
                if alias in params:
                    params[key] = params[alias]
        for key, opt in options.items():
            if opt.get("no_log") and params.get(key) not in (None, ""):
                self.no_log_values.add(ps_str(params[key]))
        legal = list(options) + list(aliases)
        if root:
            legal += ["_ansible_" + v for v in PASS_VARS]
        unsupported = []
        for key in list(params):
            match = next((x for x in legal if x.lower() == key.lower()), None)
            if match is None:
                unsupported.append(key)
            elif match != key:
                params[match] = params.pop(key)
            elif key.startswith("_ansible_"):
                value = params.pop(key)
                var = key[len("_ansible_"):]
                if var == "check_mode":
                    self.check_mode = _parse_bool(value)
                elif var == "diff":
                    self.diff_mode = _parse_bool(value)
                elif var == "verbosity":
                    self.verbosity = _parse_int(value)
        if unsupported:
            shown = [x for x in legal if not x.startswith("_ansible_")]
            self.fail("%s. Supported parameters include: %s" % (
                self._ctx("Unsupported parameters for (%s) module: %s" % (self.name, ", ".join(unsupported))),
                ", ".join(shown)))
        if root and self.check_mode and not spec.get("supports_check_mode"):
            self.result.update(skipped=True, msg="remote module (%s) does not support check mode" % self.name)
            raise ModuleExit()
        for group in spec.get("mutually_exclusive", []):
            if sum(1 for k in group if k in params) > 1:
                self.fail(self._ctx("parameters are mutually exclusive: %s" % ", ".join(group)))
        missing = []
        for key, opt in options.items():
            if opt.get("default") is not None and key not in params:
                params[key] = copy.deepcopy(opt["default"])
            if opt.get("required") and key not in params:
                missing.append(key)
        if missing:
            self.fail(self._ctx("missing required arguments: %s" % ", ".join(missing)))
        for key, opt in options.items():
            value = params.get(key)
            if value is None:
                continue
            otype = opt.get("type", "str")
            try:
                value = PARSERS[otype](value) if isinstance(otype, str) else otype(value)
            except (ValueError, TypeError, OverflowError) as exc:
                self.fail(self._ctx("argument for %s is of type %s and we were unable to convert to %s: %s"
                                    % (key, _net_type(params[key]), otype if isinstance(otype, str) else "delegate", exc)))
            params[key] = value
            choices = [str(c) for c in opt.get("choices", [])]
            if choices:
                values = [ps_str(v) for v in value] if otype == "list" else [ps_str(value)]
                bad = [v for v in values if v.lower() not in [c.lower() for c in choices]]
                if bad:
                    self.fail(self._ctx("value of %s must be %s: %s. Got no match for: %s" % (
                        key, "one or more of" if otype == "list" else "one of", ", ".join(choices), ", ".join(bad))))
        for group in spec.get("required_together", []):
            found = [k in params for k in group]
            if any(found) and not all(found):
                self.fail(self._ctx("parameters are required together: %s" % ", ".join(group)))
        for group in spec.get("required_one_of", []):
            if not any(k in params for k in group):
                self.fail(self._ctx("one of the following is required: %s" % ", ".join(group)))
        for check in spec.get("required_if", []):
            key, val, reqs = check[0], check[1], check[2]
            one = len(check) > 3 and check[3]
            if params.get(key) is None or ps_str(params[key]) != ps_str(val):
                continue
            missing = [r for r in reqs if r not in params]
            if len(missing) >= (len(reqs) if one else 1):
                self.fail(self._ctx("%s is %s but %s of the following are missing: %s" % (
                    key, val, "any" if one else "all", ", ".join(missing))))
        for key, reqs in spec.get("required_by", {}).items():
            if key not in params:
                continue
            reqs = [reqs] if isinstance(reqs, str) else reqs
            missing = [r for r in reqs if r not in params]
            if missing:
                self.fail(self._ctx("missing parameter(s) required by '%s': %s" % (key, ", ".join(missing))))
        for key, opt in options.items():
            params.setdefault(key, None)
            sub = opt.get("options")
            value = params[key]
            if opt.get("type") == "list" and opt.get("elements") and value is not None:
                new = []
                for element in value:
                    if opt["elements"] == "dict" and sub:
                        new.append(self._sub(opt, element, key))
                    else:
                        try:
                            new.append(PARSERS[opt["elements"]](element))
                        except (ValueError, TypeError) as exc:
                            self.fail(self._ctx("argument for list entry %s is of type %s and we were unable to convert to %s: %s"
                                                % (key, _net_type(element), opt["elements"], exc)))
                params[key] = new
            elif opt.get("type") == "dict" and sub and value is not None:
                params[key] = self._sub(opt, value, key)

    def _sub(self, opt, value, key):
        self.context.append(key)
        value = dict(_parse_dict(value))
        self._validate(opt, value, root=False)
        self.context.pop()
        return value

    def _canonical(self, spec, params):
        out = dict(params)
        for key, opt in spec.get("options", {}).items():
            value = out.get(key)
            if isinstance(value, str) and opt.get("choices"):
                out[key] = next((c for c in opt["choices"] if str(c).lower() == value.lower()), value)
            elif isinstance(value, list) and opt.get("options"):
                out[key] = [self._canonical(opt, v) if isinstance(v, dict) else v for v in value]
        return out

    def invocation(self):
        return {"module_args": _mask(copy.deepcopy(self.params), self.no_log_values)}

    def finish(self) -> dict:
        result = dict(self.result)
        result["invocation"] = self.invocation()
        if self.warnings:
            result["warnings"] = list(self.warnings)
        if self.diff and self.diff_mode:
            result["diff"] = self.diff
        return result


def _mask(value, secrets):
    if not secrets:
        return value
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = ps_str(value)
        if text in secrets:
            return NO_LOG
        for secret in secrets:
            if secret and secret in text:
                return text.replace(secret, "********") if isinstance(value, str) else NO_LOG
    return value


# -- win_ping ---------------------------------------------------------------------------------------

WIN_PING = {"options": {"data": {"type": "str", "default": "pong"}}, "supports_check_mode": True}


def win_ping(m: Module):
    if m.p["data"] == "crash":
        raise Unhandled("boom")
    m.result["ping"] = m.p["data"]


# -- win_service ------------------------------------------------------------------------------------

WIN_SERVICE = {
    "options": {
        "dependencies": {"type": "list", "elements": "str"},
        "dependency_action": {"type": "str", "default": "set", "choices": ["add", "remove", "set"]},
        "description": {"type": "str"},
        "desktop_interact": {"type": "bool", "default": False},
        "display_name": {"type": "str"},
        "error_control": {"type": "str", "choices": ["critical", "ignore", "normal", "severe"]},
        "failure_actions": {"type": "list", "elements": "dict", "options": {
            "delay_ms": {"aliases": ["delay"], "type": int, "default": 0},
            "type": {"type": "str", "choices": ["none", "reboot", "restart", "run_command"], "required": True}}},
        "failure_actions_on_non_crash_failure": {"type": "bool"},
        "failure_command": {"type": "str"},
        "failure_reboot_msg": {"type": "str"},
        "failure_reset_period_sec": {"aliases": ["failure_reset_period"], "type": int},
        "force_dependent_services": {"type": "bool", "default": False},
        "load_order_group": {"type": "str"},
        "name": {"type": "str", "required": True},
        "password": {"type": "str", "no_log": True},
        "path": {"type": "str"},
        "pre_shutdown_timeout_ms": {"aliases": ["pre_shutdown_timeout"], "type": int},
        "required_privileges": {"type": "list", "elements": "str"},
        "service_type": {"type": "str", "choices": ["win32_own_process", "win32_share_process", "user_own_process",
                                                    "user_share_process"]},
        "sid_info": {"type": "str", "choices": ["none", "restricted", "unrestricted"]},
        "start_mode": {"type": "str", "choices": ["auto", "manual", "disabled", "delayed"]},
        "state": {"type": "str", "choices": ["started", "stopped", "restarted", "absent", "paused"]},
        "update_password": {"type": "str", "choices": ["always", "on_create"]},
        "username": {"type": "str"},
    },
    "required_by": {"password": ["username"]},
    "supports_check_mode": True,
}
SYSTEM_NAMES = ("localsystem", "system", "nt authority\\system", "s-1-5-18", ".\\localsystem")
WELL_KNOWN_ACCOUNTS = {
    "nt authority\\network service": "NT AUTHORITY\\NETWORK SERVICE", "networkservice": "NT AUTHORITY\\NETWORK SERVICE",
    "nt authority\\networkservice": "NT AUTHORITY\\NETWORK SERVICE", "s-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
    "nt authority\\local service": "NT AUTHORITY\\LOCAL SERVICE", "localservice": "NT AUTHORITY\\LOCAL SERVICE",
    "nt authority\\localservice": "NT AUTHORITY\\LOCAL SERVICE", "s-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
}


def _account(m: Module, name: str) -> str:
    """ConvertTo-SecurityIdentifier then back to an NTAccount name."""
    low = name.lower()
    if low in SYSTEM_NAMES:
        return "NT AUTHORITY\\SYSTEM"
    if low in WELL_KNOWN_ACCOUNTS:
        return WELL_KNOWN_ACCOUNTS[low]
    if "\\" in name:
        domain, user = name.split("\\", 1)
        return "%s\\%s" % (m.host.name.upper() if domain == "." else domain, user)
    raise Unhandled('Exception calling "Translate" with "1" argument(s): "Some or all identity references could not be translated."')


def _svc_diff(svc: dict, key: str, m: Module) -> dict:
    return {
        "dependencies": list(svc.get("dependencies", [])), "description": svc.get("description"),
        "desktop_interact": False, "display_name": svc["display_name"], "error_control": "normal",
        "failure_actions": [], "failure_actions_on_non_crash_failure": False, "failure_command": None,
        "failure_reboot_msg": None, "failure_reset_period_sec": 0, "load_order_group": "", "name": key,
        "path": svc["path"], "pre_shutdown_timeout_ms": 180000, "required_privileges": [],
        "service_type": "win32_share_process" if "svchost.exe" in svc["path"].lower() else "win32_own_process",
        "sid_info": "none", "start_mode": svc["start_mode"],
        "state": "started" if svc["state"] == "running" else "stopped",
        "username": _account(m, svc["username"]) if svc.get("username") else None, "password": "REDACTED",
    }


def win_service(m: Module):
    p, host, state = m.p, m.host, m.host.state
    not_here = [k for k in ("error_control", "failure_actions", "failure_actions_on_non_crash_failure", "failure_command",
                            "failure_reboot_msg", "failure_reset_period_sec", "load_order_group",
                            "pre_shutdown_timeout_ms", "required_privileges", "service_type", "sid_info")
                if p.get(k) is not None]
    if p["desktop_interact"]:
        not_here.append("desktop_interact")
    if p["state"] == "paused":
        not_here.append("state=paused")
    if not_here:
        m.fail("the simulator does not implement win_service option(s): %s" % ", ".join(not_here))
    m.result["exists"] = False
    path = hostmod.expand_env(p["path"]) if p["path"] is not None else None
    key, svc = host.find_service(p["name"])
    m.diff["before"] = _svc_diff(svc, key, m) if svc else ""
    check = m.check_mode

    if p["state"] == "absent":
        if svc:
            _service_call(host.stop_service, key, p["force_dependent_services"], check)
            if not check:
                hostmod.remove_service(state, key)
            m.result["changed"] = True
        m.diff["after"] = ""
    else:
        detect = svc is not None or p["dependency_action"] != "set" or any(
            p[k] is not None for k in ("description", "display_name", "dependencies", "path", "start_mode", "state",
                                       "username", "password"))
        if not detect:
            m.diff["after"] = m.diff["before"]
        else:
            update_password = p["update_password"] == "always"
            if svc is None:
                update_password = True
                if path is None:
                    m.fail("Service '%s' is not installed, need to set 'path' to create a new service" % p["name"])
                if not check:  # New-Service: automatic start, stopped, display name = name
                    hostmod.add_service(state, p["name"], p["name"], path, "auto", False)
                    key, svc = host.find_service(p["name"])
                m.result["changed"] = True
            after = {"name": key if svc else p["name"]}
            m.diff["after"] = after
            if svc is not None:  # Set-ServiceAccount runs only for an existing service
                _svc_account(m, svc, after, update_password)
            _svc_dependencies(m, svc, after)
            for field, value in (("description", p["description"]), ("display_name", p["display_name"])):
                after[field] = value
                if svc is not None:
                    if value is None or (field == "display_name" and not value):
                        after[field] = svc.get(field)
                    else:
                        value = value or None  # an empty description deletes it
                        after[field] = value
                        if value != svc.get(field):
                            if not check:
                                svc[field] = value
                            m.result["changed"] = True
            current = _svc_diff(svc, key, m) if svc else None
            for field in ("error_control", "failure_command", "failure_reboot_msg", "failure_reset_period_sec",
                          "load_order_group", "pre_shutdown_timeout_ms", "required_privileges", "sid_info"):
                after[field] = current[field] if svc else None
            after["failure_actions"] = [] if svc else None
            after["failure_actions_on_non_crash_failure"] = False if svc else None
            after["path"] = path
            if svc is not None:
                if not path:
                    after["path"] = svc["path"]
                elif path != svc["path"]:
                    if not check:
                        svc["path"] = path
                    m.result["changed"] = True
            after["start_mode"] = p["start_mode"]
            if svc is not None:
                if not p["start_mode"]:
                    after["start_mode"] = svc["start_mode"]
                elif p["start_mode"] != svc["start_mode"]:
                    if not check:
                        svc["start_mode"] = p["start_mode"]
                    m.result["changed"] = True
            after["desktop_interact"] = False
            after["service_type"] = current["service_type"] if svc else None
            _svc_state(m, key, svc, after)

    after = m.diff.get("after")
    if after:
        m.result["exists"] = True
        for field in ("dependencies", "description", "desktop_interact", "display_name", "name", "path", "start_mode"):
            m.result[field] = after.get(field)
        m.result["username"] = after.get("username")
        if after.get("username") and after["username"].lower() in SYSTEM_NAMES:
            m.result["username"] = "LocalSystem"
        if after.get("state") is None:
            raise Unhandled("You cannot call a method on a null-valued expression.")
        result_state = after["state"].replace("_", "")
        m.result["state"] = "running" if result_state in ("restarted", "started") else result_state
        m.result["can_pause_and_continue"] = None
        m.result["depended_by"] = []
        key, svc = host.find_service(after["name"])
        if svc is not None:
            m.result["depended_by"] = hostmod.depended_by(state, key)
            m.result["can_pause_and_continue"] = False


def _service_call(func, key, force, check):
    try:
        if func.__name__ == "start_service":
            func(key, check_mode=check)
        else:
            func(key, force=force, check_mode=check)
    except hostmod.ServiceError as exc:
        raise Unhandled(str(exc)) from exc


def _svc_account(m: Module, svc, after, update_password):
    p = m.p
    after["username"] = p["username"]
    after["password"] = "REDACTED"
    desired = _account(m, p["username"]) if p["username"] else None
    actual = _account(m, svc["username"])
    if desired:
        after["username"] = desired
    if desired is None:
        after["username"] = actual
    elif desired.lower() != actual.lower():
        if not m.check_mode:
            svc["username"] = "LocalSystem" if desired == "NT AUTHORITY\\SYSTEM" else desired
        update_password = True
        m.result["changed"] = True
    if update_password and p["password"]:
        after["password"] = "CHANGED REDACTED"
        m.result["changed"] = True


def _svc_dependencies(m: Module, svc, after):
    p = m.p
    after["dependencies"] = p["dependencies"]
    if svc is None:
        return
    existing = list(svc.get("dependencies", []))
    after["dependencies"] = existing
    wanted = p["dependencies"]
    if wanted is None:
        return
    # Linq Except/Intersect with the default comparer: case-sensitive.
    if p["dependency_action"] == "add":
        added, removed = [d for d in wanted if d not in existing], []
    elif p["dependency_action"] == "remove":
        added, removed = [], [d for d in wanted if d in existing]
    else:
        added, removed = [d for d in wanted if d not in existing], [d for d in existing if d not in wanted]
    if added or removed:
        new = [d for d in existing if d not in removed] + added
        after["dependencies"] = new
        if not m.check_mode:
            svc["dependencies"] = new
        m.result["changed"] = True


def _svc_state(m: Module, key, svc, after):
    wanted = m.p["state"]
    after["state"] = wanted
    if svc is None:
        return
    force = m.p["force_dependent_services"]
    if not wanted:
        after["state"] = "started" if svc["state"] == "running" else "stopped"
    elif wanted == "started" and svc["state"] != "running":
        _service_call(m.host.start_service, key, force, m.check_mode)
        m.result["changed"] = True
    elif wanted == "stopped" and svc["state"] != "stopped":
        _service_call(m.host.stop_service, key, force, m.check_mode)
        m.result["changed"] = True
    elif wanted == "restarted":
        _service_call(m.host.restart_service, key, force, m.check_mode)
        m.result["changed"] = True


# -- win_regedit ------------------------------------------------------------------------------------

WIN_REGEDIT = {
    "options": {
        "path": {"type": "str", "required": True, "aliases": ["key"]},
        "name": {"type": "str", "aliases": ["entry", "value"]},
        "data": {"type": "raw"},
        "type": {"type": "str", "default": "string", "aliases": ["datatype"],
                 "choices": ["none", "binary", "dword", "expandstring", "multistring", "string", "qword"]},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "delete_key": {"type": "bool", "default": True},
        "hive": {"type": "path"},
    },
    "supports_check_mode": True,
}
REG_KIND = {"none": "None", "binary": "Binary", "dword": "DWord", "expandstring": "ExpandString",
            "multistring": "MultiString", "string": "String", "qword": "QWord"}


def _ps_uint(value):
    """[UInt64]$value as PowerShell converts a string or number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = ps_str(value).strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text or "0")
    except ValueError as exc:
        raise Unhandled('Cannot convert value "%s" to type "System.UInt64". Error: "Input string was not in a '
                        'correct format."' % text) from exc


def _hex_bytes(text: str) -> list:
    """Convert-RegExportHexStringToByteArray."""
    text = re.sub(r"^hex:", "", text.lower())
    text = re.sub(r"[^a-f0-9\\,x\-:]", "", text).replace(",", ":")
    if not text:
        return []
    if len(text) == 1:
        return [int(text, 16)]
    if len(text) % 2 == 0 and ":" not in text:
        return [int(text[i:i + 2], 16) for i in range(0, len(text), 2)]
    if ":" in text:
        return [int(x, 16) for x in re.split(":+", text)]
    return []


def _reg_diff_value(kind: str, value):
    if kind in ("binary", "none"):
        return {"type": REG_KIND[kind], "value": ["0x%02x" % b for b in value]}
    if kind == "dword":
        return {"type": "DWord", "value": "0x%08x" % value}
    if kind == "qword":
        return {"type": "QWord", "value": "0x%016x" % value}
    return {"type": REG_KIND[kind], "value": value}


def _reg_differs(existing, new) -> bool:
    """Compare-RegistryProperty: arrays by Compare-Object (case-insensitive), scalars with -cne."""
    if isinstance(existing, list):
        new = new if isinstance(new, list) else [new]
        if len(existing) != len(new):
            return True
        return any(ps_str(a).lower() != ps_str(b).lower() for a, b in zip(existing, new))
    if isinstance(existing, str):
        return existing != ps_str(new)
    if isinstance(new, str):
        try:
            return existing != _ps_uint(new)
        except Unhandled:
            return True
    return existing != new


def win_regedit(m: Module):
    p, host, state = m.p, m.host, m.host.state
    path, name, data, kind = p["path"], p["name"], p["data"], p["type"]
    m.result["data_changed"] = False
    m.result["data_type_changed"] = False
    m.diff["before"] = ""
    m.diff["after"] = ""
    if name is None and kind != "string":
        m.warn("the data type when name is not specified can only be 'string', the type has automatically been converted")
        kind = "string"
    match = re.match(r"^HK(CC|CR|CU|LM|U):\\", path, re.IGNORECASE)
    if not match:
        m.fail("path: %s is not a valid powershell path, see module documentation for examples." % path)
    if p["hive"]:
        if not host.exists(p["hive"]):
            m.fail("hive at path '%s' is not valid or accessible, cannot load hive" % p["hive"])
        m.fail("the simulator does not implement win_regedit hive (loading a hive file)")
    if name == "":
        name = None
    if kind in ("binary", "none"):
        data = "" if data is None else data
        if isinstance(data, str):
            data = _hex_bytes(data)
        elif isinstance(data, int) and not isinstance(data, bool):
            if data > 255:
                m.fail("cannot convert binary data '%s' to byte array, please specify this value as a yaml byte array "
                       "or a comma separated hex value string" % data)
            data = [data]
        elif isinstance(data, list):
            data = [_ps_uint(b) & 0xFF for b in data]
    elif kind in ("dword", "qword"):
        data = 0 if data is None else data
        if isinstance(data, float):
            if not data.is_integer():
                m.fail("data '%s' cannot be a decimal or float value with a remainder when type is dword or qword" % data)
            data = int(data)
        data = _ps_uint(data)
        limit = 0xFFFFFFFF if kind == "dword" else 0xFFFFFFFFFFFFFFFF
        if data > limit:
            m.fail("data cannot be larger than 0x%x when type is %s" % (limit, kind))
        data &= limit  # a negative Int32 is stored as its unsigned bit pattern
    elif kind in ("string", "expandstring") and name:
        data = "" if data is None else ps_str(data)
    elif kind == "multistring":
        if data is None:
            data = []
        elif isinstance(data, list):
            data = [ps_str(x) for x in data]
        else:
            data = [ps_str(data)]
    elif data is not None:
        data = ps_str(data)

    qualifier = match.group(0)[:-2].upper()
    subkey = path[len(match.group(0)):].strip("\\")
    regkey = qualifier + ":\\" + subkey if subkey else qualifier + ":"
    vname = name or ""
    if p["state"] == "present":
        _reg_present(m, host, state, path, regkey, vname, data, kind)
    else:
        _reg_absent(m, host, state, path, regkey, vname, name)


def _reg_present(m, host, state, print_path, regkey, vname, data, kind):
    if not host.reg_key_exists(regkey):
        if not m.check_mode:
            state["registry"][regkey] = {}
        m.result["changed"] = True
        m.diff["before"] = {}
        m.diff["after"] = {print_path: {}}
        if m.check_mode:
            return
    else:
        m.diff["before"] = {print_path: {}}
        m.diff["after"] = {print_path: {}}
    if data is None:
        return
    real = host.reg_find_key(regkey)
    if real is None:  # an implicit parent key gets its own entry once it holds a value
        real = regkey
        if not m.check_mode:
            state["registry"][real] = {}
    values = state["registry"].get(real, {})
    existing_name = hostmod.find_key(values, vname)
    if existing_name is not None:
        existing = values[existing_name]
        change = False
        if existing["type"] != kind:
            change = True
            m.result["data_type_changed"] = True
            if _reg_differs(existing["data"], data):
                m.result["data_changed"] = True
        elif _reg_differs(existing["data"], data):
            change = True
            m.result["data_changed"] = True
        if change:
            if not m.check_mode:
                values[existing_name] = {"type": kind, "data": data}
            m.result["changed"] = True
            m.diff["before"][print_path][vname] = _reg_diff_value(existing["type"], existing["data"])
            m.diff["after"][print_path][vname] = _reg_diff_value(kind, data)
        else:
            same = _reg_diff_value(existing["type"], existing["data"])
            m.diff["before"][print_path][vname] = same
            m.diff["after"][print_path][vname] = copy.deepcopy(same)
    else:
        if not m.check_mode:
            values[vname] = {"type": kind, "data": data}
        m.result["changed"] = True
        m.diff["after"][print_path][vname] = _reg_diff_value(kind, data)


def _reg_absent(m, host, state, print_path, regkey, vname, name):
    if not host.reg_key_exists(regkey):
        return
    if m.p["delete_key"] and not name:
        if not m.check_mode:
            hostmod.reg_delete_tree(state, regkey)
        m.result["changed"] = True
        m.diff["before"] = {print_path: {}}
        m.diff["after"] = {}
        return
    values = host.reg_values(regkey)
    existing_name = hostmod.find_key(values, vname)
    if existing_name is None:
        return
    existing = values[existing_name]
    if not m.check_mode:
        del values[existing_name]
    m.result["changed"] = True
    m.diff["before"] = {print_path: {vname: _reg_diff_value(existing["type"], existing["data"])}}
    m.diff["after"] = {print_path: {}}


# -- downloads shared by win_get_url and win_package -------------------------------------------------

WEB_REQUEST_OPTIONS = {
    "url_method": {"type": "str"},
    "follow_redirects": {"type": "str", "choices": ["all", "none", "safe"], "default": "safe"},
    "headers": {"type": "dict"},
    "http_agent": {"type": "str", "default": "ansible-httpget"},
    "maximum_redirection": {"type": "int", "default": 50},
    "url_timeout": {"type": "int", "default": 30},
    "validate_certs": {"type": "bool", "default": True},
    "client_cert": {"type": "str"},
    "client_cert_password": {"type": "str", "no_log": True},
    "force_basic_auth": {"type": "bool", "default": False},
    "url_username": {"type": "str"},
    "url_password": {"type": "str", "no_log": True},
    "use_default_credential": {"type": "bool", "default": False},
    "use_proxy": {"type": "bool", "default": True},
    "proxy_url": {"type": "str"},
    "proxy_username": {"type": "str"},
    "proxy_password": {"type": "str", "no_log": True},
    "proxy_use_default_credential": {"type": "bool", "default": False},
}


def _web_request(m: Module, url: str, method: str | None = None):
    """Get-AnsibleWindowsWebRequest + Invoke-AnsibleWindowsWebRequest: the response, or a raised SimNetError."""
    p = m.p
    headers = {str(k): ps_str(v) for k, v in (p.get("headers") or {}).items()}
    headers["User-Agent"] = p.get("http_agent") or "ansible-httpget"
    if p.get("url_username") and p.get("force_basic_auth"):
        token = base64.b64encode(("%s:%s" % (p["url_username"], p.get("url_password") or "")).encode()).decode()
        headers["Authorization"] = "Basic " + token
    if p.get("client_cert"):
        m.fail("the simulator does not implement client_cert")
    proxy = p.get("proxy_url") if p.get("use_proxy", True) else None
    return m.host.http_request(url, method=method or p.get("url_method") or "GET", headers=headers,
                               timeout=p.get("url_timeout") or 30, validate_certs=p.get("validate_certs", True),
                               follow_redirects=p.get("follow_redirects") or "safe",
                               max_redirects=p.get("maximum_redirection") or 50, proxy_url=proxy)


def _get_response_error(exc) -> str:
    """How PowerShell words a WebException thrown by $request.GetResponse()."""
    return 'Exception calling "GetResponse" with "0" argument(s): "%s"' % exc.message


# -- win_get_url ------------------------------------------------------------------------------------

WIN_GET_URL = {
    "options": dict(WEB_REQUEST_OPTIONS, **{
        "url": {"type": "str", "required": True},
        "dest": {"type": "path", "required": True},
        "force": {"type": "bool", "default": True},
        "checksum": {"type": "str"},
        "checksum_algorithm": {"type": "str", "default": "sha1", "choices": ["md5", "sha1", "sha256", "sha384", "sha512"]},
        "checksum_url": {"type": "str"},
        "url_method": {"type": "str", "aliases": ["method"]},
        "url_timeout": {"type": "int", "default": 30, "aliases": ["timeout"]},
    }),
    "mutually_exclusive": [["checksum", "checksum_url"]],
    "supports_check_mode": True,
}


def win_get_url(m: Module):
    p, host = m.p, m.host
    url, dest, force = p["url"], hostmod.norm_path(p["dest"]), p["force"]
    m.result["elapsed"] = 0
    m.result["url"] = url
    if host.is_dir(dest):
        uri = urllib.parse.urlsplit(url)
        base = urllib.parse.unquote(uri.path.rsplit("/", 1)[-1]) if uri.path and uri.path != "/" else ""
        dest = hostmod.norm_path(dest + "\\" + (base or (uri.hostname or "")))
    elif p["dest"].endswith(("\\", "/")):
        m.fail("The destination path '%s' does not exist, or is not visible to the current user. Ensure download "
               "destination folder exists (perhaps using win_file state=directory) before win_get_url runs." % p["dest"])
    m.result["dest"] = dest
    checksum = p["checksum"].strip().lower() if p["checksum"] else None
    algorithm = p["checksum_algorithm"].strip().lower()
    if p["checksum_url"]:
        checksum = _checksum_from_url(m, p["checksum_url"].strip(), url)
    dest_checksum = None
    if host.exists(dest):
        dest_checksum = host.file_hash(dest, algorithm)
        if checksum and dest_checksum != checksum:
            force = True
    if dest_checksum and checksum and dest_checksum == checksum and not force:
        m.result["checksum_dest"] = dest_checksum
        m.result["size"] = host.find_file(dest)[1]["size"]
    elif force or not host.exists(dest):
        _download(m, url, dest, checksum, dest_checksum, algorithm)
    elif _remote_is_newer(m, url, dest):
        _download(m, url, dest, checksum, dest_checksum, algorithm)
    if "checksum_dest" not in m.result and host.is_file(dest):
        m.result["checksum_dest"] = host.file_hash(dest, algorithm)
        m.result["size"] = host.find_file(dest)[1]["size"]


def _checksum_from_url(m: Module, checksum_url: str, source_url: str) -> str:
    scheme = urllib.parse.urlsplit(checksum_url).scheme.lower()
    if scheme not in ("file", "ftp", "http", "https"):
        m.fail("Unsupported 'checksum_url' value for '%s': '%s'" % (m.result["dest"], checksum_url))
    if scheme in ("file", "ftp"):
        m.fail("the simulator does not implement checksum_url with %s://" % scheme)
    try:
        resp = _web_request(m, checksum_url)
    except hostmod.SimNetError as exc:
        m.fail("Error when getting the remote checksum from '%s'. %s" % (checksum_url, _get_response_error(exc)))
    basename = urllib.parse.urlsplit(source_url).path.rsplit("/", 1)[-1]
    pattern = re.compile(r"\s+\.?/?\\?" + re.escape(basename) + r"\s*$", re.IGNORECASE)
    lines = [line for line in re.split(r"\r?\n", resp.body.decode("utf-8", "replace")) if pattern.search(line)]
    if not lines:
        m.fail("Checksum record not found for file name '%s' in file from url: '%s'" % (basename, checksum_url))
    return re.sub(r"\W+", "", lines[0].split(" ", 1)[0].strip())


def _download(m: Module, url, dest, checksum, dest_checksum, algorithm):
    host = m.host
    parent = hostmod.parent_path(dest)
    if parent and not host.is_dir(parent):
        m.fail("The path '%s' does not exist for destination '%s', or is not visible to the current user. Ensure "
               "download destination folder exists (perhaps using win_file state=directory) before win_get_url runs."
               % (parent, dest))
    try:
        resp = _web_request(m, url)
    except hostmod.SimNetError as exc:
        m.result["elapsed"] = exc.elapsed
        if isinstance(exc, hostmod.SimHttpError):
            m.result["status_code"] = exc.status
        m.fail("Error downloading '%s' to '%s': %s" % (url, dest, _get_response_error(exc)))
    m.result["elapsed"] = resp.elapsed
    m.result["status_code"] = resp.status
    m.result["msg"] = resp.reason
    src_checksum = hashlib.new(algorithm, resp.body).hexdigest()
    m.result["checksum_src"] = src_checksum
    if checksum and checksum != src_checksum:
        m.fail("The checksum for %s did not match '%s', it was '%s'" % (url, checksum, src_checksum))
    if host.exists(dest) and dest_checksum == src_checksum:
        m.result["checksum_dest"] = dest_checksum
        m.result["size"] = host.find_file(dest)[1]["size"]
        return
    if not m.check_mode:
        hostmod.put_file_state(host.state, dest, hostmod.file_entry(resp.body))
    m.result["changed"] = True


def _remote_is_newer(m: Module, url, dest) -> bool:
    """Compare-ModifiedFile: a HEAD request's Last-Modified against the file's write time."""
    try:
        resp = _web_request(m, url, method="HEAD")
    except hostmod.SimNetError as exc:
        m.fail("Error when requesting 'Last-Modified' date from '%s'. %s" % (url, _get_response_error(exc)))
    now = datetime.datetime.now(datetime.timezone.utc)
    remote = now
    if resp.headers.get("last-modified"):
        try:
            remote = email.utils.parsedate_to_datetime(resp.headers["last-modified"])
        except (TypeError, ValueError):
            remote = now
    mtime = m.host.find_file(dest)[1].get("mtime")
    local = datetime.datetime.fromisoformat(mtime.replace("Z", "+00:00")) if mtime else \
        datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)
    return remote > local


# -- win_package ------------------------------------------------------------------------------------

WIN_PACKAGE = {
    "options": dict(WEB_REQUEST_OPTIONS, **{
        "arguments": {"type": "raw"},
        "expected_return_code": {"type": "list", "elements": "int", "default": [0, 3010]},
        "path": {"type": "str"},
        "chdir": {"type": "path"},
        "checksum": {"type": "str"},
        "checksum_algorithm": {"type": "str", "default": "sha1", "choices": ["md5", "sha1", "sha256", "sha384", "sha512"]},
        "product_id": {"type": "str"},
        "state": {"type": "str", "default": "present", "choices": ["absent", "present"]},
        "creates_path": {"type": "path"},
        "creates_version": {"type": "str"},
        "creates_service": {"type": "str"},
        "log_path": {"type": "path"},
        "provider": {"type": "str", "default": "auto", "choices": ["msi", "msix", "msp", "registry", "auto"]},
        "wait_for_children": {"type": "bool", "default": False},
    }),
    "required_by": {"creates_version": "creates_path"},
    "required_if": [["state", "present", ["path"]], ["state", "absent", ["path", "product_id"], True]],
    "supports_check_mode": True,
}


def _escape_arg(arg: str) -> str:
    """ConvertTo-EscapedArgument (Windows command line quoting)."""
    if arg == "":
        return '""'
    if not re.search(r'[\s"]', arg):
        return arg
    arg = re.sub(r'(\\*)"', r'\1\1\\"', arg)
    arg = re.sub(r'(\\+)$', r'\1\1', arg)
    return '"%s"' % arg


def _find_product(state: dict, product_id: str | None):
    if not product_id:
        return None
    return next((pr for pr in state.get("products", []) if pr["product_id"].lower() == product_id.lower()), None)


def _package_status(m: Module, path, data, product_id):
    """Get-InstalledStatus: provider, id and whether it is installed."""
    p, host, state = m.p, m.host, m.host.state
    provider = p["provider"]
    if provider in ("msix", "msp"):
        m.fail("the simulator does not implement win_package provider=%s" % provider)
    status = {"provider": "registry", "id": product_id, "installed": False, "skip": False, "skip_file_for_remove": False,
              "catalog": None}
    if path is not None:
        digest = None
        if isinstance(data, _HashOnly):
            digest = data.sha256
        elif data is not None:
            digest = hashlib.sha256(data).hexdigest()
        entry = state.get("msi_catalog", {}).get(digest) if digest else None
        if entry is not None and provider in ("auto", "msi"):
            status.update(provider="msi", id=entry["product_id"], skip_file_for_remove=True, catalog=entry)
            status["installed"] = _find_product(state, entry["product_id"]) is not None
        elif provider == "msi":
            raise Unhandled('Exception calling "OpenPackage" with "2" argument(s): "This installation package could '
                            'not be opened. Contact the application vendor to verify that this is a valid Windows '
                            'Installer package (Exception from HRESULT: 0x80070659)"')
        else:
            status["installed"] = _uninstall_key(m, product_id) is not None
    elif provider in ("auto", "msi") and _find_product(state, product_id) is not None:
        status.update(provider="msi", installed=True, skip_file_for_remove=True)
    elif provider in ("auto", "registry"):
        status["installed"] = _uninstall_key(m, product_id) is not None
    else:
        status["provider"] = "msi"
    if p["creates_path"]:
        exists = host.exists(p["creates_path"])
        status["installed"] = exists
        if p["creates_version"] and exists:
            if not host.is_file(p["creates_path"]):
                raise Unhandled("creates_path must be a file not a directory when creates_version is set")
            status["installed"] = host.find_file(p["creates_path"])[1].get("version") == p["creates_version"]
    if p["creates_service"]:
        status["installed"] = host.find_service(p["creates_service"])[0] is not None
    return status


def _uninstall_key(m: Module, product_id):
    if not product_id:
        return None
    for hive in ("HKLM", "HKCU"):
        for base in ("SOFTWARE", "SOFTWARE\\Wow6432Node"):
            key = "%s:\\%s\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\%s" % (hive, base, product_id)
            if m.host.reg_key_exists(key):
                return key
    return None


def win_package(m: Module):
    p, host = m.p, m.host
    m.result["reboot_required"] = False
    arguments = p["arguments"]
    if isinstance(arguments, list):
        arguments = " ".join(_escape_arg(ps_str(a)) for a in arguments)
    elif arguments is not None:
        arguments = ps_str(arguments)
    path, product_id, state = p["path"], p["product_id"], p["state"]
    is_url = bool(path) and path.lower().startswith("http")
    data = None
    status = None
    if is_url and product_id and state == "present":
        status = _package_status(m, None, None, product_id)
    if is_url and (not product_id or not status["installed"]):
        data = _package_download(m, path)
        path = MODULE_TMP + "\\" + (urllib.parse.urlsplit(p["path"]).path.rsplit("/", 1)[-1] or "download")
    elif path and not is_url:
        path = hostmod.expand_env(path)
        if not host.exists(path) and not m.check_mode:
            m.fail("the file at the path '%s' cannot be reached" % path)
        data = host.read_file(path)
        if data is None and host.is_file(path):  # only the hash is kept: the catalog lookup needs no bytes
            data = _HashOnly(host.find_file(path)[1]["sha256"])
    if not (status and status["installed"]):
        status = _package_status(m, path if (path and (host.exists(path) or is_url)) else None, data, product_id)
    changed = not status["skip"] and ((state == "present") != status["installed"])
    m.result["rc"] = 0
    if changed and not m.check_mode:
        if is_url and data is None and (state == "present" or not status["skip_file_for_remove"]):
            data = _package_download(m, p["path"])
        if state == "present" and path and data is not None:
            if isinstance(data, _HashOnly):
                digest = host.file_hash(path, p["checksum_algorithm"]) or ""
            else:
                digest = hashlib.new(p["checksum_algorithm"], data).hexdigest()
            m.result["checksum"] = digest.upper()
            if p["checksum"] and p["checksum"].lower() != digest.lower():
                m.fail("The checksum for %s did not match '%s', it was '%s'" % (path, p["checksum"], digest.upper()))
        _package_set(m, status, path, arguments)
    if state == "absent" and product_id is None and is_url:
        m.fail("Unable to find Product ID from the URL path. Please specify product_id when using state=absent")
    m.result["changed"] = changed


class _HashOnly(bytes):
    """A big file whose bytes the state does not keep: hashlib sees the stored sha256 instead."""

    def __new__(cls, sha256):
        obj = super().__new__(cls, b"")
        obj.sha256 = sha256
        return obj


def _package_download(m: Module, url: str) -> bytes:
    try:
        return _web_request(m, url).body
    except hostmod.SimNetError as exc:
        raise Unhandled(_get_response_error(exc)) from exc


def _package_set(m: Module, status, path, arguments):
    host, state, p = m.host, m.host.state, m.p
    if status["provider"] != "msi":
        m.fail("the simulator cannot run '%s': only MSI packages listed in msi_catalog and installed MSI products "
               "are simulated" % (path or status["id"]))
    log_path = p["log_path"] or MODULE_TMP + "\\msiexec.log"
    if p["state"] == "present":
        actions = ["/i", path]
    else:
        actions = ["/x", status["id"]]
    cmd = " ".join(_escape_arg(a) for a in ["C:\\Windows\\System32\\msiexec.exe"] + actions + ["/L*V", log_path, "/qn", "/norestart"])
    if arguments:
        cmd += " " + arguments
    entry = status["catalog"] or {}
    rc = int(entry.get("rc", 0)) if p["state"] == "present" else 0
    if msi_busy(state):
        rc = MSI_BUSY_RC
    m.result["rc"] = rc
    if rc not in p["expected_return_code"]:
        m.result["stdout"] = ""
        m.result["stderr"] = ""
        m.result["log"] = "=== Verbose logging started (simulated) ===\r\nMSI (s): Product: %s -- Installation failed.\r\n" % entry.get("name", "")
        m.fail("unexpected rc from '%s': see rc, stdout, and stderr for more details" % cmd)
    if rc == 3010:
        m.result["reboot_required"] = True
    if p["state"] == "present":
        msi_install(state, entry)
    else:
        msi_uninstall(state, _find_product(state, status["id"]))


# msiexec's exit code while another installation runs (ERROR_INSTALL_ALREADY_RUNNING, Microsoft's "MsiExec.exe and
# InstMsi.exe error messages"; "Only one installation at a time can run actions in the InstallExecuteSequence",
# "Logging of Action Return Values").
MSI_BUSY_RC = 1618


def msi_busy(state: dict) -> bool:
    """Whether another installation holds the Windows Installer now. ``msi_busy_attempts`` counts the msiexec
    runs that still find it busy (the other installation finishes after them); each run uses one up."""
    if state.get("msi_busy_attempts", 0) > 0:
        state["msi_busy_attempts"] -= 1
        return True
    return False


def msiexec_install(state: dict, entry: dict | None) -> int:
    """msiexec /i of a package: its exit code, and the product installed when it succeeds. A failed install
    changes nothing: Windows Installer rolls back what it did (Microsoft, "Rollback Installation").
    0 for unknown files is not assumed: a file that is not a Windows Installer package gives 1620
    (ERROR_INSTALL_PACKAGE_INVALID)."""
    if msi_busy(state):
        return MSI_BUSY_RC
    if entry is None:
        return 1620
    if any(pr["product_id"].lower() == entry["product_id"].lower() for pr in state.get("products", [])):
        # The same product code is registered: msiexec /i is a maintenance run of the installed product. Without
        # REINSTALL on the command line nothing is reinstalled (Microsoft Learn, REINSTALL property: "only those
        # features that were already installed previously are reinstalled", and only when REINSTALL is set; the
        # Installed property is set when the product is installed), so missing services and files stay missing.
        return 0
    rc = int(entry.get("rc", 0))
    if rc in (0, 1641, 3010):  # the success codes of the same Microsoft page
        msi_install(state, entry)
    return rc


def _agent_leftovers(state: dict, installs: dict) -> list:
    """Folders C:\\WindowsAzure\\Packages* and GuestAgent* that are not the ones this install made."""
    mine = {hostmod.path_key(d) for d in installs.get("dirs", [])}
    found = set()
    for path in list(state.get("dirs", [])) + list(state.get("files", {})):
        match = re.match(r"^c:\\windowsazure\\((?:packages|guestagent)[^\\]*)(\\|$)", path.lower())
        if match and "c:\\windowsazure\\" + match.group(1) not in mine:
            found.add(match.group(1))
    return sorted(found)


def msi_install(state: dict, entry: dict) -> dict:
    """What msiexec /i does with a catalogued MSI: major upgrade, services, files, ARP entry."""
    upgrade = entry.get("upgrade_code")
    if upgrade:
        for old in [pr for pr in state.get("products", []) if (pr.get("upgrade_code") or "").lower() == upgrade.lower()
                    and pr["product_id"].lower() != entry["product_id"].lower()]:
            msi_uninstall(state, old)
    installs = entry.get("installs", {})
    for directory in installs.get("dirs", []):
        directory = hostmod.norm_path(directory)
        if directory not in state.setdefault("dirs", []):
            state["dirs"].append(directory)
    for fpath, spec in installs.get("files", {}).items():
        if "content_b64" in spec:
            new = hostmod.file_entry(base64.b64decode(spec["content_b64"]), spec.get("version"))
        else:
            new = hostmod.placeholder_binary(fpath, spec.get("version"))
        hostmod.put_file_state(state, fpath, new)
    for sname, spec in installs.get("services", {}).items():
        hostmod.remove_service(state, sname)
        hostmod.add_service(state, sname, spec.get("display_name", sname), spec["path"], spec.get("start_mode", "auto"),
                            False, spec.get("username", "LocalSystem"), spec.get("dependencies", []),
                            spec.get("description"))
        if spec.get("state", "running") == "running" and spec.get("start_mode", "auto") != "disabled":
            hostmod.set_service_running(state, sname)
    if state.get("agent_hangs_with_leftovers") and _agent_leftovers(state, installs):
        # Modelled, not documented: a new agent beside an old agent's folders stays in Start Pending. Microsoft's
        # reinstall procedure moves those folders aside before installing ("Troubleshoot Azure Windows VM Agent issues").
        for sname in installs.get("services", {}):
            key = hostmod.find_key(state["services"], sname)
            state["services"][key].update(state="start_pending", start_fails=True)
    product = {"name": entry["name"], "product_id": entry["product_id"], "version": entry["version"],
               "publisher": entry.get("publisher", ""), "uninstall_string": "MsiExec.exe /X" + entry["product_id"],
               "upgrade_code": upgrade,
               "installs": {"services": list(installs.get("services", {})), "files": list(installs.get("files", {})),
                            "dirs": list(installs.get("dirs", []))}}
    state.setdefault("products", []).append(product)
    hostmod.mirror_product(state, product)
    return product


def msiexec_uninstall(state: dict, product_code: str) -> int:
    """msiexec /x {product code}: 0 after removing the product, 1605 ERROR_UNKNOWN_PRODUCT when no such product is
    installed, 1618 while another installation runs (Microsoft Learn, MsiExec.exe and InstMsi.exe error messages)."""
    if msi_busy(state):
        return MSI_BUSY_RC
    product = next((pr for pr in state.get("products", []) if pr["product_id"].lower() == product_code.lower()), None)
    if product is None:
        return 1605
    msi_uninstall(state, product)
    return 0


def msi_uninstall(state: dict, product: dict) -> None:
    """msiexec /x: removes what the product installed (whatever of it is still there) and its ARP entry."""
    installs = product.get("installs", {})
    for sname in installs.get("services", []):
        hostmod.remove_service(state, sname)
    for fpath in installs.get("files", []):
        hostmod.remove_file_state(state, fpath)
    for directory in installs.get("dirs", []):
        hostmod.remove_tree_state(state, directory)
    state["products"] = [pr for pr in state.get("products", []) if pr is not product]
    hostmod.unmirror_product(state, product)


# -- win_certificate_store --------------------------------------------------------------------------

WIN_CERTIFICATE_STORE = {
    "options": {
        "state": {"type": "str", "default": "present", "choices": ["absent", "exported", "present"]},
        "path": {"type": "path"},
        "thumbprint": {"type": "str"},
        "store_name": {"type": "str", "default": "My"},
        "store_location": {"type": "str", "default": "LocalMachine"},
        "store_type": {"type": "str", "default": "system", "choices": ["service", "system"]},
        "password": {"type": "str", "no_log": True},
        "key_exportable": {"type": "bool", "default": True},
        "key_storage": {"type": "str", "default": "default", "choices": ["default", "machine", "user"]},
        "file_type": {"type": "str", "default": "der", "choices": ["der", "pem", "pkcs12"]},
    },
    "required_if": [["state", "absent", ["path", "thumbprint"], True], ["state", "exported", ["path", "thumbprint"]],
                    ["state", "present", ["path"]]],
    "supports_check_mode": True,
}
# System stores that exist on every Windows Server, even when empty.
STANDARD_STORES = ("My", "Root", "CA", "AuthRoot", "Disallowed", "TrustedPeople", "TrustedPublisher", "Trust",
                   "REQUEST", "SmartCardRoot", "Remote Desktop", "WebHosting", "ClientAuthIssuer", "TrustedDevices")


def _cert_file(m: Module, path: str) -> list:
    if not m.host.is_file(path):
        m.fail("File at '%s' either does not exist or is not a file" % path)
    certs = m.host.find_file(path)[1].get("certificates")
    if not certs:
        m.fail("Failed to load cert from file: Cannot find the requested object.")
    return certs


def win_certificate_store(m: Module):
    p, state = m.p, m.host.state
    m.result["thumbprints"] = []
    if p["store_type"] == "service":
        m.fail("the simulator does not implement win_certificate_store store_type=service")
    locations = ["CurrentUser", "LocalMachine"]
    location = next((x for x in locations if x.lower() == p["store_location"].lower()), None)
    if location is None:
        m.fail("value of store_location must be one of: %s. Got no match for: %s" % (", ".join(locations), p["store_location"]))
    store_name = "CA" if p["store_name"] == "CertificateAuthority" else p["store_name"]
    stores = state.setdefault("certificates", {})
    store_key = hostmod.find_key(stores, "%s\\%s" % (location, store_name))
    if store_key is None:
        if store_name.lower() not in [s.lower() for s in STANDARD_STORES]:
            m.fail("unable to find store '%s': (CertOpenStore failed (The system cannot find the file specified, "
                   "Win32ErrorCode 2 - 0x00000002))" % store_name)
        store_key = "%s\\%s" % (location, store_name)
        if not m.check_mode:
            stores[store_key] = []  # a standard store that held nothing yet
    store = stores.get(store_key, [])
    path = p["path"]
    if p["state"] == "absent":
        thumbprints = [c["thumbprint"] for c in _cert_file(m, path)] if path is not None else [p["thumbprint"]]
        for thumb in thumbprints:
            m.result["thumbprints"].append(thumb)
            for cert in [c for c in store if c["thumbprint"].lower() == thumb.lower()]:
                if not m.check_mode:
                    store.remove(cert)
                m.result["changed"] = True
    elif p["state"] == "exported":
        _cert_export(m, store, path)
    else:
        for cert in _cert_file(m, path):
            m.result["thumbprints"].append(cert["thumbprint"])
            found = [c for c in store if c["thumbprint"].lower() == cert["thumbprint"].lower()]
            reimport = bool(found) and cert.get("has_private_key") and any(not f.get("has_private_key") for f in found)
            if not found or reimport:
                if not m.check_mode:
                    for old in found:
                        store.remove(old)
                    store.append(dict(cert))
                m.result["changed"] = True


def _cert_export(m: Module, store, path):
    p, host = m.p, m.host
    m.result["thumbprints"].append(p["thumbprint"])
    export = True
    if host.is_dir(path):
        m.fail("Cannot export cert to path '%s' as it is a directory" % path)
    if host.is_file(path):
        entry = host.find_file(path)[1]
        certs = entry.get("certificates") or []
        if entry.get("cert_file_type") == p["file_type"] and len(certs) == 1 and certs[0]["thumbprint"] == p["thumbprint"]:
            export = False
    if not export:
        return
    found = [c for c in store if c["thumbprint"].lower() == p["thumbprint"].lower()]
    if len(found) != 1:
        m.fail("Found %d certs when only expecting 1" % len(found))
    if host.is_file(path):
        # New-CertFile removes an existing file without -WhatIf, so the real module does it in check mode too.
        hostmod.remove_file_state(host.state, path)
        m.check_mode_writes = True
        m.result["changed"] = True
    cert = dict(found[0])
    if p["file_type"] != "pkcs12":
        cert["has_private_key"] = False
    else:
        m.result["key_exported"] = False
    if not m.check_mode:
        body = ("simulated %s certificate %s" % (p["file_type"], cert["thumbprint"])).encode()
        entry = hostmod.file_entry(body)
        entry.update(certificates=[cert], cert_file_type=p["file_type"])
        hostmod.put_file_state(host.state, path, entry)
    m.result["changed"] = True


# -- win_http_proxy ---------------------------------------------------------------------------------

WIN_HTTP_PROXY = {
    "options": {
        "bypass": {"type": "list", "elements": "str", "no_log": False},
        "proxy": {"type": "raw"},
        "source": {"type": "str", "choices": ["ie"]},
    },
    "mutually_exclusive": [["proxy", "source"], ["bypass", "source"]],
    "required_by": {"bypass": ["proxy"]},
    "supports_check_mode": True,
}


def win_http_proxy(m: Module):
    p, state = m.p, m.host.state
    proxy, bypass = p["proxy"], p["bypass"]
    if isinstance(proxy, dict):
        valid = ["http", "https", "ftp", "socks"]
        invalid = sorted(k for k in proxy if k not in valid)
        if invalid:
            m.fail("Invalid keys found in proxy: %s. Valid keys are %s." % (", ".join(invalid), ", ".join(valid)))
        proxy = ";".join("%s=%s" % (k, ps_str(proxy[k])) for k in valid if k in proxy)
    elif proxy is not None:
        proxy = ps_str(proxy)
    if bypass:
        if not proxy:
            m.fail("missing parameter(s) required by ''bypass'': proxy")
        bypass = ";".join(bypass)
    actual = state.setdefault("winhttp_proxy", {"proxy": "", "bypass": ""})
    previous_proxy, previous_bypass = actual.get("proxy") or None, actual.get("bypass") or None
    m.diff["before"] = {"proxy": previous_proxy, "bypass": previous_bypass}
    if p["source"] == "ie":
        ie = state.get("ie_proxy", {})
        proxy, bypass = ie.get("proxy"), ie.get("bypass")
    proxy = proxy or None
    bypass = bypass or None

    def differs(a, b):  # PowerShell -ne: case-insensitive, $null only equals $null
        return (a is None) != (b is None) or (a is not None and a.lower() != b.lower())

    if differs(previous_proxy, proxy) or differs(previous_bypass, bypass):
        if not m.check_mode:
            state["winhttp_proxy"] = {"proxy": proxy or "", "bypass": bypass or ""}
        m.result["changed"] = True
    m.diff["after"] = {"proxy": proxy, "bypass": bypass}


# -- win_path ---------------------------------------------------------------------------------------

WIN_PATH = {
    "options": {
        "name": {"type": "str", "default": "PATH"},
        "elements": {"type": "list", "elements": "str", "required": True},
        "state": {"type": "str", "choices": ["absent", "present"], "default": "present"},
        "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    },
    "supports_check_mode": True,
}
_WIN_PATH_KEYS = {"machine": "HKLM:\\System\\CurrentControlSet\\Control\\Session Manager\\Environment", "user": "HKCU:\\Environment"}
# win_path.ps1's split: quoted elements may hold ';', empty elements are dropped.
_PATH_SPLIT = re.compile(r'((?P<q>\s*"[^"]+"\s*)|(?P<r>[^;]+))(;$|$|;)')


def _path_index(items: list, value: str) -> int:
    """Get-IndexOfPathElement: quotes and backslashes trimmed at both ends, compared without case."""
    value = value.strip('"').strip("\\")
    return next((i for i, item in enumerate(items) if item.strip('"').strip("\\").lower() == value.lower()), -1)


def win_path(m: Module):
    """ansible.windows win_path 3.3.0: reads the variable unexpanded from the registry, adds missing elements at the end
    (moving one that stands before an earlier-listed one) or removes them, and writes it back as REG_EXPAND_SZ."""
    p, host, state = m.p, m.host, m.host.state
    key = _WIN_PATH_KEYS[p["scope"]]
    values = host.reg_values(key)
    name = hostmod.find_key(values, p["name"])
    current = str(values[name]["data"]) if name else ""
    items = [match.group("q") or match.group("r") for match in _PATH_SPLIT.finditer(current)]
    changed, last = False, -1
    if p["state"] == "present":
        for element in p["elements"]:
            index = _path_index(items, element)
            if index == -1:
                items.append(element)
                last, changed = len(items) - 1, True
            elif index < last:
                items.pop(index)
                items.append(element)
                last, changed = len(items) - 1, True
            else:
                last = index
    else:
        for element in p["elements"]:
            index = _path_index(items, element)
            if index > -1:
                items.pop(index)
                changed = True
    value = ";".join(items)
    m.result["path_value"] = value
    m.result["changed"] = changed
    if changed and not m.check_mode:
        hostmod.reg_set(state, key, name or p["name"], "expandstring", value)


# -- win_powershell ---------------------------------------------------------------------------------

WIN_POWERSHELL = {
    "options": {
        "arguments": {"type": "list", "elements": "str"},
        "chdir": {"type": "str"},
        "creates": {"type": "str"},
        "depth": {"type": "int", "default": 2},
        "error_action": {"type": "str", "choices": ["silently_continue", "continue", "stop"], "default": "continue"},
        "executable": {"type": "str"},
        "parameters": {"type": "dict"},
        "path": {"type": "str"},
        "sensitive_parameters": {"type": "list", "elements": "dict", "options": {
            "name": {"type": "str", "required": True},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "value": {"type": "str", "no_log": True},
        }, "mutually_exclusive": [["value", "username"], ["value", "password"]],
            "required_one_of": [["username", "value"]], "required_together": [["username", "password"]]},
        "remote_src": {"type": "bool", "default": False},
        "removes": {"type": "str"},
        "script": {"type": "str"},
    },
    "required_one_of": [["path", "script"]],
    "mutually_exclusive": [["path", "script"]],
    "supports_check_mode": True,
}
SCRIPT_TAG = re.compile(r"#\s*azure_backup\.remediation/([\w.-]+)")
SETS_UNCHANGED = re.compile(r"^\s*\$Ansible\.Changed\s*=\s*\$false\s*$", re.IGNORECASE | re.MULTILINE)
# The real module's fallback when the script does not parse (win_powershell.ps1 ~line 586).
SHOULD_PROCESS_RE = re.compile(r"\[CmdletBinding\((?:[\w=\$]+,\s*)?SupportsShouldProcess(?:=\$true)?(?:,\s*[\w=\$]+)?\)\]")


def supports_should_process(script: str) -> bool:
    """Whether win_powershell runs the script in check mode.

    The real module asks the PowerShell parser: the script's own param block carries
    [CmdletBinding(SupportsShouldProcess)] or SupportsShouldProcess=$true; the regex is its fallback for
    scripts that do not parse. Without a parser, comments are removed, then the attribute directly in front
    of the top-level param block is looked for, and the fallback regex is accepted too.
    """
    text = re.sub(r"<#.*?#>", "", script, flags=re.DOTALL)
    text = re.sub(r"(?m)#.*$", "", text)
    attribute = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\s*"  # [OutputType([int])] and the like, one nesting level
    match = re.search(r"\[\s*CmdletBinding\s*\(([^)]*)\)\s*\]\s*(?:%s)*param\s*\(" % attribute, text, re.IGNORECASE)
    if match and "{" not in text[:match.start()]:
        for arg in match.group(1).split(","):
            name, sep, value = arg.partition("=")
            if name.strip().lower() == "supportsshouldprocess" and (not sep or value.strip().lower() == "$true"):
                return True
    return bool(SHOULD_PROCESS_RE.search(text))


def ps_to_string(value) -> str:
    """[string]$value of an object past the depth limit (arrays join with spaces)."""
    if isinstance(value, list):
        return " ".join("System.Object[]" if isinstance(v, list) else ps_str(v) for v in value)
    return ps_str(value)


def convert_output(value, depth: int):
    """Convert-OutputObject: what win_powershell returns for an object, truncated at ``depth``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth < 0:
        return ps_to_string(value)
    if isinstance(value, (list, tuple)):
        return [convert_output(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {str(k): convert_output(v, depth - 1) for k, v in value.items()}
    return ps_str(value)


def error_record(message: str, error_id: str = "Microsoft.PowerShell.Commands.WriteErrorException") -> dict:
    """The shape win_powershell gives a Write-Error record."""
    return {
        "output": "%s\r\n    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException\r\n"
                  "    + FullyQualifiedErrorId : %s\r\n \r\n" % (message, error_id),
        "error_details": None,
        "exception": {"message": message, "type": "Microsoft.PowerShell.Commands.WriteErrorException", "help_link": None,
                      "source": None, "hresult": -2146233087, "inner_exception": None},
        "target_object": None,
        "category_info": {"category": "NotSpecified", "category_id": 0, "activity": "Write-Error",
                          "reason": "WriteErrorException", "target_name": "", "target_type": ""},
        "fully_qualified_error_id": error_id,
        "script_stack_trace": "at <ScriptBlock>, <No file>: line 1",
        "pipeline_iteration_info": [],
    }


def _error_entry(entry) -> dict:
    """A full error record from what a script twin gives: a record, {"message": ...} or a string."""
    if isinstance(entry, dict) and "exception" in entry and "output" in entry:
        return entry
    if isinstance(entry, dict):
        error_id = entry.get("fully_qualified_error_id", "Microsoft.PowerShell.Commands.WriteErrorException")
        return error_record(ps_str(entry.get("message", "")), error_id)
    return error_record(ps_str(entry))


def _information_record(item, depth) -> dict:
    if isinstance(item, dict) and "message_data" in item:
        return item
    return {"message_data": convert_output(item, depth), "source": "Write-Information",
            "time_generated": hostmod.now_iso(), "tags": []}


def win_powershell(m: Module):
    p, host = m.p, m.host
    m.result.update(result={}, host_out="", host_err="", output=[], error=[], warning=[], verbose=[], debug=[],
                    information=[])
    if p["creates"] and _ansible_path_exists(host, p["creates"]):
        m.result["msg"] = "skipped, since %s exists" % p["creates"]
        raise ModuleExit()
    if p["removes"] and not _ansible_path_exists(host, p["removes"]):
        m.result["msg"] = "skipped, since %s does not exist" % p["removes"]
        raise ModuleExit()
    if p["script"] is not None:
        script = p["script"]
    else:
        if not host.exists(p["path"]):
            m.fail("Could not find or access '%s' on Windows host" % p["path"])
        raw = host.read_file(p["path"]) or b""
        script = raw.decode("utf-8-sig", "replace")
    if m.check_mode and not supports_should_process(script):
        m.result["changed"] = True
        m.result["msg"] = "skipped, running in check mode"
        raise ModuleExit()
    parameters = dict(p["parameters"] or {})
    for sensitive in p["sensitive_parameters"] or []:
        if sensitive.get("username"):
            parameters[sensitive["name"]] = {"username": sensitive["username"], "password": sensitive.get("password") or ""}
        else:
            parameters[sensitive["name"]] = sensitive.get("value") or ""
    match = SCRIPT_TAG.search(script)
    if match is None:
        _script_failed(m, "the simulator cannot run arbitrary PowerShell: it carries no '# azure_backup.remediation/<name>' tag")
        return
    tag = match.group(1)
    try:
        # $ps.AddScript(script).AddParameters(parameters): PowerShell binds them to the script's param() block
        # before it runs (ansible.windows win_powershell.ps1 ~781-839; the rules in psbind.py).
        parameters = psbind.bind(script, parameters, supports_should_process(script))
    except psbind.BindingError as exc:
        _binding_failed(m, exc)
        return
    # A script that declares SupportsShouldProcess runs in check mode; whether it changes anything then
    # is the script's business (its twin's), as on Windows, so the fake's check-mode guard stands aside.
    m.check_mode_writes = True
    try:
        if tag in getattr(scripts, "SCRIPT_TEXT", ()):  # twins that do what PowerShell does with the script's own text
            out = scripts.run(host, tag, parameters, script=script)
        else:
            out = scripts.run(host, tag, parameters)
    except LookupError as exc:
        if tag not in str(exc):
            raise
        _script_failed(m, "the simulator cannot run arbitrary PowerShell: no simulated script '%s'" % tag)
        return
    except Exception as exc:  # pylint: disable=broad-exception-caught  # a thrown error is the script's failure
        _script_failed(m, "simulated script '%s' raised %s: %s" % (tag, type(exc).__name__, exc))
        m.result["host_err"] = traceback.format_exc()
        return
    out = out or {}
    depth = p["depth"]
    m.result["result"] = convert_output(out.get("result", {}), depth)
    # $Ansible.Changed starts true; a script that reports no change sets it false itself.
    m.result["changed"] = out["changed"] if "changed" in out else not SETS_UNCHANGED.search(script)
    m.result["failed"] = bool(out.get("failed", False))
    m.result["output"] = convert_output(list(out.get("output", [])), depth)
    m.result["error"] = [_error_entry(e) for e in out.get("error", [])]
    for stream in ("warning", "verbose", "debug"):
        m.result[stream] = [ps_str(x) for x in out.get(stream, [])]
    m.result["information"] = [_information_record(x, depth) for x in out.get("information", [])]
    m.result["host_out"] = out.get("host_out", "")
    m.result["host_err"] = out.get("host_err", "")
    if isinstance(out.get("diff"), dict):
        for key, value in out["diff"].items():
            m.diff[key] = convert_output(value, depth)


def _script_failed(m: Module, message: str):
    m.result["failed"] = True
    m.result["changed"] = False
    m.result["msg"] = message
    m.result["error"] = [error_record(message, "SimulatorCannotRunScript")]


# ErrorCategory of a ParameterBindingException by its error id (System.Management.Automation.ErrorCategory:
# InvalidArgument = 5, InvalidData = 6).
_BINDING_CATEGORY = {"ParameterArgumentTransformationError": ("InvalidData", 6), "ParameterArgumentValidationError": ("InvalidData", 6)}


def _binding_failed(m: Module, exc) -> None:
    """win_powershell when PowerShell refuses the parameters: $ps.Invoke() throws a ParameterBindingException
    (a RuntimeException), which the module catches and reports as failed with its error record; the script
    never ran, so $Ansible keeps Changed = $true and Result = @{} (win_powershell.ps1 ~665-667 and ~842-851)."""
    category, category_id = _BINDING_CATEGORY.get(exc.error_id, ("InvalidArgument", 5))
    record = error_record(str(exc), exc.error_id)
    record["output"] = "%s\r\n    + CategoryInfo          : %s: (:) [], ParameterBindingException\r\n" \
                       "    + FullyQualifiedErrorId : %s\r\n \r\n" % (exc, category, exc.error_id)
    record["exception"].update(type="System.Management.Automation.ParameterBindingException")
    record["category_info"].update(category=category, category_id=category_id, activity="", reason="ParameterBindingException")
    record["script_stack_trace"] = ""
    m.result["failed"] = True
    m.result["changed"] = True
    m.result["error"] = [record]


def _ansible_path_exists(host, path: str) -> bool:
    """Test-AnsiblePath: files, directories and registry keys."""
    if re.match(r"^HK(CC|CR|CU|LM|U):", path, re.IGNORECASE):
        return host.reg_key_exists(path)
    return host.exists(path)


# -- dispatch ---------------------------------------------------------------------------------------

MODULES = {
    "win_ping": (WIN_PING, win_ping),
    "win_service": (WIN_SERVICE, win_service),
    "win_regedit": (WIN_REGEDIT, win_regedit),
    "win_package": (WIN_PACKAGE, win_package),
    "win_certificate_store": (WIN_CERTIFICATE_STORE, win_certificate_store),
    "win_get_url": (WIN_GET_URL, win_get_url),
    "win_http_proxy": (WIN_HTTP_PROXY, win_http_proxy),
    "win_path": (WIN_PATH, win_path),
    "win_powershell": (WIN_POWERSHELL, win_powershell),
}
PREFIXES = ("ansible.windows.", "ansible.legacy.", "ansible.builtin.")


def short_name(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def unhandled_result(message: str) -> dict:
    """What the PowerShell module wrapper returns for an exception the module did not catch."""
    return {"failed": True, "msg": "Unhandled exception while executing module: %s" % message,
            "exception": "%s\r\nAt line:1 char:1\r\n+ CategoryInfo          : NotSpecified: (:) [], RuntimeException\r\n"
                         "+ FullyQualifiedErrorId : RuntimeException\r\n\r\nScriptStackTrace:\r\n"
                         "at <ScriptBlock>, <No file>: line 1" % message}


def run(host, name: str, args: dict) -> dict:
    """Run the fake of module ``name`` with ``args`` (Ansible's _ansible_* keys included) on ``host``."""
    short = short_name(name)
    if short not in MODULES:
        return {"failed": True, "changed": False,
                "msg": "the Windows simulator does not implement module '%s' (it fakes: %s)"
                       % (name, ", ".join("ansible.windows." + k for k in MODULES))}
    spec, func = MODULES[short]
    args = dict(args)
    args.setdefault("_ansible_module_name", name)
    module_name = ps_str(args.get("_ansible_module_name") or name)
    with host.lock:
        snapshot = copy.deepcopy(host.state)
        module = Module(host, module_name, args, spec)
        try:
            module.validate()
            func(module)
            return module.finish()
        except ModuleExit:
            return module.finish()
        except ModuleFail as exc:
            module.result.update(exc.extra)
            module.result["failed"] = True
            module.result["msg"] = _mask(exc.msg, module.no_log_values)
            return module.finish()
        except Unhandled as exc:
            return unhandled_result(str(exc))
        finally:
            if module.check_mode and not module.check_mode_writes:
                # Check mode must leave the machine as it was; a fake that slips is a simulator bug.
                assert host.state == snapshot, "check mode changed the state of %s (%s)" % (host.name, short)
