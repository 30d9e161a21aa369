"""judge(): from a run directory and its scenario to result.json (declared in drills/checks/result_model.py,
whose schema is result.schema.json).

Pure over the files: it needs no stack, so `drill report RUN_DIR` can re-judge any run, including one that
crashed half-way (its missing parts become unknown, never pass). `judge_recorded()` judges a run directory by
the scenario it recorded, or by the default phases and budgets when that copy is unreadable.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import re
import time
from pathlib import Path
from typing import Any, cast

from drills.checks import cluster
from drills.checks import probes as probe_checks
from drills.checks.alerting import AlertJudgement, AlertRecord
from drills.checks.audit import run_audit
from drills.checks.availability import PHASE_NAMES, Availability
from drills.checks.budgets import evaluate
from drills.checks.damage import json_safe
from drills.checks.generator import assess, per_second
from drills.checks.history import History
from drills.checks.inputs import RunData, read_run
from drills.checks.measurements import Measurements
from drills.checks.per_zone import zones_section
from drills.checks.recovery import Recovery
from drills.checks.result_model import (
    FORMAT,
    Cluster,
    DisasterRecovery,
    FaultRow,
    Generator,
    GeneratorSecond,
    Result,
    anomalies,
)
from drills.checks.result_model import Availability as AvailabilitySection
from drills.checks.verdict import decide, self_test_passed
from drills.checks.window import RunWindow, recovery_delay_notes, run_events
from drills.checks.worker_budgets import qualify
from drills.checks.worker_clock import corrected_stats
from drills.checks.worker_health import load_gaps, worker_records
from drills.checks.worker_health import notes as worker_notes
from drills.checks.worker_health import section as workers_section
from drills.checks.writing import replace_file
from drills.rundir import codec, files
from drills.rundir.tolerant import Problems, read_json
from drills.scenario import ScenarioInvalid, default_budgets
from drills.scenario.loader import load_yaml
from drills.scenario.model import Phases, Scenario
from drills.scenario.nodes import Mapping, Scalar
from drills.scenario.validate import NAME_PATTERN, build_scenario

__all__ = ["FORMAT", "judge", "judge_recorded", "recorded_scenario", "write_result", "default_scenario"]


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _worst(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return max(values) if values else None


def _intervals(window: RunWindow, phase: str) -> list[list[float | None]]:
    """A phase's intervals as offsets, open ends clamped to the load window (for reading, not judging)."""
    return [[window.offset(max(a, window.t0)), window.offset(min(b, window.t_end))]
            for a, b in window.intervals(phase)]


def availability_section(av: Availability, m: Measurements) -> AvailabilitySection:
    """result.json's availability: headline numbers for the headline op, then per phase, per op, series."""
    op, w = av.headline_op(), av.window
    longest, window = av.longest_outage(op)
    recovery = m.recovery(op)
    ops = av.ops()
    counts = av.counts(op)
    section = {
        "op": op,
        "window": {"load_started": w.t0, "load_stopped": w.t_end, "duration_s": round(w.duration_s, 3)},
        "phases": {p: _intervals(w, p) for p in PHASE_NAMES if p != "all"},
        "ok": counts["ok"], "fail": counts["fail"], "info": counts["info"],
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
    return cast(AvailabilitySection, section)  # the per-metric modules build their parts as plain dicts


def _difference(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
    """(a - b) * scale rounded to the millisecond (the offsets' precision); None when either is unknown."""
    return None if a is None or b is None else round((a - b) * scale, 3)


def faults_section(run: RunData, m: Measurements, op: str) -> list[FaultRow]:
    """One row per injection. A fault whose inject failed was never in place: its row says `inject_failed`,
    with the moment of the attempt and no `injected_s` (nothing to draw as an interval, nothing left behind)."""
    w = run.window
    recovery = {(r["fault_id"], r["iteration"]): r for r in m.recovery(op)}
    detection = {(d["fault_id"], d["iteration"]): d for d in m.detections}
    rows: list[FaultRow] = []
    for f in w.faults:
        key = (f.id, f.iteration)
        attempted, healed = w.offset(f.injected_t), w.offset(f.healed_t)
        injected = None if f.inject_failed else attempted
        rows.append({
            "id": f.id, "iteration": f.iteration, "type": f.type, "target": f.target, "link": f.link,
            "scheduled_s": f.scheduled_s, "attempted_s": attempted, "injected_s": injected, "healed_s": healed,
            "inject_failed": f.inject_failed,
            "ok": f.ok, "error": f.error, "heal_ok": f.heal_ok, "heal_error": f.heal_error,
            "detection_s": (detection.get(key) or {}).get("detection_s"),
            "recovery_s": (recovery.get(key) or {}).get("recovery_s"),
            "late_ms": fault_late_ms(injected, f.scheduled_s),
            "duration_s": _difference(healed, injected),
        })
    return rows


def fault_late_ms(injected_s: float | None, scheduled_s: object) -> float | None:
    """How late a fault took effect against its schedule, in ms (never negative: the nemesis is not early)."""
    scheduled = float(scheduled_s) if isinstance(scheduled_s, (int, float)) and not isinstance(scheduled_s, bool) \
        else None
    late = _difference(injected_s, scheduled, 1000.0)
    return None if late is None else max(0.0, round(late, 1))


def disaster_extras(section: dict[str, Any]) -> DisasterRecovery:
    """The recovery section (drills/checks/recovery.py) with the lengths the report shows: each timeline step
    since the first disaster, and each backup set's duration."""
    steps = [r for r in section.get("timeline") or [] if isinstance(r, dict)]
    first = next((r.get("t_s") for r in steps if r.get("step") == "disaster"), None)
    for r in steps:
        r["since_disaster_s"] = _difference(r.get("t_s"), first)
    backups = section.get("backups")
    for b in (backups.get("catalogue") or []) if isinstance(backups, dict) else []:
        if isinstance(b, dict):
            start, stop = b.get("start"), b.get("stop")
            numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (start, stop))
            b["duration_s"] = _difference(stop, start) if numbers else None
    return cast(DisasterRecovery, section)


def generator_series(stats: list[dict], window: RunWindow) -> list[GeneratorSecond]:
    """The load processes' stats summed per second (generator.per_second), as offsets from load start."""
    return [{"t": round(sec - window.t0, 3), "offered": r["offered"], "target": r["target"], "cpu": r["cpu"],
             "users": r["users"]} for sec, r in sorted(per_second(stats).items())]


def rerun_command(meta: dict) -> str | None:
    """The command meta.json says runs this drill again (drills/rundir/meta.py writes it)."""
    command = meta.get("rerun_command")
    return command if isinstance(command, str) and command.strip() else None


def _empty_history() -> History:
    h = History()
    h.finish()
    return h


def judge(run_dir: Path, scenario: Scenario) -> Result:
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


def _judge(run_dir: Path, scenario: Scenario) -> Result:
    started = time.perf_counter()
    run = read_run(run_dir, scenario.phases, scenario.audit)
    history = run.history if run.history is not None else _empty_history()
    w = run.window
    run.stats = corrected_stats(run.stats, run.events)   # remote workers' seconds on the master's clock
    workers = worker_records(run.events, w, run.stats)   # remote load workers: their load gaps are no outage
    gaps = load_gaps(workers)
    av = Availability(history, w, scenario.slo, unsure=gaps)
    probes = probe_checks.sorted_probes(run.probes)
    ok_purchases = history.attempts("purchase", "ok").complete
    started_events = run_events(run.events, "started")
    lost: dict = {}
    audit = run_audit(history, run.final_state, w, since=started_events[0] if started_events else w.t0,
                      details=lost, audit=scenario.audit)
    audit["anomalies"] = anomalies(audit)
    disaster = Recovery(history, w, run.events, audit, lost, run.final_state, av, run.backups)
    alerting = AlertJudgement(AlertRecord.parse(run.alerts, run.alerts_damaged), w, scenario.alerts, run.events)
    cluster_spans = cluster.timeline(run.probes, w)
    zones = zones_section(run.events, history.paths, w, probes, cluster_spans["leader"], scenario.slo, gaps)
    m = Measurements(
        availability=av, audit=audit, zones=zones,
        failovers=probe_checks.failovers(probes, ok_purchases, w),
        detections=[probe_checks.detection(f, probes, w) for f in w.faults if f.took_effect],
        probes_present=bool(probes), disaster=disaster, events=run.events, alerting=alerting,
    )
    budgets = qualify(evaluate(scenario.budgets, m), scenario.budgets, m, gaps)
    generator = assess(run.stats, w, gaps)
    generator["series"] = generator_series(run.stats, w)
    if workers:
        generator.update(workers_section(workers, w, run.path, run.events))
        run.problems.notes.extend(worker_notes(workers, w))
    run.problems.notes.extend(stale_image_notes(run.meta.get("images_stale")))
    run.problems.notes.extend(recovery_delay_notes(run.events))
    verdict, reasons = decide(run.events, None if run.history is None else history.recorded, budgets, generator,
                              scenario.expect)
    finished = run_events(run.events, "finished")
    recovery = disaster.section()
    result: dict[str, Any] = {
        "format": FORMAT,
        "verdict": verdict,
        "expected": scenario.expect,
        "self_test_passed": self_test_passed(verdict, scenario.expect),
        "verdict_reasons": reasons,
        "scenario": scenario.name,
        "description": scenario.description,
        "run_id": run.meta.get("run_id"),
        "started": started_events[0] if started_events else None,
        "finished": finished[-1] if finished else None,
        "duration_s": round(w.duration_s, 3),
        "seed": run.meta.get("seed", scenario.seed),
        "rerun_command": rerun_command(run.meta),
        "budgets": budgets,
        "audit": audit,
        "availability": availability_section(av, m),
        "faults": faults_section(run, m, av.headline_op()),
        **({"disaster_recovery": disaster_extras(recovery)} if recovery is not None else {}),
        **({"alerting": alerting.section()} if run.alerts is not None or scenario.alerts is not None else {}),
        "generator": cast(Generator, generator),
        "cluster": cast(Cluster, cluster_spans),
        **({"zones": zones} if zones is not None else {}),
        "versions": run.meta.get("versions") or {},
        "images": run.meta.get("images") or {},
        "missing_files": run.problems.missing_files,
        "notes": run.problems.notes,
        "checks": {"operations": history.count(), "history_lines": history.lines, "json": codec.BACKEND,
                   "seconds": round(time.perf_counter() - started, 3)},
    }
    return cast(Result, json_safe(result))   # strict JSON, every string capped (rundir.textcap.STRING_MAX)


def default_scenario(run_dir: Path, why: str) -> tuple[Scenario, str]:
    """The scenario a run directory is judged by when its own copy is unreadable: the default phases and
    budgets (what a scenario naming neither gets), named after meta.json; and the note that says so."""
    found = read_json(Path(run_dir) / files.META, Problems())
    meta: dict = found if isinstance(found, dict) else {}
    name = meta["scenario"] if isinstance(meta.get("scenario"), str) else Path(run_dir).name
    seed = meta["seed"] if isinstance(meta.get("seed"), int) else None
    phases = Phases()
    scenario = Scenario(name=name, seed=seed, phases=phases, budgets=default_budgets(phases))
    note = (f"{files.SCENARIO} could not be read ({why}): judged with the default phases (warmup "
            f"{phases.warmup:g} s, steady {phases.steady:g} s, recovery {phases.recovery:g} s, used only where "
            "events.jsonl has no phase events) and the default budgets; the scenario's own budgets are unknown")
    return scenario, note


def recorded_scenario(run_dir: Path) -> Scenario:
    """The scenario.yaml a run directory recorded, validated as before the run less what only running it needs:
    its locustfile is not looked for (the copy sits in the run directory, away from the scenario's folder, and
    judging runs no load), and a copy without a `name` gets the one the run used (meta.json), not its own file
    name. Raises ScenarioInvalid like load_scenario()."""
    path = Path(run_dir) / files.SCENARIO
    root = load_yaml(path)
    if isinstance(root, Mapping) and not any(key.value == "name" for key, _ in root.pairs):
        meta = read_json(Path(run_dir) / files.META, Problems())
        name = meta.get("scenario") if isinstance(meta, dict) else None
        ok = isinstance(name, str) and re.fullmatch(NAME_PATTERN, name)
        root.pairs.append((Scalar(value="name"), Scalar(value=name if ok else path.stem)))
    scenario, issues = build_scenario(root, str(path))
    if scenario is None:
        raise ScenarioInvalid(issues)
    return dataclasses.replace(scenario, path=str(path))


def judge_recorded(run_dir: Path) -> Result:
    """Judge a run directory by the scenario.yaml it recorded (recorded_scenario()), or, when that copy is
    unreadable, by default_scenario() (the result's notes say so). Never raises for what the files hold."""
    note = None
    try:
        scenario = recorded_scenario(run_dir)
    except ScenarioInvalid as exc:
        first = exc.issues[0].message if exc.issues else "invalid"
        scenario, note = default_scenario(run_dir, first if len(exc.issues) < 2
                                          else f"{first}; and {len(exc.issues) - 1} more problem(s)")
    except OSError as exc:
        scenario, note = default_scenario(run_dir, exc.strerror or str(exc))
    result = judge(run_dir, scenario)
    if note is not None:
        result["notes"].insert(0, note)
    return result


def write_result(run_dir: Path, result: Result) -> Path:
    """Write result.json atomically, through a fresh temporary file (drills/checks/writing.py)."""
    text = json.dumps(result, indent=1, allow_nan=False) + "\n"   # whole before anything is written
    return replace_file(Path(run_dir) / files.RESULT, lambda f: f.write(text))


def stale_image_notes(stale: object) -> list[str]:
    """meta.json's images_stale (images.stale_images, recorded by the run) as notes: a verdict on an image built
    from other files than the checkout's is worth saying beside it. Anything not a tag -> text map is ignored."""
    if not isinstance(stale, dict):
        return []
    return [f"image {tag} was stale when the drill ran: {why}"
            for tag, why in sorted(stale.items()) if isinstance(tag, str) and isinstance(why, str)]
