# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark aid, not shipped: wall time of every task (from its start to the next task's start,
so it includes waiting for the slowest host), written as JSON to $BENCH_TASK_TIMES at the end."""

from __future__ import annotations

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Writes each task's wall time to a JSON file (bench/fleet-bench)
description:
  - Benchmark aid of bench/fleet-bench. Not part of the collection.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}
        self.current, self.started = None, time.monotonic()

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
