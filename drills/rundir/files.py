"""The names of the files in a run directory (docs/run-directory.md), and where a worker's history goes."""

from __future__ import annotations

from pathlib import Path

EVENTS = "events.jsonl"              # phases, fault injects and heals, the run's own milestones
HISTORY = "history.jsonl"            # every client operation (one process); workers write HISTORY_OF(worker)
HISTORY_GLOB = "history*.jsonl"
STATS = "stats.jsonl"                # per-second load numbers per worker
PROBES = "probes.jsonl"              # node roles and health every 500 ms
ALERTS = "alerts.jsonl"              # alert states (Prometheus) and notifications (Alertmanager) seen by the drill
META = "meta.json"                   # who, what, seed, versions (never the run secret: rundir/vault.py)
SCENARIO = "scenario.yaml"           # the scenario as it was run
FINAL_STATE = "final-state.json"     # the truth read back after recovery
BACKUPS = "backups.json"             # the backup catalogue after the run (stacks with backups)
LEDGER = "state.json"                # the heal ledger of the faults still in place
RESULT = "result.json"               # the judged result (checks)
REPORT = "report.html"
JUNIT = "junit.xml"
INDEX = "index.html"                 # in the runs folder: the list of runs
TREND = "trend.html"                 # in the runs folder: every scenario's key numbers over its runs
REJUDGED_GLOB = "rejudged-*.json"    # `drill judge`: the run judged again (rejudged_name), beside result.json
LOG = "drill.log"                    # the harness's own log lines, as the terminal showed them, with times

# What a complete run directory has, in the order a reader cares about them (report: "missing files").
EXPECTED = (RESULT, META, SCENARIO, EVENTS, HISTORY_GLOB, STATS, PROBES, FINAL_STATE)
# Any of these makes a folder a run directory (index, `drill report`).
MARKERS = (RESULT, META, EVENTS)


def history_of(worker: str | None) -> str:
    """history.jsonl for a single process, history-<worker>.jsonl for each distributed worker."""
    return f"history-{worker}.jsonl" if worker else HISTORY


def trend_of(slug: str) -> str:
    """In the runs folder: one scenario's trend (`drill trend --scenario NAME`); `slug` is [A-Za-z0-9_-]."""
    return f"trend-{slug}.html"


def rejudged_name(stamp: str) -> str:
    """A re-judgement's file in the run directory (`drill judge`); `stamp` is its UTC time, 20260101T120000Z.
    result.json itself is never replaced by a re-judgement."""
    return f"rejudged-{stamp}.json"


def history_paths(run_dir: Path) -> list[Path]:
    """history.jsonl and every history-<worker>.jsonl, in a stable order."""
    return sorted(p for p in Path(run_dir).glob(HISTORY_GLOB) if p.is_file())


def is_run_dir(path: Path) -> bool:
    return Path(path).is_dir() and any((Path(path) / name).exists() for name in MARKERS)
