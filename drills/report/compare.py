"""`drill compare A B`: what changed between two runs (e.g. failover 3 s slower, 2 orders lost), and the
regression gate (drills/report/regression.py) that `--fail-on-regression` turns into an exit code.

Which direction is better comes from the metric registry (drills/scenario/metrics.py; success ratios are better
higher); a budget that went from pass to fail "regressed". Two runs of different scenarios, or one run twice,
are compared all the same, with a warning that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from drills.checks.result_model import Result
from drills.errors import UsageError
from drills.report.fmt import HIGHER_IS_BETTER, as_float, metric_value, num, passed_word, when
from drills.report.htmlkit import esc, items_html, page, pill, table
from drills.report.keynumbers import KEY_NUMBERS, Tolerance
from drills.report.regression import gate
from drills.report.render import ReportError, require_run_dir, write_atomic
from drills.report.view import ReportView, build_view

# The headline availability numbers, as the key-number catalogue declares them.
AVAILABILITY = tuple(k for k in KEY_NUMBERS if k.gated and k.path[0] == "availability")
# Compared when either run's audit has them (a declared audit has no seats or credentials: no rows for them).
AUDIT = ("acknowledged", "lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "unique_violations",
         "counter_mismatch", "credential_changes_lost", "revoked_sessions_working", "indeterminate",
         "indeterminate_applied")


def change_text(metric: str, a: object, b: object, informational: bool = False) -> tuple[float | None, str, str]:
    """(delta, change, text): change is worse / better / same / unknown; text reads like '3 s slower'."""
    fa, fb = as_float(a), as_float(b)
    if fa is None or fb is None:
        return None, "unknown", "only in A" if fb is None and fa is not None else (
            "only in B" if fa is None and fb is not None else "unknown in both")
    delta = fb - fa
    if abs(delta) < 1e-9:
        return 0.0, "same", "same"
    higher_better = metric in HIGHER_IS_BETTER or metric.endswith("_ratio")
    better = (delta > 0) == higher_better
    change = "same" if informational else ("better" if better else "worse")
    if metric.endswith("_ratio"):
        text = f"{delta * 100:+.2f} points"
    elif metric.endswith("_s"):
        text = f"{num(abs(delta), 's')} {'slower' if delta > 0 else 'faster'}" if metric != "longest_outage_s" \
            else f"{num(abs(delta), 's')} {'longer' if delta > 0 else 'shorter'}"
    elif metric.endswith("_ms"):
        text = f"{num(abs(delta), 'ms')} {'slower' if delta > 0 else 'faster'}"
    else:
        text = f"{'+' if delta > 0 else '−'}{num(abs(delta))}"
    return delta, change, text + ("" if informational else f" ({change})")


def _side(view: ReportView) -> dict:
    r = view.result
    return {"path": str(view.path), "run_id": r["run_id"], "scenario": view.scenario_name,
            "verdict": view.verdict.verdict, "title": view.verdict.title, "ok": view.verdict.ok,
            "started": r["started"], "duration_s": r["duration_s"]}


def _budget_rows(ra: Result, rb: Result) -> list[dict]:
    ba, bb = {b["name"]: b for b in ra["budgets"]}, {b["name"]: b for b in rb["budgets"]}
    rows = []
    for name in list(ba) + [n for n in bb if n not in ba]:
        x, y = ba.get(name), bb.get(name)
        metric = x["metric"] if x else y["metric"] if y else ""
        delta, change, text = change_text(metric, x["observed"] if x else None, y["observed"] if y else None)
        pa, pb = x["passed"] if x else None, y["passed"] if y else None
        if pa is True and pb is False:
            change, text = "regressed", f"now fails; {text}"
        elif pa is False and pb is True:
            change, text = "fixed", f"now passes; {text}"
        rows.append({"name": name, "metric": metric, "a": x["observed"] if x else None,
                     "b": y["observed"] if y else None,
                     "a_text": f"{metric_value(metric, x['observed']) if x else '—'} {passed_word(pa) if x else '—'}",
                     "b_text": f"{metric_value(metric, y['observed']) if y else '—'} {passed_word(pb) if y else '—'}",
                     "passed_a": pa, "passed_b": pb, "delta": delta, "change": change, "text": text})
    return rows


def compare_views(va: ReportView, vb: ReportView, tolerances: Mapping[str, Tolerance] | None = None) -> dict:
    """The comparison as plain data (also what `compare_runs` returns); `gate` holds the regression gate's
    findings with `tolerances` (metric -> Tolerance) over the defaults."""
    ra, rb = va.result, vb.result
    avail = []
    for number in AVAILABILITY:
        metric = number.metric
        x, y = number.value(ra), number.value(rb)
        if x is None and y is None:
            continue
        delta, change, text = change_text(metric, x, y)
        avail.append({"name": number.label, "metric": metric, "a": x, "b": y, "a_text": metric_value(metric, x),
                      "b_text": metric_value(metric, y), "delta": delta, "change": change, "text": text})
    ua: dict[str, object] = dict(ra["audit"])
    ub: dict[str, object] = dict(rb["audit"])
    audit = []
    for key in AUDIT:
        if key not in ua and key not in ub:
            continue
        informational = key in ("acknowledged", "indeterminate", "indeterminate_applied")
        delta, change, text = change_text(key, ua.get(key), ub.get(key), informational)
        audit.append({"name": key, "metric": key, "a": ua.get(key), "b": ub.get(key), "a_text": num(ua.get(key)),
                      "b_text": num(ub.get(key)), "delta": delta, "change": change, "text": text})
    return {"a": _side(va), "b": _side(vb), "budgets": _budget_rows(ra, rb), "availability": avail,
            "audit": audit, "warnings": comparable(va, vb), "gate": gate(ra, rb, tolerances), "html": None}


def comparable(va: ReportView, vb: ReportView) -> list[str]:
    """Why the two sides may not be worth comparing: one run twice, or two different scenarios."""
    out = []
    try:
        same_dir = va.path.samefile(vb.path)
    except OSError:
        same_dir = False
    run_a, run_b = va.result["run_id"], vb.result["run_id"]
    if same_dir:
        out.append(f"A and B are the same run directory ({va.path}): every number is the same")
    elif run_a is not None and run_a == run_b:
        out.append(f"A and B are the same run ({run_a}) in two directories (a copy?)")
    if va.scenario_name != vb.scenario_name:
        out.append(f"A and B ran different scenarios ({va.scenario_name} and {vb.scenario_name}): their budgets, "
                   "load and faults differ, so a change is not a regression or an improvement of one drill")
    return out


def render_compare_html(diff: dict) -> str:
    """The comparison as a self-contained page."""
    a, b = diff["a"], diff["b"]

    def side(label: str, s: dict) -> str:
        css = "pass" if s.get("ok") else ("error" if s.get("verdict") in ("none", "error") else "fail")
        return (f"<div class='card'><div class='k'>{label}</div><div class='v'>{pill(s.get('title') or '?', css)}"
                f"</div><div>{esc(s.get('scenario'))} · <code>{esc(s.get('run_id'))}</code></div>"
                f"<div class='muted'>{esc(when(s.get('started')))} · <code>{esc(s.get('path'))}</code></div></div>")

    parts = [f"<main><h1>Comparison of two drill runs</h1><div class='cards'>{side('A', a)}{side('B', b)}</div>"]
    if diff.get("warnings"):
        parts.append(f'<section class="notes" id="warnings">{items_html(diff["warnings"])}</section>')
    parts.append(_gate_html(diff.get("gate") or {}))
    for section, title in (("budgets", "Budgets"), ("availability", "What clients saw"), ("audit", "Data-loss audit")):
        rows = diff.get(section) or []
        if not rows:
            continue
        cells = []
        for r in rows:
            css = {"worse": "delta-worse", "regressed": "delta-worse", "better": "delta-better",
                   "fixed": "delta-better"}.get(r["change"], "muted")
            cells.append([f"<b>{esc(r['name'])}</b>", f"<span class='num'>{esc(r['a_text'])}</span>",
                          f"<span class='num'>{esc(r['b_text'])}</span>",
                          f"<span class='{css}'>{esc(r['text'])}</span>"])
        parts.append(f"<h2>{esc(title)}</h2>" + table(["", "A", "B", "change (B against A)"], cells,
                                                       row_attrs=[f'data-change="{esc(r["change"])}"' for r in rows]))
    parts.append("</main>")
    return page(f"compare {a.get('run_id')} vs {b.get('run_id')}", "".join(parts))


def _gate_html(g: dict) -> str:
    """The regression gate: what got worse than A beyond its tolerance (what --fail-on-regression fails on)."""
    regressions = g.get("regressions") or []
    if regressions:
        body = (f'<p class="bad">{len(regressions)} regression(s) of B against A:</p>'
                + items_html(regressions, "regressions"))
    else:
        body = '<p class="good">No regression: every gated number of B is within its tolerance of A.</p>'
    tolerances = ", ".join(f"{m} {t}" for m, t in (g.get("tolerances") or {}).items())
    return (f'<section id="gate" data-regressed="{"yes" if regressions else "no"}"><h2>Regression gate</h2>{body}'
            f'<p class="muted">Tolerances: {esc(tolerances)}.</p></section>')


def compare_runs(run_a: Path, run_b: Path, out: Path | None = None,
                 tolerances: Mapping[str, Tolerance] | None = None) -> dict:
    """Budget, availability and audit deltas of B against A, and the regression gate with `tolerances` over
    the defaults; writes the HTML page when `out` is given (a directory gets compare-<A>-vs-<B>.html). A path
    that is not a run directory is a usage error."""
    run_a, run_b = require_run_dir(run_a), require_run_dir(run_b)
    diff = compare_views(build_view(run_a), build_view(run_b), tolerances)
    if out is not None:
        out = Path(out)
        if out.is_dir():
            out = out / f"compare-{Path(run_a).name}-vs-{Path(run_b).name}.html"
        elif not out.parent.is_dir():  # --html names a place that cannot exist: the command line's mistake
            raise UsageError(f"--html {out}: {out.parent} is not a directory",
                             hint="name an existing directory or a file in one")
        try:
            write_atomic(out, render_compare_html(diff))
        except ReportError as exc:  # the path came from the command line: its mistake, not the harness's
            raise UsageError(f"--html {out}: {exc.message}",
                             hint="name a writable directory or a file in one") from None
        diff["html"] = str(out)
    return diff
