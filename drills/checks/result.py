"""judge(): from a run directory and its scenario to result.json (see result.schema.json).

Pure over the files: it needs no stack, so `drill report RUN_DIR` can re-judge any run, including one that
crashed half-way (its missing parts become unknown, never pass).
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from drills.checks import probes as probe_checks
from drills.checks.audit import run_audit
from drills.checks.availability import PHASE_NAMES, Availability
from drills.checks.budgets import evaluate
from drills.checks.generator import assess
from drills.checks.history import History
from drills.checks.inputs import RunData, read_run
from drills.checks.measurements import Measurements
from drills.checks.recovery import Recovery
from drills.checks.verdict import decide, self_test_passed
from drills.checks.window import RunWindow, run_events
from drills.rundir import codec, files
from drills.scenario.model import Scenario

FORMAT = 1


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _worst(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return max(values) if values else None


def _intervals(window: RunWindow, phase: str) -> list[list[float | None]]:
    """A phase's intervals as offsets, open ends clamped to the load window (for reading, not judging)."""
    return [[window.offset(max(a, window.t0)), window.offset(min(b, window.t_end))]
            for a, b in window.intervals(phase)]


def availability_section(av: Availability, m: Measurements) -> dict[str, Any]:
    """result.json's availability: headline numbers for the headline op, then per phase, per op, series."""
    op, w = av.headline_op(), av.window
    longest, window = av.longest_outage(op)
    recovery = m.recovery(op)
    ops = av.ops()
    return {
        "op": op,
        "window": {"load_started": w.t0, "load_stopped": w.t_end, "duration_s": round(w.duration_s, 3)},
        "phases": {p: _intervals(w, p) for p in PHASE_NAMES if p != "all"},
        **av.counts(op),
        "success_ratio": _round(av.success_ratio(op)),
        "longest_outage_s": longest,
        "longest_outage": None if window is None else {"start": w.offset(window.start), "end": w.offset(window.end),
                                                       "open": window.open},
        "recovery_s": _worst(recovery, "recovery_s"),
        "recovery": recovery,
        "failover_s": _worst(m.failovers, "failover_s"),
        "failovers": m.failovers,
        "detection_s": _worst([d for d in m.detections if d.get("targets")], "detection_s"),
        "detections": m.detections,
        "latency_ms": av.latency(op),
        "error_budget": {"slo_target": av.slo.target, "period_days": av.slo.period_days, **av.error_budget(op)},
        "per_phase": {p: av.phase_summary(op, p) for p in PHASE_NAMES if p != "all"},
        "per_op": {o: {**av.phase_summary(o, "all"),
                       "per_phase": {p: av.phase_summary(o, p, with_latency=False)
                                     for p in PHASE_NAMES if p != "all"}}
                   for o in ops + (["all"] if len(ops) > 1 else [])},
        "series": av.series("all"),
        "series_by_op": {o: av.series(o) for o in ops},
        "outages": av.outage_rows(),
    }


def faults_section(run: RunData, m: Measurements, op: str) -> list[dict]:
    w = run.window
    recovery = {(r["fault_id"], r["iteration"]): r for r in m.recovery(op)}
    detection = {(d["fault_id"], d["iteration"]): d for d in m.detections}
    rows = []
    for f in w.faults:
        key = (f.id, f.iteration)
        rows.append({
            "id": f.id, "iteration": f.iteration, "type": f.type, "target": f.target, "link": f.link,
            "scheduled_s": f.scheduled_s, "injected_s": w.offset(f.injected_t), "healed_s": w.offset(f.healed_t),
            "ok": f.ok, "error": f.error, "heal_ok": f.heal_ok, "heal_error": f.heal_error,
            "detection_s": (detection.get(key) or {}).get("detection_s"),
            "recovery_s": (recovery.get(key) or {}).get("recovery_s"),
        })
    return rows


def _empty_history() -> History:
    h = History()
    h.finish()
    return h


def judge(run_dir: Path, scenario: Scenario) -> dict[str, Any]:
    """Judge one run directory against its scenario; returns the result.json document.

    The cyclic GC is paused meanwhile: the history is millions of small long-lived objects, and full
    collections over them would cost more than the checks (nothing here creates reference cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _judge(Path(run_dir), scenario)
    finally:
        if enabled:
            gc.enable()


def _judge(run_dir: Path, scenario: Scenario) -> dict[str, Any]:
    started = time.perf_counter()
    run = read_run(run_dir, scenario.phases)
    history = run.history if run.history is not None else _empty_history()
    w = run.window
    av = Availability(history, w, scenario.slo)
    probes = probe_checks.sorted_probes(run.probes)
    ok_purchases = history.attempts("purchase", "ok").complete
    started_events = run_events(run.events, "started")
    lost: dict = {}
    audit = run_audit(history, run.final_state, w, since=started_events[0] if started_events else w.t0,
                      details=lost)
    disaster = Recovery(history, w, run.events, audit, lost, run.final_state, av, run.backups)
    m = Measurements(
        availability=av, audit=audit,
        failovers=probe_checks.failovers(probes, ok_purchases, w),
        detections=[probe_checks.detection(f, probes, w) for f in w.faults if f.took_effect],
        probes_present=bool(probes), disaster=disaster, events=run.events,
    )
    budgets = evaluate(scenario.budgets, m)
    generator = assess(run.stats, w)
    verdict, reasons = decide(run.events, None if run.history is None else history.recorded, budgets, generator)
    finished = run_events(run.events, "finished")
    recovery = disaster.section()
    result: dict[str, Any] = {
        "format": FORMAT,
        "verdict": verdict,
        "expected": scenario.expect,
        "self_test_passed": self_test_passed(verdict, scenario.expect),
        "verdict_reasons": reasons,
        "scenario": scenario.name,
        "run_id": run.meta.get("run_id"),
        "started": started_events[0] if started_events else None,
        "finished": finished[-1] if finished else None,
        "duration_s": round(w.duration_s, 3),
        "seed": run.meta.get("seed", scenario.seed),
        "budgets": budgets,
        "audit": audit,
        "availability": availability_section(av, m),
        "faults": faults_section(run, m, av.headline_op()),
        **({"disaster_recovery": recovery} if recovery is not None else {}),
        "generator": generator,
        "versions": run.meta.get("versions") or {},
        "images": run.meta.get("images") or {},
        "missing_files": run.problems.missing_files,
        "notes": run.problems.notes,
        "checks": {"operations": history.count(), "history_lines": history.lines, "json": codec.BACKEND,
                   "seconds": round(time.perf_counter() - started, 3)},
    }
    return _json_safe(result)


def _json_safe(value: Any) -> Any:
    """Infinite or NaN floats (open intervals) become null: result.json stays strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_result(run_dir: Path, result: dict[str, Any]) -> Path:
    """Write result.json atomically."""
    path = Path(run_dir) / files.RESULT
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
