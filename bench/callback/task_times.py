# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark aid, not shipped: wall time of every task (from its start to the next task's start,
so it includes waiting for the slowest host), written as JSON to $BENCH_TASK_TIMES at the end;
and per host the tasks that ran on the controller only (their action executes nothing on the VM; an
include counts once per host, as its result does) and the tasks that ran on the VM,
written to $BENCH_HOST_TASKS."""

from __future__ import annotations

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Writes each task's wall time to a JSON file (bench/fleet-bench)
description:
  - Benchmark aid of bench/fleet-bench. Not part of the collection.
"""

import collections
import json
import os
import time

from ansible.plugins.callback import CallbackBase


# Actions that run on the controller alone: no module is sent to the host.
CONTROLLER_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("set_fact", "group_by", "debug", "fail", "assert", "meta", "validate_argument_spec", "set_stats",
                 "add_host", "include_tasks", "include_role", "import_tasks", "import_role", "include_vars", "pause")
)


def runs_on_controller(task) -> bool:
    # The collection's own controller-only tasks: the settings check (remediate, validate_only) and fleet_stats.
    return (task.action in CONTROLLER_ACTIONS or task.action == "azure_backup.remediation.fleet_stats"
            or (task.action == "azure_backup.remediation.remediate" and task.args.get("validate_only") is True))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}
        self.current, self.started = None, time.monotonic()
        # kind -> host -> count; kind: controller, module, skipped
        self.per_host: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def _count(self, result, skipped=False) -> None:
        if skipped:
            kind = "skipped"
        else:
            kind = "controller" if runs_on_controller(result._task) else "module"
        self.per_host[kind][result._host.get_name()] += 1

    def v2_runner_on_ok(self, result) -> None:
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._count(result)

    def v2_runner_on_skipped(self, result) -> None:
        self._count(result, skipped=True)

    def v2_runner_on_unreachable(self, result) -> None:
        self._count(result)

    def _next(self, name) -> None:
        now = time.monotonic()
        if self.current is not None:
            self.times[self.current] = self.times.get(self.current, 0.0) + now - self.started
        self.current, self.started = name, now

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._next(task.get_name())

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._next("handler: " + task.get_name())

    def v2_playbook_on_stats(self, stats) -> None:
        self._next(None)
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump(self.times, handle, indent=1)
        path = os.environ.get("BENCH_HOST_TASKS")
        if path:
            with open(path, "w") as handle:
                json.dump({kind: dict(hosts) for kind, hosts in self.per_host.items()}, handle, indent=1)
