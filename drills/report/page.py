"""report.html: one self-contained page a reviewer who was not there can read top to bottom.

Order: verdict, what is missing, budgets (why the verdict), headline numbers, the timeline charts, outages,
data-loss audit, faults, load generator, environment and re-run command, the scenario itself.
"""

from __future__ import annotations

import json
from typing import Any

from drills import __version__
from drills.checks.result_model import (
    BudgetRow,
    ByOp,
    DisasterRecovery,
    Generator,
    LostOp,
    Restore,
)
from drills.report.alertlane import alerting_html
from drills.report.charts import fault_family, headline_budgets, render_charts
from drills.report.fmt import (
    as_float,
    duration,
    limit_text,
    meaning,
    metric_value,
    num,
    observed_text,
    passed_word,
    percent,
    size,
    when,
)
from drills.report.htmlkit import esc, items_html, page, pill, records_html, table, value_html
from drills.report.quote import SECTION_MAX
from drills.report.relevance import DATA_LOSS_KEYS, audit_counts, audit_unknown_reasons, shows_failover
from drills.report.timeline import phase_gaps
from drills.report.view import ReportView
from drills.report.workers import workers_html
from drills.report.zonetable import zones_html
from drills.rundir import files
from drills.scenario.fault_families import FAMILIES

AUDIT_MEANING = {
    "acknowledged": "writes acknowledged (some attempt got a 2xx), once per write identity",
    "lost": "acknowledged, but missing from the final read",
    "unexpected": "in the final read, but never attempted, or every attempt definitely failed",
    "duplicated": "one write identity found more than once",
    "oversold": "a seat sold more than once (two tickets for one seat of an event)",
    "sold_over_capacity": "more tickets than the event has seats",
    "indeterminate": "writes whose outcome the client never learned (timeouts, 502/503/504) and none acknowledged",
    "indeterminate_applied": "indeterminate writes that did take effect",
    "indeterminate_not_applied": "indeterminate writes that did not take effect",
    "attempted": "writes attempted (distinct identities)",
    "failed": "writes whose every attempt definitely failed",
    "unkeyed": "write attempts without a usable identity (not judged)",
    "unique_violations": "values more than one row holds where they must be unique",
    "counter_mismatch": "counters whose final value is not what the acknowledged (and indeterminate) writes add",
    "inventory_mismatch": "an event's sold count disagrees with its tickets",
    "rotations_acknowledged": "password rotations the API acknowledged",
    "credentials_checked": "users whose final password was verified",
    "sessions_checked": "revoked sessions tried again afterwards",
    "final_state": "whether the final read got everything (complete, incomplete or missing)",
    "credential_changes_lost": "acknowledged password rotations that were undone",
    "revoked_sessions_working": "sessions revoked by a rotation that still worked",
    "anomalies": "the data-loss counts above added up (the known ones)",
}
# meta.json keys never shown (the run secret re-derives every user's password) or shown elsewhere
META_HIDDEN = ("run_secret", "versions", "images", "rerun_command", "seed", "run_id")


def render_html(view: ReportView) -> str:
    """The whole report.html for one run."""
    charts = render_charts(view)
    body = [_banner(view), '<main>', _nav(view), _notes(view), _budgets(view), _headline(view),
            _disaster_recovery(view), _timeline(view, charts), zones_html(view), alerting_html(view), _outages(view),
            _failovers(view),
            _protection(view),
            _audit(view),
            _faults(view),
            _generator(view, charts),
            _environment(view), _scenario(view),
            f'<footer>Rendered by drills {esc(__version__)} from <code>{esc(view.path)}</code>. '
            f'Re-render with <code>drill report {esc(view.path)}</code>.</footer>', '</main>']
    return page(f"{view.verdict.title} · {view.scenario_name} · drills", "\n".join(body), script=True)


def _banner(view: ReportView) -> str:
    r, v = view.result, view.verdict
    facts = [("run", r["run_id"]), ("started", when(r["started"])), ("took", duration(r["duration_s"])),
             ("seed", r["seed"])]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(val)}</dd></div>" for k, val in facts if val not in (None, "—"))
    desc = r["description"]
    reasons = [x for x in r["verdict_reasons"] if x]
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
        ("timeline", "Timeline")] + ([("zones", "Zones")] if view.result.get("zones") else []) + (
        [("alerting", "Alerting")] if view.result.get("alerting") else []) + [
        ("audit", "Data-loss audit"), ("faults", "Faults"),
        ("generator", "Load generator"), ("environment", "Environment & re-run"), ("scenario", "Scenario")]
    return "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</nav>"


def _notes(view: ReportView) -> str:
    if not view.notes:
        return ""
    return (f'<section class="notes" id="missing"><h2>Read this first: gaps and notes</h2>{items_html(view.notes)}'
            "</section>")


def _budgets(view: ReportView) -> str:
    budgets = view.result["budgets"]
    if not budgets:
        why = "the checks could not run" if view.origin == "failed" else "the scenario declares no budgets"
        return (f'<section id="budgets"><h2>Budgets</h2><p class="muted">No budgets were evaluated ({why}).</p>'
                "</section>")
    rows, attrs = [], []
    for b in budgets:
        word = passed_word(b["passed"])
        css = {"pass": "pass", "FAIL": "fail"}.get(word, "unknown")
        scope = f"{b['op']} · {b['phase']}" if "alert" not in b else f"alert {b['alert']}" if b.get("alert") \
            else "every alert" if b["metric"] == "false_alarms" else "every expected alert"
        rows.append([f"<b>{esc(b['name'])}</b>", esc(scope),
                     f'<span class="num">{esc(limit_text(b))}</span>',
                     f'<span class="num">{esc(observed_text(b))}</span>',
                     pill(word, css), esc(b["detail"])])
        attrs.append(f'class="{"failed" if word == "FAIL" else ""}" data-budget="{esc(b["name"])}" '
                     f'data-passed="{esc(word)}"')
    failed = sum(1 for b in budgets if b["passed"] is False)
    unknown = sum(1 for b in budgets if b["passed"] is None)
    summary = f"{len(budgets)} budgets: {len(budgets) - failed - unknown} held, {failed} exceeded, {unknown} unknown."
    return (f'<section id="budgets"><h2>Budgets</h2><p>{esc(summary)}</p>'
            + table(["budget", "operation · phase", "limit", "observed", "result", "why"], rows, "budgets", attrs)
            + "</section>")


def _headline(view: ReportView) -> str:
    """The headline numbers as cards; each says what it measures and which budget, if any, judges it (a budget
    on another phase shows its own observed value: the card's number is the whole run's)."""
    a = view.result["availability"]
    lat = a["latency_ms"]
    cards: list[tuple[str, str, str | None]] = [
        ("success ratio", percent(a["success_ratio"]), "success_ratio"),
        ("longest outage", num(a["longest_outage_s"], "s"), "longest_outage_s")]
    if shows_failover(view.result):
        cards.append(("failover", num(a["failover_s"], "s"), "failover_s"))
    cards += [
        ("detection", num(a["detection_s"], "s"), "detection_s"),
        ("recovery", num(a["recovery_s"], "s"), "recovery_s"),
        ("latency p50", num(lat["p50"], "ms"), "latency_p50_ms"), ("p95", num(lat["p95"], "ms"), "latency_p95_ms"),
        ("p99", num(lat["p99"], "ms"), "latency_p99_ms")]
    if a["error_budget"]["burn"] is not None:
        cards.append(("error budget spent", percent(a["error_budget"]["burn"]), "error_budget_burn"))
    anomalies = view.result["audit"].get("anomalies")
    cards.append(("data-loss anomalies", "unknown" if anomalies is None else str(anomalies), None))
    unknown_why = audit_unknown_reasons(view.result)

    def bad(k: str, v: str) -> str:
        return " bad" if k == "data-loss anomalies" and v not in ("0", "unknown") else ""

    html_cards = "".join(
        f'<div class="card" data-card="{esc(metric or "anomalies")}"><div class="k">{esc(k)}</div>'
        f'<div class="v{bad(k, v)}">{esc(v)}</div>{_card_budgets(view, metric)}'
        f'<div class="m muted">{esc(meaning(metric) if metric else AUDIT_MEANING["anomalies"])}</div>'
        + (f'<div class="m bad" data-unknown-why="">unknown: {esc(unknown_why[0])}'
           + (f" (and {len(unknown_why) - 1} more, see the audit)" if len(unknown_why) > 1 else "") + "</div>"
           if metric is None and unknown_why else "") + "</div>"
        for k, v, metric in cards)
    src = f" — {a['op']} operations, whole run"
    return f'<section id="availability"><h2>What clients saw{esc(src)}</h2><div class="cards">{html_cards}</div>' \
           + _breakdowns(view) + "</section>"


def _card_budgets(view: ReportView, metric: str | None) -> str:
    """The budgets a headline card's number relates to: limit, scope when it is not the card's, outcome."""
    if metric is None:
        rows = [b for b in view.result["budgets"] if b["metric"] in DATA_LOSS_KEYS]
        if not rows:
            return '<div class="k muted" data-budget="">no data-loss budget</div>'
        failed = sum(1 for b in rows if b["passed"] is False)
        unknown = sum(1 for b in rows if b["passed"] is None)
        word, css = ("FAIL", "fail") if failed else ("unknown", "unknown") if unknown else ("pass", "pass")
        return (f'<div class="k" data-budget="data-loss">{len(rows)} data-loss budget(s): {pill(word, css)}</div>')
    rows = headline_budgets(view, (metric,))
    if not rows:
        return '<div class="k muted" data-budget="">no budget</div>'
    out = []
    for b in rows[:3]:
        word = passed_word(b["passed"])
        css = {"pass": "pass", "FAIL": "fail"}.get(word, "unknown")
        scope = "" if b["phase"] == "all" else f" on {b['phase'].replace('_', ' ')}"
        seen = "" if b["phase"] == "all" else f" (observed {observed_text(b)})"
        out.append(f'<div class="k" data-budget="{esc(b["name"])}">budget{esc(scope)} {esc(limit_text(b))}'
                   f"{esc(seen)} {pill(word, css)}</div>")
    return "".join(out)


def _breakdowns(view: ReportView) -> str:
    a = view.result["availability"]
    out = []
    tables: tuple[tuple[str, dict[str, Any]], ...] = (("By operation", dict(a["per_op"])),
                                                      ("By phase", dict(a["per_phase"])))
    for title, value in tables:
        if value:
            cols: list[str] = []
            for v in value.values():
                cols += [c for c in v if c not in cols and c != "per_phase"]
            rows = [[f"<b>{esc(k)}</b>"] + [_cell(c, v.get(c)) for c in cols] for k, v in value.items()]
            heads = [""] + ["latency p50 / p95 / p99" if c == "latency_ms" else c for c in cols]
            out.append(f"<details><summary>{esc(title)}</summary>{table(heads, rows)}</details>")
    return "".join(out)


def _cell(key: str, value: object) -> str:
    if key == "latency_ms" and isinstance(value, dict):
        parts = " / ".join(num(value.get(q)) for q in ("p50", "p95", "p99"))
        return f'<span class="num">{esc(parts)} ms</span>'
    if isinstance(value, (dict, list)):
        return value_html(value, 2)
    return f'<span class="num">{esc(metric_value(key, value))}</span>'


def _dr(view: ReportView) -> DisasterRecovery | None:
    return view.result.get("disaster_recovery")


def _budget_of(view: ReportView, metric: str) -> BudgetRow | None:
    """The first budget on `metric` (rpo_ops: the one on op all, else purchase, else any)."""
    rows = [b for b in view.result["budgets"] if b["metric"] == metric]
    rows.sort(key=lambda b: {"all": 0, "purchase": 1}.get(b["op"], 2))
    return rows[0] if rows else None


def _dr_card(view: ReportView, title: str, metric: str, value: str, sub: str = "") -> str:
    b = _budget_of(view, metric)
    word = passed_word(b["passed"]) if b else None
    css = {"pass": "pass", "FAIL": "fail"}.get(word or "", "unknown")
    budget = (f'<div class="k">budget {esc(limit_text(b))} {pill(word or "", css)}</div>' if b
              else '<div class="k muted">no budget</div>')
    bad = " bad" if word == "FAIL" else ""
    return (f'<div class="card" data-dr="{esc(metric)}"><div class="k">{esc(title)}</div>'
            f'<div class="v{bad}">{esc(value)}</div>{budget}'
            + (f'<div class="k">{esc(sub)}</div>' if sub else "") + "</div>")


def _by_op(c: ByOp) -> str:
    if c["all"] is None:
        return "unknown"
    parts = [f"{num(n)} {what}" for n, what in ((c["purchase"], "purchases"),
                                                 (c["rotate_password"], "password changes")) if n is not None]
    return ", ".join(parts)


def _disaster_recovery(view: ReportView) -> str:
    """RTO and RPO next to their budgets, the recovery timeline, restores, the backup catalogue, and the
    acknowledged operations the restore lost (only for runs with disasters, restores or lost backups)."""
    dr = _dr(view)
    if not dr:
        return ""
    rto, rpo = dr["rto"], dr["rpo"]
    rto_text = "never recovered" if rto["never"] else num(dr["rto_s"], "s")
    behind = dr["restore_point_behind_disaster_s"]
    point = num(dr["recovered_to_s"], "s")
    cards = [
        _dr_card(view, "RTO: disaster → first acknowledged purchase", "rto_s", rto_text,
                 f"at least {num(dr['rto_s'], 's')}" if rto["never"] else ""),
        _dr_card(view, "RPO: acknowledged writes lost (span)", "rpo_s", num(dr["rpo_s"], "s")),
        _dr_card(view, "lost by the restore", "rpo_ops", num(dr["rpo_ops"]["all"]), _by_op(dr["rpo_ops"])),
        _dr_card(view, "lost after recovery", "lost_after_recovery", num(dr["lost_after_recovery"]["all"]),
                 _by_op(dr["lost_after_recovery"])),
        f'<div class="card" data-dr="restore-point"><div class="k">restore point (recovered to)</div>'
        f'<div class="v">{esc(point)}</div><div class="k">'
        + (esc(f"{num(behind, 's')} before the disaster") if behind is not None else "since load start")
        + "</div></div>",
    ]
    if dr["resold_seats"] is not None:
        cards.append(_dr_card(view, "seats sold twice across the restore", "resold_seats",
                              num(dr["resold_seats"]), "the first buyer's acknowledged purchase was lost"))
    out = ['<section id="disaster-recovery"><h2>Disaster recovery</h2>',
           '<p class="muted">RTO counts from the first disaster to the first acknowledged purchase invoked after '
           "the restore removed the old cluster; RPO is what the old cluster had acknowledged and the restored "
           "one does not hold. Times are seconds since load started.</p>",
           f'<div class="cards">{"".join(cards)}</div>']
    details = [x for x in (rto["detail"], rpo["detail"]) if x]
    if details:
        out.append("<ul>" + "".join(f"<li>{esc(d)}</li>" for d in details) + "</ul>")
    out.append(_dr_timeline(dr))
    out.append(_dr_restores(dr))
    out.append(_dr_catalogue(dr))
    out.append(_dr_lost(dr))
    return "".join(out) + "</section>"


def _signed(seconds: float | None) -> str:
    return "" if seconds is None else ("+" if seconds >= 0 else "−") + num(abs(seconds), "s")


def _dr_timeline(dr: DisasterRecovery) -> str:
    rows = dr["timeline"]
    if not rows:
        return ""
    cells, attrs = [], []
    for r in rows:
        cells.append([esc(r["what"]), f'<span class="num">{esc(num(r["t_s"], "s"))}</span>',
                      f'<span class="num">{esc(_signed(r["since_disaster_s"]))}</span>', esc(when(r["t"]))])
        attrs.append(f'data-step="{esc(r["step"])}"')
    return ("<h3>Timeline</h3>" + table(["what", "at", "since the disaster", "UTC"], cells, "dr-timeline", attrs))


def _dr_restores(dr: DisasterRecovery) -> str:
    rows = dr["restores"]
    if not rows:
        return '<h3>Restores</h3><p class="muted">No restore ran.</p>'
    cells, attrs = [], []
    for r in rows:
        result = pill("ok", "pass") if r["ok"] else pill("failed", "fail")
        target = ("latest" if r["target"] in (None, "latest")
                  else f"point in time {num(r['target_time_s'], 's')}"
                  + (f", just before transaction {esc(r['target_xid'])}" if r["target_xid"] else ""))
        skipped = r["sets_skipped"]
        skipped_html = "".join(f'<div><code>{esc(s.get("set"))}</code>: <span class="bad">{esc(s.get("error"))}'
                               f"</span></div>" for s in skipped) or '<span class="muted">none</span>'
        how = "action" if r["source"] == "action" else "heal at the end of steady" + (
            " (timed by its heal line)" if r["approximate"] else "")
        cells.append([f"<b>{esc(r['fault_id'])}</b> <span class='muted'>{esc(how)}</span>",
                      result + (f' <span class="bad">{esc(r["error"])}</span>' if r["error"] else ""),
                      esc(target), f"<code>{esc(r['set_used'])}</code>", skipped_html,
                      esc(", ".join(str(c) for c in r["candidates"]) or "—"),
                      f'<span class="num">{esc(num(r["started_s"], "s"))} → {esc(num(r["finished_s"], "s"))}'
                      "</span>", f'<span class="num">{esc(num(r["duration_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(r["recovered_to_s"], "s"))}</span>',
                      _voided(r)])
        attrs.append(f'data-restore="{esc(r["fault_id"])}" data-ok="{"true" if r["ok"] else "false"}"'
                     + ("" if r["ok"] else ' class="failed"'))
    return ("<h3>Restores</h3>" + table(["restore", "result", "target", "backup set used", "sets skipped",
                                         "candidates", "started → finished", "took", "recovered to",
                                         "sessions voided"],
                                        cells, "dr-restores", attrs))


def _voided(r: Restore) -> str:
    """The price of the session epoch: every session the restored database held is void (its user logs in
    again), because it cannot tell which ones the lost password changes revoked."""
    if r["sessions_voided"] is None:
        return ('<span class="bad" title="no session epoch: sessions revoked by lost password changes may work '
                'again">not voided</span>' if r["ok"] else '<span class="muted">—</span>')
    return (f'<span class="num" title="every user with a session logs in again">{esc(r["sessions_voided"])}</span>'
            f' <span class="muted">at {esc(num(r["sessions_not_before_s"], "s"))}</span>')


def _dr_catalogue(dr: DisasterRecovery) -> str:
    backups = dr["backups"]
    if not backups:
        return '<h3>Backup catalogue</h3><p class="muted">No catalogue was recorded (no backups.json).</p>'
    used = {r["set_used"] for r in dr["restores"] if r["set_used"]}
    skipped = {s.get("set"): s.get("error") for r in dr["restores"] for s in r["sets_skipped"]}
    lost = {label for x in dr["backup_losses"] for label in x["lost"] or []}
    cells, attrs = [], []
    for b in backups["catalogue"]:
        label = b["label"]
        notes = (["used by the restore"] if label in used else []) + (["files lost"] if label in lost else []) + (
            [f"skipped: {skipped[label]}"] if label in skipped else [])
        cells.append([f"<code>{esc(label)}</code>", esc(b["type"]), esc(when(b["start"])), esc(when(b["stop"])),
                      f'<span class="num">{esc(duration(b["duration_s"]))}</span>',
                      f'<span class="num">{esc(size(b.get("size")))}</span>',
                      f'<span class="num">{esc(size(b.get("repo_size")))}</span>', esc("; ".join(notes))])
        attrs.append(f'data-backup="{esc(label)}"' + (' class="failed"' if label in lost or label in skipped else ""))
    source = f"from {backups['source']}" + (f", stanza {backups['stanza']}" if backups["stanza"] else "")
    error = (f'<p class="bad">Reading the catalogue failed: {esc(backups["error"])}</p>'
             if backups["error"] else "")
    if not cells:
        return f'<h3>Backup catalogue</h3>{error}<p class="muted">No backup set ({esc(source)}).</p>'
    return (f'<h3>Backup catalogue</h3><p class="muted">{esc(source)}</p>{error}'
            + table(["label", "type", "start", "stop", "took", "size", "in the repository", ""], cells,
                    "dr-catalogue", attrs))


def _lost_table(rows: list[LostOp]) -> str:
    cells = []
    for r in rows:
        seats = r.get("seats")
        seat_text = (", ".join(str(x) for x in seats) if isinstance(seats, list) else "") + (
            f" (event {r.get('event_id')})" if r.get("event_id") is not None and seats else "")
        if r["op"] == "rotate_password":
            seat_text = f"version {r.get('acknowledged_version')} → {num(r.get('final_version'))}"
        cells.append([f"<code>{esc(r['key'])}</code>", esc(r["op"]), esc(r["user"]),
                      esc(seat_text or "—"),
                      f'<span class="num">{esc(num(r["ack_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(r["invoke_s"], "s"))}</span>'])
    return table(["key", "op", "user", "seats / credential", "acknowledged at", "invoked at"], cells, "records")


def _dr_lost(dr: DisasterRecovery) -> str:
    lost = dr["lost"]
    if dr["final_state"] != "complete":
        return ('<h3>Lost acknowledged operations</h3><p class="muted">Unknown: the final state is '
                f"{esc(dr['final_state'] or 'missing')} (the database could not be read after the drill), so "
                "nothing can be compared with the history.</p>")
    out = ["<h3>Lost acknowledged operations</h3>"]
    for n, rows, key, title, explain in (
            (lost["by_restore"], lost["by_restore_samples"], "by_restore", "lost by the restore",
             "invoked before the old cluster was gone"),
            (lost["after_recovery"], lost["after_recovery_samples"], "after_recovery", "lost after recovery",
             "invoked after the restore removed the old cluster: the restored cluster acknowledged them and lost "
             "them")):
        shown = f"{len(rows)} shown" if len(rows) < n else "all shown"
        bad = ' class="bad"' if key == "after_recovery" and n else ""
        if not n:
            out.append(f'<p data-lost="{key}"><b>{esc(title)}</b>: <span{bad}>none</span> '
                       f'<span class="muted">({esc(explain)})</span></p>')
            continue
        out.append(f'<details open data-lost="{key}"><summary><span{bad}>{esc(title)}: {n}</span> '
                   f'<span class="muted">({esc(explain)}; {shown})</span></summary>{_lost_table(rows)}</details>')
    if dr["resold_samples"]:
        out.append(f'<details data-lost="resold"><summary>seats re-sold after the restore: '
                   f'{esc(num(dr["resold_seats"]))}</summary>{records_html(dr["resold_samples"])}</details>')
    return "".join(out)


def _timeline(view: ReportView, charts: dict) -> str:
    present = {fault_family(f.type).name for f in view.faults}
    shown = [fam for fam in FAMILIES.values() if fam.always_in_legend or fam.name in present]
    keys = " ".join(f'<span style="color:{fam.colour}">■ {esc(fam.label)}</span>' for fam in shown)
    legend = (f"Shaded bands are faults from inject (solid line) to heal (dashed line): {keys}; a hatched band "
              "was never healed. Dotted lines separate the phases"
              + ("; the grey band before a phase is time spent waiting for heals, in no phase"
                 if phase_gaps(view.phases) else "")
              + ". Hover a band for details.")
    parts = [f'<section id="timeline"><h2>Timeline</h2><p class="muted">{legend}</p>']
    captions = {
        "ops": ("Operations per second", "completed operations by outcome; red marks along the axis are outages "
                "(attempts made and none succeeded)"),
        "latency": ("Latency p50 and p99", "per second, of acknowledged operations (a failed or timed-out "
                    "operation has no latency here: see the operations chart)"),
        "success": ("Success ratio per second", "acknowledged / completed; outage windows cross-hatched"),
        "roles": ("Node roles", "from probes.jsonl: "
                  + ("the top row names the leader the probes saw (red: none); below, " if view.leaders else "")
                  + "every node's state (down, frozen, cut off)"),
    }
    for name, (title, caption) in captions.items():
        svg = charts.get(name)
        if svg:
            parts.append(f'<figure id="chart-{name}"><h3>{esc(title)}</h3>{svg}<figcaption>{esc(caption)}'
                         "</figcaption></figure>")
        else:
            missing = files.PROBES if name == "roles" else files.HISTORY_GLOB
            parts.append(f'<figure id="chart-{name}"><h3>{esc(title)}</h3><p class="muted">No data to draw '
                         f"(needs {esc(missing)}).</p></figure>")
    parts.append("</section>")
    return "".join(parts)


def _outages(view: ReportView) -> str:
    if not view.outages:
        return ""
    first = view.result["availability"]["op"]
    outages = sorted(view.outages, key=lambda o: (o.op != first, o.op, o.start_s))
    rows = [[esc(o.op), f'<span class="num">{esc(num(o.start_s, "s"))}</span>',
             f'<span class="num">{esc(num(o.end_s, "s"))}{" (still down at end)" if o.open else ""}</span>',
             f'<span class="num"><b>{esc(num(o.duration_s, "s"))}</b></span>'] for o in outages]
    return ('<section id="outages"><h3>Outage windows</h3>'
            + table(["operation", "from", "to", "duration"], rows) + "</section>")


def _failovers(view: ReportView) -> str:
    rows = view.result["availability"]["failovers"]
    if not rows:
        return ""
    cells = []
    for f in rows:
        lower = "≥ " if f["censored"] else ""
        seen = (f' <span class="muted">(probes: {esc(num(f["seen_gone_s"], "s"))}, fault '
                f'{esc(f["fault_id"])})</span>' if f["fault_id"] and f["seen_gone_s"] != f["gone_s"] else "")
        cells.append([esc(f"{f['old_leader'] or '?'} → {f['new_leader'] or 'none'}"),
                      f'<span class="num">{esc(num(f["gone_s"], "s"))}</span>{seen}',
                      f'<span class="num">{esc(num(f["new_leader_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(f["election_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(f["first_purchase_s"], "s"))}</span>',
                      f'<span class="num"><b>{esc(lower + num(f["failover_s"], "s"))}</b></span>'])
    return ('<section id="failovers"><h3>Leader changes</h3><p class="muted">Failover = from the moment the old '
            "leader was gone (the fault that struck it, or when the probes saw it go) to the first acknowledged "
            "purchase after a new leader took over (≥: no purchase succeeded before the load stopped).</p>"
            + table(["leader", "gone at", "new leader at", "election", "first purchase at", "failover"], cells)
            + "</section>")


def _protection(view: ReportView) -> str:
    """When the leader had no streaming synchronous standby (strict mode: losing it then stops all writes until it
    returns — the window leader-double-fault exploits). Spans as the checks wrote them; shown only when any."""
    rows = [[esc(node), f'<span class="num">{esc(num(span["start_s"], "s"))}</span>',
             f'<span class="num">{esc(num(span["end_s"], "s"))}</span>',
             f'<span class="num"><b>{esc(num(span["end_s"] - span["start_s"], "s"))}</b></span>',
             "cut off by a network fault" if span["cut_off"] else ""]
            for node, spans in sorted(view.result["cluster"]["nodes"].items())
            for span in spans if span["state"] == "leader_unprotected"]
    if not rows:
        return ""
    return ('<section id="protection"><h3>Leader without a synchronous standby</h3><p class="muted">The leader '
            "ran with no standby that the DCS names synchronous, that streams from it with sync_state sync and "
            "that is on its timeline (drills.platform.patroni.protection). With synchronous_mode_strict nobody may "
            "be promoted in such a window: a second failure of the leader stops every write until it returns. "
            "This is the price of never losing an acknowledged commit.</p>"
            + table(["leader", "from", "to", "for", ""], rows) + "</section>")


def _audit(view: ReportView) -> str:
    """The audit's counts that apply to this system (relevance.audit_counts), why any of them is unknown, each
    model of a declared audit, and the samples."""
    r = view.result
    audit: dict[str, Any] = dict(r["audit"])
    out = ['<section id="audit"><h2>Data-loss audit</h2>']
    reasons = audit_unknown_reasons(r)
    if reasons:
        out.append('<div class="notes" data-audit-unknown="yes"><b>Unknown</b>: the data-loss numbers marked — '
                   f"could not be judged, so nothing is claimed about them (never 0 lost).{items_html(reasons)}"
                   "</div>")
    rows, attrs = [], []
    for k, v in audit_counts(r):
        n = as_float(v)
        bad = k in DATA_LOSS_KEYS and (n or 0) > 0
        rows.append([f"<b>{esc(k)}</b>", f'<span class="num {"bad" if bad else ""}">{esc(num(v))}</span>',
                     esc(AUDIT_MEANING.get(k, ""))])
        attrs.append(f'data-anomaly="{esc(k)}"' + (' class="failed"' if bad else ""))
    if rows:
        out.append(table(["check", "count", "meaning"], rows, "audit", attrs))
    out.append(_audit_models(audit.get("models")))
    samples = audit.get("samples") or {}
    if samples:
        out.append("<h3>Samples</h3>")
        for name, items in samples.items():
            body = (records_html(items) if items
                    else f"<pre>{esc(json.dumps(items, indent=1, default=str)[:20000])}</pre>")
            opened = " open" if name in DATA_LOSS_KEYS else ""
            out.append(f'<details{opened} data-samples="{esc(name)}"><summary>{esc(name)} '
                       f'({len(items)} shown)</summary>{body}</details>')
    return "".join(out) + "</section>"


_MODEL_META = ("model", "name", "collection", "rows", "error", "writes")


def _audit_models(models: object) -> str:
    """A declared audit's models, one row each: what it read, its counts, or why it is unknown."""
    rows_in = [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    if not rows_in:
        return ""
    counts: list[str] = []
    for m in rows_in:
        counts += [k for k, v in m.items() if k not in _MODEL_META and k not in counts
                   and not isinstance(v, (dict, list))]
    cells, attrs = [], []
    for m in rows_in:
        error = m.get("error")
        cells.append([f"<b>{esc(m.get('name') or m.get('model'))}</b>",
                      f'<span class="num">{esc(num(m.get("rows")))}</span>']
                     + [f'<span class="num {"bad" if k in DATA_LOSS_KEYS and (as_float(m.get(k)) or 0) > 0 else ""}">'
                        f"{esc(num(m.get(k)))}</span>" for k in counts]
                     + [f'<span class="bad">{esc(error)}</span>' if error else ""])
        attrs.append(f'data-model="{esc(m.get("name") or m.get("model"))}"' + (' class="failed"' if error else ""))
    return ("<h3>Models</h3>" + table(["model", "rows read", *counts, "unknown because"], cells, "audit-models",
                                      attrs))


def _faults(view: ReportView) -> str:
    head = '<section id="faults"><h2>Faults</h2>'
    if not view.faults:
        return head + '<p class="muted">No fault was injected (or events.jsonl is missing).</p></section>'
    with_timing = any(f.row["detection_s"] is not None or f.row["recovery_s"] is not None for f in view.faults)
    rows, attrs = [], []
    for f in view.faults:
        r = f.row
        late = r["late_ms"]
        result = (pill("ok", "pass") if r["ok"] is True else pill("failed", "fail") if r["ok"] is False
                  else pill("?", "unknown"))
        heal = ("" if f.end_s is not None else '<span class="bad">never healed</span>')
        if r["heal_ok"] is False:
            heal = f'<span class="bad">heal failed: {esc(r["heal_error"])}</span>'
        colour = fault_family(f.type).colour
        rows.append([f'<span style="color:{colour}">■</span> <b>{esc(f.fault_id)}</b>'
                     + (f" #{f.iteration}" if f.iteration else ""),
                     esc(f.type), esc(f.target), f'<span class="num">{esc(num(r["scheduled_s"], "s"))}</span>',
                     f'<span class="num">{esc(num(f.start_s, "s"))}'
                     + (f' <span class="muted">(+{esc(num(late, "ms"))})</span>' if late is not None else "")
                     + "</span>",
                     f'<span class="num">{esc(num(r["healed_s"], "s"))}</span>',
                     f'<span class="num">{esc(num(r["duration_s"], "s"))}</span>',
                     result + (f" {esc(f.failed or r['error'])}" if f.failed or r["error"] else "")
                     + (f" {heal}" if heal else "")])
        if with_timing:
            rows[-1][6:6] = [f'<span class="num">{esc(num(r["detection_s"], "s"))}</span>',
                             f'<span class="num">{esc(num(r["recovery_s"], "s"))}</span>']
        attrs.append(f'id="fault-{esc(f.key)}" data-fault-key="{esc(f.key)}"')
    return (head + '<p class="muted">Offsets are seconds since load started; the lateness of each injection '
            "against its schedule is in brackets.</p>"
            + table(["fault", "type", "target", "scheduled", "injected", "healed"]
                    + (["detected after", "recovered after"] if with_timing else []) + ["lasted", "result"], rows,
                    "faults", attrs) + "</section>")


def _generator(view: ReportView, charts: dict) -> str:
    g = view.result["generator"]
    out = ['<section id="generator"><h2>Load generator</h2>',
           '<p class="muted">If the generator falls behind its target or runs out of CPU, the load it offered '
           "was lower than planned and the numbers above understate the stress.</p>", _generator_verdict(g),
           workers_html(g)]
    if charts.get("generator"):
        out.append(f'<figure id="chart-generator">{charts["generator"]}</figure>')
    numbers = {k: v for k, v in g.items() if k not in ("series", "worker_events")}   # events: workers_html()
    out.append(f"<details><summary>All generator numbers</summary>{value_html(numbers)}</details>")
    return "".join(out) + "</section>"


def _generator_verdict(g: Generator) -> str:
    facts = []
    if g.get("achieved_ratio") is not None:
        facts.append(f"offered {percent(g.get('achieved_ratio'))} of the target rate while the system was healthy")
    if g.get("cpu_max") is not None:
        facts.append(f"busiest load process peaked at {num(g.get('cpu_max'))} % CPU")
    if g.get("users_max") is not None:
        facts.append(f"at most {num(g.get('users_max'))} concurrent users")
    text = "; ".join(facts) + "." if facts else ""
    if g["saturated"] is True:
        reasons = "".join(f"<li>{esc(r)}</li>" for r in g["reasons"])
        return (f'<div class="notes"><b class="bad">The load generator was saturated</b>: failed availability '
                f"budgets are not trusted. {esc(text)}<ul>{reasons}</ul></div>")
    if g["saturated"] is False:
        return f'<p><span class="good">&#10003; The generator kept up.</span> {esc(text)}</p>'
    reasons = "; ".join(g["reasons"])
    return f"<p>{esc(text or reasons or 'Generator health unknown.')}</p>"


def _environment(view: ReportView) -> str:
    r, meta = view.result, view.meta
    cmd = r["rerun_command"]
    out = ['<section id="environment"><h2>Environment and re-run</h2>']
    if cmd:
        out.append(f'<h3>Re-run this drill</h3><div class="cmd"><pre id="rerun">{esc(cmd)}</pre></div>'
                   f'<p class="muted">Seed {esc(r["seed"])}: the same seed replays the same choices '
                   "(targets, user mix, timings of the load).</p>")
    else:
        out.append('<p class="muted">The command line is unknown (meta.json is missing or has none).</p>')
    rows = [["run id", esc(r["run_id"])], ["seed", esc(r["seed"])], ["started", esc(when(r["started"]))],
            ["finished", esc(when(r["finished"]))], ["duration", esc(duration(r["duration_s"]))]]
    out.append(table(["", ""], rows, "kv"))
    for value, title in ((r["versions"], "Versions"), (r["images"], "Image ids")):
        if value:
            out.append(f"<h3>{esc(title)}</h3>{value_html(value)}")
    rest = {k: v for k, v in meta.items() if k not in META_HIDDEN}
    if rest:
        out.append(f"<details><summary>meta.json</summary>{value_html(rest)}</details>")
    return "".join(out) + "</section>"


def _scenario(view: ReportView) -> str:
    text = view.scenario_text
    body = f"<pre>{esc(text, SECTION_MAX)}</pre>" if text else '<p class="muted">scenario.yaml is missing.</p>'
    return f'<section id="scenario"><h2>Scenario (scenario.yaml)</h2>{body}</section>'
