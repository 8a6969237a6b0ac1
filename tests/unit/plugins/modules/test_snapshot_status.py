from __future__ import annotations

import pytest

from ansible_collections.azure_backup.remediation.plugins.modules import snapshot_status

PARAMS = {"sample_seconds": 2, "cpu_threshold": 90, "memory_threshold": 90}


@pytest.fixture
def proc(monkeypatch):
    """A VM's /proc as the test sets it: two /proc/stat readings, meminfo, PSI."""
    files = {"/proc/meminfo": "MemTotal: 1048576 kB\nMemAvailable: 52428 kB\n",
             "/proc/pressure/memory": "some avg10=31.00 avg60=1 avg300=1 total=1\n"}
    stats = iter(["cpu  100 0 0 900 0\n", "cpu  196 0 0 904 0\n"])

    def read(path):
        return next(stats) if path == "/proc/stat" else files[path]

    monkeypatch.setattr(snapshot_status, "read", read)
    monkeypatch.setattr(snapshot_status.time, "sleep", lambda s: None)
    return files


def test_busy_vm_is_reported_with_figures(proc):
    cpu, mem = snapshot_status.load_findings(PARAMS)
    assert cpu["status"] == "found" and cpu["detail"]["busy_percent"] == 96.0
    assert cpu["summary"] == "CPU 96.0 % busy over 2 s: above 90 %, snapshots may time out"
    assert mem["status"] == "found" and mem["detail"]["psi_some_avg10"] == 31.0
    assert mem["summary"].startswith("memory 95.0 % used (51 of 1024 MiB available)")


def test_sampling_window_is_bounded(proc):
    cpu, _mem = snapshot_status.load_findings(dict(PARAMS, sample_seconds=600))
    assert cpu["detail"]["seconds"] == 10
