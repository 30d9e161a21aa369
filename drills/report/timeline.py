"""The result on one time axis (seconds since the load started), as the charts draw it: phases, fault intervals,
outages and node roles. Only a change of shape: every moment is an offset the checks computed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from drills.checks.result_model import FaultRow, NodeSpan, Result, VipSpan
from drills.checks.window import SCENARIO_PHASES


@dataclass
class Phase:
    name: str
    start_s: float
    end_s: float


@dataclass
class FaultInterval:
    """One injection of one fault (a repeated fault has one interval per iteration), and its result row.

    A fault whose inject failed was never in place: it is a moment, not an interval (start_s == end_s, when
    the inject was tried), and `failed` says so in words, so it is never drawn as a fault left unhealed."""

    fault_id: str
    iteration: int
    type: str
    target: str
    start_s: float | None       # injected (a failed inject: when it was tried)
    end_s: float | None         # healed; None when never healed (crash)
    row: FaultRow
    failed: str | None = None   # "inject failed: <error>"

    @property
    def key(self) -> str:
        """A stable id for HTML/SVG: fault id and iteration with unsafe characters replaced."""
        return f"{re.sub(r'[^A-Za-z0-9_-]+', '_', self.fault_id)}-{self.iteration}"


@dataclass
class Outage:
    op: str
    start_s: float
    end_s: float
    open: bool = False  # still going when the load stopped
    duration_s: float = 0.0


def phases(result: Result) -> list[Phase]:
    """warmup / steady / recovery as the checks bounded them (clamped to the load window)."""
    declared = result["availability"]["phases"]
    spans = [(name, span) for name in SCENARIO_PHASES for span in declared.get(name, [])]
    out = [Phase(name, span[0], span[1]) for name, span in spans   # a damaged one may have lost an end
           if len(span) == 2 and span[0] is not None and span[1] is not None and span[1] >= span[0]]
    return sorted(out, key=lambda p: p.start_s)


def phase_gaps(phases: list[Phase]) -> list[tuple[Phase, Phase]]:
    """Consecutive phases with time between them: a recovery phase the drill started late because a heal (a
    restore) was still running (the runner decides what counts as late; offsets are rounded to the ms)."""
    return [(a, b) for a, b in itertools.pairwise(phases) if b.start_s - a.end_s > 0.001]


def target_label(target: object, link: object) -> str:
    """A fault's target in a few words: its service (and role), several of them, or its Toxiproxy link."""
    if isinstance(target, dict):
        service = target.get("service") or target.get("container")
        role = target.get("role")
        if service and role:
            return f"{service} ({role})"
        return str(service or role or "—")
    if isinstance(target, list):
        return ", ".join(target_label(t, None) for t in target)
    if isinstance(link, list):
        link = ", ".join(str(x) for x in link)
    return f"link {link}" if link else "—"


def fault_intervals(result: Result) -> list[FaultInterval]:
    """The result's faults in injection order (a restore_cluster action spans the restore itself)."""
    out = []
    for f in result["faults"]:
        failed = inject_failure(f)
        start, end = (f.get("attempted_s"),) * 2 if failed else (f["injected_s"], f["healed_s"])
        out.append(FaultInterval(f["id"], f["iteration"], f["type"] or "?", target_label(f["target"], f["link"]),
                                 start, end, f, failed))
    return out


def inject_failure(row: FaultRow) -> str | None:
    """The words for a fault that did not happen ("inject failed: <error>"); None for one that did."""
    if not row.get("inject_failed"):
        return None
    return f"inject failed: {row['error'] or 'no error given'}"


def outages(result: Result) -> list[Outage]:
    return [Outage(o["op"], o["start"], o["end"], o["open"], o["duration_s"])
            for o in result["availability"]["outages"]]


def _node_order(name: str) -> tuple:
    groups = ("pg", "api", "haproxy", "etcd")
    prefix = next((i for i, g in enumerate(groups) if name.startswith(g)), len(groups))
    return (prefix, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)])


def roles(result: Result) -> dict[str, list[NodeSpan]]:
    """Each node's states over time, databases first, then APIs, load balancer, etcd; with zones, grouped by
    zone first (zone a's nodes, then b's, ..., the zoneless instruments last)."""
    nodes = result["cluster"]["nodes"]
    where = placement(result)
    return {name: nodes[name] for name in sorted(nodes, key=lambda n: (where.get(n, "~"), _node_order(n)))}


def placement(result: Result) -> dict[str, str]:
    """node -> zone of a run with zones (result.json's `zones`), else empty."""
    zones = result.get("zones")
    return dict(zones["placement"]) if zones else {}


def lane_label(node: str, where: dict[str, str]) -> str:
    """A node's lane name: with zones, its zone first ("a · pg1")."""
    zone = where.get(node)
    return f"{zone} · {node}" if zone else node


def vip_spans(result: Result) -> list[VipSpan]:
    """Who held the load balancers' virtual IP over time (empty without one)."""
    zones = result.get("zones")
    return list(zones["vip"]) if zones else []
