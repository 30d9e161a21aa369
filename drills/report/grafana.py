"""A run's marks for the team's Grafana dashboards: a region per fault from inject to heal, a point for the verdict.

The regions are read from events.jsonl (the tolerant reader: a crashed run's truncated last line is skipped),
not from result.json, so they carry the wall-clock moments the nemesis recorded, to the millisecond. Tags follow
Grafana's `key:value` convention (`scenario:leader-kill`, `fault:kill-leader`, `target:pg1`) so a dashboard's
annotation query can pick one scenario or one fault; every mark is also tagged `drills`. This module only builds
the annotations (Grafana's `POST /api/annotations` bodies); drills/runner/publish.py sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.report.quote import clip
from drills.report.timeline import target_label
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_jsonl

TAG = "drills"
_TAG_MAX = 100   # a Grafana tag is a short string: a long target list is cut


@dataclass(frozen=True)
class Annotation:
    """One Grafana annotation: a point (`end` None) or a region, times as epoch seconds."""

    start: float
    end: float | None
    text: str
    tags: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """The JSON body of `POST /api/annotations` (times in epoch milliseconds; no dashboard: an organisation
        annotation, shown on every dashboard whose annotation query asks for its tags)."""
        out: dict[str, Any] = {"time": _ms(self.start), "tags": self.tags, "text": self.text}
        if self.end is not None:
            out["timeEnd"] = _ms(self.end)
        return out


def _ms(t: float) -> int:
    return int(round(t * 1000))


def _tag(key: str, value: object) -> str:
    return clip(f"{key}:{value}", _TAG_MAX)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _targets(line: Mapping[str, Any]) -> list[str]:
    """The services (or Toxiproxy links) a fault line names, for `target:` tags."""
    target, link = line.get("target"), line.get("link")
    targets = target if isinstance(target, list) else [target] if target else []
    names = [str(t.get("service") or t.get("container") or t.get("role")) for t in targets if isinstance(t, Mapping)]
    links = link if isinstance(link, list) else [link] if link else []
    return [n for n in names if n and n != "None"] + [str(x) for x in links]


def fault_annotations(events: list[dict], scenario: str, run_id: str) -> list[Annotation]:
    """One region per fault injection that took effect, from its inject line to its heal line (a fault never
    healed: to the run's last recorded moment, tagged `unhealed`); a failed inject is a point saying so."""
    heals: dict[tuple[object, object], dict] = {}
    for line in events:
        if line.get("kind") == "fault" and line.get("phase") == "heal":
            heals.setdefault((line.get("fault_id"), line.get("iteration", 0)), line)
    times = [t for t in (_number(e.get("t")) for e in events) if t is not None]
    last = max(times) if times else None
    out = []
    for line in events:
        start = _number(line.get("t"))
        if line.get("kind") != "fault" or line.get("phase") != "inject" or start is None:
            continue
        fault_id, iteration = line.get("fault_id"), line.get("iteration", 0)
        kind = line.get("type") or "?"
        where = target_label(line.get("target"), line.get("link"))
        tags = [TAG, _tag("scenario", scenario), _tag("fault", fault_id), _tag("type", kind), _tag("run", run_id)]
        tags += [_tag("target", name) for name in _targets(line)]
        label = f"{fault_id} ({kind}) on {where}" + (f", iteration {iteration}" if iteration else "")
        if line.get("ok") is False:
            out.append(Annotation(start, None, clip(f"drills {scenario}: {label}: inject failed: "
                                                    f"{line.get('error') or 'no reason recorded'}"),
                                  tags + ["inject_failed"]))
            continue
        heal = heals.get((fault_id, iteration))
        end = _number(heal.get("t")) if heal else None
        if end is None or end < start:
            out.append(Annotation(start, max(last or start, start),
                                  clip(f"drills {scenario}: {label}: never healed in this run's record"),
                                  tags + ["unhealed"]))
            continue
        healed = "healed" if heal and heal.get("ok") is not False else f"heal failed: {heal and heal.get('error')}"
        out.append(Annotation(start, end, clip(f"drills {scenario}: {label}, {healed} after {end - start:.1f} s"),
                              tags))
    return out


def verdict_annotation(result: Mapping[str, Any], events: list[dict], run_id: str) -> Annotation | None:
    """A point at the run's end (its `finished`, else its last event) with the verdict and why."""
    scenario = str(result.get("scenario") or "unknown")
    verdict = str(result.get("verdict") or "unknown")
    at = _number(result.get("finished"))
    if at is None:
        times = [t for t in (_number(e.get("t")) for e in events) if t is not None]
        at = max(times) if times else None
    if at is None:
        return None
    reasons = [str(r) for r in result.get("verdict_reasons") or []]
    text = f"drills {scenario}: {verdict.upper()}" + (f": {'; '.join(reasons)}" if reasons else "")
    tags = [TAG, "verdict", _tag("scenario", scenario), _tag("verdict", verdict), _tag("run", run_id)]
    return Annotation(at, None, clip(text), tags)


def run_annotations(run_dir: Path, result: Mapping[str, Any], run_id: str) -> tuple[list[Annotation], list[str]]:
    """The run's fault regions and verdict point, and what could not be read of events.jsonl, in words."""
    problems = Problems()
    events = read_jsonl(Path(run_dir) / files.EVENTS, problems)
    scenario = str(result.get("scenario") or "unknown")
    marks = fault_annotations(events, scenario, run_id)
    verdict = verdict_annotation(result, events, run_id)
    notes = [f"{name} is missing: no fault marks" for name in problems.missing_files]
    notes += problems.file_notes(Path(run_dir) / files.EVENTS) + problems.damaged
    return marks + ([verdict] if verdict else []), notes
