"""The HTML report in a real browser: Debian's chromium, driven headless by Playwright (never a browser download).

1. A report the Windows integration run wrote (tests/unit/fixtures/report-windows-apply.json): the page loads
   without console errors, its counts are the JSON's, the status and cause filters hide what they should.
2. End to end: fix-backup.yml in check mode as two slices of an AWX job (awx_job_id, one workflow) on simulated
   Windows hosts, the report in German from AZURE_BACKUP_REPORT_LANGUAGE; then merge-reports.yml merges the
   slices; the slices' and the fleet's pages load in the browser.

Without chromium or Playwright the tests are skipped locally; in CI (CI=true) they fail instead, so CI cannot
pass without having run them (make test installs both: tests/fleet/install-packages, requirements-test.txt)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "report-windows-apply.json")
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
from azure import simulated_hosts  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_html import render_html  # noqa: E402

STATUSES = ("unreachable", "failed", "found", "fixed", "ok", "skipped")


def _missing():
    if not os.access(CHROMIUM, os.X_OK):
        return "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-test.txt)"
    return ""


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI must run the browser tests: %s" % missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, path):
    """(page, console errors): errors of the console and uncaught exceptions, and any request that left the file."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: errors.append("fetched " + request.url) if request.url != "file://" + str(path) else None)
    page.goto("file://" + str(path))
    page.wait_for_load_state("load")
    return page, errors


def visible(page, selector):
    return page.eval_on_selector_all(selector, "els => els.filter(e => e.offsetParent !== null).map(e => e.dataset)")


def test_the_page_shows_the_reports_counts_and_filters(browser, tmp_path):
    with open(FIXTURE, encoding="utf-8") as handle:
        report = json.load(handle)
    path = tmp_path / "report.html"
    path.write_text(render_html(report, "en"), encoding="utf-8")
    page, errors = open_page(browser, path)
    assert errors == []

    # Hosts by status, as the JSON's totals.
    for status in STATUSES:
        assert int(page.inner_text('[data-count-status="%s"] .n' % status)) == report["totals"][status], status
    # Causes by count: per cause, the hosts on which it came out so (its worst finding), counted here from the JSON.
    expected = {}
    for entry in report["hosts"].values():
        worst = {}
        for f in entry["findings"]:
            worst.setdefault(f["id"], set()).add(f["status"])
        for cause, seen in worst.items():
            status = next(s for s in STATUSES if s in seen)
            expected.setdefault(cause, dict.fromkeys(STATUSES, 0))[status] += 1
    shown = page.eval_on_selector_all("tr[data-cause-row]", """rows => Object.fromEntries(rows.map(r => [r.dataset.causeRow,
        Object.fromEntries([...r.querySelectorAll('td[data-count]')].map(td => [td.dataset.count, Number(td.textContent)]))]))""")
    assert shown == expected
    rows = sum(len(e["findings"]) + len(e["errors"]) for e in report["hosts"].values())
    assert int(page.inner_text("#shown-hosts")) == len(report["hosts"]) and int(page.inner_text("#shown-rows")) == rows

    # Status filter: only failed findings, only the hosts that have one.
    page.select_option("#filter-status", "failed")
    failed_hosts = {n for n, e in report["hosts"].items()
                    if any(f["status"] == "failed" for f in e["findings"]) or (e["errors"] and not e["unreachable"])}
    assert {d["host"] for d in visible(page, "section.host")} == failed_hosts and failed_hosts
    assert {d["status"] for d in visible(page, "tr.row")} == {"failed"}
    assert int(page.inner_text("#shown-hosts")) == len(failed_hosts)

    # Cause filter on top: failed WIN_AGENT only (win03), then found VSS_WRITERS only, then every status of VSS_WRITERS.
    page.select_option("#filter-cause", "WIN_AGENT")
    assert {(d["status"], d["cause"]) for d in visible(page, "tr.row")} == {("failed", "WIN_AGENT")}
    assert [d["host"] for d in visible(page, "section.host")] == ["win03"]
    page.select_option("#filter-cause", "VSS_WRITERS")
    assert visible(page, "tr.row") == [] and visible(page, "section.host") == []
    page.select_option("#filter-status", "found")
    assert {d["host"] for d in visible(page, "section.host")} == {"win02", "win03"}
    page.select_option("#filter-status", "")
    vss_hosts = {n for n, e in report["hosts"].items() if any(f["id"] == "VSS_WRITERS" for f in e["findings"])}
    assert {d["host"] for d in visible(page, "section.host")} == vss_hosts
    assert len(visible(page, "tr.row")) == sum(1 for e in report["hosts"].values() for f in e["findings"] if f["id"] == "VSS_WRITERS")

    # A status card is a filter too.
    page.select_option("#filter-cause", "")
    page.click('[data-filter-status="unreachable"]')
    assert [d["host"] for d in visible(page, "section.host")] == [n for n, e in report["hosts"].items() if e["unreachable"]]
    assert errors == []


HOSTS = {"win01": ("en", ["agent-stopped", "vss-writer-failed", "msdtc-stopped"]), "win02": ("de", ["vss-writer-failed"]), "win05": ("en", [])}


def ansible(tmp, play, *args, **env):
    environment = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), **env)
    return subprocess.run(["ansible-playbook", play, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=600, check=False)


def test_sliced_runs_write_json_html_junit_and_merge_into_a_fleet_page(browser, tmp_path):
    reports = tmp_path / "reports"
    with simulated_hosts(tmp_path, HOSTS) as inventory:
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
        # Two slices of one AWX job template: jobs 101 and 102 of workflow 100, each on its part of the inventory.
        for job, part in ((101, "win01:win05"), (102, "win02")):
            proc = ansible(tmp_path, "fix-backup.yml", "-i", str(tmp_path / "inventory.yml"), "-l", part, "--check", "-e", "network_timeout=2",
                           "-e", "log_bundle_when=never", "-e", json.dumps({"awx_job_id": job, "awx_workflow_job_id": 100}),
                           AZURE_BACKUP_REPORT_DIR=str(reports), AZURE_BACKUP_REPORT_LANGUAGE="de")
            stem = reports / ("azure-backup-report-job%d" % job)
            assert "Report: %s.json\n        %s.html\n        %s.xml\n" % (stem, stem, stem) in proc.stdout, proc.stdout + proc.stderr
            if job == 101:
                # Check mode fixes nothing: the host's line says what is open apart from what was fixed.
                assert re.search(r"^win01: found \(0 fixed, [3-9] open\)$", proc.stdout, re.MULTILINE), proc.stdout
    assert sorted(p.name for p in reports.iterdir()) == ["azure-backup-report-job%d.%s" % (j, s) for j in (101, 102) for s in ("html", "json", "xml")]
    one = json.loads((reports / "azure-backup-report-job101.json").read_text())
    assert sorted(one["hosts"]) == ["win01", "win05"] and one["awx_job_id"] == 101 and one["awx_workflow_job_id"] == 100
    assert one["language"] == "de" and one["check_mode"] is True
    # Check mode fixes nothing: win01's problems are all open, and its line says so.
    win01 = one["hosts"]["win01"]
    assert win01["fixed"] == 0 and win01["open"] >= 3
    cases = ET.parse(reports / "azure-backup-report-job101.xml").getroot().findall("./testsuite/testcase")
    assert {c.get("name") for c in cases if c.get("classname") == "win01" and c.find("failure") is not None} >= {"WIN_AGENT", "VSS_WRITERS", "COM_MSDTC"}
    assert {c.find("failure").get("type") for c in cases if c.find("failure") is not None} == {"found-check-mode"}

    page, errors = open_page(browser, reports / "azure-backup-report-job101.html")
    assert page.get_attribute("html", "lang") == "de" and "Die Flotte auf einen Blick" in page.inner_text("body")
    assert errors == []

    # The node after the slices: merge-reports.yml, named by the workflow.
    fleet = tmp_path / "fleet"
    proc = ansible(tmp_path, "merge-reports.yml", "-e", json.dumps({"azure_backup_merge_src": [str(reports)], "azure_backup_merge_dest": str(fleet),
                                                                   "awx_workflow_job_id": 100}), AZURE_BACKUP_REPORT_DIR=str(reports))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = json.loads((fleet / "azure-backup-fleet-workflow100.json").read_text())
    assert sorted(merged["hosts"]) == sorted(HOSTS) and merged["merged"]["replaced"] == []
    assert sum(merged["totals"].values()) == 3 and merged["totals"]["ok"] == 1
    # The merge's own run writes no report of its own (localhost is no VM).
    assert len(list(reports.iterdir())) == 6
    page, errors = open_page(browser, fleet / "azure-backup-fleet-workflow100.html")
    assert int(page.inner_text('[data-count-status="ok"] .n')) == 1 and int(page.inner_text("#shown-hosts")) == 3
    assert errors == []
