"""The HTML report in a real browser: Debian's chromium, driven headless by Playwright (never a browser download).

1. A report the Windows integration run wrote (tests/unit/fixtures/report-windows-apply.json): the page loads
   without console errors, its counts are the JSON's, the status and cause filters hide what they should.
2. End to end: fix-backup.yml in check mode as two slices of an AWX job (awx_job_id, one workflow) on simulated
   Windows hosts, the report in German from AZURE_BACKUP_REPORT_LANGUAGE; then merge-reports.yml merges the
   slices; the slices' and the fleet's pages load in the browser.

Without chromium or Playwright the tests are skipped locally; under tests/run (make test, CI), which sets
AZURE_BACKUP_REQUIRE_BROWSER=1, and wherever CI=true they fail instead, so CI cannot pass without having run them
(make test installs both: tests/fleet/install-packages, requirements-test.txt)."""

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
REQUIRE = ("AZURE_BACKUP_REQUIRE_BROWSER", "CI")
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, os.path.join(ROOT, "tests", "winsim"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
from azure import simulated_hosts  # noqa: E402
from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue  # noqa: E402
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


def required() -> bool:
    """tests/run exports AZURE_BACKUP_REQUIRE_BROWSER=1; CI systems set CI=true."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes") for name in REQUIRE)


def guard(missing: str) -> None:
    if missing:
        if required():
            pytest.fail("CI must run the browser tests: %s" % missing)
        pytest.skip(missing)


def test_tests_run_makes_a_missing_browser_a_failure(monkeypatch):
    with open(os.path.join(ROOT, "tests", "run"), encoding="utf-8") as handle:
        stage = handle.read().split("integration() {")[1].split("\n}")[0]
    assert "AZURE_BACKUP_REQUIRE_BROWSER=1 python -m pytest tests/integration" in stage
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("AZURE_BACKUP_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests: no chromium"):
        guard("no chromium")
    monkeypatch.delenv("AZURE_BACKUP_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception):
        guard("no chromium")


@pytest.fixture(scope="module")
def browser():
    guard(_missing())
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, path, width=1280):
    """(page, console errors): errors of the console and uncaught exceptions, any request that left the file, and any
    dialog (alert, confirm) a script opened."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []

    def dialog(box):
        errors.append("dialog: " + box.message)
        box.dismiss()
    page.on("dialog", dialog)
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
    # Causes by count: per cause, the hosts on which it came out so (its worst finding), counted here from the JSON;
    # a host's task errors are rows of cause HOST (unreachable or failed).
    expected = {}
    for entry in report["hosts"].values():
        worst = {}
        for f in entry["findings"]:
            worst.setdefault(f["id"], set()).add(f["status"])
        if entry["errors"]:
            worst.setdefault("HOST", set()).add("unreachable" if entry["unreachable"] else "failed")
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

    # A status card is a filter of hosts, as it counts them: each shows its number of hosts, with all their rows.
    page.select_option("#filter-cause", "")
    for status in STATUSES:
        page.click('[data-filter-status="%s"]' % status)
        shown = [d["host"] for d in visible(page, "section.host")]
        assert len(shown) == int(page.inner_text('[data-count-status="%s"] .n' % status)) == report["totals"][status], status
        assert set(shown) == {n for n, e in report["hosts"].items() if e["status"] == status}, status
        assert int(page.inner_text("#shown-hosts")) == len(shown)
        assert page.get_attribute('[data-filter-status="%s"]' % status, "aria-pressed") == "true"
        # Every row of those hosts is there (their ok rows in the closed block).
        rows = page.eval_on_selector_all("section.host:not(.hidden) tr.row", "rows => rows.filter(r => !r.classList.contains('hidden')).length")
        assert rows == sum(len(report["hosts"][n]["findings"]) + len(report["hosts"][n]["errors"]) or 1 for n in shown), status
    # The same card again shows every host; a drop-down leaves the card's filter.
    page.click('[data-filter-status="skipped"]')
    assert len(visible(page, "section.host")) == len(report["hosts"])
    page.click('[data-filter-status="fixed"]')
    page.select_option("#filter-status", "failed")
    assert {d["host"] for d in visible(page, "section.host")} == failed_hosts

    # A cause in the table is a button: it sets the cause filter and brings the filter bar into view, not the page top.
    page.select_option("#filter-status", "")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.click('#causes [data-filter-cause="BITLOCKER"]')
    assert page.input_value("#filter-cause") == "BITLOCKER"
    assert page.evaluate("Math.abs(document.querySelector('.filters').getBoundingClientRect().top)") < 5
    assert page.evaluate("window.scrollY") > 0
    bitlocker = {d["status"] for d in visible(page, "tr.row")}
    assert bitlocker == {f["status"] for e in report["hosts"].values() for f in e["findings"] if f["id"] == "BITLOCKER"}
    assert errors == []


def test_the_remedy_column_says_what_to_do_and_links_the_article(browser, tmp_path):
    with open(FIXTURE, encoding="utf-8") as handle:
        report = json.load(handle)
    path = tmp_path / "report.html"
    path.write_text(render_html(report, "en"), encoding="utf-8")
    page, errors = open_page(browser, path)
    cells = page.eval_on_selector_all("#host-win02 tr.row", """rows => rows.map(r => [r.dataset.status, r.dataset.cause,
        r.cells[4].textContent.trim(), [...r.cells[4].querySelectorAll('a')].map(a => a.href)])""")
    [vss] = {tuple(map(str, c[:3])): c for c in cells if c[0] == "found" and c[1] == "VSS_WRITERS"}.values()
    text = catalogue.cause_text("VSS_WRITERS", "en")
    assert text["remedy"] in vss[2] and vss[3] == [text["doc"]]
    # An ok row needs nothing.
    assert all(c[2] == "" for c in cells if c[0] == "ok")
    assert errors == []


def german_report():
    """The fixture as a run with -e azure_backup_error: win02 diagnosed, one code of the control plane."""
    with open(FIXTURE, encoding="utf-8") as handle:
        report = json.load(handle)
    codes = ["UserErrorGuestAgentStatusUnavailable", "UserErrorRpCollectionLimitReached"]
    report["diagnosis"] = {"codes": codes}
    report["hosts"]["win02"]["diagnosis"] = {"codes": codes, "causes": ["WIN_AGENT", "SNAPSHOT_STATUS", "NETWORK"],
                                             "not_here": ["LINUX_AGENT", "RP_LOCK"], "control_plane": ["UserErrorRpCollectionLimitReached"]}
    return report


def test_the_german_page_is_german_down_to_articles_messages_and_remedies(browser, tmp_path):
    path = tmp_path / "bericht.html"
    path.write_text(render_html(german_report(), "de"), encoding="utf-8")
    page, errors = open_page(browser, path)
    assert page.get_attribute("html", "lang") == "de"
    articles = page.eval_on_selector_all("a[href*='learn.microsoft.com']", "links => links.map(a => a.href)")
    assert articles and all("learn.microsoft.com/de-de/" in a for a in articles)
    diagnosis = page.inner_text("#diagnosis")
    for code in ("UserErrorGuestAgentStatusUnavailable", "UserErrorRpCollectionLimitReached"):
        assert catalogue.ERROR_CODES[code]["message_de"] in diagnosis and catalogue.ERROR_CODES[code]["message"] not in diagnosis
    # textContent: a host far down the page is not laid out (content-visibility), so it has no innerText yet.
    azure = page.text_content("#host-win02 .diagnosis")
    assert catalogue.cause_text("RP_LOCK", "de")["remedy"] in azure
    assert page.eval_on_selector_all("#host-win02 ol.tried li code", "c => c.map(x => x.textContent)") == ["WIN_AGENT", "SNAPSHOT_STATUS", "NETWORK"]
    remedy = page.eval_on_selector("#host-win02 tr.row[data-status='found'][data-cause='VSS_WRITERS']", "r => r.cells[4].textContent")
    assert catalogue.cause_text("VSS_WRITERS", "de")["remedy"] in remedy and "Artikel" in remedy
    assert errors == []


@pytest.mark.parametrize("width", [360, 768, 1024])
@pytest.mark.parametrize("language", ["en", "de"])
def test_the_page_never_scrolls_sideways(browser, tmp_path, language, width):
    path = tmp_path / "report.html"
    path.write_text(render_html(german_report(), language), encoding="utf-8")
    page, errors = open_page(browser, path, width=width)
    # With the ok blocks open too: the widest the page gets.
    page.select_option("#filter-cause", "WIN_AGENT")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    page.select_option("#filter-cause", "")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    assert errors == []


def test_hostile_text_from_hosts_runs_nothing(browser, tmp_path):
    evil = '<img src=x onerror=alert(1)><script>alert(2)</script>"\'><svg onload=alert(3)>'
    finding = {"id": "NETWORK", "check": evil, "host": evil, "status": "found", "severity": "warning", "summary": evil,
               "detail": {"x": evil}, "doc": "javascript:alert(4)"}
    host = {"findings": [finding, dict(finding, id=evil, status="ok")], "errors": [{"task": evil, "msg": evil}], "unreachable": False,
            "status": "failed", "log_bundle": evil + ".tar.gz", "source": evil,
            "diagnosis": {"codes": [evil], "causes": [evil], "not_here": [evil], "control_plane": [evil]}}
    report = {"playbook": evil, "started": evil, "finished": evil, "check_mode": evil, "awx_job_id": evil, "diagnosis": {"codes": [evil]},
              "totals": {"failed": 1}, "hosts": {evil: host},
              "merged": {"sources": [{"file": evil, "started": evil, "hosts": [evil]}], "replaced": [{"host": evil, "kept": evil, "dropped": evil}]}}
    path = tmp_path / "hostile.html"
    path.write_text(render_html(report, "en", base_dir=str(tmp_path)), encoding="utf-8")
    page, errors = open_page(browser, path)
    # Every filter and every block, so a handler on any of them would fire.
    for card in page.query_selector_all("[data-filter-status]"):
        card.click()
    for button in page.query_selector_all("[data-filter-cause]"):
        button.click()
    page.eval_on_selector_all("details", "blocks => blocks.forEach(b => b.open = true)")
    assert evil in page.inner_text("body")
    assert page.query_selector_all("img, svg, iframe") == [] and len(page.query_selector_all("script")) == 1
    assert page.eval_on_selector_all("a", "links => links.filter(a => a.protocol === 'javascript:').length") == 0
    assert errors == []


def test_a_merged_pages_log_bundle_links_reach_the_bundles(browser, tmp_path):
    # The documented layout: slices and bundles in reports/, the merge in reports/fleet.
    with open(FIXTURE, encoding="utf-8") as handle:
        report = json.load(handle)
    bundles = tmp_path / "reports" / "log-bundles"
    bundles.mkdir(parents=True)
    for entry in report["hosts"].values():
        if entry.get("log_bundle"):
            entry["log_bundle"] = str(bundles / os.path.basename(entry["log_bundle"]))
            open(entry["log_bundle"], "wb").close()
    fleet = tmp_path / "reports" / "fleet"
    fleet.mkdir()
    (fleet / "fleet.html").write_text(render_html(report, "en", base_dir=str(fleet)), encoding="utf-8")
    page, errors = open_page(browser, fleet / "fleet.html")
    links = page.eval_on_selector_all("a.log-bundle", "links => links.map(a => [a.getAttribute('href'), a.href])")
    expected = sorted(os.path.basename(e["log_bundle"]) for e in report["hosts"].values() if e.get("log_bundle"))
    assert sorted(os.path.basename(relative) for relative, _resolved in links) == expected
    for relative, resolved in links:
        assert relative.startswith("../log-bundles/") and os.path.isfile(resolved[len("file://"):])
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


def test_the_screenshot_is_taken_again_from_committed_reports(browser, tmp_path):
    # tests/demo-screenshot draws docs/img/report.png: a Linux and a Windows run, merged.
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("demo_screenshot", os.path.join(ROOT, "tests", "demo-screenshot"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    out = tmp_path / "report.png"
    # A process of its own: Playwright's sync API does not nest inside this module's browser.
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "demo-screenshot"), str(out)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(head[16:20], "big") == 1280
    assert list(tmp_path.iterdir()) == [out]
    path = tmp_path / "page.html"
    path.write_text(module.page_html(), encoding="utf-8")
    page, errors = open_page(browser, path)
    hosts = {d["host"] for d in visible(page, "section.host")}
    assert {"vm01", "vm08", "win02", "win99"} <= hosts
    assert errors == []
