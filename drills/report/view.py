"""The run as every rendering sees it: the checks' result (drills.checks.stored: read back through the result
model, completed when older, judged now when missing) plus the two files shown as they are.

Building it once keeps report.html, junit.xml and the comparison consistent with each other. Nothing here
computes a number: the charts' rows are the result's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from drills.checks import stored
from drills.checks.result_model import GeneratorSecond, LeaderSpan, NodeSpan, Result, SeriesRow
from drills.report import timeline as tl
from drills.report.headline import Verdict, describe
from drills.report.quote import SECTION_MAX, clip, clip_all
from drills.report.relevance import has_leader
from drills.report.sources import read_shown_files


@dataclass
class ReportView:
    path: Path
    result: Result
    origin: stored.Origin                                  # recorded / completed / judged (now) / failed
    verdict: Verdict
    meta: dict = field(default_factory=dict)               # meta.json, for the environment section
    scenario_text: str | None = None
    phases: list[tl.Phase] = field(default_factory=list)
    faults: list[tl.FaultInterval] = field(default_factory=list)
    series: list[SeriesRow] = field(default_factory=list)
    outages: list[tl.Outage] = field(default_factory=list)
    roles: dict[str, list[NodeSpan]] = field(default_factory=dict)
    leaders: list[LeaderSpan] = field(default_factory=list)
    generator: list[GeneratorSecond] = field(default_factory=list)
    end_s: float = 0.0                                     # right edge of every chart
    notes: list[str] = field(default_factory=list)         # what is missing or damaged, for the reader

    @property
    def scenario_name(self) -> str:
        return self.result["scenario"] or self.path.name


def build_view(run_dir: Path) -> ReportView:
    """The result of a run directory and what the report shows of it; never raises for missing or damaged
    content (a run without result.json is judged by the checks first)."""
    path = Path(run_dir)
    found = stored.load(path)
    r = cast(Result, clip_all(found.result))   # every rendering quotes the run's text within the caps
    shown = read_shown_files(path)
    text = shown.scenario_text
    view = ReportView(path=path, result=r, origin=found.origin, verdict=describe(r), meta=clip_all(shown.meta),
                      scenario_text=None if text is None else clip(text, SECTION_MAX))
    view.phases = tl.phases(r)
    view.faults = tl.fault_intervals(r)
    view.series = r["availability"]["series"]
    view.outages = tl.outages(r)
    view.roles = tl.roles(r)
    view.leaders = leader_lane(r)
    view.generator = r["generator"]["series"]
    view.end_s = _extent(view)
    view.notes = [clip(n) for n in found.notes] + _notes(r)
    return view


def leader_lane(r: Result) -> list[LeaderSpan]:
    """The leader spans to draw: none for a system without a leader (relevance.has_leader), which would
    otherwise be drawn "no leader" all along."""
    return r["cluster"]["leader"] if has_leader(r) else []


def _extent(view: ReportView) -> float:
    ends = [view.result["availability"]["window"]["duration_s"]] + [p.end_s for p in view.phases]
    ends += [r["t"] + 1 for r in view.series[-1:]] + [g["t"] + 1 for g in view.generator[-1:]]
    ends += [f.end_s or f.start_s or 0.0 for f in view.faults] + [o.end_s for o in view.outages]
    ends += [spans[-1]["end_s"] for spans in view.roles.values() if spans] + [s["end_s"] for s in view.leaders[-1:]]
    return max([e for e in ends if e is not None] + [1.0])


def _notes(r: Result) -> list[str]:
    notes = [f"{name} is missing." for name in r["missing_files"]]
    notes += r["notes"]
    for f in r["faults"]:
        if f["injected_s"] is not None and f["healed_s"] is None:
            notes.append(f"Fault {f['id']} (iteration {f['iteration']}) has no heal event in events.jsonl: it may "
                         "still be in place (see state.json; `drill clean` removes it).")
    return notes
