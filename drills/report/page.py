"""report.html: one self-contained page a reviewer who was not there can read top to bottom.

Order: verdict, what is missing, budgets (why the verdict), headline numbers, the timeline charts, outages,
data-loss audit, faults, load generator, environment and re-run command, the scenario itself.
"""

from __future__ import annotations

import json

from drills import __version__
from drills.report.charts import fault_family, render_charts
from drills.report.fallback import command_line
from drills.report.fmt import (
    as_float,
    dict_at,
    duration,
    limit_text,
    metric_value,
    num,
    observed_text,
    passed_word,
    percent,
    size,
    when,
)
from drills.report.htmlkit import esc, page, pill, records_html, table, value_html
from drills.report.view import ReportView
from drills.scenario.fault_families import FAMILIES

DATA_LOSS = ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "inventory_mismatch",
             "credential_changes_lost", "revoked_sessions_working")
NEUTRAL_COUNTS = ("attempted", "acknowledged", "failed", "indeterminate", "indeterminate_applied",
                  "indeterminate_not_applied", "rotations_acknowledged", "credentials_checked", "sessions_checked")
AUDIT_MEANING = {
    "acknowledged": "operations the API acknowledged (2xx)",
    "lost": "acknowledged, but missing from the database afterwards",
    "unexpected": "in the database, but never attempted or definitely failed",
    "duplicated": "one idempotency key bought more than once",
    "oversold": "a seat sold more than once",
    "sold_over_capacity": "more tickets than the event has seats",
    "indeterminate": "outcome unknown to the client (timeouts, 502/503/504)",
    "indeterminate_applied": "indeterminate operations that did take effect",
    "indeterminate_not_applied": "indeterminate operations that did not take effect",
    "attempted": "purchases attempted (distinct idempotency keys)",
    "failed": "purchases that definitely failed",
    "inventory_mismatch": "an event's sold count disagrees with its tickets",
    "rotations_acknowledged": "password rotations the API acknowledged",
    "credentials_checked": "users whose final password was verified",
    "sessions_checked": "revoked sessions tried again afterwards",
    "final_state": "whether the final state was read completely",
    "credential_changes_lost": "acknowledged password rotations that were undone",
    "revoked_sessions_working": "sessions revoked by a rotation that still worked",
}


def render_html(view: ReportView) -> str:
    """The whole report.html for one run."""
    charts = render_charts(view)
    body = [_banner(view), '<main>', _nav(view), _notes(view), _budgets(view), _headline(view),
            _disaster_recovery(view), _timeline(view, charts), _outages(view), _failovers(view), _audit(view),
            _faults(view),
            _generator(view, charts),
            _environment(view), _scenario(view),
            f'<footer>Rendered by drills {esc(__version__)} from <code>{esc(view.run.path)}</code>. '
            f'Re-render with <code>drill report {esc(view.run.path)}</code>.</footer>', '</main>']
    return page(f"{view.verdict.title} · {view.scenario_name} · drills", "\n".join(body), script=True)


def _banner(view: ReportView) -> str:
    r, v = view.result, view.verdict
    facts = [("run", r.get("run_id")), ("started", when(r.get("started"))), ("took", duration(r.get("duration_s"))),
             ("seed", r.get("seed"))]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(val)}</dd></div>" for k, val in facts if val not in (None, "—"))
    desc = r.get("description") or ""
    reasons = [str(x) for x in r.get("verdict_reasons") or [] if x] if view.run.result else []
    if not reasons:
        reasons = [f"Stopped by: {e.get('reason')}" for e in view.run.events
                   if e.get("kind") == "abort" and e.get("reason")]
        reasons += [f"Error in {e.get('where') or 'the harness'}: {e.get('message')}" for e in view.run.events
                    if e.get("kind") == "error" and e.get("message")]
    why = "".join(f'<li>{esc(x)}</li>' for x in reasons[:4])
    why = f'<ul class="reasons">{why}</ul>' if why else ""
    expected = f"expected outcome: {v.expected}" + (f" · verdict: {v.verdict}" if v.verdict != v.css else "")
    return (f'<header class="banner {v.css}" id="verdict" data-verdict="{esc(v.verdict)}" '
            f'data-expected="{esc(v.expected)}"><div style="max-width:1180px;margin:0 auto">'
            f'<div class="verdict">{esc(v.title)}</div><div class="why">{esc(v.explanation)}</div>{why}'
            f'<div class="expected">{esc(expected)}</div>'
            f'<h1>{esc(view.scenario_name)}</h1>' + (f'<p class="desc">{esc(desc)}</p>' if desc else "") +
            f'<dl class="facts">{dl}</dl></div></header>')


def _nav(view: ReportView) -> str:
    links = [("budgets", "Budgets")] + ([("disaster-recovery", "Disaster recovery")] if _dr(view) else []) + [
        ("timeline", "Timeline"), ("audit", "Data-loss audit"), ("faults", "Faults"),
        ("generator", "Load generator"), ("environment", "Environment & re-run"), ("scenario", "Scenario")]
    return "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</nav>"


def _notes(view: ReportView) -> str:
    if not view.notes:
        return ""
    items = "".join(f"<li>{esc(n)}</li>" for n in view.notes)
    return f'<section class="notes" id="missing"><h2>Read this first: gaps and notes</h2><ul>{items}</ul></section>'


def _budgets(view: ReportView) -> str:
    budgets = [b for b in view.result.get("budgets") or [] if isinstance(b, dict)]
    if not budgets:
        why = ("the checks did not run" if view.run.result is None else "the scenario declares no budgets")
        return (f'<section id="budgets"><h2>Budgets</h2><p class="muted">No budgets were evaluated ({why}).</p>'
                "</section>")
    rows, attrs = [], []
    for b in budgets:
        word = passed_word(b.get("passed"))
        css = {"pass": "pass", "FAIL": "fail"}.get(word, "unknown")
        scope = " · ".join(str(x) for x in (b.get("op") if b.get("op") not in ("<=", ">=", "<", ">") else None,
                                            b.get("phase")) if x)
        rows.append([f"<b>{esc(b.get('name') or b.get('metric'))}</b>", esc(scope),
                     f'<span class="num">{esc(limit_text(b))}</span>',
                     f'<span class="num">{esc(observed_text(b))}</span>',
                     pill(word, css), esc(b.get("detail") or "")])
        name = esc(b.get("name") or b.get("metric"))
        attrs.append(f'class="{"failed" if word == "FAIL" else ""}" data-budget="{name}" data-passed="{esc(word)}"')
    failed = sum(1 for b in budgets if b.get("passed") is False)
    unknown = sum(1 for b in budgets if b.get("passed") is None)
    summary = f"{len(budgets)} budgets: {len(budgets) - failed - unknown} held, {failed} exceeded, {unknown} unknown."
    return (f'<section id="budgets"><h2>Budgets</h2><p>{esc(summary)}</p>'
            + table(["budget", "operation · phase", "limit", "observed", "result", "why"], rows, "budgets", attrs)
            + "</section>")


def _headline(view: ReportView) -> str:
    a = dict_at(view.result, "availability")
    lat = dict_at(a, "latency_ms")
    cards = [("success ratio", percent(a.get("success_ratio"))),
             ("longest outage", num(a.get("longest_outage_s"), "s")),
             ("failover", num(a.get("failover_s"), "s")), ("detection", num(a.get("detection_s"), "s")),
             ("recovery", num(a.get("recovery_s"), "s")), ("latency p50", num(lat.get("p50"), "ms")),
             ("p95", num(lat.get("p95"), "ms")), ("p99", num(lat.get("p99"), "ms"))]
    budget = dict_at(a, "error_budget")
    if as_float(budget.get("burn")) is not None:
        cards.append(("error budget spent", percent(budget["burn"])))
    audit = dict_at(view.result, "audit")
    if audit:
        known = [n for n in (as_float(audit.get(k)) for k in DATA_LOSS) if n is not None]
        cards.append(("data-loss anomalies", str(int(sum(known))) if known else "unknown"))

    def bad(k: str, v: str) -> str:
        return " bad" if k == "data-loss anomalies" and v not in ("0", "unknown") else ""

    html_cards = "".join(f'<div class="card"><div class="k">{esc(k)}</div><div class="v{bad(k, v)}">{esc(v)}</div>'
                         "</div>" for k, v in cards)
    src = " (computed by the report from history*.jsonl)" if "availability" in view.derived else ""
    if a.get("op"):
        src = f" — {a['op']} operations" + src
    return f'<section id="availability"><h2>What buyers saw{esc(src)}</h2><div class="cards">{html_cards}</div>' \
           + _breakdowns(a, "availability.per_op" in view.derived) + "</section>"


def _breakdowns(a: dict, per_op_derived: bool) -> str:
    out = []
    per_op_title = "By operation" + (" (computed from history*.jsonl)" if per_op_derived else "")
    for key, title in (("per_op", per_op_title), ("per_phase", "By phase")):
        value = a.get(key)
        if isinstance(value, dict) and value:
            if all(isinstance(v, dict) for v in value.values()):
                cols: list[str] = []
                for v in value.values():
                    cols += [c for c in v if c not in cols and c != "per_phase"]
                rows = [[f"<b>{esc(k)}</b>"] + [_cell(c, v.get(c)) for c in cols] for k, v in value.items()]
                heads = [""] + ["latency p50 / p95 / p99" if c == "latency_ms" else c for c in cols]
                out.append(f"<details><summary>{esc(title)}</summary>{table(heads, rows)}</details>")
            else:
                out.append(f"<details><summary>{esc(title)}</summary>{value_html(value)}</details>")
    return "".join(out)


def _cell(key: str, value: object) -> str:
    if key == "latency_ms" and isinstance(value, dict):
        parts = " / ".join(num(value.get(q)) for q in ("p50", "p95", "p99"))
        return f'<span class="num">{esc(parts)} ms</span>'
    if isinstance(value, (dict, list)):
        return value_html(value, 2)
    return f'<span class="num">{esc(metric_value(key, value))}</span>'


def _dr(view: ReportView) -> dict:
    dr = view.result.get("disaster_recovery")
    return dr if isinstance(dr, dict) else {}


def _budget_of(view: ReportView, metric: str) -> dict | None:
    """The first budget on `metric` (rpo_ops: the one on op all, else purchase, else any)."""
    rows = [b for b in view.result.get("budgets") or [] if isinstance(b, dict) and b.get("metric") == metric]
    rows.sort(key=lambda b: {"all": 0, "purchase": 1}.get(str(b.get("op")), 2))
    return rows[0] if rows else None


def _dr_card(view: ReportView, title: str, metric: str, value: str, sub: str = "") -> str:
    b = _budget_of(view, metric)
    word = passed_word(b.get("passed")) if b else None
    css = {"pass": "pass", "FAIL": "fail"}.get(word or "", "unknown")
    budget = (f'<div class="k">budget {esc(limit_text(b))} {pill(word or "", css)}</div>' if b
              else '<div class="k muted">no budget</div>')
    bad = " bad" if word == "FAIL" else ""
    return (f'<div class="card" data-dr="{esc(metric)}"><div class="k">{esc(title)}</div>'
            f'<div class="v{bad}">{esc(value)}</div>{budget}'
            + (f'<div class="k">{esc(sub)}</div>' if sub else "") + "</div>")


def _by_op(counts: object) -> str:
    c = counts if isinstance(counts, dict) else {}
    if c.get("all") is None:
        return "unknown"
    parts = [f"{num(c.get(k))} {what}" for k, what in (("purchase", "purchases"),
                                                         ("rotate_password", "password changes"))
             if c.get(k) is not None]
    return ", ".join(parts)


def _disaster_recovery(view: ReportView) -> str:
    """RTO and RPO next to their budgets, the recovery timeline, restores, the backup catalogue, and the
    acknowledged operations the restore lost (only for runs with disasters, restores or lost backups)."""
    dr = _dr(view)
    if not dr:
        return ""
    rto, rpo = dict_at(dr, "rto"), dict_at(dr, "rpo")
    rto_text = ("never recovered" if rto.get("never") else num(dr.get("rto_s"), "s"))
    behind = dr.get("restore_point_behind_disaster_s")
    point = (f"{num(dr.get('recovered_to_s'), 's')}" if dr.get("recovered_to_s") is not None else "—")
    cards = [
        _dr_card(view, "RTO: disaster → first acknowledged purchase", "rto_s", rto_text,
                 f"at least {num(dr.get('rto_s'), 's')}" if rto.get("never") else ""),
        _dr_card(view, "RPO: acknowledged writes lost (span)", "rpo_s", num(dr.get("rpo_s"), "s")),
        _dr_card(view, "lost by the restore", "rpo_ops", num((dr.get("rpo_ops") or {}).get("all")),
                 _by_op(dr.get("rpo_ops"))),
        _dr_card(view, "lost after recovery", "lost_after_recovery",
                 num((dr.get("lost_after_recovery") or {}).get("all")), _by_op(dr.get("lost_after_recovery"))),
        f'<div class="card" data-dr="restore-point"><div class="k">restore point (recovered to)</div>'
        f'<div class="v">{esc(point)}</div><div class="k">'
        + (esc(f"{num(behind, 's')} before the disaster") if behind is not None else "since load start")
        + "</div></div>",
    ]
    if dr.get("resold_seats") is not None:
        cards.append(_dr_card(view, "seats sold twice across the restore", "resold_seats",
                              num(dr.get("resold_seats")), "the first buyer's acknowledged purchase was lost"))
    out = ['<section id="disaster-recovery"><h2>Disaster recovery</h2>',
           '<p class="muted">RTO counts from the first disaster to the first acknowledged purchase invoked after '
           "the restore removed the old cluster; RPO is what the old cluster had acknowledged and the restored "
           "one does not hold. Times are seconds since load started.</p>",
           f'<div class="cards">{"".join(cards)}</div>']
    details = [x for x in (rto.get("detail"), rpo.get("detail")) if x]
    if details:
        out.append("<ul>" + "".join(f"<li>{esc(d)}</li>" for d in details) + "</ul>")
    out.append(_dr_timeline(dr))
    out.append(_dr_restores(dr))
    out.append(_dr_catalogue(dr))
    out.append(_dr_lost(dr))
    return "".join(out) + "</section>"


def _dr_timeline(dr: dict) -> str:
    rows = [r for r in dr.get("timeline") or [] if isinstance(r, dict)]
    if not rows:
        return ""
    start = next((as_float(r.get("t_s")) for r in rows if r.get("step") == "disaster"), None)
    cells, attrs = [], []
    for r in rows:
        t = as_float(r.get("t_s"))
        since = "" if t is None or start is None else ("+" if t >= start else "−") + num(abs(t - start), "s")
        cells.append([esc(r.get("what")), f'<span class="num">{esc(num(t, "s"))}</span>',
                      f'<span class="num">{esc(since)}</span>', esc(when(r.get("t")))])
        attrs.append(f'data-step="{esc(r.get("step") or "")}"')
    return ("<h3>Timeline</h3>" + table(["what", "at", "since the disaster", "UTC"], cells, "dr-timeline", attrs))


def _dr_restores(dr: dict) -> str:
    rows = [r for r in dr.get("restores") or [] if isinstance(r, dict)]
    if not rows:
        return '<h3>Restores</h3><p class="muted">No restore ran.</p>'
    cells, attrs = [], []
    for r in rows:
        result = pill("ok", "pass") if r.get("ok") else pill("failed", "fail")
        target = ("latest" if r.get("target") in (None, "latest")
                  else f"point in time {num(r.get('target_time_s'), 's')}"
                  + (f", just before transaction {esc(r.get('target_xid'))}" if r.get("target_xid") else ""))
        skipped = [s for s in r.get("sets_skipped") or [] if isinstance(s, dict)]
        skipped_html = "".join(f'<div><code>{esc(s.get("set"))}</code>: <span class="bad">{esc(s.get("error"))}'
                               f"</span></div>" for s in skipped) or '<span class="muted">none</span>'
        how = "action" if r.get("source") == "action" else "heal at the end of steady" + (
            " (timed by its heal line)" if r.get("approximate") else "")
        cells.append([f"<b>{esc(r.get('fault_id'))}</b> <span class='muted'>{esc(how)}</span>",
                      result + (f' <span class="bad">{esc(r.get("error"))}</span>' if r.get("error") else ""),
                      esc(target), f"<code>{esc(r.get('set_used'))}</code>", skipped_html,
                      esc(", ".join(str(c) for c in r.get("candidates") or []) or "—"),
                      f'<span class="num">{esc(num(r.get("started_s"), "s"))} → {esc(num(r.get("finished_s"), "s"))}'
                      "</span>", f'<span class="num">{esc(num(r.get("duration_s"), "s"))}</span>',
                      f'<span class="num">{esc(num(r.get("recovered_to_s"), "s"))}</span>'])
        attrs.append(f'data-restore="{esc(r.get("fault_id"))}" data-ok="{"true" if r.get("ok") else "false"}"'
                     + ("" if r.get("ok") else ' class="failed"'))
    return ("<h3>Restores</h3>" + table(["restore", "result", "target", "backup set used", "sets skipped",
                                         "candidates", "started → finished", "took", "recovered to"],
                                        cells, "dr-restores", attrs))


def _dr_catalogue(dr: dict) -> str:
    backups = dr.get("backups") if isinstance(dr.get("backups"), dict) else None
    if not backups:
        return '<h3>Backup catalogue</h3><p class="muted">No catalogue was recorded (no backups.json).</p>'
    used = {r.get("set_used") for r in dr.get("restores") or [] if isinstance(r, dict) and r.get("set_used")}
    skipped = {s.get("set"): s.get("error") for r in dr.get("restores") or [] if isinstance(r, dict)
               for s in r.get("sets_skipped") or [] if isinstance(s, dict)}
    lost = {label for x in dr.get("backup_losses") or [] if isinstance(x, dict) for label in x.get("lost") or []}
    cells, attrs = [], []
    for b in backups.get("catalogue") or []:
        if not isinstance(b, dict):
            continue
        start, stop = as_float(b.get("start")), as_float(b.get("stop"))
        took = stop - start if start is not None and stop is not None else None
        label = b.get("label")
        notes = (["used by the restore"] if label in used else []) + (["files lost"] if label in lost else []) + (
            [f"skipped: {skipped[label]}"] if label in skipped else [])
        cells.append([f"<code>{esc(label)}</code>", esc(b.get("type")), esc(when(start)), esc(when(stop)),
                      f'<span class="num">{esc(duration(took))}</span>',
                      f'<span class="num">{esc(size(b.get("size")))}</span>',
                      f'<span class="num">{esc(size(b.get("repo_size")))}</span>', esc("; ".join(notes))])
        attrs.append(f'data-backup="{esc(label)}"' + (' class="failed"' if label in lost or label in skipped else ""))
    source = f"from {backups.get('source')}" + (f", stanza {backups.get('stanza')}" if backups.get("stanza") else "")
    error = (f'<p class="bad">Reading the catalogue failed: {esc(backups.get("error"))}</p>'
             if backups.get("error") else "")
    if not cells:
        return f'<h3>Backup catalogue</h3>{error}<p class="muted">No backup set ({esc(source)}).</p>'
    return (f'<h3>Backup catalogue</h3><p class="muted">{esc(source)}</p>{error}'
            + table(["label", "type", "start", "stop", "took", "size", "in the repository", ""], cells,
                    "dr-catalogue", attrs))


def _lost_table(rows: list[dict]) -> str:
    cells = []
    for r in rows:
        seats = r.get("seats")
        seat_text = (", ".join(str(x) for x in seats) if isinstance(seats, list) else "") + (
            f" (event {r.get('event_id')})" if r.get("event_id") is not None and seats else "")
        if r.get("op") == "rotate_password":
            seat_text = f"version {r.get('acknowledged_version')} → {num(r.get('final_version'))}"
        cells.append([f"<code>{esc(r.get('key'))}</code>", esc(r.get("op")), esc(r.get("user")),
                      esc(seat_text or "—"),
                      f'<span class="num">{esc(num(r.get("ack_s"), "s"))}</span>',
                      f'<span class="num">{esc(num(r.get("invoke_s"), "s"))}</span>'])
    return table(["key", "op", "user", "seats / credential", "acknowledged at", "invoked at"], cells, "records")


def _dr_lost(dr: dict) -> str:
    lost = dict_at(dr, "lost")
    if dr.get("final_state") != "complete":
        return ('<h3>Lost acknowledged operations</h3><p class="muted">Unknown: the final state is '
                f"{esc(dr.get('final_state') or 'missing')} (the database could not be read after the drill), so "
                "nothing can be compared with the history.</p>")
    out = ["<h3>Lost acknowledged operations</h3>"]
    for key, title, explain in (
            ("by_restore", "lost by the restore", "invoked before the old cluster was gone"),
            ("after_recovery", "lost after recovery", "invoked after the restore removed the old cluster: the "
                                                      "restored cluster acknowledged them and lost them")):
        n = int(as_float(lost.get(key)) or 0)
        rows = [r for r in lost.get(f"{key}_samples") or [] if isinstance(r, dict)]
        shown = f"{len(rows)} shown" if len(rows) < n else "all shown"
        bad = ' class="bad"' if key == "after_recovery" and n else ""
        if not n:
            out.append(f'<p data-lost="{key}"><b>{esc(title)}</b>: <span{bad}>none</span> '
                       f'<span class="muted">({esc(explain)})</span></p>')
            continue
        out.append(f'<details open data-lost="{key}"><summary><span{bad}>{esc(title)}: {n}</span> '
                   f'<span class="muted">({esc(explain)}; {shown})</span></summary>{_lost_table(rows)}</details>')
    resold = [r for r in dr.get("resold_samples") or [] if isinstance(r, dict)]
    if resold:
        out.append(f'<details data-lost="resold"><summary>seats re-sold after the restore: '
                   f'{esc(num(dr.get("resold_seats")))}</summary>{records_html(resold)}</details>')
    return "".join(out)


def _timeline(view: ReportView, charts: dict) -> str:
    present = {fault_family(f.type).name for f in view.faults}
    shown = [fam for fam in FAMILIES.values() if fam.always_in_legend or fam.name in present]
    keys = " ".join(f'<span style="color:{fam.colour}">■ {esc(fam.label)}</span>' for fam in shown)
    legend = (f"Shaded bands are faults from inject (solid line) to heal (dashed line): {keys}; a hatched band "
              "was never healed. Dotted lines separate the phases. Hover a band for details.")
    parts = [f'<section id="timeline"><h2>Timeline</h2><p class="muted">{legend}</p>']
    captions = {
        "ops": ("Operations per second", f"completed operations by outcome (source: {view.series_source or '—'}); "
                "red marks along the axis are outages (no successful purchase while attempts failed)"),
        "latency": ("Latency p50 and p99", "per second, of acknowledged operations (a failed or timed-out "
                    "operation has no latency here: see the operations chart)"),
        "success": ("Success ratio per second", "acknowledged / completed; outage windows cross-hatched"),
        "roles": ("Node roles", "from probes.jsonl: the leader row names the Patroni leader; below, every "
                  "node's state (down, frozen, cut off)"),
    }
    for name, (title, caption) in captions.items():
        svg = charts.get(name)
        if svg:
            parts.append(f'<figure id="chart-{name}"><h3>{esc(title)}</h3>{svg}<figcaption>{esc(caption)}'
                         "</figcaption></figure>")
        else:
            missing = "probes.jsonl" if name == "roles" else "history*.jsonl, stats.jsonl or result.json's series"
            parts.append(f'<figure id="chart-{name}"><h3>{esc(title)}</h3><p class="muted">No data to draw '
                         f"(needs {esc(missing)}).</p></figure>")
    parts.append("</section>")
    return "".join(parts)


def _outages(view: ReportView) -> str:
    if not view.outages:
        return ""
    a = dict_at(view.result, "availability")
    first = a.get("op") or "purchase"
    outages = sorted(view.outages, key=lambda o: (o.op != first, o.op, o.start_s))
    rows = [[esc(o.op), f'<span class="num">{esc(num(o.start_s, "s"))}</span>',
             f'<span class="num">{esc(num(o.end_s, "s"))}{" (still down at end)" if o.open else ""}</span>',
             f'<span class="num"><b>{esc(num(o.duration_s, "s"))}</b></span>'] for o in outages]
    return ('<section id="outages"><h3>Outage windows</h3>'
            + table(["operation", "from", "to", "duration"], rows) + "</section>")


def _failovers(view: ReportView) -> str:
    a = dict_at(view.result, "availability")
    rows = [f for f in a.get("failovers") or [] if isinstance(f, dict)]
    if not rows:
        return ""
    cells = []
    for f in rows:
        lower = "≥ " if f.get("censored") else ""
        seen = (f' <span class="muted">(probes: {esc(num(f.get("seen_gone_s"), "s"))}, fault '
                f'{esc(f.get("fault_id"))})</span>' if f.get("fault_id") and f.get("seen_gone_s") != f.get("gone_s")
                else "")
        cells.append([esc(f"{f.get('old_leader') or '?'} → {f.get('new_leader') or 'none'}"),
                      f'<span class="num">{esc(num(f.get("gone_s"), "s"))}</span>{seen}',
                      f'<span class="num">{esc(num(f.get("new_leader_s"), "s"))}</span>',
                      f'<span class="num">{esc(num(f.get("election_s"), "s"))}</span>',
                      f'<span class="num">{esc(num(f.get("first_purchase_s"), "s"))}</span>',
                      f'<span class="num"><b>{esc(lower + num(f.get("failover_s"), "s"))}</b></span>'])
    return ('<section id="failovers"><h3>Leader changes</h3><p class="muted">Failover = from the moment the old '
            "leader was gone (the fault that struck it, or when the probes saw it go) to the first acknowledged "
            "purchase after a new leader took over (≥: no purchase succeeded before the load stopped).</p>"
            + table(["leader", "gone at", "new leader at", "election", "first purchase at", "failover"], cells)
            + "</section>")


def _audit(view: ReportView) -> str:
    audit = view.result.get("audit")
    head = '<section id="audit"><h2>Data-loss audit</h2>'
    if not isinstance(audit, dict) or not audit:
        fs = view.run.final_state
        brief = ({k: fs[k] for k in ("complete", "counts", "errors", "read_at") if k in fs}
                 if isinstance(fs, dict) else {})
        extra = ("<h3>final-state.json (summary)</h3>" + value_html(brief)) if brief else ""
        why = "the checks did not run" if view.run.result is None else "result.json has no audit"
        return head + f'<p class="muted">No audit ({esc(why)}).</p>{extra}</section>'
    keys = [k for k in DATA_LOSS + NEUTRAL_COUNTS if k in audit]
    keys += [k for k, v in audit.items() if k not in keys and not isinstance(v, (dict, list))]
    rows, attrs = [], []
    for k in keys:
        n = as_float(audit.get(k))
        bad = k in DATA_LOSS and (n or 0) > 0
        rows.append([f"<b>{esc(k)}</b>", f'<span class="num {"bad" if bad else ""}">{esc(num(audit.get(k)))}</span>',
                     esc(AUDIT_MEANING.get(k, ""))])
        attrs.append(f'data-anomaly="{esc(k)}"' + (' class="failed"' if bad else ""))
    out = [head, table(["check", "count", "meaning"], rows, "audit", attrs)]
    samples = audit.get("samples")
    if isinstance(samples, dict) and samples:
        out.append("<h3>Samples</h3>")
        for name, items in samples.items():
            items = items if isinstance(items, list) else [items]
            body = (records_html(items) if items and all(isinstance(i, dict) for i in items)
                    else f"<pre>{esc(json.dumps(items, indent=1, default=str)[:20000])}</pre>")
            opened = " open" if name in DATA_LOSS else ""
            out.append(f'<details{opened} data-samples="{esc(name)}"><summary>{esc(name)} '
                       f'({len(items)} shown)</summary>{body}</details>')
    return "".join(out) + "</section>"


def _faults(view: ReportView) -> str:
    head = '<section id="faults"><h2>Faults</h2>'
    if not view.faults:
        return head + '<p class="muted">No fault was injected (or events.jsonl is missing).</p></section>'
    extra = {}
    for r in view.result.get("faults") or []:
        if isinstance(r, dict):
            extra[(str(r.get("id") or r.get("fault_id")), int(as_float(r.get("iteration")) or 0))] = r
    with_timing = any(r.get("detection_s") is not None or r.get("recovery_s") is not None for r in extra.values())
    rows, attrs = [], []
    for f in view.faults:
        late = (f.start_s - f.scheduled_s) if f.start_s is not None and f.scheduled_s is not None else None
        lasted = (f.end_s - f.start_s) if f.end_s is not None and f.start_s is not None else None
        result = (pill("ok", "pass") if f.ok is True else pill("failed", "fail") if f.ok is False
                  else pill("?", "unknown"))
        heal = ("" if f.end_s is not None else '<span class="bad">never healed</span>')
        if f.heal_ok is False:
            heal = f'<span class="bad">heal failed: {esc(f.heal_error)}</span>'
        colour = fault_family(f.type).colour
        rows.append([f'<span style="color:{colour}">■</span> <b>{esc(f.fault_id)}</b>'
                     + (f" #{f.iteration}" if f.iteration else ""),
                     esc(f.type), esc(f.target), f'<span class="num">{esc(num(f.scheduled_s, "s"))}</span>',
                     f'<span class="num">{esc(num(f.start_s, "s"))}'
                     + (f' <span class="muted">(+{esc(num(late * 1000, "ms"))})</span>' if late is not None else "")
                     + "</span>",
                     f'<span class="num">{esc(num(f.end_s, "s"))}</span>',
                     f'<span class="num">{esc(num(lasted, "s"))}</span>',
                     result + (f" {esc(f.error)}" if f.error else "") + (f" {heal}" if heal else "")])
        if with_timing:
            r = extra.get((f.fault_id, f.iteration), {})
            rows[-1][6:6] = [f'<span class="num">{esc(num(r.get("detection_s"), "s"))}</span>',
                             f'<span class="num">{esc(num(r.get("recovery_s"), "s"))}</span>']
        attrs.append(f'id="fault-{esc(f.key)}" data-fault-key="{esc(f.key)}"')
    return (head + '<p class="muted">Offsets are seconds since load started; the lateness of each injection '
            "against its schedule is in brackets.</p>"
            + table(["fault", "type", "target", "scheduled", "injected", "healed"]
                    + (["detected after", "recovered after"] if with_timing else []) + ["lasted", "result"], rows,
                    "faults", attrs) + "</section>")


def _generator(view: ReportView, charts: dict) -> str:
    g = view.result.get("generator")
    out = ['<section id="generator"><h2>Load generator</h2>',
           '<p class="muted">If the generator falls behind its target or runs out of CPU, the load it offered '
           "was lower than planned and the numbers above understate the stress.</p>"]
    if isinstance(g, dict) and g:
        out.append(_generator_verdict(g))
    if charts.get("generator"):
        out.append(f'<figure id="chart-generator">{charts["generator"]}</figure>')
    if isinstance(g, dict) and g:
        out.append(f"<details><summary>All generator numbers</summary>{value_html(g)}</details>")
    elif not charts.get("generator"):
        out.append('<p class="muted">No generator data (stats.jsonl missing).</p>')
    return "".join(out) + "</section>"


def _generator_verdict(g: dict) -> str:
    facts = []
    if as_float(g.get("achieved_ratio")) is not None:
        facts.append(f"offered {percent(g['achieved_ratio'])} of the target rate while the system was healthy")
    if as_float(g.get("cpu_max")) is not None:
        facts.append(f"busiest load process peaked at {num(g['cpu_max'])} % CPU")
    if as_float(g.get("users_max")) is not None:
        facts.append(f"at most {num(g['users_max'])} concurrent users")
    text = "; ".join(facts) + "." if facts else ""
    if g.get("saturated") is True:
        reasons = "".join(f"<li>{esc(r)}</li>" for r in g.get("reasons") or [])
        return (f'<div class="notes"><b class="bad">The load generator was saturated</b>: failed availability '
                f"budgets are not trusted. {esc(text)}<ul>{reasons}</ul></div>")
    if g.get("saturated") is False:
        return f'<p><span class="good">&#10003; The generator kept up.</span> {esc(text)}</p>'
    reasons = "; ".join(str(r) for r in g.get("reasons") or [])
    return f"<p>{esc(text or reasons or 'Generator health unknown.')}</p>"


def _environment(view: ReportView) -> str:
    r, meta = view.result, view.run.meta or {}
    cmd = command_line(meta)
    out = ['<section id="environment"><h2>Environment and re-run</h2>']
    if cmd:
        out.append(f'<h3>Re-run this drill</h3><div class="cmd"><pre id="rerun">{esc(cmd)}</pre></div>'
                   f'<p class="muted">Seed {esc(r.get("seed"))}: the same seed replays the same choices '
                   "(targets, user mix, timings of the load).</p>")
    else:
        out.append('<p class="muted">The command line is unknown (meta.json is missing or has none).</p>')
    rows = [["run id", esc(r.get("run_id"))], ["seed", esc(r.get("seed"))], ["started", esc(when(r.get("started")))],
            ["finished", esc(when(r.get("finished")))], ["duration", esc(duration(r.get("duration_s")))]]
    out.append(table(["", ""], rows, "kv"))
    for key, title in (("versions", "Versions"), ("images", "Image ids")):
        value = r.get(key) or meta.get(key)
        if value:
            out.append(f"<h3>{esc(title)}</h3>{value_html(value)}")
    rest = {k: v for k, v in meta.items() if k not in ("versions", "images", "run_secret", "command", "command_line",
                                                         "cmdline", "argv", "seed", "run_id")}
    if rest:
        out.append(f"<details><summary>meta.json</summary>{value_html(rest)}</details>")
    return "".join(out) + "</section>"


def _scenario(view: ReportView) -> str:
    text = view.run.scenario_text
    body = f"<pre>{esc(text)}</pre>" if text else '<p class="muted">scenario.yaml is missing.</p>'
    return f'<section id="scenario"><h2>Scenario (scenario.yaml)</h2>{body}</section>'
