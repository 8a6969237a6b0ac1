"""The report's pure parts: HTML (escaping, counts, German), JUnit (valid XML, one case per host and cause), the
merge of sliced runs and the report's name. The fixture is a report the Windows integration run wrote (apply run,
seven of its hosts; log bundle paths made relative)."""
from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import html
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue, report as core
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_html import LABELS, cause_counts, render_html
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report_junit import render_junit

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "report-windows-apply.json")


@pytest.fixture
def report():
    with open(FIXTURE, encoding="utf-8") as handle:
        return json.load(handle)


def finding(cause, check, status, summary="", **extra):
    return dict({"id": cause, "check": check, "host": "", "status": status, "severity": "warning", "summary": summary,
                 "detail": {}, "doc": "https://learn.microsoft.com/azure/backup/x"}, **extra)


def small(*entries, **keys):
    hosts = {}
    for name, findings, extra in entries:
        hosts[name] = dict({"findings": findings, "errors": [], "unreachable": False}, **extra)
        hosts[name]["status"] = core.host_status(hosts[name])
    return dict({"playbook": "fix-backup.yml", "started": "2026-12-02T10:00:00+00:00", "finished": "2026-12-02T10:01:00+00:00",
                 "check_mode": False, "totals": core.totals(hosts), "hosts": hosts}, **keys)


# -- what a host's line says -------------------------------------------------------------------------------------------

def test_fixed_and_open_are_counted_apart():
    entry = {"findings": [finding("A", "a", "fixed"), finding("A", "b", "fixed"), finding("B", "c", "found"), finding("C", "d", "ok")],
             "errors": []}
    assert core.host_counts(entry) == {"fixed": 2, "open": 1}
    assert core.host_status(dict(entry, unreachable=False)) == "found"


def test_a_task_error_is_open():
    assert core.host_counts({"findings": [finding("A", "a", "failed")], "errors": [{"task": "t", "msg": "m"}]}) == {"fixed": 0, "open": 2}


# -- the name ----------------------------------------------------------------------------------------------------------

def test_the_name_is_the_awx_job_or_the_start():
    started = datetime.datetime(2026, 12, 2, 21, 1, 7, tzinfo=datetime.timezone.utc)
    assert core.report_basename(started) == "azure-backup-report-20261202T210107"
    assert core.report_basename(started, 4711) == "azure-backup-report-job4711"
    assert core.report_basename(started, "4711") == "azure-backup-report-job4711"
    with pytest.raises(core.ReportError, match="awx_job_id = '../x' is not a job ID"):
        core.report_basename(started, "../x")


# -- HTML ----------------------------------------------------------------------------------------------------------------

def test_the_page_is_self_contained(report):
    page = render_html(report, "en")
    assert page.startswith("<!DOCTYPE html>")
    # Nothing is loaded from anywhere: no src attributes, no stylesheet links, no url() in the style, no imports.
    assert not re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", page)
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page


def test_the_glance_counts_are_the_reports(report):
    page = render_html(report, "en")
    for status, count in report["totals"].items():
        assert re.search(r'data-count-status="%s"><span class="n">%d</span>' % (status, count), page), status
    # Causes by count: VSS_WRITERS came out failed on two of these hosts (win03, win14 has HOST only).
    counts = cause_counts(report)
    hosts_with = sum(1 for e in report["hosts"].values() if any(f["id"] == "VSS_WRITERS" for f in e["findings"]))
    assert sum(counts["VSS_WRITERS"].values()) == hosts_with
    assert page.count('class="host"') == len(report["hosts"])


def test_every_string_from_a_host_is_escaped():
    evil = '<script>alert(1)</script>"\'&'
    page = render_html(small(
        ("<img src=x onerror=alert(1)>", [finding("NETWORK", evil, "found", evil, detail={"x": evil}, doc="javascript:alert(1)")],
         {"log_bundle": 'reports/"><script>x</script>.tar.gz', "errors": [{"task": evil, "msg": evil}]}),
    ), "en")
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<script>x</script>" not in page
    assert html.escape(evil) in page
    # A doc address that is not http(s) is not made a link.
    assert "javascript:" not in page
    assert page.count("<script>") == 1


def test_german_labels_and_status_names(report):
    page = render_html(report, "de")
    assert '<html lang="de">' in page
    for key in ("glance", "hosts_by_status", "causes_by_count", "remedy"):
        assert html.escape(LABELS["de"][key]) in page
    assert "behoben" in page and "nicht erreichbar" in page
    assert LABELS["en"]["glance"] not in page


def test_every_label_exists_in_both_languages():
    assert set(LABELS["en"]) == set(LABELS["de"])


def test_an_unknown_language_is_an_error(report):
    with pytest.raises(ValueError, match="language = 'fr' is not allowed: en or de"):
        render_html(report, "fr")


def test_the_diagnosis_shows_the_codes_and_the_causes_in_order():
    diagnosis = {"codes": ["UserErrorGuestAgentStatusUnavailable"], "causes": ["WIN_AGENT", "SNAPSHOT_STATUS", "NETWORK"],
                 "not_here": ["LINUX_AGENT"], "control_plane": []}
    page = render_html(small(("win01", [finding("WIN_AGENT", "version", "ok")], {"diagnosis": diagnosis}),
                             diagnosis={"codes": ["UserErrorGuestAgentStatusUnavailable"]}), "en")
    assert "VM Agent unable to communicate with Azure Backup" in page
    tried = re.search(r'<ol class="tried">(.*?)</ol>', page).group(1)
    assert re.findall(r"<code>(\w+)</code>", tried) == ["WIN_AGENT", "SNAPSHOT_STATUS", "NETWORK"]
    assert "<code>LINUX_AGENT</code>" in page


def test_a_control_plane_code_says_what_to_do_in_azure():
    diagnosis = {"codes": ["UserErrorKeyvaultPermissionsNotConfigured"], "causes": [], "not_here": [],
                 "control_plane": ["UserErrorKeyvaultPermissionsNotConfigured"]}
    page = render_html(small(("vm01", [], {"diagnosis": diagnosis})), "en")
    assert "access to the key vault (access policy or role for Backup Management Service" in page


def test_a_log_bundle_below_the_report_folder_is_linked_relatively(tmp_path):
    bundle = tmp_path / "log-bundles" / "win01.tar.gz"
    page = render_html(small(("win01", [finding("NETWORK", "dns", "found")], {"log_bundle": str(bundle)})), "en", base_dir=str(tmp_path))
    assert '<a class="log-bundle" href="log-bundles/win01.tar.gz">log-bundles/win01.tar.gz</a>' in page
    elsewhere = render_html(small(("win01", [], {"log_bundle": "/var/tmp/b c.tar.gz"})), "en", base_dir=str(tmp_path))
    assert 'href="file:///var/tmp/b%20c.tar.gz"' in elsewhere


# -- JUnit ---------------------------------------------------------------------------------------------------------------

def test_junit_has_one_case_per_host_and_cause(report):
    root = ET.fromstring(render_junit(report))
    cases = root.findall("./testsuite/testcase")
    expected = {(h, f["id"]) for h, e in report["hosts"].items() for f in e["findings"]}
    expected |= {(h, "HOST") for h, e in report["hosts"].items() if e["errors"]}
    assert {(c.get("classname"), c.get("name")) for c in cases} == expected and len(cases) == len(expected)
    suite = root.find("testsuite")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == len([c for c in cases if c.find("failure") is not None])
    assert int(suite.get("skipped")) == len([c for c in cases if c.find("skipped") is not None])
    [unreachable] = [c for c in cases if c.get("classname") == "win99"]
    assert unreachable.find("failure").get("type") == "unreachable"


@pytest.mark.parametrize("check_mode, kind", [(True, "found-check-mode"), (False, "found-not-fixed")])
def test_found_is_a_failure_in_check_mode_and_applied(check_mode, kind):
    doc = small(("vm01", [finding("NETWORK", "dns", "found", "no DNS"), finding("NETWORK", "wire", "ok"),
                          finding("LINUX_AGENT", "svc", "fixed", "did start"), finding("DISK_LIMITS", "n", "skipped")], {}),
                check_mode=check_mode)
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(doc)).iter("testcase")}
    assert cases["NETWORK"].find("failure").get("type") == kind and cases["NETWORK"].find("failure").get("message") == "no DNS"
    assert cases["LINUX_AGENT"].find("failure") is None and "did start" in cases["LINUX_AGENT"].find("system-out").text
    assert cases["DISK_LIMITS"].find("skipped") is not None


def test_junit_survives_control_characters_from_a_host():
    doc = small(("vm01", [finding("NETWORK", "dns", "failed", "bad \x1b[31mcolour\x00 & <b>")], {}))
    case = ET.fromstring(render_junit(doc)).find("./testsuite/testcase")
    assert case.find("failure").get("message") == "bad \ufffd[31mcolour\ufffd & <b>"


# -- merge ---------------------------------------------------------------------------------------------------------------

def slice_of(report, names, started, **keys):
    part = copy.deepcopy(report)
    part["hosts"] = {n: part["hosts"][n] for n in names}
    part["started"] = started
    part.update(keys)
    return part


def test_merge_recounts_the_totals_and_keeps_every_host(report):
    names = sorted(report["hosts"])
    parts = [("a.json", slice_of(report, names[:3], "2026-12-02T10:00:00+00:00", awx_job_id=11, awx_workflow_job_id=10)),
             ("b.json", slice_of(report, names[3:], "2026-12-02T10:00:05+00:00", awx_job_id=12, awx_workflow_job_id=10))]
    merged = core.merge(parts)
    assert merged["totals"] == report["totals"] and sorted(merged["hosts"]) == names
    assert merged["merged"]["replaced"] == [] and [s["file"] for s in merged["merged"]["sources"]] == ["a.json", "b.json"]
    assert merged["awx_workflow_job_id"] == 10 and merged["check_mode"] is False
    assert merged["hosts"][names[0]]["source"] == "a.json"


def test_a_host_in_two_runs_is_taken_from_the_later_and_said_so(report):
    early = slice_of(report, ["win01", "win03"], "2026-12-02T10:00:00+00:00", check_mode=True)
    late = slice_of(report, ["win03"], "2026-12-02T11:00:00+00:00")
    late["hosts"]["win03"] = {"findings": [finding("WIN_AGENT", "version", "ok")], "errors": [], "unreachable": False, "status": "ok"}
    # Given in any order: the later run wins.
    merged = core.merge([("late.json", late), ("early.json", early)])
    assert merged["hosts"]["win03"]["status"] == "ok" and merged["hosts"]["win03"]["source"] == "late.json"
    assert merged["merged"]["replaced"] == [{"host": "win03", "kept": "late.json", "dropped": "early.json"}]
    assert merged["check_mode"] == "mixed" and merged["hosts"]["win01"]["check_mode"] is True
    assert merged["totals"]["ok"] == 1 and sum(merged["totals"].values()) == 2


def test_merge_joins_the_codes_in_order(report):
    one = slice_of(report, ["win01"], "2026-12-02T10:00:00+00:00", diagnosis={"codes": ["A", "B"]})
    two = slice_of(report, ["win02"], "2026-12-02T10:00:01+00:00", diagnosis={"codes": ["B", "C"]})
    assert core.merge([("1", one), ("2", two)])["diagnosis"] == {"codes": ["A", "B", "C"]}


@pytest.mark.parametrize("bad, message", [
    ([1, 2], "bad.json: not a fleet report"),
    ({"playbook": "fix-backup.yml", "started": "x", "finished": "y"}, "bad.json: not a fleet report of azure_backup.remediation: 'hosts'"),
    ({"playbook": "fix-backup.yml", "started": "x", "finished": "y", "hosts": {"vm01": {"findings": [{"status": "weird", "id": "A"}], "errors": []}}},
     "bad.json: host vm01 has a finding without a known status"),
    ({"playbook": "capture.yml", "started": "x", "finished": "y", "hosts": {}},
     "bad.json is a report of capture.yml, good.json one of fix-backup.yml"),
])
def test_a_report_that_is_not_one_is_named(report, bad, message):
    with pytest.raises(core.ReportError, match=re.escape(message)):
        core.merge([("good.json", report), ("bad.json", bad)])


def test_a_hosts_rows_put_what_needs_a_person_first():
    page = render_html(small(("vm01", [finding("LINUX_AGENT", "a", "ok"), finding("LINUX_AGENT", "b", "fixed"),
                                       finding("NETWORK", "c", "ok"), finding("NETWORK", "d", "found"), finding("DISK_LIMITS", "e", "failed")], {})), "en")
    assert re.findall(r'<tr class="row" data-status="(\w+)" data-cause="(\w+)"', page) == [
        ("failed", "DISK_LIMITS"), ("found", "NETWORK"), ("fixed", "LINUX_AGENT"), ("ok", "LINUX_AGENT"), ("ok", "NETWORK")]


# -- what the front-end review found (issue 13) --------------------------------------------------------------------------

def test_the_only_script_allowed_is_the_pages_own(report):
    page = render_html(report, "en")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    assert "script-src 'sha256-%s'" % digest in csp and "unsafe-inline'; base" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1]
    assert "base-uri 'none'" in csp and "form-action 'none'" in csp


def test_german_article_links_and_message():
    doc = "https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout"
    diagnosis = {"codes": ["UserErrorGuestAgentStatusUnavailable"], "causes": ["WIN_AGENT"], "not_here": [], "control_plane": []}
    doc_report = small(("win01", [finding("WIN_AGENT", "service", "found", doc=doc)], {"diagnosis": diagnosis}),
                       diagnosis={"codes": ["UserErrorGuestAgentStatusUnavailable"]})
    page = render_html(doc_report, "de")
    assert 'href="https://learn.microsoft.com/de-de/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout"' in page
    assert 'href="%s"' % doc not in page
    assert "VM-Agent kann nicht mit Azure Backup kommunizieren" in page
    assert "VM Agent unable to communicate" not in page
    assert 'href="%s"' % doc in render_html(doc_report, "en")


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_control_plane_code_whose_cause_is_outside_the_vm_shows_that_causes_remedy(language):
    code = "UserErrorRpCollectionLimitReached"
    diagnosis = {"codes": [code], "causes": [], "not_here": ["RP_LOCK"], "control_plane": [code]}
    page = render_html(small(("vm01", [], {"diagnosis": diagnosis})), language)
    [item] = re.findall(r"<li><code>%s</code>(.*?)</li>" % code, page.split('class="diagnosis"')[1])
    remedy = catalogue.cause_text("RP_LOCK", language)["remedy"]
    assert "AzureBackupRG_" in remedy and html.escape(remedy) in item


def test_a_cause_link_is_a_button_not_a_jump_to_the_top(report):
    page = render_html(report, "en")
    assert 'href="#"' not in page
    assert re.search(r'<button type="button" class="link" data-filter-cause="VSS_WRITERS">', page)
    assert '<div class="filters" aria-live="polite">' in page


def test_the_shown_counts_are_left_to_the_script(report):
    # Filled by the page's script: a page whose script does not run must not look right.
    assert '<span id="shown-hosts"></span>' in render_html(report, "en")


def test_ok_and_skipped_rows_are_in_a_closed_block():
    page = render_html(small(("vm01", [finding("LINUX_AGENT", "a", "ok"), finding("NETWORK", "d", "found"),
                                       finding("DISK_LIMITS", "e", "skipped")], {})), "en")
    loud, quiet = page.split('<details class="quiet">')
    assert 'data-status="found"' in loud and 'data-status="ok"' not in loud
    assert "<summary>2 checks ok or skipped</summary>" in quiet and 'data-status="ok"' in quiet and 'data-status="skipped"' in quiet
    assert "<details class=\"quiet\" open" not in page


@pytest.mark.parametrize("check_mode, en, de", [(False, "applied (not check mode)", "angewendet (kein Prüfmodus)"),
                                                (True, "check mode: nothing was changed", "Prüfmodus: nichts wurde geändert")])
def test_the_mode_says_only_what_is_known(check_mode, en, de):
    doc = small(("vm01", [finding("NETWORK", "a", "ok")], {}), check_mode=check_mode)
    assert en in render_html(doc, "en") and html.escape(de) in render_html(doc, "de")
    assert "fixes were made" not in render_html(doc, "en")


def test_start_and_duration_as_people_read_them():
    doc = small(("vm01", [], {}), started="2026-12-02T21:01:22.123456+00:00", finished="2026-12-02T22:03:25.5+00:00")
    page = render_html(doc, "en")
    assert "<td>2026-12-02 21:01 UTC</td>" in page and "<td>2026-12-02 22:03 UTC</td>" in page
    assert "<td>Duration</td><td>1 h 2 min 3 s</td>" in page


def test_the_host_row_counts_unreachable_and_failed_hosts(report):
    counts = cause_counts(report)
    # win99 could not be reached (task error), win14's HOST finding failed.
    assert counts["HOST"]["unreachable"] == 1 and counts["HOST"]["failed"] == 1
    assert sum(counts["HOST"].values()) == 2


def test_a_log_bundle_beside_the_report_folder_is_linked_with_dots(tmp_path):
    # The documented merge: dest reports/fleet, the bundles in reports/log-bundles.
    bundle = tmp_path / "reports" / "log-bundles" / "win01.tar.gz"
    page = render_html(small(("win01", [], {"log_bundle": str(bundle)})), "en", base_dir=str(tmp_path / "reports" / "fleet"))
    assert '<a class="log-bundle" href="../log-bundles/win01.tar.gz">' in page


def test_junit_classname_keeps_jenkins_from_splitting_the_host_name():
    doc = small(("vm000.contoso.example", [finding("NETWORK", "dns", "found", "no DNS"), finding("DISK_LIMITS", "n", "ok")], {}))
    cases = {c.get("name"): c for c in ET.fromstring(render_junit(doc)).iter("testcase")}
    assert {c.get("classname") for c in cases.values()} == {"vm000_contoso_example"}
    assert cases["NETWORK"].find("failure").text.startswith("host: vm000.contoso.example\n")
    assert cases["DISK_LIMITS"].find("system-out").text.startswith("host: vm000.contoso.example\n")


def test_junit_has_a_plain_timestamp_and_the_runs_time():
    doc = small(("vm01", [], {}), started="2026-12-02T22:01:22.654321+01:00", finished="2026-12-02T22:02:30.154321+01:00")
    suite = ET.fromstring(render_junit(doc)).find("testsuite")
    assert suite.get("timestamp") == "2026-12-02T21:01:22" and suite.get("time") == "67.500"
