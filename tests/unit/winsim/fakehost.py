"""A stand-in for the simulated Windows host (tests/winsim/host.py, written separately).

Same duck-typed interface: name, run_module(name, args) -> dict, put_file(path, data), log(entry).
``FakeHost.create(name, locale, faults, state_dir=...)`` is what `winsim up` calls; that copy
appends its log entries to <state_dir>/<name>.jsonl so a test can read them from outside.
"""

from __future__ import annotations

import json
import os
import threading

USER, PASSWORD = "ansible", "Passw0rd!"  # what the tests' WinRM servers accept


class FakeHost:
    def __init__(self, name: str = "win01", state_dir: str | None = None):
        self.name = name
        self.state_dir = state_dir
        self.calls: list[tuple[str, dict]] = []
        self.files: dict[str, bytes] = {}
        self.logs: list[dict] = []
        self.results: dict[str, dict] = {}  # module name -> canned result
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str, locale: str, faults: list, state_dir: str | None = None) -> "FakeHost":
        return cls(name, state_dir)

    def run_module(self, name: str, args: dict) -> dict:
        self.calls.append((name, args))
        if name in self.results:
            return dict(self.results[name])
        if args.get("name") == "broken":
            return {"failed": True, "changed": False, "msg": f"{self.name}: service broken cannot be started"}
        if args.get("raise"):
            raise RuntimeError("fake host exploded")
        if name == "ansible.windows.win_copy" and args.get("_copy_mode") == "query":
            # win_copy's action plugin asks which files need copying: all of them
            return {"changed": False, "files": args.get("files", []), "directories": [], "symlinks": []}
        if name == "ansible.windows.win_ping":
            return {"changed": False, "ping": args.get("data", "pong")}
        return {"changed": not args.get("_ansible_check_mode", False), "host": self.name, "module": name}

    def put_file(self, path: str, data: bytes) -> None:
        self.files[path] = data

    def log(self, entry: dict) -> None:
        with self._lock:
            self.logs.append(entry)
            if self.state_dir:
                with open(os.path.join(self.state_dir, f"{self.name}.jsonl"), "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
