"""Make the checkout importable as ansible_collections.azure_backup.remediation
when pytest runs straight from the repository (ansible-test sets this up itself)."""

import json
import os
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

_COLLECTIONS = os.path.join(os.path.dirname(__file__), "..", "..", ".collections")
if os.path.isdir(_COLLECTIONS):
    sys.path.insert(0, os.path.abspath(_COLLECTIONS))


class ModuleExit(Exception):
    """Raised instead of exiting the process when a module calls exit_json or fail_json."""


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's main() with arguments through the core harness; return its result,
    with failed=True/False, after checking that it serialises as a module result must."""

    def run(main, args, check_mode=False, diff=False):
        results = {}

        def exit_json(self, **kw):
            results.update(kw, failed=False)
            raise ModuleExit()

        def fail_json(self, **kw):
            results.update(kw, failed=True)
            raise ModuleExit()

        monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
        with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)), pytest.raises(ModuleExit):
            main()
        json.dumps(results)
        return results

    return run
