"""Timeline charts as inline SVG (matplotlib, no pyplot global state), every fault interval shaded.

Each fault shading is an SVG group `<g id="{chart}-fault-{fault_id}-{iteration}" class="fault-span"
data-fault-id=… data-iteration=… data-start-s=… data-end-s=…>` with a <title> tooltip, and each outage
`<g id="{chart}-outage-{n}" class="outage-span">`, so readers, scripts and tests can find them.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import RcKeyType

from drills.checks.result_model import BudgetRow
from drills.report.fmt import limit_text, num
from drills.report.timeline import FaultInterval, Outage, lane_label, phase_gaps, placement, vip_spans
from drills.report.view import ReportView
from drills.scenario.fault_families import FALLBACK, FamilySpec
from drills.scenario.fault_types import family_of

WIDTH_IN = 11.0
LEFT_IN, RIGHT_IN, BOTTOM_IN = 0.85, 1.6, 0.45
LANE_PT, MAX_LANES = 10, 3
MAX_POINTS = 900  # longer series are binned so a long drill's report stays small

OUTAGE_COLOUR = "#6e0a1e"
VIP_COLOUR = "#0a3069"
BUDGET_COLOUR, WITHIN_COLOUR = "#cf222e", "#57606a"
LATENCY_BUDGETS = {"latency_p50_ms": "p50", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}
OUTCOME_COLOURS = {"ok": "#2da44e", "info": "#d4a72c", "fail": "#cf222e"}
STATE_COLOURS = {
    "leader": "#116329", "leader_unprotected": "#bf8700",
    "sync_standby": "#4ac26b", "replica": "#aceebb", "unknown": "#d0d7de",
    "up": "#54aeff", "lb_down": "#ffb77c", "down": "#cf222e", "frozen": "#8250df",
}
STATE_LABELS = {
    "leader": "leader", "leader_unprotected": "leader, no sync standby",
    "sync_standby": "sync standby", "replica": "replica", "unknown": "role unknown",
    "up": "up (in load balancer)", "lb_down": "out of load balancer", "down": "down (exited)",
    "frozen": "frozen (paused)",
}
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif", "axes.spines.top": False,
    "axes.spines.right": False, "axes.edgecolor": "#8c959f", "axes.labelcolor": "#24292f",
    "xtick.color": "#57606a", "ytick.color": "#57606a", "axes.grid": True, "grid.color": "#eaeef2",
    "grid.linewidth": 0.6, "path.simplify": True, "path.simplify_threshold": 0.5,
}


def fault_family(fault_type: str) -> FamilySpec:
    """The family whose colour and legend entry a fault's band takes; an unknown type (a hand-edited run) is
    drawn like a toxic."""
    return family_of(fault_type) or FALLBACK


@dataclass
class _Chart:
    """One figure under construction plus the SVG attributes its fault/outage groups get afterwards."""

    name: str
    fig: Figure
    ax: Axes
    groups: dict[str, dict[str, str]]


def _fault_label(f: FaultInterval) -> str:
    text = f.fault_id if f.iteration == 0 else f"{f.fault_id} #{f.iteration}"
    return text + (" (inject failed)" if f.failed else " (not healed)" if f.end_s is None else "")


def label_lanes(faults: list[FaultInterval], end_s: float) -> dict[str, int]:
    """Which row above the plot each fault's label goes in, so labels never overlap (at most MAX_LANES rows;
    faults beyond that stay shaded and are listed in the fault table)."""
    axes_w_pt = (WIDTH_IN - LEFT_IN - RIGHT_IN) * 72
    span = max(end_s, 1.0)
    lanes: list[float] = []
    out: dict[str, int] = {}
    started = [(f.start_s, f) for f in faults if f.start_s is not None]
    for start, f in sorted(started, key=lambda x: x[0]):
        width = (len(_fault_label(f)) * 7 * 0.62 + 8) / axes_w_pt * span
        lane = next((i for i, right in enumerate(lanes) if right <= start), len(lanes))
        if lane >= MAX_LANES:
            continue
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = start + width
        out[f.key] = lane
    return out


def _new_chart(name: str, plot_height_in: float, view: ReportView, lanes: int) -> _Chart:
    top_in = 0.12 + lanes * LANE_PT / 72
    height = plot_height_in + top_in + BOTTOM_IN
    fig = Figure(figsize=(WIDTH_IN, height))
    ax = fig.add_axes((LEFT_IN / WIDTH_IN, BOTTOM_IN / height, 1 - (LEFT_IN + RIGHT_IN) / WIDTH_IN,
                       plot_height_in / height))
    ax.set_xlim(0, max(view.end_s, 1.0))
    ax.set_xlabel("seconds since load started", fontsize=8, labelpad=2)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=16, steps=[1, 2, 5, 10]))
    return _Chart(name, fig, ax, {})


def _chart(name: str, plot_height_in: float, view: ReportView, labels: bool = True) -> tuple[_Chart, dict]:
    lanes = label_lanes(view.faults, view.end_s) if labels else {}
    return _new_chart(name, plot_height_in, view, (max(lanes.values()) + 1) if lanes else 0), lanes


def _shade_faults(chart: _Chart, faults: list[FaultInterval], end_s: float, lanes: dict[str, int],
                  behind: bool = False) -> None:
    """Shade [inject, heal) of every fault; an unhealed one runs to the end, hatched."""
    ax = chart.ax
    x0, x1 = ax.get_xlim()
    for f in faults:
        if f.start_s is None:
            continue
        colour = fault_family(f.type).colour
        end = f.end_s if f.end_s is not None else end_s
        shown_end = max(end, f.start_s + (x1 - x0) * 0.003)
        gid = f"{chart.name}-fault-{f.key}"
        ax.axvspan(f.start_s, shown_end, facecolor=colour, alpha=0.14, lw=0, gid=gid, zorder=0 if behind else 1)
        if f.end_s is None:  # never healed: hatched to the end, so it cannot be mistaken for a healed fault
            ax.axvspan(f.start_s, shown_end, facecolor="none", edgecolor=colour, hatch="//", lw=0, alpha=0.35,
                       zorder=0 if behind else 1)
        ax.axvline(f.start_s, color=colour, lw=0.9, alpha=0.9, zorder=3)
        if f.end_s is not None:
            ax.axvline(f.end_s, color=colour, lw=0.9, ls=(0, (3, 2)), alpha=0.9, zorder=3)
        span = f"{num(f.start_s, 's')} – {num(f.end_s, 's') if f.end_s is not None else 'never healed'}"
        span = f"{num(f.start_s, 's')}, {f.failed}" if f.failed else span
        chart.groups[gid] = {
            "class": "fault-span", "data-fault-id": f.fault_id, "data-iteration": str(f.iteration),
            "data-fault-type": f.type, "data-start-s": f"{f.start_s:.3f}",
            "data-end-s": "" if f.end_s is None else f"{f.end_s:.3f}",
            "title": f"fault {f.fault_id} #{f.iteration}: {f.type} {f.target}, {span}",
        }
        if f.key in lanes:
            ax.annotate(_fault_label(f), xy=(f.start_s, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(2, 3 + LANE_PT * lanes[f.key]), textcoords="offset points", fontsize=7,
                        color=colour, fontweight="bold", clip_on=False, annotation_clip=False)


def headline_outages(view: ReportView) -> list[Outage]:
    """Outages of the operation the headline numbers are about (the checks' `availability.op`, else
    purchases), so marks from different operations do not pile up on one chart."""
    op = view.result["availability"]["op"]
    return [o for o in view.outages if o.op == op or op == "all"]


def headline_budgets(view: ReportView, metrics: Sequence[str]) -> list[BudgetRow]:
    """The budgets on `metrics` about the headline op (or every op) with a limit, the whole-run ones first: the
    ones a headline chart or card can show beside its numbers."""
    op = view.result["availability"]["op"]
    rows = [b for b in view.result["budgets"] if b["metric"] in metrics and b["op"] in (op, "all")
            and (b["limit"]["max"] is not None or b["limit"]["min"] is not None)]
    return sorted(rows, key=lambda b: b["phase"] != "all")


def _phase_spans(view: ReportView, phase: str) -> list[tuple[float, float]]:
    """Where a budget's phase lies on the time axis (the whole axis for `all`)."""
    if phase == "all":
        return [(0.0, max(view.end_s, 1.0))]
    spans = view.result["availability"]["phases"].get(phase) or []
    return [(a, b) for a, b in (tuple(x) for x in spans) if a is not None and b is not None and b > a]


def _latency_budgets(chart: _Chart, view: ReportView) -> list[Line2D]:
    """A limit line per latency budget over the phase it judges; legend handles for them."""
    handles: list[Line2D] = []
    for i, b in enumerate(headline_budgets(view, tuple(LATENCY_BUDGETS))):
        limit = b["limit"]["max"]
        spans = _phase_spans(view, b["phase"])
        if limit is None or not spans:
            continue
        gid = f"{chart.name}-budget-{i}"
        chart.ax.hlines([limit] * len(spans), [a for a, _ in spans], [z for _, z in spans], gid=gid,
                        color=BUDGET_COLOUR, lw=1.0, linestyles=(0, (5, 3)), zorder=4)
        word = "held" if b["passed"] is True else "exceeded" if b["passed"] is False else "unknown"
        phase = "" if b["phase"] == "all" else f", {b['phase'].replace('_', ' ')}"
        text = f"{LATENCY_BUDGETS[b['metric']]} budget {limit_text(b)}{phase}"
        chart.groups[gid] = {"class": "budget-limit", "data-budget": b["name"], "data-limit": f"{limit:g}",
                             "data-phase": b["phase"], "title": f"budget {b['name']} {limit_text(b)}: {word}"}
        handles.append(Line2D([], [], label=text, color=BUDGET_COLOUR, lw=1.0, ls=(0, (5, 3))))
    return handles


def _outage_budget(chart: _Chart, view: ReportView, outages: list[Outage]) -> list[Line2D]:
    """The longest-outage budget laid on the longest outage window (the one it judges): a bracket of the
    budget's length from the outage's start, red when the outage outlasted it."""
    rows = headline_budgets(view, ("longest_outage_s",))
    limit = rows[0]["limit"]["max"] if rows else None
    if limit is None or not outages:
        return []
    b = rows[0]
    longest = max(range(len(outages)), key=lambda k: outages[k].duration_s)
    o = outages[longest]
    over = o.duration_s > limit
    colour = BUDGET_COLOUR if over else WITHIN_COLOUR
    gid = f"{chart.name}-outage-budget-{longest}"
    chart.ax.plot([o.start_s, o.start_s + limit], [0.55, 0.55], transform=chart.ax.get_xaxis_transform(),
                  color=colour, lw=1.4, marker="|", ms=7, gid=gid, zorder=5, clip_on=False)
    chart.groups[gid] = {"class": "budget-limit outage-budget", "data-budget": b["name"], "data-limit": f"{limit:g}",
                         "data-over": "yes" if over else "no",
                         "title": f"longest outage of {o.op}, {num(o.duration_s, 's')}, against the budget "
                                  f"{b['name']} {limit_text(b)}: {'over' if over else 'within'}"}
    phase = "" if b["phase"] == "all" else f", {b['phase'].replace('_', ' ')}"
    return [Line2D([], [], color=colour, lw=1.4, marker="|", ms=7,
                   label=f"outage budget {limit_text(b)}{phase}" + (" (exceeded)" if over else ""))]


def _shade_outages(chart: _Chart, outages: list[Outage], full_height: bool) -> None:
    for i, o in enumerate(outages):
        gid = f"{chart.name}-outage-{i}"
        if full_height:
            chart.ax.axvspan(o.start_s, max(o.end_s, o.start_s + 0.2), facecolor="none", edgecolor="#cf222e",
                             hatch="xx", lw=0, alpha=0.35, gid=gid)
        else:
            chart.ax.axvspan(o.start_s, max(o.end_s, o.start_s + 0.2), ymin=0, ymax=0.045, facecolor=OUTAGE_COLOUR,
                             lw=0, alpha=0.85, gid=gid)
        chart.groups[gid] = {"class": "outage-span", "data-op": o.op, "data-start-s": f"{o.start_s:.3f}",
                             "data-end-s": f"{o.end_s:.3f}",
                             "title": f"outage of {o.op}: {num(o.duration_s, 's')} "
                                      f"({num(o.start_s, 's')} – {num(o.end_s, 's')})"}


def _phase_marks(chart: _Chart, view: ReportView, names: bool) -> None:
    for p in view.phases:
        if p.start_s > 0:
            chart.ax.axvline(p.start_s, color="#8c959f", lw=0.7, ls=":")
        if names:
            chart.ax.text(p.start_s, 0.97, f" {p.name}", transform=chart.ax.get_xaxis_transform(), fontsize=7,
                          color="#6e7781", style="italic", va="top", clip_on=True)
    for before, after in phase_gaps(view.phases):
        # a recovery phase that waited for a heal (a restore) to finish: those seconds belong to no phase
        gid = f"{chart.name}-before-{after.name}"
        chart.ax.axvline(before.end_s, color="#8c959f", lw=0.7, ls=":")
        chart.ax.axvspan(before.end_s, after.start_s, facecolor="#d0d7de", lw=0, alpha=0.35, gid=gid)
        chart.groups[gid] = {"class": "phase-gap", "data-start-s": f"{before.end_s:.3f}",
                             "data-end-s": f"{after.start_s:.3f}",
                             "title": f"healing ({num(before.end_s, 's')} – {num(after.start_s, 's')}): heals still "
                                      f"running after {before.name}, so {after.name} started late; no phase"}


def _binned(series: Sequence[Mapping[str, Any]]) -> tuple[Sequence[Mapping[str, Any]], int]:
    """At most MAX_POINTS rows: counts become per-second averages, p99 the worst of the bin."""
    if len(series) <= MAX_POINTS:
        return series, 1
    k = math.ceil(len(series) / MAX_POINTS)
    out: list[Mapping[str, Any]] = []
    for i in range(0, len(series), k):
        chunk = series[i:i + k]
        n = len(chunk)
        ok, fail, info = (sum(r[x] for r in chunk) for x in ("ok", "fail", "info"))
        p50 = [r["p50_ms"] for r in chunk if r["p50_ms"] is not None]
        p99 = [r["p99_ms"] for r in chunk if r["p99_ms"] is not None]
        total = ok + fail + info
        out.append({"t": chunk[0]["t"], "ok": ok / n, "fail": fail / n, "info": info / n,
                    "p50_ms": sum(p50) / len(p50) if p50 else None, "p99_ms": max(p99) if p99 else None,
                    "success_ratio": ok / total if total else None})
    return out, k


def _svg(chart: _Chart, salt: str, label: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        chart.fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                         "Type": None})
    return _tidy(buf.getvalue(), chart, label)


def _tidy(svg: str, chart: _Chart, label: str) -> str:
    """Inline-ready SVG: no prolog or metadata, scalable, only referenced ids kept, our groups annotated."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'<svg\b[^>]*?viewBox="([^"]+)"[^>]*>',
                 lambda m: f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                           f'viewBox="{m.group(1)}" width="100%" class="chart" data-chart="{chart.name}" '
                           f'role="img" aria-label="{html.escape(label)}">', svg, count=1)
    referenced = set(re.findall(r'#([^\s")]+)', svg))

    def fix_id(m: re.Match) -> str:
        ident = m.group(1)
        if ident in chart.groups:
            attrs = dict(chart.groups[ident])
            title = attrs.pop("title", "")
            extra = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
            return f'<g id="{ident}"{extra}><title>{html.escape(title)}</title>'
        if ident in referenced:
            return m.group(0)
        return "<g>"

    svg = re.sub(r'<g id="([^"]+)">', fix_id, svg)
    keep = referenced | set(chart.groups)
    svg = re.sub(r'\s+id="([^"]+)"', lambda m: m.group(0) if m.group(1) in keep else "", svg)
    svg = re.sub(r"\n\s*", "\n", svg)  # indentation is a fifth of matplotlib's output
    return svg


def _finish(chart: _Chart, view: ReportView, label: str) -> str:
    return _svg(chart, f"{view.result['run_id'] or ''}-{chart.name}", label)


def chart_operations(view: ReportView) -> str | None:
    """Operations per second, stacked ok / indeterminate / failed, outages marked along the axis."""
    if not view.series:
        return None
    rows, k = _binned(view.series)
    c, lanes = _chart("ops", 2.2, view)
    t = [r["t"] for r in rows] + [rows[-1]["t"] + k]
    base = [0.0] * len(rows)
    for key, label in (("ok", "ok (acknowledged)"), ("info", "indeterminate"), ("fail", "failed")):
        top = [b + r[key] for b, r in zip(base, rows, strict=False)]
        c.ax.fill_between(t, base + base[-1:], top + top[-1:], step="post", color=OUTCOME_COLOURS[key], lw=0,
                          label=label, alpha=0.9)
        base = top
    c.ax.set_ylabel("operations / s" + (f" (avg of {k} s)" if k > 1 else ""))
    c.ax.set_ylim(0, max(max(base) * 1.12, 1))
    _phase_marks(c, view, names=True)
    _shade_outages(c, headline_outages(view), full_height=False)
    _shade_faults(c, view.faults, view.end_s, lanes)
    handles, labels = c.ax.get_legend_handles_labels()
    if headline_outages(view):
        handles.append(Patch(facecolor=OUTAGE_COLOUR, label="outage"))
    c.ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return _finish(c, view, "operations per second")


def chart_latency(view: ReportView) -> str | None:
    """p50 and p99 latency per second; logarithmic when timeouts dwarf normal latency."""
    rows, _k = _binned(view.series)
    pts = [(r["t"], r["p50_ms"], r["p99_ms"]) for r in rows if r["p50_ms"] is not None or r["p99_ms"] is not None]
    if not pts:
        return None
    c, lanes = _chart("latency", 1.8, view)
    all_pts = [(r["t"], r["p50_ms"], r["p99_ms"]) for r in rows]
    for idx, (label, colour) in ((1, ("p50", "#0969da")), (2, ("p99", "#8250df"))):
        xs = [p[0] + 0.5 for p in all_pts]
        ys = [p[idx] if p[idx] is not None else math.nan for p in all_pts]  # a gap stays a gap
        c.ax.plot(xs, ys, color=colour, lw=1.1, label=label, marker="o", ms=1.8 if len(pts) < 200 else 0)
    values = [v for p in pts for v in p[1:] if v is not None and v > 0]
    budgets = _latency_budgets(c, view)
    limits = [b["limit"]["max"] for b in headline_budgets(view, tuple(LATENCY_BUDGETS)) if b["limit"]["max"]]
    if values and max(values) / max(min(values), 0.1) > 50:
        c.ax.set_yscale("log")
        c.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: num(v)))
    else:
        c.ax.set_ylim(bottom=0)
    if limits:   # the limit lines stay in sight, however far above the latencies they are
        bottom, top = c.ax.get_ylim()
        c.ax.set_ylim(bottom, max(top, max(limits) * 1.08))
    c.ax.set_ylabel("latency (ms)")
    _phase_marks(c, view, names=False)
    _shade_faults(c, view.faults, view.end_s, lanes)
    handles, _labels = c.ax.get_legend_handles_labels()
    c.ax.legend(handles=[h for h in handles if h.get_label() in ("p50", "p99")] + budgets, loc="upper left",
                bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return _finish(c, view, "latency p50 and p99" + (" with the latency budgets" if budgets else ""))


def chart_success(view: ReportView) -> str | None:
    """Per-second success ratio with outage windows hatched over the full height."""
    rows, k = _binned(view.series)
    if not any(r["success_ratio"] is not None for r in rows):
        return None
    c, lanes = _chart("success", 1.5, view)
    xs = [r["t"] for r in rows] + [rows[-1]["t"] + k]
    ys = [(r["success_ratio"] * 100 if r["success_ratio"] is not None else math.nan) for r in rows]
    ys.append(ys[-1])
    c.ax.fill_between(xs, ys, step="post", color="#2da44e", alpha=0.25, lw=0)
    c.ax.step(xs, ys, where="post", color="#1a7f37", lw=1.0, label="success ratio")
    c.ax.set_ylim(0, 105)
    c.ax.set_ylabel("success %")
    _phase_marks(c, view, names=False)
    outages = headline_outages(view)
    _shade_outages(c, outages, full_height=True)
    budget = _outage_budget(c, view, outages)
    _shade_faults(c, view.faults, view.end_s, lanes)
    if outages:
        c.ax.legend(handles=[Patch(facecolor="none", edgecolor="#cf222e", hatch="xx", label="outage")] + budget,
                    loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return _finish(c, view, "success ratio per second")


def chart_roles(view: ReportView) -> str | None:
    """One row per node (state over time) under a row naming the leader; cut-off time is cross-hatched. With
    zones the rows are grouped by zone (labelled "a · pg1", a line between zones) and a load balancer's row
    carries a dark band while it holds the virtual IP."""
    if not view.roles and not view.leaders:
        return None
    nodes = list(view.roles)
    where = placement(view.result)
    rows = (["leader"] if view.leaders else []) + nodes
    c, lanes = _chart("roles", 0.26 * len(rows) + 0.2, view)
    ax = c.ax
    ax.grid(False)
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    used: set[str] = set()
    if view.leaders:
        palette = ["#0969da", "#bf8700", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83"]
        names = sorted({x["leader"] for x in view.leaders if x["leader"]})
        for lead in view.leaders:
            start, width, leader = lead["start_s"], lead["end_s"] - lead["start_s"], lead["leader"]
            colour = "#cf222e" if not leader else palette[names.index(leader) % len(palette)]
            ax.broken_barh([(start, width)], (y["leader"] - 0.4, 0.8), facecolors=colour, lw=0,
                           alpha=0.85 if leader else 0.6)
            if width > (view.end_s / 40):
                ax.text(start + width / 2, y["leader"], str(leader or "no leader"), ha="center", va="center",
                        fontsize=7, color="white", fontweight="bold", clip_on=True)
    for node in nodes:
        by_state: dict[str, list[tuple[float, float]]] = {}
        cut: list[tuple[float, float]] = []
        for s in view.roles[node]:
            span = (s["start_s"], s["end_s"] - s["start_s"])
            by_state.setdefault(s["state"], []).append(span)
            if s["cut_off"]:
                cut.append(span)
        for state, spans in by_state.items():
            used.add(state)
            ax.broken_barh(spans, (y[node] - 0.4, 0.8), facecolors=STATE_COLOURS.get(state, "#d0d7de"), lw=0)
        if cut:
            used.add("cut_off")
            ax.broken_barh(cut, (y[node] - 0.4, 0.8), facecolors="none", edgecolor="#24292f", hatch="xxx", lw=0.6)
    _vip_bands(c, view, y)
    ax.set_yticks([y[r] for r in rows], [lane_label(r, where) for r in rows], fontsize=7.5)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    for above, below in zip(nodes, nodes[1:], strict=False):   # a line between two zones' rows
        if where and where.get(above) != where.get(below):
            ax.axhline(y[below] + 0.5, color="#8c959f", lw=0.6, ls="-")
    _phase_marks(c, view, names=False)
    _shade_faults(c, view.faults, view.end_s, lanes, behind=True)
    handles = [Patch(facecolor=STATE_COLOURS[s], label=STATE_LABELS[s]) for s in STATE_COLOURS if s in used]
    if any(g.get("class") == "vip-span" for g in c.groups.values()):
        handles.append(Patch(facecolor=VIP_COLOUR, label="holds the virtual IP"))
    if "cut_off" in used:
        handles.append(Patch(facecolor="white", edgecolor="#24292f", hatch="xxx", label="cut off (network)"))
    if view.leaders and any(x["leader"] is None for x in view.leaders):
        handles.append(Patch(facecolor="#cf222e", alpha=0.6, label="no leader"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return _finish(c, view, "node roles over time")


def _vip_bands(c: _Chart, view: ReportView, y: dict[str, int]) -> None:
    """A dark band along the lower part of a load balancer's row while it held the VIP (probes' lb_active)."""
    for i, span in enumerate(vip_spans(view.result)):
        lb = span["lb_active"]
        if lb is None or lb not in y:
            continue
        gid = f"roles-vip-{i}"
        c.ax.broken_barh([(span["start_s"], span["end_s"] - span["start_s"])], (y[lb] - 0.4, 0.22),
                         facecolors=VIP_COLOUR, lw=0, gid=gid, zorder=3)
        c.groups[gid] = {"class": "vip-span", "data-lb": lb, "data-start-s": f"{span['start_s']:g}",
                         "data-end-s": f"{span['end_s']:g}"}


def _generator_binned(rows: Sequence[Mapping[str, Any]]) -> tuple[Sequence[Mapping[str, Any]], int]:
    """At most MAX_POINTS seconds of generator health, as _binned() does for the series: rates averaged over a
    bin, CPU the busiest second of it (a long drill's report stays small; result.json keeps every second)."""
    if len(rows) <= MAX_POINTS:
        return rows, 1
    k = math.ceil(len(rows) / MAX_POINTS)
    out: list[Mapping[str, Any]] = []
    for i in range(0, len(rows), k):
        chunk = rows[i:i + k]
        targets = [r["target"] for r in chunk if r["target"] is not None]
        cpus = [r["cpu"] for r in chunk if r["cpu"] is not None]
        out.append({"t": chunk[0]["t"], "offered": sum(r["offered"] for r in chunk) / len(chunk),
                    "target": sum(targets) / len(targets) if targets else None, "cpu": max(cpus) if cpus else None})
    return out, k


def chart_generator(view: ReportView) -> str | None:
    """Offered vs target rate (is the load generator keeping up?) and the busiest load process's CPU."""
    if not view.generator:
        return None
    c, lanes = _chart("generator", 1.5, view)
    rows, k = _generator_binned(view.generator)
    xs = [g["t"] + k / 2 for g in rows]
    c.ax.plot(xs, [g["offered"] for g in rows], color="#0969da", lw=1.1, label="offered")
    targets = [(x, g["target"]) for x, g in zip(xs, rows, strict=False) if g["target"] is not None]
    if targets:
        c.ax.plot([t[0] for t in targets], [t[1] for t in targets], color="#24292f", lw=1, ls="--",
                  label="target")
    c.ax.set_ylim(bottom=0)
    c.ax.set_ylabel("operations started / s")
    cpus = [(x, g["cpu"]) for x, g in zip(xs, rows, strict=False) if g["cpu"] is not None]
    handles, labels = c.ax.get_legend_handles_labels()
    if cpus:
        ax2 = c.ax.twinx()
        ax2.plot([p[0] for p in cpus], [p[1] for p in cpus], color="#8c959f", lw=0.9, label="CPU %")
        ax2.set_ylim(0, max(100, max(p[1] for p in cpus) * 1.1))
        ax2.set_ylabel("CPU %", color="#57606a")
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    _phase_marks(c, view, names=False)
    _shade_faults(c, view.faults, view.end_s, lanes)
    c.ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.09 if cpus else 1.0, 1.0), fontsize=7,
                frameon=False)
    return _finish(c, view, "load generator health")


def render_charts(view: ReportView) -> dict[str, str | None]:
    """Every chart by name (None where the data for it is missing); a chart that fails is left out."""
    out: dict[str, str | None] = {}
    with matplotlib.rc_context(_RC):
        for name, fn in (("ops", chart_operations), ("latency", chart_latency), ("success", chart_success),
                         ("roles", chart_roles), ("generator", chart_generator)):
            try:
                out[name] = fn(view)
            except Exception as exc:  # noqa: BLE001 - one broken chart must not cost the whole report
                out[name] = None
                view.notes.append(f"The {name} chart could not be drawn ({type(exc).__name__}: {exc}).")
    return out
