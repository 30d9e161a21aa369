"""The report's remote load workers: a small table (one row per `drill worker`) and a note per worker event.

Presents result.json's `generator.workers` / `worker_events` / `inconclusive` (drills/checks/worker_health.py);
it computes nothing. Nothing is shown for a run without remote workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.report.fmt import as_float, num
from drills.report.htmlkit import esc, items_html, table

WHAT = {"joined": "joined", "missing": "went missing (heartbeat lost)", "quit": "quit",
        "lost": "was lost: it never came back"}


def _seconds(value: object) -> str:
    f = as_float(value)
    return "—" if f is None else f"{f:g} s"


def _signed(value: object) -> str:
    f = as_float(value)
    return "—" if f is None else f"{f:+.3f} s"


def _spans(spans: object) -> str:
    rows = [s for s in spans if isinstance(s, list) and len(s) == 2] if isinstance(spans, list) else []
    return ", ".join(f"{_seconds(a)} – {_seconds(b)}" for a, b in rows) or "—"


def event_note(e: Mapping[str, Any]) -> str:
    """One worker line in words: when, who, what, the clock measurement of a join, the master's detail."""
    text = f"{_seconds(e.get('t_s'))}: worker {e.get('worker')} {WHAT.get(str(e.get('name')), e.get('name'))}"
    if e.get("name") == "joined" and as_float(e.get("offset_s")) is not None:
        rtt = as_float(e.get("rtt_s"))
        text += f" (clock {_signed(e.get('offset_s'))} from the master's" + (
            f", measured over a {num(rtt * 1000.0, 'ms')} round trip)" if rtt is not None else ")")
    if e.get("name") in ("missing", "lost"):
        text += ": availability from here to its return is inconclusive, not an outage"
    detail = e.get("detail")
    return text + (f" — {detail}" if isinstance(detail, str) and detail else "")


def workers_html(generator: Mapping[str, Any]) -> str:
    """The workers' table and event notes; '' when the run had no remote workers."""
    workers = generator.get("workers")
    if not isinstance(workers, list) or not workers:
        return ""
    rows = [[esc(w.get("worker")), esc(_seconds(w.get("joined_s"))), esc(_signed(w.get("offset_s"))),
             esc(_spans(w.get("missing"))), esc(_spans(w.get("ramp"))), esc(w.get("end") or "—"),
             f'<span class="num">{esc(num(w.get("lines")))}</span>']
            for w in workers if isinstance(w, dict)]
    out = ['<h3 id="workers">Remote load workers</h3>',
           '<p class="muted">Each worker\'s history is moved onto the master\'s clock by its measured offset. '
           "While a worker's load was missing (and until it climbed back), availability is inconclusive: such "
           "a window is never counted as an outage.</p>",
           table(["worker", "joined", "clock offset", "missing", "load climbing back", "left", "history lines"],
                 rows, "workers")]
    windows = generator.get("inconclusive")
    if isinstance(windows, list) and windows:
        out.append(f'<p class="notes" data-inconclusive="yes"><b>Availability inconclusive</b> at '
                   f"{esc(_spans(windows))} (a worker's load was missing).</p>")
    events = [e for e in generator.get("worker_events") or [] if isinstance(e, dict)]
    if events:
        out.append(items_html(event_note(e) for e in events))
    return "".join(out)
