"""The simulated win_powershell binds the plugin's parameters to the script's param() block as PowerShell
does (tests/winsim/psbind.py): a name the script does not declare fails the run with PowerShell's binding
error, typed parameters are converted, and the twin receives every declared parameter, unbound ones as
PowerShell leaves them. Without this a script whose parameter was renamed kept every test green."""

import re

import pytest
import tree_sitter
import tree_sitter_powershell

import capture
import host as hostmod
import plugin_reads
import psbind
import scripts
from ansible_collections.azure_backup.remediation.plugins.action import win_bitlocker, win_machinekeys

TEXTS = capture.collection_scripts()
ADVANCED = "[CmdletBinding()]\nparam(\n    [string]$Path,\n    [int]$Count,\n    [bool]$Force,\n    [switch]$Quiet,\n" \
           "    [string[]]$Names,\n    [System.Collections.IDictionary]$Keys,\n    [ValidateSet('upgrade', 'reinstall')][string]$Mode,\n" \
           "    [string[]]$Files = @(),\n    $Anything\n)\n"


def _tree_sitter_params(script):
    """Name and type literal of each parameter of the script's top-level param block, by a real PowerShell grammar."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    root = parser.parse(script.encode("utf-8")).root_node
    block = next((c for c in root.children if c.type == "param_block"), None)
    if block is None:
        return None
    out = []
    for param in (n for c in block.children if c.type == "parameter_list" for n in c.children if n.type == "script_parameter"):
        name = next(c for c in param.children if c.type == "variable").text.decode()[1:]
        types = [a.text.decode()[1:-1] for lst in param.children if lst.type == "attribute_list"
                 for a in lst.children if a.children and a.children[0].type == "type_literal" for a in [a.children[0]]]
        out.append((name, types[-1] if types else None))
    return out


@pytest.mark.parametrize("tag", sorted(TEXTS))
def test_the_param_block_is_read_as_a_powershell_grammar_reads_it(tag):
    _advanced, params = psbind.parse(TEXTS[tag])
    expected = _tree_sitter_params(TEXTS[tag])
    assert [p.name for p in params or []] == [name for name, _type in expected or []]
    # Every declared type is one the binder knows how to convert.
    for _name, type_name in expected or []:
        assert type_name is None or type_name.lower() in psbind._TYPES, type_name  # pylint: disable=protected-access


def test_names_bind_without_case_and_by_a_unique_prefix():
    bound = psbind.bind(ADVANCED, {"path": "C:\\x", "Cou": 3, "FORCE": True})
    assert (bound["Path"], bound["Count"], bound["Force"]) == ("C:\\x", 3, True)


def test_an_undeclared_name_fails_an_advanced_script_and_goes_to_args_in_a_simple_one():
    with pytest.raises(psbind.BindingError) as exc:
        psbind.bind(ADVANCED, {"AdeFolder": "C:\\x"})
    assert str(exc.value) == "A parameter cannot be found that matches parameter name 'AdeFolder'."
    assert exc.value.error_id == "NamedParameterNotFound"
    simple = ADVANCED.replace("[CmdletBinding()]\n", "")
    assert psbind.bind(simple, {"AdeFolder": "C:\\x"})["Path"] == ""


def test_an_ambiguous_prefix_is_refused():
    with pytest.raises(psbind.BindingError, match="'F' is ambiguous. Possible matches include: -Force -Files") as exc:
        psbind.bind(ADVANCED, {"F": 1})
    assert exc.value.error_id == "AmbiguousParameter"


def test_common_parameters_are_the_engines_and_whatif_only_with_should_process():
    assert "Verbose" not in psbind.bind(ADVANCED, {"Verbose": True})
    with pytest.raises(psbind.BindingError, match="'WhatIf'"):
        psbind.bind(ADVANCED, {"WhatIf": True})
    assert "WhatIf" not in psbind.bind(ADVANCED, {"WhatIf": True}, should_process=True)


def test_unbound_parameters_hold_what_powershell_gives_them():
    assert psbind.bind(ADVANCED, {}) == {"Path": "", "Count": 0, "Force": False, "Quiet": False, "Names": None, "Keys": None,
                                         "Mode": "", "Files": [], "Anything": None}


@pytest.mark.parametrize("name,value,expected", [
    ("Path", ["a", "b"], "a b"),        # an array joined with $OFS
    ("Path", True, "True"),
    ("Path", 5, "5"),
    ("Path", None, ""),
    ("Count", "12", 12),
    ("Count", 2.5, 2),                  # [int] rounds half to even
    ("Force", 0, False),
    ("Quiet", 1, True),
    ("Names", "one", ["one"]),
    ("Names", [1, True], ["1", "True"]),
    ("Keys", {"a": "b"}, {"a": "b"}),
    ("Anything", [1, {"a": 2}], [1, {"a": 2}]),
    ("Mode", "Reinstall", "Reinstall"),  # ValidateSet ignores case
])
def test_typed_parameters_are_converted(name, value, expected):
    assert psbind.bind(ADVANCED, {name: value})[name] == expected


@pytest.mark.parametrize("name,value,message", [
    ("Force", "true", 'Cannot convert value "System.String" to type "System.Boolean". Boolean parameters accept only Boolean values'),
    ("Quiet", [True], 'Cannot convert value "System.Object[]" to type "System.Management.Automation.SwitchParameter".'),
    ("Count", "ten", 'Cannot convert value "ten" to type "System.Int32".'),
    ("Count", [1, 2], 'Cannot convert the "1 2" value of type "System.Object[]" to type "System.Int32".'),
    ("Keys", "x", 'to type "System.Collections.IDictionary".'),
])
def test_a_value_powershell_cannot_convert_is_a_transformation_error(name, value, message):
    with pytest.raises(psbind.BindingError) as exc:
        psbind.bind(ADVANCED, {name: value})
    assert str(exc.value).startswith("Cannot process argument transformation on parameter '%s'. " % name)
    assert message in str(exc.value) and exc.value.error_id == "ParameterArgumentTransformationError"


def test_validate_set_refuses_a_value_outside_the_set():
    with pytest.raises(psbind.BindingError, match='The argument "repair" does not belong to the set "upgrade,reinstall"') as exc:
        psbind.bind(ADVANCED, {"Mode": "repair"})
    assert exc.value.error_id == "ParameterArgumentValidationError"


def test_a_default_the_simulator_cannot_evaluate_is_its_own_error_not_a_guess():
    with pytest.raises(NotImplementedError, match="Get-Date"):
        psbind.parse("[CmdletBinding()]\nparam([string]$When = (Get-Date))\n")


# -- through the simulated win_powershell, with what the plugins send ---------------------------------


def _reads():
    host = hostmod.SimHost.create("sim01", "en", [])
    return [(script, parameters) for script, parameters, _answer in plugin_reads.all_reads(host)]


READS = _reads()


def test_every_cause_sends_its_read_and_windows_binds_it():
    tags = [scripts.SCRIPT_TAG.search(script).group(1) for script, _p in READS]
    assert sorted(tags) == sorted(t for t in TEXTS if t.endswith(".read") and t not in ("capture.read", "snapshot_status.dhcp_switch.read"))
    host = hostmod.SimHost.create("sim01", "en", [])
    for script, parameters in READS:
        assert not capture.run_read(host, script, parameters).get("failed"), script.split("\n", 1)[0]


@pytest.mark.parametrize("script,name", [(s, n) for s, p in READS for n in p],
                         ids=lambda v: v.split("\n", 1)[0].rsplit("/", 1)[-1] if "\n" in str(v) else str(v))
def test_a_parameter_renamed_in_the_script_fails_the_read_as_on_windows(script, name):
    renamed = re.sub(r"\$%s\b" % name, "$Renamed%s" % name, script)
    assert renamed != script
    host = hostmod.SimHost.create("sim01", "en", [])
    parameters = next(p for s, p in READS if s == script)
    answer = capture.run_read(host, renamed, parameters)
    assert answer["failed"] and answer["result"] == {}
    [record] = answer["error"]
    assert record["exception"]["message"] == "A parameter cannot be found that matches parameter name '%s'." % name
    assert record["fully_qualified_error_id"] == "NamedParameterNotFound"
    assert record["exception"]["type"] == "System.Management.Automation.ParameterBindingException"


def test_the_review_case_adedir_renamed_in_the_bitlocker_read():
    host = hostmod.SimHost.create("sim01", "en", ["ade-installed"])
    reads = plugin_reads.sent_reads(host, win_bitlocker)
    assert len(reads) == 1
    _script, parameters, answer = reads[0]
    assert not answer["failed"] and answer["result"]["ade_versions"]
    broken = win_bitlocker.READ.replace("$AdeDir", "$AdeFolder")
    answer = capture.run_read(host, broken, parameters)
    assert answer["failed"] and "matches parameter name 'AdeDir'" in answer["error"][0]["exception"]["message"]


def test_a_fix_script_refused_by_the_binder_never_runs_and_changes_nothing():
    host = hostmod.SimHost.create("sim01", "en", ["machinekeys-acl"])
    before = host.state["acls"][hostmod.MACHINEKEYS]
    args = {"script": win_machinekeys.RESET, "depth": 6,
            "parameters": {"Path": hostmod.MACHINEKEYS, "Dacl": "D:PAI(A;;FA;;;BA)", "BackupDir": "C:\\Backup", "TakeOwnership": "yes"}}
    answer = host.run_module("ansible.windows.win_powershell", args)
    assert answer["failed"] and answer["changed"]  # $Ansible.Changed keeps its default: the script never set it
    assert answer["error"][0]["fully_qualified_error_id"] == "ParameterArgumentTransformationError"
    assert host.state["acls"][hostmod.MACHINEKEYS] == before


def test_the_twin_receives_the_bound_parameters(monkeypatch):
    seen = []
    monkeypatch.setitem(scripts.SCRIPTS, "bitlocker.read", lambda host, p, *_script: seen.append(p) or {})
    host = hostmod.SimHost.create("sim01", "en", [])
    capture.run_read(host, win_bitlocker.READ, {"adedir": "C:\\ADE"})
    capture.run_read(host, win_bitlocker.READ, {})
    assert seen == [{"AdeDir": "C:\\ADE", "BekLabel": ""}, {"AdeDir": "", "BekLabel": ""}]
