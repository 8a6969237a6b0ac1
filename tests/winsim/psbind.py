"""PowerShell's parameter binding of a script's top-level param() block, as win_powershell runs a script.

ansible.windows win_powershell.ps1 adds the script with $ps.AddScript() and the module's `parameters`
dict (plus -WhatIf/-Confirm for a SupportsShouldProcess script) with $ps.AddParameters() (lines ~781-839
of ansible.windows 2.x win_powershell.ps1): PowerShell binds them by name to the script's param() block
before a line of it runs. A binding error is a ParameterBindingException, a RuntimeException, which
win_powershell catches: the module fails with that error record, the script never ran, and $Ansible
keeps its defaults (Changed = $true, Result = @{}; win_powershell.ps1 ~665-667).

What is taught here (sources: Microsoft Learn about_Functions_Advanced_Parameters, about_Functions_
CmdletBindingAttribute, about_CommonParameters, about_Preference_Variables ($OFS); message texts from
PowerShell's ParameterBinderStrings.resx, PowerShell/PowerShell on GitHub):
- names match without case; a unique prefix of a name binds too (AmbiguousParameter when several match);
- an advanced script ([CmdletBinding()] or a [Parameter()] attribute) refuses a name it does not declare
  (NamedParameterNotFound); a simple script puts it in $args, which no twin reads;
- the common parameters (and -WhatIf/-Confirm with SupportsShouldProcess) are the engine's, not the script's;
- typed parameters convert what is bound: [string] joins an array with $OFS (a space), [int] takes numbers
  and numeric strings, [bool]/[switch] only booleans and numbers ("Boolean parameters accept only Boolean
  values and numbers"), [string[]] wraps a single value; a failed conversion is
  ParameterArgumentTransformationError; [ValidateSet()] compares without case (ParameterArgumentValidationError);
- a parameter left unbound holds its default, else $null converted to its type: [string] "", [int] 0,
  [bool]/[switch] $false, arrays, dictionaries and untyped ones $null.
"""

from __future__ import annotations

import re

COMMON = ("Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable", "WarningVariable",
          "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable")
SHOULD_PROCESS = ("WhatIf", "Confirm")

_TYPES = {
    "string": "string", "system.string": "string",
    "int": "int", "int32": "int", "system.int32": "int", "long": "int", "int64": "int", "system.int64": "int",
    "bool": "bool", "boolean": "bool", "system.boolean": "bool",
    "switch": "switch", "switchparameter": "switch", "system.management.automation.switchparameter": "switch",
    "string[]": "string[]", "system.string[]": "string[]",
    "hashtable": "dict", "system.collections.hashtable": "dict", "system.collections.idictionary": "dict",
    "collections.idictionary": "dict",
    "object": None, "psobject": None,
}
_DOTNET = {"string": "System.String", "int": "System.Int32", "bool": "System.Boolean", "switch": "System.Management.Automation.SwitchParameter",
           "string[]": "System.String[]", "dict": "System.Collections.IDictionary"}


class BindingError(Exception):
    """A ParameterBindingException: its message and FullyQualifiedErrorId."""

    def __init__(self, message: str, error_id: str):
        super().__init__(message)
        self.error_id = error_id


class Param:
    def __init__(self, name: str, kind: str | None, default, has_default: bool, valid_set: list | None, mandatory: bool):
        self.name, self.kind, self.default, self.has_default = name, kind, default, has_default
        self.valid_set, self.mandatory = valid_set, mandatory


def _skip_space_and_comments(text: str, i: int) -> int:
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("<#", i):
            end = text.find("#>", i + 2)
            i = len(text) if end < 0 else end + 2
        elif text[i] == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        else:
            break
    return i


def _closing(text: str, i: int) -> int:
    """The index just after the bracket that closes the one at text[i], past strings and comments."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    i += 1
    while i < len(text) and stack:
        c = text[i]
        if c in "'\"":
            i = _string_end(text, i)
            continue
        if c == "#" or text.startswith("<#", i):
            i = _skip_space_and_comments(text, i) - 1
        elif c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
        i += 1
    if stack:
        raise ValueError("unbalanced brackets in the script's param() block")
    return i


def _split_top(text: str) -> list[str]:
    """The text split at commas outside brackets and strings."""
    parts, start, i = [], 0, 0
    while i < len(text):
        c = text[i]
        if c in "([{":
            i = _closing(text, i)
            continue
        if c in "'\"":
            i = _string_end(text, i)
            continue
        if c == ",":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _string_end(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == quote and not text.startswith(quote * 2, i):
            return i + 1
        i += 2 if (text[i] == "`" and quote == '"') or text.startswith(quote * 2, i) else 1
    raise ValueError("unterminated string")


def _literal(expr: str):
    """The value of a simple default: a quoted string, a number, $true/$false/$null, @() or @('a', 'b')."""
    expr = expr.strip()
    low = expr.lower()
    if low in ("$true", "$false", "$null"):
        return {"$true": True, "$false": False, "$null": None}[low]
    if re.fullmatch(r"-?\d+", expr):
        return int(expr)
    if len(expr) >= 2 and expr[0] == expr[-1] == "'":
        return expr[1:-1].replace("''", "'")
    if len(expr) >= 2 and expr[0] == expr[-1] == '"' and "$" not in expr and "`" not in expr:
        return expr[1:-1]
    if low.startswith("@(") and expr.endswith(")"):
        return [_literal(p) for p in _split_top(expr[2:-1])]
    raise NotImplementedError("the simulator cannot evaluate the parameter default %r: teach psbind._literal" % expr)


def parse(script: str) -> tuple[bool, list[Param] | None]:
    """(advanced, params) of the script's top-level param() block; params None without one.
    The block may follow only comments, a #requires line and attributes ([CmdletBinding()])."""
    i = _skip_space_and_comments(script, 0)
    attributes = []
    while i < len(script) and script[i] == "[":
        end = _closing(script, i)
        attributes.append(script[i:end])
        i = _skip_space_and_comments(script, end)
    advanced = any(re.match(r"\[\s*CmdletBinding\b", a, re.IGNORECASE) for a in attributes)
    match = re.match(r"param\s*\(", script[i:], re.IGNORECASE)
    if not match:
        return advanced, None
    start = i + match.end() - 1
    body = script[start + 1:_closing(script, start) - 1]
    params = []
    for part in _split_top(body):
        j = _skip_space_and_comments(part, 0)
        kind, valid_set, mandatory = None, None, False
        while j < len(part) and part[j] == "[":
            end = _closing(part, j)
            attribute = part[j + 1:end - 1].strip()
            name = re.match(r"[\w.]+(\[\])?", attribute)
            if "(" not in attribute:
                if attribute.lower() not in _TYPES:
                    raise NotImplementedError("the simulator cannot bind a parameter of type [%s]: teach psbind._TYPES" % attribute)
                kind = _TYPES[attribute.lower()]
            elif name and name.group(0).lower() == "validateset":
                valid_set = [str(_literal(v)) for v in _split_top(attribute[attribute.index("(") + 1:-1])]
            elif name and name.group(0).lower() == "parameter":
                advanced = True  # a [Parameter()] attribute makes the script advanced too
                mandatory = bool(re.search(r"\bMandatory\b(?!\s*=\s*\$false)", attribute, re.IGNORECASE))
            j = _skip_space_and_comments(part, end)
        var = re.match(r"\$(\w+)\s*(=\s*(.*))?$", part[j:].strip(), re.DOTALL)
        if not var:
            raise ValueError("cannot read the parameter %r of the script's param() block" % part.strip())
        has_default = var.group(2) is not None
        params.append(Param(var.group(1), kind, _literal(var.group(3)) if has_default else None, has_default, valid_set, mandatory))
    return advanced, params


def _ps_string(value) -> str:
    """[string] of a JSON value as PowerShell converts it: $true -> True, an array joined by $OFS (a space)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return " ".join("System.Object[]" if isinstance(v, (list, tuple)) else _ps_string(v) for v in value)
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _type_name(value) -> str:
    if isinstance(value, (list, tuple)):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32"
    if isinstance(value, float):
        return "System.Double"
    return "System.String"


def _transform_error(param: Param, why: str) -> BindingError:
    return BindingError("Cannot process argument transformation on parameter '%s'. %s" % (param.name, why),
                        "ParameterArgumentTransformationError")


def convert(param: Param, value):
    """The value a bound parameter holds in the script."""
    kind = param.kind
    if kind is None:
        return value
    if kind == "string":
        return _ps_string(value)
    if kind == "string[]":
        if value is None:
            return None
        return [_ps_string(v) for v in value] if isinstance(value, (list, tuple)) else [_ps_string(value)]
    if kind in ("bool", "switch"):
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, (int, float)):
            return value != 0
        raise _transform_error(param, 'Cannot convert value "%s" to type "%s". Boolean parameters accept only Boolean values and '
                                      'numbers, such as $True, $False, 1 or 0.' % (_type_name(value), _DOTNET[kind]))
    if kind == "int":
        if value is None:
            return 0
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return round(value)  # [int] rounds half to even, as Python's round() does
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        if isinstance(value, str):
            why = 'Cannot convert value "%s" to type "System.Int32". Error: "Input string was not in a correct format."' % value
        else:
            why = 'Cannot convert the "%s" value of type "%s" to type "System.Int32".' % (_ps_string(value), _type_name(value))
        raise _transform_error(param, why)
    if kind == "dict":
        if value is None or isinstance(value, dict):
            return value
        raise _transform_error(param, 'Cannot convert the "%s" value of type "%s" to type "System.Collections.IDictionary".'
                                      % (_ps_string(value), _type_name(value)))
    raise NotImplementedError(kind)


def _unbound(param: Param):
    if param.has_default:
        return convert(param, param.default)
    return {"string": "", "int": 0, "bool": False, "switch": False}.get(param.kind)


def bind(script: str, parameters: dict, should_process: bool = False) -> dict:
    """The script's parameters as PowerShell binds ``parameters`` to them: {declared name: value}, every
    declared parameter present. BindingError when PowerShell would refuse to run the script."""
    advanced, params = parse(script)
    params = params or []
    engine = [n for n in (COMMON + (SHOULD_PROCESS if should_process else ())) if advanced]
    bound = {}
    for given, value in (parameters or {}).items():
        low = given.lower()
        names = [p.name for p in params] + engine
        exact = [n for n in names if n.lower() == low]
        matches = exact or [n for n in names if n.lower().startswith(low)]
        if len(matches) > 1:
            raise BindingError("Parameter cannot be processed because the parameter name '%s' is ambiguous. Possible matches include: %s."
                               % (given, " ".join("-" + n for n in matches)), "AmbiguousParameter")
        if not matches:
            if advanced:
                raise BindingError("A parameter cannot be found that matches parameter name '%s'." % given, "NamedParameterNotFound")
            continue  # a simple script: the name and its value go to $args
        if matches[0] in engine:
            continue
        param = next(p for p in params if p.name == matches[0])
        if param.name in bound:
            raise BindingError("Cannot bind parameter because parameter '%s' is specified more than once." % param.name, "ParameterAlreadyBound")
        converted = convert(param, value)
        if param.valid_set is not None:
            for one in converted if isinstance(converted, list) else [converted]:
                if str(one).lower() not in [v.lower() for v in param.valid_set]:
                    raise BindingError(
                        "Cannot validate argument on parameter '%s'. The argument \"%s\" does not belong to the set \"%s\" specified by the "
                        "ValidateSet attribute. Supply an argument that is in the set and then try the command again."
                        % (param.name, one, ",".join(param.valid_set)), "ParameterArgumentValidationError")
        bound[param.name] = converted
    missing = [p.name for p in params if p.mandatory and p.name not in bound]
    if missing:
        # Non-interactive (win_powershell has no host to prompt): the missing mandatory parameters are an error.
        raise BindingError("Cannot process command because of one or more missing mandatory parameters: %s." % " ".join(missing),
                           "MissingMandatoryParameter")
    for param in params:
        if param.name not in bound:
            bound[param.name] = _unbound(param)
    return bound
