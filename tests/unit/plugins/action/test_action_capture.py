"""The capture switch of the Windows action plugins and win_capture, with recorded answers: each read is kept
on the controller (failed ones too), nothing runs outside check mode, and win_capture joins the reads into one file."""
from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import win_capture, win_com_msdtc
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import capture

with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml"), encoding="utf-8") as _galaxy:
    GALAXY_VERSION = yaml.safe_load(_galaxy)["version"]

SERVICES = [{"name": "COMSysApp", "exists": True, "state": "Stopped", "start_mode": "Manual"},
            {"name": "MSDTC", "exists": True, "state": "Running", "start_mode": "Auto"}]


def action(module, answers, check_mode=True, task_args=None):
    task = MagicMock(Task)
    task.args = task_args or {}
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value: value
    plugin = module.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=templar, shared_loader_obj=None)
    plugin._execute_module = MagicMock(side_effect=list(answers))
    return plugin


def capture_vars(tmp_path):
    return {"inventory_hostname": "win01", "azure_backup_capture": True, "azure_backup_capture_dir": str(tmp_path)}


def parts(tmp_path):
    folder = tmp_path / ".win01.json.parts"
    return {name: json.loads((folder / name).read_text()) for name in sorted(os.listdir(folder))} if folder.is_dir() else {}


def test_with_the_switch_each_read_is_kept_with_its_parameters_and_answer(tmp_path):
    plugin = action(win_com_msdtc, [{"changed": False, "result": {"services": SERVICES}}])
    result = plugin.run(task_vars=capture_vars(tmp_path))
    assert result["changed"] and [f["status"] for f in result["findings"]] == ["found", "ok"]  # check mode: nothing started
    [call] = plugin._execute_module.call_args_list
    assert call.kwargs["module_name"] == "ansible.windows.win_powershell"
    assert parts(tmp_path) == {"000-COM_MSDTC.json": [{
        "cause": "COM_MSDTC", "tag": "com_msdtc.read", "purpose": "the COM+ and MSDTC services",
        "script_sha256": capture.script_hash(win_com_msdtc.READ), "parameters": {"Services": ["COMSysApp", "MSDTC"]},
        "failed": False, "result": {"services": SERVICES}, "error": []}]}


def test_without_the_switch_nothing_is_kept(tmp_path):
    plugin = action(win_com_msdtc, [{"changed": False, "result": {"services": SERVICES}}])
    plugin.run(task_vars=dict(capture_vars(tmp_path), azure_backup_capture=False))
    assert os.listdir(tmp_path) == []


def test_a_failed_read_is_kept_too(tmp_path):
    plugin = action(win_com_msdtc, [{"failed": True, "error": [{"exception": {"message": "Access is denied."}}]}])
    result = plugin.run(task_vars=capture_vars(tmp_path))
    assert result["failed"] and "Access is denied." in result["msg"]
    [entry] = parts(tmp_path)["000-COM_MSDTC.json"]
    assert entry["failed"] and entry["result"] is None and entry["error"] == ["Access is denied."]


def test_the_switch_refuses_to_run_outside_check_mode(tmp_path):
    plugin = action(win_com_msdtc, [], check_mode=False)
    result = plugin.run(task_vars=capture_vars(tmp_path))
    assert result["failed"] and "not in check mode" in result["msg"] and "Nothing was read or changed" in result["msg"]
    assert not plugin._execute_module.called and os.listdir(tmp_path) == []


def test_win_capture_joins_the_reads_and_the_environment_into_one_file(tmp_path):
    action(win_capture, [], task_args={"step": "begin"}).run(task_vars=capture_vars(tmp_path))
    for answer in ({"result": {"services": SERVICES}}, {"failed": True, "error": ["boom"]}):
        action(win_com_msdtc, [answer]).run(task_vars=capture_vars(tmp_path))
    environment = {"ps_version": "5.1.17763.1", "os_build": "17763", "ui_culture": "de-DE", "oem_code_page": "850"}
    plugin = action(win_capture, [{"changed": False, "result": environment}], task_args={"step": "finish"})
    result = plugin.run(task_vars=capture_vars(tmp_path))
    assert not result.get("failed") and not result["changed"], result
    assert result["path"] == str(tmp_path / "win01.json") and result["reads"] == 3 and result["failed_reads"] == ["com_msdtc.read"]
    doc = json.loads((tmp_path / "win01.json").read_text())
    assert capture.check_document(doc) == [] and doc["host"] == "win01" and doc["collection_version"] == GALAXY_VERSION
    assert doc["environment"]["result"] == environment and doc["environment"]["tag"] == "capture.read"
    assert [(r["tag"], r["failed"]) for r in doc["reads"]] == [("com_msdtc.read", False), ("com_msdtc.read", True)]
    assert doc["scripts"] == {"com_msdtc.read": [capture.script_hash(win_com_msdtc.READ)],
                              "capture.read": [capture.script_hash(win_capture.ENVIRONMENT)]}
    assert sorted(os.listdir(tmp_path)) == ["win01.json"]  # the parts are gone
    assert oct(os.stat(tmp_path / "win01.json").st_mode & 0o777) == "0o600"


def test_win_capture_begin_drops_what_an_interrupted_capture_left(tmp_path):
    action(win_com_msdtc, [{"result": {"services": SERVICES}}]).run(task_vars=capture_vars(tmp_path))
    action(win_capture, [], task_args={"step": "begin"}).run(task_vars=capture_vars(tmp_path))
    action(win_capture, [{"result": {}}]).run(task_vars=capture_vars(tmp_path))
    assert json.loads((tmp_path / "win01.json").read_text())["reads"] == []


def test_win_capture_needs_the_switch(tmp_path):
    plugin = action(win_capture, [])
    result = plugin.run(task_vars={"inventory_hostname": "win01"})
    assert result["failed"] and "azure_backup_capture is not on" in result["msg"] and not plugin._execute_module.called


def test_a_failed_environment_read_is_written_as_failed(tmp_path):
    plugin = action(win_capture, [{"failed": True, "error": [{"exception": {"message": "Access is denied."}}]}])
    result = plugin.run(task_vars=capture_vars(tmp_path))
    assert not result.get("failed") and result["failed_reads"] == ["capture.read"]
    environment = json.loads((tmp_path / "win01.json").read_text())["environment"]
    assert environment["failed"] and environment["error"] == ["Access is denied."]
