"""The run as every rendering sees it: result.json where the checks wrote it, the raw files where not.

Building it once keeps report.html, junit.xml and the console summary consistent with each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.report import timeline as tl
from drills.report.fallback import complete_result
from drills.report.headline import Verdict, judge
from drills.report.sources import RunDir, load_run
from drills.rundir import files


@dataclass
class ReportView:
    run: RunDir
    result: dict
    verdict: Verdict
    t0: float | None
    derived: list[str] = field(default_factory=list)      # parts of `result` computed by the report
    phases: list[tl.Phase] = field(default_factory=list)
    faults: list[tl.FaultInterval] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)
    series_source: str = ""
    outages: list[tl.Outage] = field(default_factory=list)
    roles: dict[str, list[tl.RoleSegment]] = field(default_factory=dict)
    leaders: list[tuple] = field(default_factory=list)
    generator: list[dict] = field(default_factory=list)
    end_s: float = 0.0                                     # right edge of every chart
    record_end_s: float | None = None                      # the last moment any file recorded
    notes: list[str] = field(default_factory=list)         # what is missing or damaged, for the reader

    @property
    def scenario_name(self) -> str:
        return str(self.result.get("scenario") or self.run.path.name)


def build_view(run_dir: Path | RunDir) -> ReportView:
    """Load and reconcile a run directory; never raises for missing or damaged content."""
    run = run_dir if isinstance(run_dir, RunDir) else load_run(Path(run_dir))
    t0 = tl.origin(run)
    avail = (run.result or {}).get("availability")
    avail = avail if isinstance(avail, dict) else {}
    if isinstance(avail.get("outages"), list):
        outages = tl.outages_from_result(avail["outages"], t0)
    elif run.history and t0 is not None:
        outages = tl.derive_outages(run.history, t0)
    else:
        outages = []
    result, derived = complete_result(run, outages)
    view = ReportView(run=run, result=result, verdict=judge(run.result), t0=t0, derived=derived, outages=outages)
    view.phases = tl.phases(run)
    view.faults = tl.fault_intervals(run, t0)
    if isinstance(avail.get("series"), list) and avail["series"]:
        view.series, view.series_source = tl.normalize_series(avail["series"], t0), files.RESULT
    elif run.history and t0 is not None:
        view.series, view.series_source = tl.series_from_history(run.history, t0), files.HISTORY_GLOB
    elif run.stats and t0 is not None:
        view.series, view.series_source = tl.series_from_stats(run.stats, t0), files.STATS
    view.roles = tl.role_segments(run.probes, t0)
    view.leaders = tl.leader_segments(run.probes, t0)
    view.generator = tl.generator_series(run.stats, t0)
    view.record_end_s = _record_end(run, t0)
    view.end_s = _extent(view)
    view.notes = _notes(view)
    return view


def _extent(view: ReportView) -> float:
    ends = [p.end_s for p in view.phases]
    ends += [r["t"] + 1 for r in view.series[-1:]] + [g["t"] + 1 for g in view.generator[-1:]]
    ends += [f.end_s or f.start_s or 0.0 for f in view.faults] + [o.end_s for o in view.outages]
    ends += [s.start_s + s.width_s for segs in view.roles.values() for s in segs[-1:]]
    return max([e for e in ends if e is not None] or [1.0])


def _record_end(run: RunDir, t0: float | None) -> float | None:
    if t0 is None:
        return None
    stamps = [tl.to_offset(r.get("t"), t0) for r in run.events[-20:] + run.probes[-3:] + run.stats[-3:]]
    stamps.append(max((h["complete"] - t0 for h in run.history if isinstance(h.get("complete"), (int, float))),
                      default=None))
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def _notes(view: ReportView) -> list[str]:
    run, notes = view.run, []
    if run.result is None:
        notes.append("result.json is missing: the run did not reach its checks (crashed or interrupted). "
                     "There is no verdict, no budget evaluation and no data-loss audit; timings and "
                     "availability below are computed by the report from the raw files.")
    for name in run.missing:
        if name != files.RESULT:
            notes.append(f"{name} is missing.")
    notes.extend(run.problems)
    for f in view.faults:
        if f.start_s is not None and f.end_s is None:
            notes.append(f"Fault {f.fault_id} (iteration {f.iteration}) has no heal event in events.jsonl: "
                         "it may still be in place (see state.json; `drill clean` removes it).")
    for m in view.result.get("missing_files") or []:
        if isinstance(m, str) and not any(m in n for n in notes):
            notes.append(f"{m} is missing (reported by the checks).")
    for n in view.result.get("notes") or []:
        if isinstance(n, str):
            notes.append(n)
        elif n is not None:
            notes.append(str(n))
    notable = [d for d in view.derived if d != "availability.per_op"]
    if notable and run.result is not None:
        notes.append("Computed by the report (absent from result.json): " + ", ".join(notable) + ".")
    aborts = [e for e in run.events if e.get("kind") == "abort"]
    for e in aborts:
        notes.append(f"Aborted: {e.get('reason') or 'no reason given'}.")
    for e in run.events:
        if e.get("kind") == "error":
            notes.append(f"Error in {e.get('where') or 'the harness'}: {e.get('message') or '?'}")
    return notes
