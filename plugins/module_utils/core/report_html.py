# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The fleet report as one HTML page for people: self-contained (inline style and script, nothing fetched), so it
opens from a file, offline, or as an AWX artifact. Every string that came from a host is escaped here."""

from __future__ import annotations

import html
import json
import os
from urllib.parse import quote

from ansible_collections.azure_backup.remediation.plugins.module_utils.core import catalogue
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.report import (
    HOST_ORDER, OPEN, by_cause, cause_status, host_counts, host_status)

LANGUAGES = ("en", "de")

LABELS = {
    "en": {
        "title": "Azure Backup remediation report", "playbook": "Playbook", "started": "Started", "finished": "Finished",
        "mode": "Mode", "check_mode": "check mode: nothing was changed", "apply": "applied: fixes were made",
        "mixed": "mixed: some runs in check mode, some applied", "awx_job": "AWX job", "awx_workflow": "AWX workflow job",
        "glance": "The fleet at a glance", "hosts_by_status": "Hosts by status", "causes_by_count": "Causes by count",
        "cause": "Cause", "hosts": "Hosts", "diagnosis": "Error code diagnosed", "codes": "Codes",
        "tried": "Causes tried, in order", "not_here": "Causes of the code not on this host",
        "control_plane": "To do in Azure (not in the VM)", "filter_status": "Status", "filter_cause": "Cause",
        "all": "all", "shown": "shown", "findings": "findings", "status": "Status", "check": "Check",
        "seen": "What was seen and done", "remedy": "Remedy", "details": "details", "article": "article",
        "logs": "Log bundle", "errors": "Errors", "task": "task", "no_findings": "no findings",
        "fixed_open": "%(fixed)d fixed, %(open)d open", "merged_from": "Merged from",
        "replaced": "reported again by a later run: kept %(kept)s, dropped %(dropped)s",
        "run": "run", "language": "Language",
        "ok": "ok", "fixed": "fixed", "found": "found", "failed": "failed", "skipped": "skipped", "unreachable": "unreachable",
    },
    "de": {
        "title": "Azure-Backup-Bericht (Behebung)", "playbook": "Playbook", "started": "Begonnen", "finished": "Beendet",
        "mode": "Modus", "check_mode": "Prüfmodus: nichts wurde geändert", "apply": "angewendet: Fehler wurden behoben",
        "mixed": "gemischt: Läufe im Prüfmodus und angewendete", "awx_job": "AWX-Job", "awx_workflow": "AWX-Workflow-Job",
        "glance": "Die Flotte auf einen Blick", "hosts_by_status": "Hosts nach Status", "causes_by_count": "Ursachen nach Anzahl",
        "cause": "Ursache", "hosts": "Hosts", "diagnosis": "Diagnostizierter Fehlercode", "codes": "Codes",
        "tried": "Geprüfte Ursachen, in dieser Reihenfolge", "not_here": "Ursachen des Codes, die es auf diesem Host nicht gibt",
        "control_plane": "In Azure zu tun (nicht in der VM)", "filter_status": "Status", "filter_cause": "Ursache",
        "all": "alle", "shown": "angezeigt", "findings": "Befunde", "status": "Status", "check": "Prüfung",
        "seen": "Was gesehen und getan wurde", "remedy": "Abhilfe", "details": "Details", "article": "Artikel",
        "logs": "Protokollpaket", "errors": "Fehler", "task": "Task", "no_findings": "keine Befunde",
        "fixed_open": "%(fixed)d behoben, %(open)d offen", "merged_from": "Zusammengeführt aus",
        "replaced": "von einem späteren Lauf erneut gemeldet: behalten %(kept)s, verworfen %(dropped)s",
        "run": "Lauf", "language": "Sprache",
        "ok": "in Ordnung", "fixed": "behoben", "found": "gefunden", "failed": "fehlgeschlagen", "skipped": "übersprungen",
        "unreachable": "nicht erreichbar",
    },
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.2em 0 .4em}h3{font-size:1.05em;margin:0}
table{border-collapse:collapse;width:100%;margin:.3em 0}th,td{border:1px solid #d0d0d0;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.meta td:first-child{width:12em;font-weight:600}
.badge{display:inline-block;padding:.05em .5em;border-radius:.7em;font-size:.9em;white-space:nowrap}
.s-ok{background:#dff3df}.s-fixed{background:#d6e8fb}.s-found{background:#fff0c2}.s-failed{background:#f8d0d0}
.s-unreachable{background:#e6d2f2}.s-skipped{background:#ececec}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #d0d0d0;border-radius:.4em;padding:.4em .8em;min-width:7em}
.card .n{font-size:1.6em;font-weight:700;display:block}
.host{border:1px solid #c8c8c8;border-radius:.4em;padding:.6em;margin:.8em 0}
.host header{display:flex;gap:.8em;align-items:center;flex-wrap:wrap}
.filters{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd}
details pre{white-space:pre-wrap;word-break:break-word;max-height:20em;overflow:auto;background:#f8f8f8;padding:.4em}
.hidden{display:none}ol{margin:.2em 0}
"""

# Filters: a finding row is shown when it matches the chosen status and cause; a host when one of its rows is.
_SCRIPT = """
(function(){
  var status=document.getElementById('filter-status'), cause=document.getElementById('filter-cause');
  function apply(){
    var hosts=0, rows=0;
    document.querySelectorAll('section.host').forEach(function(host){
      var any=false;
      host.querySelectorAll('tr.row').forEach(function(row){
        var show=(!status.value||row.dataset.status===status.value)&&(!cause.value||row.dataset.cause===cause.value);
        row.classList.toggle('hidden',!show); if(show){any=true;rows++;}
      });
      host.classList.toggle('hidden',!any); if(any){hosts++;}
    });
    document.getElementById('shown-hosts').textContent=hosts;
    document.getElementById('shown-rows').textContent=rows;
  }
  status.addEventListener('change',apply); cause.addEventListener('change',apply);
  document.querySelectorAll('[data-filter-status]').forEach(function(el){
    el.addEventListener('click',function(){status.value=el.dataset.filterStatus;apply();});
  });
  document.querySelectorAll('[data-filter-cause]').forEach(function(el){
    el.addEventListener('click',function(){cause.value=el.dataset.filterCause;apply();});
  });
  apply();
})();
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _url(value) -> str:
    """An http(s) address from a finding, escaped; anything else (javascript:, data:) is not made a link."""
    text = str(value or "")
    return _e(text) if text.startswith(("https://", "http://")) else ""


def _file_link(path: str, base_dir: str | None) -> tuple:
    """(address, text) of a log bundle's link: relative to the report's folder where it lies below it (works as an
    AWX artifact and when the folder is copied), else the file's absolute path."""
    full = os.path.abspath(path)
    if base_dir:
        relative = os.path.relpath(full, os.path.abspath(base_dir))
        if not relative.startswith(".."):
            return quote(relative), relative
    return "file://" + quote(full), path


def _badge(status: str, labels: dict) -> str:
    return '<span class="badge s-%s">%s</span>' % (_e(status), _e(labels.get(status, status)))


def _cause_title(cause: str, language: str) -> str:
    return catalogue.cause_text(cause, language)["title"]


def _diagnosis_codes(codes, language: str) -> str:
    items = []
    for code in codes or []:
        entry = catalogue.lookup(code)
        message = entry["message"] if entry else ""
        items.append("<li><code>%s</code>%s</li>" % (_e(code), " — " + _e(message) if message else ""))
    return "<ul>%s</ul>" % "".join(items)


def _control_plane(items, language: str) -> str:
    """Codes whose cause is in Azure, not the VM: the catalogue's remedy (the item may be a code or a dict)."""
    out = []
    for item in items or []:
        code = item.get("code") if isinstance(item, dict) else item
        entry = catalogue.lookup(code) or {}
        remedy = (item.get("remedy") if isinstance(item, dict) else None) or entry.get("remedy", "")
        out.append("<li><code>%s</code>%s</li>" % (_e(code), ": " + _e(remedy) if remedy else ""))
    return "<ul>%s</ul>" % "".join(out)


def _host_diagnosis(diagnosis: dict, language: str, labels: dict) -> str:
    parts = ['<div class="diagnosis"><strong>%s:</strong> %s' % (
        _e(labels["diagnosis"]), ", ".join("<code>%s</code>" % _e(c) for c in diagnosis.get("codes") or []))]
    tried = diagnosis.get("causes") or []
    parts.append("<div>%s: <ol class=\"tried\">%s</ol></div>" % (
        _e(labels["tried"]), "".join("<li><code>%s</code> %s</li>" % (_e(c), _e(_cause_title(c, language))) for c in tried)))
    if diagnosis.get("not_here"):
        parts.append("<div>%s: %s</div>" % (_e(labels["not_here"]), ", ".join("<code>%s</code>" % _e(c) for c in diagnosis["not_here"])))
    if diagnosis.get("control_plane"):
        parts.append("<div>%s: %s</div>" % (_e(labels["control_plane"]), _control_plane(diagnosis["control_plane"], language)))
    parts.append("</div>")
    return "".join(parts)


def _finding_row(item: dict, language: str, labels: dict) -> str:
    text = catalogue.cause_text(item["id"], language)
    doc = _url(item.get("doc") or text["doc"])
    remedy = ""
    if item["status"] in OPEN:
        remedy = _e(text["remedy"])
    if doc and item["status"] != "ok":
        remedy += ' <a href="%s" rel="noreferrer">%s</a>' % (doc, _e(labels["article"]))
    detail = item.get("detail")
    details = ""
    if detail:
        details = "<details><summary>%s</summary><pre>%s</pre></details>" % (
            _e(labels["details"]), _e(json.dumps(detail, indent=2, sort_keys=True, default=str, ensure_ascii=False)))
    return ('<tr class="row" data-status="%s" data-cause="%s"><td>%s</td><td><code>%s</code><br>%s</td><td>%s</td>'
            '<td>%s%s</td><td>%s</td></tr>') % (
        _e(item["status"]), _e(item["id"]), _badge(item["status"], labels), _e(item["id"]), _e(text["title"]),
        _e(item.get("check", "")), _e(item.get("summary", "")), details, remedy)


def _host(name: str, entry: dict, language: str, labels: dict, base_dir: str | None) -> str:
    status = entry.get("status") or host_status(entry)
    counts = host_counts(entry)
    out = ['<section class="host" id="host-%s" data-host="%s" data-status="%s"><header><h3>%s</h3>%s<span class="counts">%s</span>' % (
        _e(name), _e(name), _e(status), _e(name), _badge(status, labels), _e(labels["fixed_open"] % counts))]
    if entry.get("source"):
        out.append("<small>%s: %s</small>" % (_e(labels["run"]), _e(entry["source"])))
    out.append("</header>")
    if entry.get("log_bundle"):
        address, text = _file_link(entry["log_bundle"], base_dir)
        out.append('<div>%s: <a class="log-bundle" href="%s">%s</a></div>' % (_e(labels["logs"]), _e(address), _e(text)))
    if isinstance(entry.get("diagnosis"), dict):
        out.append(_host_diagnosis(entry["diagnosis"], language, labels))
    out.append("<table><thead><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>" % tuple(
        _e(labels[k]) for k in ("status", "cause", "check", "seen", "remedy")))
    # What needs a person first: failed, found, fixed, then ok and skipped; within a status, the causes' order.
    ordered = [item for items in by_cause(entry).values() for item in items]
    ordered.sort(key=lambda item: HOST_ORDER.index(item["status"]))
    out.extend(_finding_row(item, language, labels) for item in ordered)
    error_status = "unreachable" if entry.get("unreachable") else "failed"
    for error in entry.get("errors") or []:
        out.append('<tr class="row error" data-status="%s" data-cause="HOST"><td>%s</td><td><code>HOST</code></td><td>%s %s</td>'
                   '<td>%s</td><td></td></tr>' % (_e(error_status), _badge(error_status, labels), _e(labels["task"]),
                                                  _e(error.get("task", "")), _e(error.get("msg", ""))))
    if not entry["findings"] and not entry.get("errors"):
        out.append('<tr class="row" data-status="%s" data-cause=""><td>%s</td><td></td><td></td><td>%s</td><td></td></tr>' % (
            _e(status), _badge(status, labels), _e(labels["no_findings"])))
    out.append("</tbody></table></section>")
    return "".join(out)


def cause_counts(report: dict) -> dict:
    """Cause ID -> {status: number of hosts where that cause came out so}, most open first."""
    counts: dict = {}
    for entry in report["hosts"].values():
        for cause, items in by_cause(entry).items():
            row = counts.setdefault(cause, dict.fromkeys(HOST_ORDER, 0))
            row[cause_status(items)] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-sum(kv[1][s] for s in OPEN), -kv[1]["fixed"], kv[0])))


def render_html(report: dict, language: str = "en", base_dir: str | None = None) -> str:
    """The report as one self-contained HTML page in ``language`` (en, de). ``base_dir``: the folder the page is
    written to, so log bundles below it are linked relatively."""
    if language not in LANGUAGES:
        raise ValueError("language = %r is not allowed: %s" % (language, " or ".join(LANGUAGES)))
    labels = LABELS[language]
    hosts = report["hosts"]
    statuses = {name: entry.get("status") or host_status(entry) for name, entry in hosts.items()}
    by_status = {s: sum(1 for v in statuses.values() if v == s) for s in HOST_ORDER}
    causes = cause_counts(report)
    mode = report.get("check_mode")
    mode_text = labels["mixed"] if mode == "mixed" else labels["check_mode"] if mode else labels["apply"]

    out = ['<!DOCTYPE html><html lang="%s"><head><meta charset="utf-8">' % language,
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           # Nothing may be fetched: the page is read offline and as an artifact.
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'\">",
           "<title>%s</title><style>%s</style></head><body>" % (_e(labels["title"]), _STYLE),
           "<h1>%s</h1><table class=\"meta\">" % _e(labels["title"])]
    meta = [("playbook", report.get("playbook")), ("started", report.get("started")), ("finished", report.get("finished")),
            ("mode", mode_text), ("awx_job", report.get("awx_job_id")), ("awx_workflow", report.get("awx_workflow_job_id"))]
    out.extend("<tr><td>%s</td><td>%s</td></tr>" % (_e(labels[k]), _e(v)) for k, v in meta if v not in (None, ""))
    merged = report.get("merged")
    if merged:
        runs = "".join("<li>%s (%s, %d %s)</li>" % (_e(s.get("file")), _e(s.get("started")), len(s.get("hosts") or []), _e(labels["hosts"]))
                       for s in merged.get("sources") or [])
        out.append("<tr><td>%s</td><td><ul>%s</ul></td></tr>" % (_e(labels["merged_from"]), runs))
        if merged.get("replaced"):
            out.append("<tr><td></td><td><ul>%s</ul></td></tr>" % "".join(
                "<li><strong>%s</strong>: %s</li>" % (_e(r["host"]), _e(labels["replaced"] % {"kept": r["kept"], "dropped": r["dropped"]}))
                for r in merged["replaced"]))
    out.append("</table>")

    codes = (report.get("diagnosis") or {}).get("codes")
    if codes:
        out.append('<section id="diagnosis"><h2>%s</h2>%s</section>' % (_e(labels["diagnosis"]), _diagnosis_codes(codes, language)))

    out.append('<section id="glance"><h2>%s</h2><h3>%s</h3><div class="cards">' % (_e(labels["glance"]), _e(labels["hosts_by_status"])))
    out.extend('<button type="button" class="card s-%s" data-filter-status="%s" data-count-status="%s"><span class="n">%d</span>%s</button>'
               % (s, s, s, n, _e(labels[s])) for s, n in by_status.items())
    out.append('</div><h3>%s</h3><table id="causes"><thead><tr><th>%s</th>%s</tr></thead><tbody>' % (
        _e(labels["causes_by_count"]), _e(labels["cause"]), "".join("<th>%s</th>" % _badge(s, labels) for s in HOST_ORDER)))
    for cause, row in causes.items():
        out.append('<tr data-cause-row="%s"><td><a href="#" data-filter-cause="%s"><code>%s</code></a> %s</td>%s</tr>' % (
            _e(cause), _e(cause), _e(cause), _e(_cause_title(cause, language)),
            "".join('<td data-count="%s">%d</td>' % (s, row[s]) for s in HOST_ORDER)))
    out.append("</tbody></table></section>")

    # Filters, then the hosts, worst first.
    out.append('<div class="filters"><label>%s <select id="filter-status"><option value="">%s</option>%s</select></label> '
               '<label>%s <select id="filter-cause"><option value="">%s</option>%s</select></label> '
               '%s: <span id="shown-hosts">%d</span> %s, <span id="shown-rows"></span> %s</div>' % (
                   _e(labels["filter_status"]), _e(labels["all"]),
                   "".join('<option value="%s">%s</option>' % (s, _e(labels[s])) for s in HOST_ORDER),
                   _e(labels["filter_cause"]), _e(labels["all"]),
                   "".join('<option value="%s">%s — %s</option>' % (_e(c), _e(c), _e(_cause_title(c, language))) for c in causes),
                   _e(labels["shown"]), len(hosts), _e(labels["hosts"]), _e(labels["findings"])))
    for name in sorted(hosts, key=lambda n: (HOST_ORDER.index(statuses[n]), n)):
        out.append(_host(name, hosts[name], language, labels, base_dir))
    out.append("<script>%s</script></body></html>" % _SCRIPT)
    return "\n".join(out)
