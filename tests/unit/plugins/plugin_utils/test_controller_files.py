"""Files on the controller: a new report never replaces another run's."""
from __future__ import annotations

import os
import stat
import threading

from ansible_collections.azure_backup.remediation.plugins.plugin_utils._controller_files import write_new


def test_two_runs_in_the_same_second_keep_both_reports(tmp_path):
    first = write_new(str(tmp_path), "azure-backup-report-20261202T120000", ".json", b"first")
    second = write_new(str(tmp_path), "azure-backup-report-20261202T120000", ".json", b"second")
    assert os.path.basename(first) == "azure-backup-report-20261202T120000.json"
    assert os.path.basename(second) == "azure-backup-report-20261202T120000-2.json"
    assert open(first, "rb").read() == b"first" and open(second, "rb").read() == b"second"
    assert set(os.listdir(tmp_path)) == {os.path.basename(first), os.path.basename(second)}  # no temp file left
    assert stat.S_IMODE(os.stat(second).st_mode) == 0o600


def test_writers_at_the_same_time_each_get_a_name_of_their_own(tmp_path):
    paths, errors = [], []

    def write(number):
        try:
            paths.append(write_new(str(tmp_path), "report", ".json", b"run %d" % number))
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(paths)) == 20
    assert sorted(open(p, "rb").read() for p in paths) == sorted(b"run %d" % n for n in range(20))
