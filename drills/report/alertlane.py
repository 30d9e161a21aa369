"""The report's alerting part: an alert lane on the timeline's axis (Prometheus' pending and firing intervals,
each notification the drill's receiver got as a tick) over the same fault bands as every chart, the expected
alerts with their fire/resolve times and budget verdicts, and the false alarms.

It presents result.json's `alerting` (drills/checks/alerting.py) and computes nothing. Every string is escaped
and cut like the rest of the report (htmlkit.esc, quote caps); the lane draws at most MAX_LANES alert series.
Each interval is an SVG group `<g class="alert-interval" data-alert=… data-state=…>`, each tick
`<g class="alert-notification" data-alert=… data-status=…>`, so readers and tests can find them.
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib.patches import Patch

from drills.checks.result_model import Alerting, BudgetRow
from drills.report.charts import _RC, _chart, _finish, _phase_marks, _shade_faults
from drills.report.fmt import limit_text, num, observed_text, passed_word
from drills.report.htmlkit import esc, pill, table
from drills.report.quote import clip
from drills.report.view import ReportView

MAX_LANES = 24
STATE_COLOURS = {"pending": "#d4a72c", "firing": "#cf222e"}
TICK_COLOURS = {"firing": "#82071e", "resolved": "#1a7f37"}
LABEL_MAX = 60   # characters of a lane's name (alert and labels)


def _series_name(alert: str, labels: dict[str, str]) -> str:
    extra = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    text = f"{alert}{{{extra}}}" if extra else alert
    return text if len(text) <= LABEL_MAX else text[:LABEL_MAX - 1] + "…"


def chart_alerts(view: ReportView) -> str | None:
    """One row per alert series: pending (amber) and firing (red) from Prometheus, notification ticks on it."""
    section: Alerting | None = view.result.get("alerting")
    if not section or not (section["intervals"] or section["notifications"]):
        return None
    names: list[str] = []
    for row in [*section["intervals"], *section["notifications"]]:
        name = _series_name(row["alert"], row["labels"])
        if name not in names:
            names.append(name)
    names = names[:MAX_LANES]
    c, lanes = _chart("alerts", 0.34 * len(names) + 0.2, view)
    ax = c.ax
    ax.grid(False)
    y = {name: len(names) - 1 - i for i, name in enumerate(names)}
    for i, r in enumerate(section["intervals"]):
        name = _series_name(r["alert"], r["labels"])
        if name not in y or r["start_s"] is None or r["end_s"] is None:
            continue
        gid = f"alerts-interval-{i}"
        width = max(r["end_s"] - r["start_s"], view.end_s / 400)
        ax.broken_barh([(r["start_s"], width)], (y[name] - 0.4, 0.5), facecolors=STATE_COLOURS[r["state"]], lw=0,
                       alpha=0.8, gid=gid, zorder=2)
        c.groups[gid] = {"class": "alert-interval", "data-alert": r["alert"], "data-state": r["state"],
                         "data-start-s": f"{r['start_s']:.3f}", "data-end-s": f"{r['end_s']:.3f}",
                         "title": f"{name} {r['state']} {num(r['start_s'], 's')} – "
                                  + ("end of the record" if r["open"] else num(r["end_s"], "s"))}
    for i, n in enumerate(section["notifications"]):
        name = _series_name(n["alert"], n["labels"])
        if name not in y or n["t_s"] is None:
            continue
        gid = f"alerts-notification-{i}"
        ax.plot([n["t_s"]], [y[name] - 0.15], marker="^" if n["status"] == "firing" else "v", ms=6, ls="none",
                color=TICK_COLOURS[n["status"]], gid=gid, zorder=4)
        c.groups[gid] = {"class": "alert-notification", "data-alert": n["alert"], "data-status": n["status"],
                         "data-t-s": f"{n['t_s']:.3f}", "title": f"{n['status']} notification of {name} received "
                                                                 f"at {num(n['t_s'], 's')}"}
    ax.set_yticks([])
    ax.set_ylim(-0.6, len(names) - 0.4)
    for name, at in y.items():   # above its lane: alert names are longer than the margin of node names
        ax.text(0.003, at + 0.13, name, transform=ax.get_yaxis_transform(), ha="left", va="bottom", fontsize=6.5,
                color="#24292f", zorder=5, clip_on=True)
    _phase_marks(c, view, names=False)
    _shade_faults(c, view.faults, view.end_s, lanes, behind=True)
    handles = [Patch(facecolor=STATE_COLOURS["pending"], label="pending (Prometheus)"),
               Patch(facecolor=STATE_COLOURS["firing"], label="firing (Prometheus)"),
               *ax.plot([], [], marker="^", ls="none", color=TICK_COLOURS["firing"], label="firing notification"),
               *ax.plot([], [], marker="v", ls="none", color=TICK_COLOURS["resolved"], label="resolved notification")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return _finish(c, view, "alerts over time")


def _lane(view: ReportView) -> str:
    try:
        with matplotlib.rc_context(_RC):
            svg = chart_alerts(view)
    except Exception as exc:  # noqa: BLE001 - one broken chart must not cost the whole report
        return f'<p class="muted">The alert lane could not be drawn ({esc(type(exc).__name__)}: {esc(exc)}).</p>'
    if svg is None:
        return '<p class="muted">No alert was pending, firing or notified during the run.</p>'
    return (f'<figure id="chart-alerts">{svg}<figcaption>Prometheus\' pending and firing intervals; triangles are '
            "the notifications the drill's receiver got (▲ firing, ▼ resolved); bands are the faults"
            "</figcaption></figure>")


def _budgets(view: ReportView, alert: str) -> str:
    rows: list[BudgetRow] = [b for b in view.result["budgets"] if b.get("alert") == alert]
    parts = []
    for b in rows:
        word = passed_word(b["passed"])
        css = {"pass": "pass", "FAIL": "fail"}.get(word, "unknown")
        parts.append(f'<div data-budget="{esc(b["name"])}">{esc(b["metric"])} {esc(observed_text(b))} '
                     f'<span class="muted">({esc(limit_text(b))})</span> {pill(word, css)}</div>')
    return "".join(parts) or '<span class="muted">—</span>'


def _expected(view: ReportView, section: Alerting) -> str:
    rows, attrs = [], []
    for r in section["expected"]:
        missed = r["missed"]
        state = (pill("missed", "fail") if missed is True else pill("fired", "pass") if missed is False
                 else pill("unknown", "unknown"))
        labels = ", ".join(f"{k}={v}" for k, v in sorted(r["labels"].items()))
        fault = r["fault_id"] + (f" #{r['iteration']}" if r["iteration"] else "")
        resolve = num(r["time_to_resolve_s"], "s") + (' <span class="bad">late</span>' if r["late_resolve"] else "")
        rows.append([f"<b>{esc(r['alert'])}</b>" + (f' <span class="muted">{esc(labels)}</span>' if labels else ""),
                     esc(fault), f'<span class="num">{esc(num(r["injected_s"], "s"))} / '
                                 f'{esc(num(r["healed_s"], "s"))}</span>',
                     f'<span class="num">{esc(num(r["fired_s"], "s"))}</span>',
                     f'<span class="num"><b>{esc(num(r["time_to_fire_s"], "s"))}</b> '
                     f'<span class="muted">(≤ {esc(num(r["fire_within_s"], "s"))})</span></span>',
                     f'<span class="num">{esc(num(r["resolved_s"], "s"))}</span>',
                     f'<span class="num"><b>{resolve}</b> <span class="muted">(≤ '
                     f'{esc(num(r["resolve_within_s"], "s"))})</span></span>',
                     f'<span class="num">{esc(r["flaps"])}</span>',
                     state + (f' <span class="muted">{esc(r["unknown"])}</span>' if r["unknown"] else ""),
                     _budgets(view, r["alert"])])
        attrs.append(f'data-alert="{esc(r["alert"])}" data-missed="{esc(str(missed).lower())}"'
                     + (' class="failed"' if missed else ""))
    if not rows:
        return '<p class="muted">The scenario expects no alert.</p>'
    return table(["alert", "fault", "injected / healed", "fired at", "time to fire", "resolved at",
                  "time to resolve", "flaps", "", "budgets"], rows, "alerts-expected", attrs)


def _occurrences(rows: list[Any], cls: str) -> str:
    cells = []
    for o in rows:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(o["labels"].items()) if k != "alertname")
        cells.append([f"<b>{esc(o['alert'])}</b>", esc(labels or "—"),
                      f'<span class="num">{esc(num(o["started_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(o["received_s"], "s"))}</span>',
                      f'<span class="num">{esc(num(o["resolved_s"], "s"))}</span>',
                      f'<span class="num">{esc(o["notifications"])}</span>'])
    return table(["alert", "labels", "started", "notified", "resolved", "notifications"], cells, cls)


def alerting_html(view: ReportView) -> str:
    """The alerting section, or "" for a run that watched no alerts and expected none."""
    section: Alerting | None = view.result.get("alerting")
    if not section:
        return ""
    out = ['<section id="alerting"><h2>Alerting</h2>']
    if not section["recorded"]:
        out.append('<p class="muted">No alerts.jsonl: monitoring was off or its collector never ran, so every '
                   "alerting budget is unknown.</p>")
    elif not section["notified"]:
        out.append('<p class="muted">Alerts were watched without the drill\'s receiver: no notification could '
                   "reach the drill, so the notification budgets are unknown.</p>")
    out.append(f'<p class="muted">Offsets are seconds since load started. A firing that starts outside every '
               f"fault's injection to heal + {esc(num(section['grace_s'], 's'))} (grace) is a false alarm.</p>")
    out.append(_lane(view))
    out.append("<h3>Expected alerts</h3>" + _expected(view, section))
    if section["not_due"]:
        out.append(f'<p class="muted">Not due (their fault never took effect): '
                   f'{esc(", ".join(section["not_due"]))}</p>')
    false = section["false_alarms"]
    out.append(f'<h3 id="false-alarms">False alarms: {len(false)}</h3>')
    out.append(_occurrences(false, "alerts-false") if false else
               '<p class="muted">None: every firing had a fault to explain it.</p>')
    if section["firing_at_start"]:
        out.append("<h3>Already firing before the load (allowed)</h3>"
                   + _occurrences(section["firing_at_start"], "alerts-at-start"))
    if section["problems"]:
        shown = "".join(f"<li>{esc(num(p['t_s'], 's'))} {esc(p['source'])}: {esc(clip(p['error']))}</li>"
                        for p in section["problems"])
        more = section["problem_count"] - len(section["problems"])
        out.append(f'<details class="notes" open><summary>The collector had {section["problem_count"]} '
                   f"problem(s): negative findings (missed, 0 false alarms) near them are unknown</summary>"
                   f"<ul>{shown}</ul>" + (f'<p class="muted">… and {more} more</p>' if more > 0 else "")
                   + "</details>")
    return "".join(out) + "</section>"
