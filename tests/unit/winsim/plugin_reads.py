"""What the Windows action plugins send, taken from the plugins themselves: each runs in check mode
against a simulated host, its _execute_module answered by the simulator and recorded. Tests that
need "the read as the plugin sends it" use this instead of parameters written by hand, so a plugin
that changes what it sends changes the tests' input with it."""

from __future__ import annotations

import copy
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_agent, win_backup_extension, win_bitlocker, win_com_msdtc, win_disk_limits, win_machinekeys, win_network, win_shadow_storage,
    win_snapshot_status, win_vss_writers)
from ansible_collections.azure_backup.remediation.plugins.action import (
    win_mars_antivirus, win_mars_connectivity, win_mars_powershell, win_mars_prereqs, win_mars_restore_mount, win_mars_scratch,
    win_mars_schedule, win_mars_service, win_mars_temp_files, win_mars_version)

# Every Windows cause's action plugin, in fix-backup.yml's order; win_capture only adds the environment read.
CAUSES = (win_agent, win_vss_writers, win_machinekeys, win_snapshot_status, win_backup_extension, win_com_msdtc, win_bitlocker,
          win_disk_limits, win_network, win_shadow_storage)
# The MARS causes (their reads run on a host without the agent too; the host read is what skips them there).
CAUSES += (win_mars_service, win_mars_version, win_mars_connectivity, win_mars_scratch, win_mars_temp_files, win_mars_schedule,
           win_mars_powershell, win_mars_antivirus, win_mars_prereqs, win_mars_restore_mount)


def _plugin(module, task_args: dict, execute):
    task = MagicMock(Task)
    task.args = dict(task_args)
    task.async_val = 0
    task.check_mode = True
    task.diff = False
    task.get_search_path.return_value = []
    templar = MagicMock(Templar)
    templar.template.side_effect = lambda value, *a, **kw: value
    plugin = module.ActionModule(task, MagicMock(), MagicMock(), loader=DataLoader(), templar=templar, shared_loader_obj=None)
    plugin._execute_module = execute  # pylint: disable=protected-access
    plugin._connection = MagicMock()  # pylint: disable=protected-access
    return plugin


def sent_reads(host, module, task_args: dict | None = None) -> list[tuple[str, dict, dict]]:
    """(script, parameters, answer) of each win_powershell the plugin ``module`` sends to ``host`` in check mode."""
    sent = []

    def execute(module_name, module_args, task_vars=None):  # pylint: disable=unused-argument
        answer = host.run_module(module_name, dict(module_args, _ansible_check_mode=True))
        if module_name.endswith("win_powershell"):
            # A copy: a plugin may change the answer it got afterwards; this is the answer as it came.
            sent.append((module_args["script"], copy.deepcopy(dict(module_args.get("parameters") or {})), copy.deepcopy(answer)))
        return answer

    _plugin(module, task_args or {}, execute).run(task_vars={"inventory_hostname": host.name})
    return sent


def all_reads(host) -> list[tuple[str, dict, dict]]:
    """Every read every Windows cause sends to ``host`` in check mode."""
    return [read for module in CAUSES for read in sent_reads(host, module)]
