"""Turn one WinRS command (command line + stdin) into a call on a simulated Windows host.

What Ansible (ansible-core 2.19, winrm connection + powershell shell plugin) sends:

* Every command is ``PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted
  -EncodedCommand <base64 of the UTF-16-LE script>`` (``ShellModule._encode_script``).
* Modules are always pipelined: the script is ``bootstrap_wrapper.ps1`` and stdin is
  ``<bootstrap json>\\n\\0\\0\\0\\0\\n<exec manifest json>`` (``module_manifest._get_bootstrap_input``).
  The bootstrap json is ``{"name": "exec_wrapper", "script": ..., "params": {...}}``; the exec
  manifest is ``{"scripts": {...}, "actions": [...], "signed_hashlist": [...]}``.  The last action
  is ``module_wrapper.ps1`` whose ``params.Script`` is ``<module fqn><ext>`` (for a collection
  module ``ansible_collections.<ns>.<coll>.plugins.modules.<name>.ps1``) and whose
  ``params.Variables`` holds ``{"Name": "complex_args", "Value": {...module args...}}``.
  Earlier actions (become_wrapper.ps1, async_wrapper.ps1, ...) only wrap it.
* put_file (``Connection.put_file``) runs the same bootstrap wrapper with a one-action manifest
  ``winrm_put_file.ps1`` (params ``{"Path": <remote path>}``), followed by another
  ``\\n\\0\\0\\0\\0\\n`` and the file as base64 lines each ending in ``\\r\\n``.  Ansible expects
  ``{"sha1": "<hex>"}`` on stdout and compares it with the local file.
* Helpers that action plugins needing a remote tmp dir run the same way:
  ``powershell_expand_user.ps1`` (``{"Path": "~user"}``) and ``powershell_mkdtemp.ps1``
  (``{"Directory": "%TEMP%", "Name": "ansible-tmp-..."}``); cleanup is a raw
  ``Remove-Item '<path>' -Force -Recurse;`` script.  These are answered here without the host.

Module results are returned the way ``Ansible.Basic`` does: one JSON object on stdout and rc 1
when ``failed`` is true (ActionBase._parse_returned_data only needs valid JSON; the ``failed``
key is what makes the task fail, with ``msg``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import ntpath
import re
import traceback
import typing as t

# Separator between the bootstrap manifest, the exec manifest and any further input.
STDIN_SEP = b"\n\0\0\0\0\n"

SCRIPT_TAG_RE = re.compile(r"#\s*azure_backup\.remediation/([\w.-]+)")

RAW_MESSAGE = (
    "winsim: this simulated Windows host runs only Ansible module payloads and put_file; "
    "raw commands are not supported"
)


@dataclasses.dataclass
class ModuleCall:
    name: str  # FQCN, e.g. ansible.windows.win_service
    args: dict  # complex_args, including _ansible_check_mode, _ansible_diff, ...


@dataclasses.dataclass
class PutFile:
    path: str
    data: bytes


@dataclasses.dataclass
class Helper:
    """A controller helper answered without the host (tmp dir handling)."""

    action: str  # expand_user | mkdtemp | remove
    params: dict


@dataclasses.dataclass
class RawScript:
    """A raw command (no module wrapper) the collection sends, known by its tag line."""

    tag: str
    script: str


@dataclasses.dataclass
class Unknown:
    reason: str


Classified = t.Union[ModuleCall, PutFile, Helper, RawScript, Unknown]


@dataclasses.dataclass
class Outcome:
    stdout: bytes
    stderr: bytes
    rc: int
    log: dict  # entry for host.log, without http_requests


def decode_script(command: str, arguments: str = "") -> str | None:
    """Return the PowerShell script passed with -EncodedCommand, or None."""
    parts = (command + " " + (arguments or "")).split()
    for i, part in enumerate(parts[:-1]):
        if part.lower() in ("-encodedcommand", "-enc", "-e", "-ec"):
            try:
                return base64.b64decode(parts[i + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
    return None


def module_fqcn(script_name: str) -> str:
    """``ansible_collections.ns.coll.plugins.modules.[sub.]name.ps1`` -> ``ns.coll.name``."""
    name = re.sub(r"\.(ps1|cs|psm1|exe)$", "", script_name, flags=re.IGNORECASE)
    parts = name.split(".")
    if parts[0] == "ansible_collections" and len(parts) >= 4:
        return ".".join(parts[1:3] + parts[-1:])
    if parts[:2] == ["ansible", "modules"]:
        return "ansible.builtin." + parts[-1]
    return name  # ansible.legacy.<name> (modules in roles/library) stays as is


def _split_stdin(stdin: bytes) -> tuple[dict, dict, bytes] | None:
    """Split pipelined input into (bootstrap manifest, exec manifest, rest)."""
    parts = stdin.split(STDIN_SEP, 2)
    if len(parts) < 2:
        return None
    try:
        bootstrap = json.loads(parts[0])
        manifest = json.loads(parts[1])
    except ValueError:
        return None
    if not isinstance(bootstrap, dict) or bootstrap.get("name") != "exec_wrapper":
        return None
    if not isinstance(manifest, dict) or not manifest.get("actions"):
        return None
    return bootstrap, manifest, parts[2] if len(parts) > 2 else b""


_REMOVE_RE = re.compile(r"^\s*Remove-Item\s+'((?:[^']|'')*)'\s+-Force(\s+-Recurse)?\s*;", re.MULTILINE)


def classify(script: str | None, stdin: bytes) -> Classified:
    """Say what one command asks for, from its decoded script and its stdin."""
    split = _split_stdin(stdin or b"")
    if split is not None:
        _bootstrap, manifest, rest = split
        action = manifest["actions"][-1]
        name = action.get("name")
        params = action.get("params") or {}
        if name == "module_wrapper.ps1":
            args: dict = {}
            for var in params.get("Variables") or []:
                if var.get("Name") == "complex_args":
                    args = var.get("Value") or {}
            return ModuleCall(module_fqcn(params.get("Script", "")), args)
        if name == "winrm_put_file.ps1":
            # base64 lines, each followed by \r\n (see Connection._put_file_stdin_iterator)
            data = b"".join(base64.b64decode(line.strip()) for line in rest.split(b"\r\n") if line.strip())
            return PutFile(params.get("Path", ""), data)
        if name == "powershell_expand_user.ps1":
            return Helper("expand_user", params)
        if name == "powershell_mkdtemp.ps1":
            return Helper("mkdtemp", params)
        return Unknown(f"exec wrapper action {name!r} is not supported by the simulator")

    if script is not None:
        m = _REMOVE_RE.search(script)
        if m and "ansible-tmp-" in m.group(1):
            return Helper("remove", {"Path": m.group(1).replace("''", "'")})
        tag = SCRIPT_TAG_RE.search(script)
        if tag:
            return RawScript(tag.group(1), script)
        return Unknown(f"{RAW_MESSAGE}: {script.strip()[:300]}")
    return Unknown(f"{RAW_MESSAGE} (no -EncodedCommand given)")


def script_tag(name: str, args: dict) -> str | None:
    if name != "ansible.windows.win_powershell":
        return None
    script = args.get("script")
    if not isinstance(script, str):
        return None
    m = SCRIPT_TAG_RE.search(script)
    return m.group(1) if m else None


def module_output(result: dict) -> tuple[bytes, bytes, int]:
    """stdout/stderr/rc for a module result dict, as Ansible.Basic's ExitJson/FailJson write it."""
    text = json.dumps(result, ensure_ascii=False, default=str)
    return (text + "\r\n").encode("utf-8"), b"", 1 if result.get("failed") else 0


def _error_output(msg: str, exc: BaseException | None = None) -> tuple[bytes, bytes, int]:
    result: dict = {"failed": True, "msg": msg}
    if exc is not None:
        result["exception"] = "".join(traceback.format_exception(exc))
    return module_output(result)


def _profile(user: str) -> str:
    return "C:\\Users\\" + (user.split("\\")[-1].split("@")[0] or "Administrator")


def _expand_env(path: str, user: str) -> str:
    """Enough of [Environment]::ExpandEnvironmentVariables for remote_tmp values."""
    env = {
        "TEMP": _profile(user) + "\\AppData\\Local\\Temp",
        "TMP": _profile(user) + "\\AppData\\Local\\Temp",
        "USERPROFILE": _profile(user),
        "SYSTEMROOT": "C:\\Windows",
        "WINDIR": "C:\\Windows",
        "PROGRAMDATA": "C:\\ProgramData",
    }
    return re.sub(r"%(\w+)%", lambda m: env.get(m.group(1).upper(), m.group(0)), path)


def _helper_output(helper: Helper, user: str) -> tuple[bytes, bytes, int]:
    if helper.action == "expand_user":
        path = str(helper.params.get("Path", ""))
        if path == "~" or re.fullmatch(r"~[^\\/]*", path):
            out = _profile(user)
        elif path.startswith("~\\"):
            out = ntpath.join(_profile(user), path[2:])
        else:
            out = path
    elif helper.action == "mkdtemp":
        out = ntpath.join(_expand_env(str(helper.params.get("Directory", "")), user),
                          str(helper.params.get("Name", "")))
    else:  # remove: nothing to do, the simulated file system is the host's business
        return b"", b"", 0
    return (out + "\r\n").encode("utf-8"), b"", 0


def execute(host: t.Any, command: str, arguments: str, stdin: bytes, user: str = "") -> Outcome:
    """Run one command against ``host`` and return what WinRS would send back.

    ``host`` is duck-typed: ``run_module(name, args) -> dict`` and ``put_file(path, data)``.
    """
    what = classify(decode_script(command, arguments), stdin)
    log = log_entry(what)

    if isinstance(what, RawScript):
        try:
            return Outcome(host.run_raw(what.tag).encode("utf-8") + b"\r\n", b"", 0, log)
        except KeyError:
            return Outcome(b"", ("winsim: no twin for the raw script %s\r\n" % what.tag).encode(), 1, log)

    # Everything else runs through ansible-core's bootstrap_wrapper.ps1, whose first lines refuse
    # PowerShell below 5.1 with this answer and exit 1 (ansible/executor/powershell/bootstrap_wrapper.ps1).
    if not host_runs_ansible(host):
        return Outcome(b'{"failed":true,"msg":"Ansible requires PowerShell v5.1"}\r\n', b"", 1, log)

    if isinstance(what, ModuleCall):
        try:
            result = host.run_module(what.name, dict(what.args))
            if not isinstance(result, dict):
                raise TypeError(f"run_module returned {type(result).__name__}, not dict")
            out = module_output(result)
        except Exception as exc:  # what module_wrapper.ps1 reports for an unhandled error
            out = _error_output(f"Unhandled exception while executing module: {exc}", exc)
        return Outcome(*out, log)

    if isinstance(what, PutFile):
        try:
            host.put_file(what.path, what.data)
        except Exception as exc:
            # winrm_put_file.ps1 failing writes an error record to stderr and exits 1
            return Outcome(b"", f"winsim put_file {what.path}: {exc}\r\n".encode(), 1, log)
        sha1 = hashlib.sha1(what.data).hexdigest()
        return Outcome(json.dumps({"sha1": sha1}).encode() + b"\r\n", b"", 0, log)

    if isinstance(what, Helper):
        return Outcome(*_helper_output(what, user), log)
    return Outcome(b"", (what.reason + "\r\n").encode("utf-8"), 1, log)


def host_runs_ansible(host: t.Any) -> bool:
    """PowerShell 5.1 or later: what ansible-core's module wrapper needs."""
    version = str(getattr(host, "state", {}).get("powershell_version", "5.1"))
    return tuple(int(part) for part in version.split(".")[:2]) >= (5, 1)


def log_entry(what) -> dict:
    """What host.log gets for a classified command (wsman adds http_requests)."""
    log: dict = {"kind": "unknown", "module": None, "script_tag": None, "check_mode": False}
    if isinstance(what, ModuleCall):
        log.update(kind="module", module=what.name, script_tag=script_tag(what.name, what.args),
                   check_mode=bool(what.args.get("_ansible_check_mode", False)))
    elif isinstance(what, PutFile):
        log.update(kind="put_file")
    elif isinstance(what, Helper):
        log.update(detail=what.action)
    elif isinstance(what, RawScript):
        log.update(kind="raw", script_tag=what.tag)
    else:
        log.update(detail=what.reason[:200])
    return log
