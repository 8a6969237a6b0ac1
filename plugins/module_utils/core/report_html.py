# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The fleet report as one HTML page for people: self-contained (inline style and script, nothing fetched), so it
opens from a file, offline, or as an AWX artifact. Every string that came from a host is escaped here."""

from __future__ import annotations

import base64
import datetime
import hashlib
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
        "mode": "Mode", "check_mode": "check mode: nothing was changed", "apply": "applied (not check mode)",
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
        "run": "run", "language": "Language", "duration": "Duration",
        "quiet": "%(n)d checks ok or skipped",
        "ok": "ok", "fixed": "fixed", "found": "found", "failed": "failed", "skipped": "skipped", "unreachable": "unreachable",
    },
    "de": {
        "title": "Azure-Backup-Bericht (Behebung)", "playbook": "Playbook", "started": "Begonnen", "finished": "Beendet",
        "mode": "Modus", "check_mode": "Prüfmodus: nichts wurde geändert", "apply": "angewendet (kein Prüfmodus)",
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
        "run": "Lauf", "language": "Sprache", "duration": "Dauer",
        "quiet": "%(n)d Prüfungen in Ordnung oder übersprungen",
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
select{max-width:100%}td,th{overflow-wrap:anywhere}code{overflow-wrap:anywhere}
/* A host's tables share fixed column widths: long host text wraps inside its cell, short words stay whole, and the
   closed block of ok rows lines up with the table above it. */
.host table{table-layout:fixed}.host tr>:nth-child(1){width:11%}.host tr>:nth-child(2){width:17%}
.host tr>:nth-child(3){width:12%}.host tr>:nth-child(5){width:28%}
button.link{background:none;border:0;padding:0;font:inherit;color:#0645ad;text-decoration:underline;cursor:pointer}
.card[aria-pressed="true"]{outline:3px solid #1b1b1b}
details.quiet>summary{cursor:pointer;margin:.3em 0}
/* Hundreds of hosts: the browser lays out only those near the screen. */
section.host{content-visibility:auto;contain-intrinsic-size:auto 600px}
/* Narrow windows: a finding's cells stack instead of widening the page. */
@media (max-width:900px){body{margin:.6em}.host table,.host tbody,.host tr,.host td{display:block;width:auto}
.host thead{display:none}.host tr>*{width:auto!important}.host tr{border-top:2px solid #c8c8c8}.host td{border:0;border-bottom:1px solid #eee}
.badge{white-space:normal}#causes th,#causes td{padding:.2em}}
"""

# Filters. The drop-downs work on finding rows: a row is shown when it matches the chosen status and cause, a host
# when one of its rows is. A status card works on hosts, as it counts them: it shows the hosts of that status with all
# their rows. A host's ok and skipped rows sit in a closed block, opened while a drop-down shows one of them.
_SCRIPT = """
(function(){
  var status=document.getElementById('filter-status'), cause=document.getElementById('filter-cause'), hostStatus='';
  var cards=document.querySelectorAll('[data-filter-status]');
  function apply(){
    var hosts=0, rows=0, rowFilter=status.value||cause.value;
    document.querySelectorAll('section.host').forEach(function(host){
      var any=false;
      host.querySelectorAll('tr.row').forEach(function(row){
        var show=(!status.value||row.dataset.status===status.value)&&(!cause.value||row.dataset.cause===cause.value);
        row.classList.toggle('hidden',!show); if(show){any=true;rows++;}
      });
      if(hostStatus){any=host.dataset.status===hostStatus;}
      host.querySelectorAll('details.quiet').forEach(function(block){
        block.open=!!rowFilter&&block.querySelector('tr.row:not(.hidden)')!==null;
      });
      host.classList.toggle('hidden',!any); if(any){hosts++;}
    });
    cards.forEach(function(card){card.setAttribute('aria-pressed',String(card.dataset.filterStatus===hostStatus));});
    document.getElementById('shown-hosts').textContent=hosts;
    document.getElementById('shown-rows').textContent=rows;
  }
  function rowsOnly(){hostStatus='';apply();}
  status.addEventListener('change',rowsOnly); cause.addEventListener('change',rowsOnly);
  cards.forEach(function(el){
    el.addEventListener('click',function(){
      var again=hostStatus===el.dataset.filterStatus;
      status.value='';cause.value='';hostStatus=again?'':el.dataset.filterStatus;apply();
    });
  });
  document.querySelectorAll('[data-filter-cause]').forEach(function(el){
    el.addEventListener('click',function(){
      hostStatus='';cause.value=el.dataset.filterCause;apply();
      document.querySelector('.filters').scrollIntoView({block:'start'});
    });
  });
  apply();
})();
"""
# The page allows this one script and nothing else (no other inline script, no base, no form target).
_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src '%s'; base-uri 'none'; form-action 'none'" % _SCRIPT_HASH


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _url(value) -> str:
    """An http(s) address from a finding, escaped; anything else (javascript:, data:) is not made a link."""
    text = str(value or "")
    return _e(text) if text.startswith(("https://", "http://")) else ""


def _file_link(path: str, base_dir: str | None) -> tuple:
    """(address, text) of a log bundle's link: relative to the report's folder (../ where needed) when both lie under
    one folder other than the root, so the link works as an AWX artifact and when that folder is copied or served
    (reports/fleet and reports/log-bundles); else the file's absolute path."""
    full = os.path.abspath(path)
    if base_dir:
        base = os.path.abspath(base_dir)
        if os.path.commonpath([full, base]) != os.path.dirname(os.sep):
            relative = os.path.relpath(full, base)
            return quote(relative), relative
    return "file://" + quote(full), path


def _badge(status: str, labels: dict) -> str:
    return '<span class="badge s-%s">%s</span>' % (_e(status), _e(labels.get(status, status)))


def _cause_title(cause: str, language: str) -> str:
    return catalogue.cause_text(cause, language)["title"]


def _diagnosis_codes(codes, language: str) -> str:
    items = []
    for code in codes or []:
        entry = catalogue.lookup(code) or {}
        message = entry.get("message_" + language) or entry.get("message", "")
        items.append("<li><code>%s</code>%s</li>" % (_e(code), " — " + _e(message) if message else ""))
    return "<ul>%s</ul>" % "".join(items)


def _control_plane(items, language: str) -> str:
    """Codes whose cause is in Azure, not the VM (the item may be a code or a dict): what to do there, in the page's
    language where the catalogue has it: the remedy of the code's causes outside the VM (RP_LOCK), then the code's own."""
    out = []
    for item in items or []:
        code = item.get("code") if isinstance(item, dict) else item
        remedies = control_plane_remedies(code, language)
        if isinstance(item, dict) and item.get("remedy"):
            remedies = [item["remedy"]]
        out.append("<li><code>%s</code>%s</li>" % (_e(code), ": " + " ".join(_e(r) for r in remedies) if remedies else ""))
    return "<ul>%s</ul>" % "".join(out)


def control_plane_remedies(code: str, language: str) -> list:
    """What a person does outside the VM for ``code``: the remedies of its causes no role can check (RP_LOCK), then the
    code's own remedy (remedy_<language> where the catalogue has one, else its English remedy)."""
    entry = catalogue.lookup(code) or {}
    remedies = [catalogue.cause_text(c, language)["remedy"] for c in entry.get("causes") or [] if catalogue.play_name(c) is None]
    own = entry.get("remedy_" + language) or entry.get("remedy")
    return [r for r in remedies + [own] if r]


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
    # The catalogue's article in the page's language (de-de for German); the finding's own where the catalogue has none.
    doc = _url(text["doc"] or item.get("doc"))
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


_QUIET = ("ok", "skipped")


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
    loud = [item for item in ordered if item["status"] not in _QUIET]
    quiet = [item for item in ordered if item["status"] in _QUIET]
    out.extend(_finding_row(item, language, labels) for item in loud)
    error_status = "unreachable" if entry.get("unreachable") else "failed"
    for error in entry.get("errors") or []:
        out.append('<tr class="row error" data-status="%s" data-cause="HOST"><td>%s</td><td><code>HOST</code></td><td>%s %s</td>'
                   '<td>%s</td><td></td></tr>' % (_e(error_status), _badge(error_status, labels), _e(labels["task"]),
                                                  _e(error.get("task", "")), _e(error.get("msg", ""))))
    if not entry["findings"] and not entry.get("errors"):
        out.append('<tr class="row" data-status="%s" data-cause=""><td>%s</td><td></td><td></td><td>%s</td><td></td></tr>' % (
            _e(status), _badge(status, labels), _e(labels["no_findings"])))
    out.append("</tbody></table>")
    if quiet:
        # The rows nobody needs to act on, closed: most of a large fleet's rows are ok.
        out.append('<details class="quiet"><summary>%s</summary><table><tbody>%s</tbody></table></details>' % (
            _e(labels["quiet"] % {"n": len(quiet)}), "".join(_finding_row(item, language, labels) for item in quiet)))
    out.append("</section>")
    return "".join(out)


def _time(value):
    try:
        when = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when.astimezone(datetime.timezone.utc) if when.tzinfo else when


def _when(value) -> str:
    """An ISO time as people read it: 2026-12-02 21:01 UTC (anything else as it is)."""
    when = _time(value) if value else None
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else value


def _duration(started, finished) -> str | None:
    """finished - started as 1 h 2 min 5 s, None where either time is missing or unreadable."""
    begin, end = (_time(started) if started else None), (_time(finished) if finished else None)
    if not begin or not end or (begin.tzinfo is None) != (end.tzinfo is None):
        return None
    seconds = max(0, int((end - begin).total_seconds()))
    parts = [(seconds // 3600, "h"), (seconds // 60 % 60, "min"), (seconds % 60, "s")]
    return " ".join("%d %s" % (n, unit) for n, unit in parts if n) or "0 s"


def cause_counts(report: dict) -> dict:
    """Cause ID -> {status: number of hosts where that cause came out so}, most open first."""
    counts: dict = {}
    for entry in report["hosts"].values():
        causes = by_cause(entry)
        if entry.get("errors"):
            # A host's task errors are rows of cause HOST on the page, so the HOST row counts them too.
            causes["HOST"] = causes.get("HOST", []) + [{"status": "unreachable" if entry.get("unreachable") else "failed"}]
        for cause, items in causes.items():
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
           '<meta http-equiv="Content-Security-Policy" content="%s">' % CSP,
           "<title>%s</title><style>%s</style></head><body>" % (_e(labels["title"]), _STYLE),
           "<h1>%s</h1><table class=\"meta\">" % _e(labels["title"])]
    meta = [("playbook", report.get("playbook")), ("started", _when(report.get("started"))),
            ("finished", _when(report.get("finished"))), ("duration", _duration(report.get("started"), report.get("finished"))),
            ("mode", mode_text), ("awx_job", report.get("awx_job_id")), ("awx_workflow", report.get("awx_workflow_job_id"))]
    out.extend("<tr><td>%s</td><td>%s</td></tr>" % (_e(labels[k]), _e(v)) for k, v in meta if v not in (None, ""))
    merged = report.get("merged")
    if merged:
        runs = "".join("<li>%s (%s, %d %s)</li>" % (_e(s.get("file")), _e(_when(s.get("started"))), len(s.get("hosts") or []), _e(labels["hosts"]))
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
        out.append('<tr data-cause-row="%s"><td><button type="button" class="link" data-filter-cause="%s"><code>%s</code></button> %s</td>%s</tr>' % (
            _e(cause), _e(cause), _e(cause), _e(_cause_title(cause, language)),
            "".join('<td data-count="%s">%d</td>' % (s, row[s]) for s in HOST_ORDER)))
    out.append("</tbody></table></section>")

    # Filters, then the hosts, worst first.
    out.append('<div class="filters" aria-live="polite"><label>%s <select id="filter-status"><option value="">%s</option>%s</select></label> '
               '<label>%s <select id="filter-cause"><option value="">%s</option>%s</select></label> '
               '%s: <span id="shown-hosts"></span> %s, <span id="shown-rows"></span> %s</div>' % (
                   _e(labels["filter_status"]), _e(labels["all"]),
                   "".join('<option value="%s">%s</option>' % (s, _e(labels[s])) for s in HOST_ORDER),
                   _e(labels["filter_cause"]), _e(labels["all"]),
                   "".join('<option value="%s">%s — %s</option>' % (_e(c), _e(c), _e(_cause_title(c, language))) for c in causes),
                   _e(labels["shown"]), _e(labels["hosts"]), _e(labels["findings"])))
    for name in sorted(hosts, key=lambda n: (HOST_ORDER.index(statuses[n]), n)):
        out.append(_host(name, hosts[name], language, labels, base_dir))
    out.append("<script>%s</script></body></html>" % _SCRIPT)
    return "\n".join(out)
