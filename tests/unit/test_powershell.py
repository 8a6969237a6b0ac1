"""Every PowerShell script the collection sends to Windows, checked with a real PowerShell grammar
(tree-sitter-powershell), and held to the rules win_powershell imposes on it."""

import glob
import importlib
import os
import re
import sys

import pytest
# Never skipped: requirements-test.txt installs both, and a skipped syntax check proves nothing.
import tree_sitter
import tree_sitter_powershell

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
import modules as winsim_modules  # noqa: E402  (the simulator's win_powershell, under tests/winsim)
import scripts as twins  # noqa: E402

TAG = re.compile(r"^#azure_backup\.remediation/([\w.-]+)\n")
# Cmdlets that honour -WhatIf: in check mode win_powershell runs a read script with -WhatIf, which they
# inherit, so a read script must switch it off where it calls one (or it silently reads nothing).
SHOULD_PROCESS_CMDLETS = re.compile(r"\b(Invoke-CimMethod|Set-\w+|New-\w+|Remove-\w+|Start-\w+|Stop-\w+|Restart-\w+|"
                                    r"Enable-\w+|Disable-\w+|Clear-\w+)\b")


def _scripts():
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "action", "win_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        module = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.action." + name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and "#azure_backup.remediation/" in value:
                found.append(pytest.param(value, id="%s.%s" % (name, attr)))
    # The detached runner's scripts, shared by the action plugins that run a step as a scheduled task.
    module = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.detached")
    for attr in ("REGISTER", "BOOTSTRAP", "READ"):
        found.append(pytest.param(getattr(module, attr), id="windows.detached.%s" % attr))
    # The host read (every cause's first read in one run) and the run lock.
    for name, attrs in (("causes", ("HOST_READ",)), ("lock", ("ACQUIRE", "RELEASE")), ("log_bundle", ("READ",))):
        module = importlib.import_module("ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows." + name)
        for attr in attrs:
            found.append(pytest.param(getattr(module, attr), id="windows.%s.%s" % (name, attr)))
    return found


SCRIPTS = _scripts()


def _errors(node, out):
    if node.type == "ERROR" or node.is_missing:
        out.append("line %d: %s" % (node.start_point[0] + 1, "missing " + node.type if node.is_missing else node.text[:60]))
    for child in node.children:
        _errors(child, out)
    return out


def test_every_windows_cause_sends_scripts():
    assert len(SCRIPTS) >= 12


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_parses_as_powershell(script):
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode("utf-8"))
    assert not tree.root_node.has_error, _errors(tree.root_node, [])


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_is_tagged_and_has_a_twin(script):
    tag = TAG.match(script)
    assert tag, "the first line must be #azure_backup.remediation/<tag>"
    assert tag.group(1) in twins.SCRIPTS, "tests/winsim/scripts.py has no twin for %s" % tag.group(1)


@pytest.mark.parametrize("script", SCRIPTS)
def test_read_scripts_run_in_check_mode_and_fixes_do_not(script):
    tag = TAG.match(script).group(1)
    reads = tag.endswith(".read")
    # win_powershell runs a script in check mode only when it declares SupportsShouldProcess.
    assert winsim_modules.supports_should_process(script) == reads
    assert ("$Ansible.Changed = $false" in script) == reads


def test_tags_are_unique():
    tags = [TAG.match(p.values[0]).group(1) for p in SCRIPTS]
    assert len(tags) == len(set(tags))


def test_the_grammar_catches_broken_powershell():
    # Guards the test above: a grammar that accepted anything would pass every script.
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    for broken in (b"if ($a) { 1 ", b"function f {", b"$x = @{ a = 1", b"'unclosed"):
        assert parser.parse(broken).root_node.has_error, broken


@pytest.mark.parametrize("script", [s for s in SCRIPTS if TAG.match(s.values[0]).group(1).endswith(".read")])
def test_read_scripts_switch_whatif_off_where_a_cmdlet_honours_it(script):
    for line in script.splitlines():
        if SHOULD_PROCESS_CMDLETS.search(line.split("#", 1)[0]):
            assert "-WhatIf:$false" in line, line
