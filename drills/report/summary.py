"""The final console summary of a run, and of a comparison: the same facts as the HTML, in a terminal.

Every value from the result is text, never markup or a control sequence (drills.report.terminal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from drills.checks.result_model import DATA_LOSS_COUNTS
from drills.report.fmt import as_float, dict_at, limit_text, num, observed_text, passed_word, percent
from drills.report.headline import describe
from drills.report.quote import cut_note, within_section
from drills.report.relevance import DATA_LOSS_KEYS, audit_counts, audit_unknown_reasons, shows_failover
from drills.report.terminal import plain, safe

_COLOURS = {"pass": "green", "fail": "red", "aborted": "dark_orange", "inconclusive": "yellow", "error": "magenta"}
# The audit's data-loss counts (as report.html shows them): any of them above 0 is shown in red.
DATA_LOSS = DATA_LOSS_COUNTS


def print_summary(console: Console, result: Mapping[str, Any] | None) -> None:
    """Verdict, budgets, headline availability and audit counts of a result (drills.checks.Result); tolerates any
    missing key, so a partial document prints what it has."""
    result = result if isinstance(result, Mapping) else {}
    v = describe(result)
    colour = _COLOURS.get(v.css, "white")
    console.print(f"[bold {colour}]{safe(v.title)}[/]  {safe(result.get('scenario') or '', oneline=True)}"
                  f"  [dim](expected {v.expected})[/]")
    console.print(f"[dim]{safe(v.explanation)}[/]")
    if v.verdict != "pass":   # why, as the report's banner says it (never a bare "inconclusive")
        for reason in [x for x in _texts(result.get("verdict_reasons")) if x][:4]:
            console.print(f"  - {safe(reason, oneline=True)}")
    budgets = [b for b in result.get("budgets") or [] if isinstance(b, dict)]
    if budgets:
        t = Table(title="budgets", title_justify="left", show_edge=False)
        for col in ("budget", "limit", "observed", "result", "why"):
            t.add_column(col, justify="right" if col in ("limit", "observed") else "left")
        for b in budgets:
            word = passed_word(b.get("passed"))
            style = {"pass": "green", "FAIL": "bold red"}.get(word, "dim")
            t.add_row(safe(b.get("name"), oneline=True), safe(limit_text(b), oneline=True),
                      safe(observed_text(b), oneline=True), f"[{style}]{word}[/]",
                      safe(b.get("detail") or "", oneline=True))
        console.print(t)
    a = dict_at(result, "availability")
    lat = dict_at(a, "latency_ms")
    if a:
        failover = f"   failover {num(a.get('failover_s'), 's')}" if shows_failover(result) else ""
        console.print(plain(f"success {percent(a.get('success_ratio'))}"
                            f"   longest outage {num(a.get('longest_outage_s'), 's')}"
                            f"{failover}   recovery {num(a.get('recovery_s'), 's')}"
                            f"   p50/p95/p99 {num(lat.get('p50'))}/{num(lat.get('p95'))}/{num(lat.get('p99'))} ms",
                            oneline=True), markup=False, highlight=False)
    dr = dict_at(result, "disaster_recovery")
    if dr:
        rto = dict_at(dr, "rto")
        lost = dict_at(dr, "rpo_ops")
        after = dict_at(dr, "lost_after_recovery")
        rto_text = (f"never recovered (≥ {num(dr.get('rto_s'), 's')})" if rto.get("never")
                    else num(dr.get("rto_s"), "s"))
        console.print(plain(f"disaster recovery: RTO {rto_text}   RPO {num(dr.get('rpo_s'), 's')}"
                            f"   lost by the restore {num(lost.get('all'))}   lost after recovery "
                            f"{num(after.get('all'))}   restore point {num(dr.get('recovered_to_s'), 's')}",
                            oneline=True), markup=False, highlight=False)
    zones = dict_at(result, "zones")
    if zones:
        shares = "  ".join(f"{row.get('zone')} {percent(row.get('share'))} (gap {num(row.get('longest_gap_s'), 's')})"
                           for row in zones.get("zones") or [] if isinstance(row, dict))
        moves = [m for m in zones.get("vip_moves") or [] if isinstance(m, dict)]
        vip = "".join(f"   VIP {m.get('from_lb')}→{m.get('to_lb')} at {num(m.get('t_s'), 's')} (client gap "
                      f"{num(m.get('client_gap_s'), 's')})" for m in moves[:3])
        console.print(plain(f"zones: {shares}{vip}", oneline=True), markup=False, highlight=False)
    audit = dict_at(result, "audit")
    if audit:
        counts = dict(audit_counts(result))
        order = ("acknowledged",) + DATA_LOSS + ("indeterminate", "indeterminate_applied")
        parts = []
        for k in [k for k in order if k in counts] + [k for k in counts if k not in order and k in DATA_LOSS_KEYS]:
            n = as_float(counts[k])
            bad = k in DATA_LOSS_KEYS and (n or 0) > 0
            count = safe(num(counts[k]), oneline=True)
            parts.append(f"{'[bold red]' if bad else ''}{safe(k, oneline=True)} {count}{'[/]' if bad else ''}")
        if parts:
            console.print("audit: " + "  ".join(parts))
        for reason in audit_unknown_reasons(result)[:5]:   # never a bare "unknown": why it is
            console.print(f"[yellow]audit unknown:[/] {safe(reason, oneline=True)}")
    for label, notes in (("missing", _texts(result.get("missing_files"))), ("note", _texts(result.get("notes")))):
        shown, left, left_bytes = within_section(notes)
        for note in shown + ([cut_note(left, left_bytes, f"{label}s")] if left else []):
            console.print(f"[yellow]{label}:[/] {safe(note)}")


def _texts(value: object) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


def print_compare(console: Console, diff: dict) -> None:
    """Two runs side by side: every budget and availability number with its change, worse ones in red."""
    diff = diff if isinstance(diff, dict) else {}
    a, b = diff.get("a") or {}, diff.get("b") or {}
    console.print(f"A: {safe(a.get('run_id'), oneline=True)} ({safe(a.get('verdict'), oneline=True)})   "
                  f"B: {safe(b.get('run_id'), oneline=True)} ({safe(b.get('verdict'), oneline=True)})")
    for section in ("budgets", "availability", "audit"):
        rows = diff.get(section) or []
        if not rows:
            continue
        t = Table(title=section, title_justify="left", show_edge=False)
        for col in ("", "A", "B", "change"):
            t.add_column(col, justify="left" if col in ("", "change") else "right")
        for r in rows:
            style = {"worse": "bold red", "better": "green", "regressed": "bold red", "fixed": "green"}.get(
                r.get("change"), "dim")
            t.add_row(safe(r.get("name"), oneline=True), safe(r.get("a_text"), oneline=True),
                      safe(r.get("b_text"), oneline=True), f"[{style}]{safe(r.get('text'), oneline=True)}[/]")
        console.print(t)
    if diff.get("html"):
        console.print(f"comparison page: {safe(diff['html'])}", highlight=False)
