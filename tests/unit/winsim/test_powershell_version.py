"""A host with PowerShell below 5.1, as Windows and ansible-core make it behave: every module payload
is refused by ansible-core's own bootstrap wrapper, a raw command still runs."""

from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script
from ansible.plugins.loader import shell_loader

import dispatch
import host as hostmod
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows.driver import POWERSHELL_VERSION

SHELL = shell_loader.get("powershell")
BOOTSTRAP = "bootstrap_wrapper.ps1"


def raw(script):
    parts = SHELL._encode_script(script, as_list=True, strict_mode=False, preserve_rc=False)
    return parts[0], " ".join(parts[1:])


def module_call(host):
    script, stdin = _bootstrap_powershell_script("powershell_mkdtemp.ps1", {"Directory": "%TEMP%", "Name": "ansible-tmp-1"})
    return dispatch.execute(host, *raw(script), stdin, user="ansible")


def test_the_simulator_refuses_with_the_words_of_ansible_cores_bootstrap_wrapper():
    # The refusal the simulator gives must be the one ansible-core really sends on PowerShell < 5.1.
    import ansible.executor.powershell as ps
    import os
    with open(os.path.join(os.path.dirname(ps.__file__), BOOTSTRAP), encoding="utf-8") as handle:
        wrapper = handle.read()
    assert '$PSVersionTable.PSVersion -lt [Version]"5.1"' in wrapper
    assert "'{\"failed\":true,\"msg\":\"Ansible requires PowerShell v5.1\"}'" in wrapper

    old = hostmod.SimHost.create("win14", faults=["powershell-4"])
    out = module_call(old)
    assert (out.rc, out.stdout.strip()) == (1, b'{"failed":true,"msg":"Ansible requires PowerShell v5.1"}')
    assert module_call(hostmod.SimHost.create("win05")).rc == 0


def test_a_raw_command_answers_on_any_powershell():
    for faults, expected in (([], "5.1.17763.592|10.0.17763.0"), (["powershell-4"], "4.0|6.3.9600.0")):
        out = dispatch.execute(hostmod.SimHost.create("w", faults=faults), *raw(POWERSHELL_VERSION), b"")
        assert (out.rc, out.stdout.decode().strip(), out.log["kind"]) == (0, expected, "raw")


def test_an_untagged_raw_command_is_still_refused():
    out = dispatch.execute(hostmod.SimHost.create("w"), *raw("Get-Service winrm"), b"")
    assert out.rc == 1 and b"raw commands are not supported" in out.stderr
