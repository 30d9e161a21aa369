"""Turn a positioned node tree into the typed Scenario, applying defaults and collecting every problem.

Sections are read by their own modules (stack, load, faults, budgets); this one reads the top level, the
phases and the SLO, and runs the cross-checks that need more than one section (the fault schedule).
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.scenario.budgets_default import default_budgets
from drills.scenario.durations import human_duration
from drills.scenario.issues import Issue
from drills.scenario.limits import LIMITS, SEED_MAX, SEED_MIN
from drills.scenario.model import OPERATIONS, SLO, Phases, ReferenceStack, Scenario
from drills.scenario.nodes import Node
from drills.scenario.reader import Context
from drills.scenario.schedule import check_schedule
from drills.scenario.topology import topology_of
from drills.scenario.validate_alerts import check_budget_alerts, implied_budgets, read_alerts
from drills.scenario.validate_audit import read_audit
from drills.scenario.validate_budgets import read_abort, read_budgets
from drills.scenario.validate_faults import read_faults
from drills.scenario.validate_load import read_load
from drills.scenario.validate_stack import read_stack

__all__ = ["build_scenario", "default_budgets", "TOP_KEYS", "PHASE_KEYS", "SLO_KEYS", "NAME_PATTERN"]

TOP_KEYS = ("name", "description", "tags", "seed", "expect", "stack", "phases", "load", "faults", "budgets",
            "abort", "slo", "alerts", "audit")
PHASE_KEYS = ("warmup", "steady", "recovery")
SLO_KEYS = ("target", "period_days")
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # it becomes part of the run directory's name
NAME_HELP = "a name of letters, digits, '-', '_' and '.' (at most 64; it names the run directory)"


def build_scenario(root: Node, file: str, path: Path | None = None,
                   base_dir: Path | None = None) -> tuple[Scenario | None, list[Issue]]:
    """The scenario and no issues, or None and every issue found.

    `path` is the file it came from (its stem is the default name); relative locustfiles are looked for in
    `base_dir`, by default the file's folder, and not checked when neither is known.
    """
    if base_dir is None and path is not None:
        base_dir = path.parent
    ctx = Context(file)
    top = ctx.mapping(root, "", TOP_KEYS, "a scenario")
    if top is None:
        return None, ctx.issues
    stem = path.stem if path is not None else None
    name_default = stem if stem and re.fullmatch(NAME_PATTERN, stem) else None
    name = top.text("name", pattern=NAME_PATTERN, pattern_help=NAME_HELP)
    if not top.has("name") and name_default is None:
        ctx.error(root, "name", f"expected a 'name' key ({NAME_HELP}), found none")
    top.text("description", nullable=True)
    top.texts("tags", "tags")
    top.integer("seed", SEED_MIN, SEED_MAX, nullable=True)
    top.text("expect", choices=("pass", "fail"))

    stack = read_stack(ctx, top.node_of("stack"), "stack", base_dir)
    before = len(ctx.issues)
    phases = _phases(ctx, top.node_of("phases"))
    phases_ok = len(ctx.issues) == before
    load = read_load(ctx, top.node_of("load"), "load", base_dir,
                     stack if isinstance(stack, ReferenceStack) else None)
    read = read_faults(ctx, top.node_of("faults"), "faults", topology_of(stack))
    if phases_ok:
        check_schedule(read, phases)
    custom_ops = tuple(dict.fromkeys(op for op in (*load.operations, *load.mix) if op not in OPERATIONS)) \
        if load.locustfile != "builtin" else ()
    audit = read_audit(ctx, top.node_of("audit"), "audit", attached=not isinstance(stack, ReferenceStack),
                       builtin_ops=tuple(o for o in OPERATIONS if o != "all") if load.locustfile == "builtin"
                       else None)
    custom_ops += tuple(op for op in (audit.writes if audit else ()) if op not in OPERATIONS + custom_ops)
    alerts = read_alerts(ctx, top.node_of("alerts"), "alerts", stack, [r.fault.id for r in read])
    budgets = read_budgets(ctx, top.node_of("budgets"), "budgets", OPERATIONS + custom_ops, phases)
    check_budget_alerts(ctx, top.node_of("budgets"), "budgets", top.node_of("alerts"))
    budgets += implied_budgets(alerts, budgets, stack)
    abort = read_abort(ctx, top.node_of("abort"), "abort")
    slo = _slo(ctx, top.node_of("slo"))
    if ctx.issues:
        return None, sorted(ctx.issues, key=lambda i: (i.line is not None, i.line or 0, i.column or 0))
    values = {k: v for k, v in top.values.items() if k != "name"}
    scenario = Scenario(name=name or name_default or "", **values, stack=stack, phases=phases, load=load,
                        faults=[r.fault for r in read], budgets=budgets, abort=abort, slo=slo,
                        path=str(path) if path is not None else None, alerts=alerts, audit=audit)
    return scenario, []


def _phases(ctx: Context, node: Node | None) -> Phases:
    if node is None:
        return Phases()
    m = ctx.mapping(node, "phases", PHASE_KEYS, "the phases (seconds of load in each)")
    if m is None:
        return Phases()
    before = len(ctx.issues)
    m.duration("warmup")
    m.duration("steady", positive=True)
    m.duration("recovery")
    phases, most = Phases(**m.values), LIMITS["phase_total"]
    if len(ctx.issues) == before and phases.total > most.cap():  # each phase is fine, their sum is not
        parts = " + ".join(f"{k} {human_duration(getattr(phases, k))}" for k in PHASE_KEYS)
        ctx.error(node, "phases", f"expected warmup + steady + recovery of at most {most.shown} together, found "
                                  f"{parts} = {human_duration(phases.total)}")
    return phases


def _slo(ctx: Context, node: Node | None) -> SLO:
    if node is None:
        return SLO()
    m = ctx.mapping(node, "slo", SLO_KEYS, "the service level objective")
    if m is None:
        return SLO()
    m.number("target", 0, 1, above=True, expected="a success ratio above 0 and below 1 (e.g. 0.9999)")
    if m.values.get("target") == 1.0:
        m.error("target", "expected a success ratio below 1 (a target of 1 leaves no error budget to burn), "
                          "found 1")
        m.values.pop("target")
    m.number("period_days", 0, 366, above=True)
    return SLO(**m.values)
