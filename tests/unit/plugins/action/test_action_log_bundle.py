"""The action plugin with the module's round trip replaced by a recorded answer."""
from __future__ import annotations

import base64
import os
import stat
from unittest.mock import MagicMock

from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action.log_bundle import ActionModule

FAILED = [{"id": "NETWORK", "check": "wireserver", "status": "found", "severity": "critical"}]


def action(task_args, answer):
    task = MagicMock(Task)
    task.args = task_args
    task.async_val = 0
    task.check_mode = False
    plugin = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=MagicMock(Templar), shared_loader_obj=None)
    plugin._execute_module = MagicMock(return_value=answer)
    return plugin


def test_writes_the_archive_on_the_controller_readable_by_its_owner_only(tmp_path):
    answer = {"changed": False, "reasons": ["NETWORK/wireserver: found"], "files": [], "archive": base64.b64encode(b"tgz").decode()}
    plugin = action({"dest": str(tmp_path / "bundles"), "findings": FAILED}, answer)
    result = plugin.run(task_vars={"inventory_hostname": "vm01"})
    assert not result.get("failed") and not result["changed"]
    assert os.path.basename(result["path"]).startswith("vm01-") and result["path"].endswith(".tar.gz")
    with open(result["path"], "rb") as handle:
        assert handle.read() == b"tgz"
    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o600
    assert "archive" not in result


def test_a_healthy_host_costs_no_round_trip(tmp_path):
    plugin = action({"dest": str(tmp_path), "findings": [dict(FAILED[0], status="ok", severity="info")]}, {})
    result = plugin.run(task_vars={"inventory_hostname": "vm01"})
    assert result["skipped"] and not plugin._execute_module.called
    assert os.listdir(tmp_path) == []


def test_a_wrong_size_fails_before_the_round_trip(tmp_path):
    plugin = action({"dest": str(tmp_path), "findings": FAILED, "max_size": "20 bananas"}, {})
    result = plugin.run(task_vars={"inventory_hostname": "vm01"})
    assert result["failed"] and "log_bundle_max_size" in result["msg"] and not plugin._execute_module.called


def test_a_module_failure_is_passed_on(tmp_path):
    plugin = action({"dest": str(tmp_path), "findings": FAILED}, {"failed": True, "msg": "permission denied"})
    result = plugin.run(task_vars={"inventory_hostname": "vm01"})
    assert result["failed"] and result["msg"] == "permission denied"
    assert os.listdir(tmp_path) == []


def test_an_unwritable_folder_names_the_variable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    answer = {"reasons": ["x"], "files": [], "archive": base64.b64encode(b"tgz").decode()}
    result = action({"dest": str(blocker / "sub"), "findings": FAILED}, answer).run(task_vars={"inventory_hostname": "vm01"})
    assert result["failed"] and "log_bundle_dir" in result["msg"]
