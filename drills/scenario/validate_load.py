"""The `load` section: which locustfile, how many users or what arrival rate, and the operation mix."""

from __future__ import annotations

from pathlib import Path

from drills.scenario.durations import human_duration
from drills.scenario.limits import LIMITS
from drills.scenario.locustfile_path import locustfile_problem
from drills.scenario.model import OPERATIONS, LoadProfile, LoadSection, ReferenceStack, Stage
from drills.scenario.nodes import Mapping, Node, Scalar, describe, describe_value
from drills.scenario.reader import Context, MapView, child, finite_number
from drills.scenario.suggest import did_you_mean

LOAD_KEYS = ("locustfile", "user_classes", "profile", "mix", "operations", "hot_share", "hot_seats",
             "request_timeout", "max_retries", "workers")
PROFILE_KEYS = ("type", "users", "spawn_rate", "rate", "max_users", "stages")
STAGE_KEYS = ("duration", "users", "rate", "spawn_rate")
PROFILE_TYPES = ("constant_users", "arrival_rate", "stages")
# What the builtin locustfile can be asked to do; register and verify_password happen on their own (a user
# registers first; every rotation is verified), so they are operations in the history but not in the mix.
BUILTIN_MIX_OPERATIONS = ("purchase", "browse", "rotate_password", "login")
# Operations that exist but have no weight in the builtin mix: said why, never "did you mean" another one.
_NOT_IN_MIX = {"register": "register happens on its own: each user registers first",
               "verify_password": "verify_password happens on its own: each rotation is verified",
               "all": "'all' names every operation in budgets, it is not one"}


def read_load(ctx: Context, node: Node | None, path: str, base_dir: Path | None,
              reference: ReferenceStack | None) -> LoadSection:
    if node is None:
        return LoadSection()
    m = ctx.mapping(node, path, LOAD_KEYS, "the load section")
    if m is None:
        return LoadSection()
    locustfile = m.text("locustfile", check=lambda text: locustfile_problem(text, base_dir))
    m.texts("user_classes", "user class names")
    if m.given("profile"):
        profile = _profile(ctx, m.value_node("profile"), m.at("profile"))
        if profile is not None:
            m.values["profile"] = profile
    if m.given("mix"):
        mix = _mix(ctx, m, builtin=(locustfile or "builtin") == "builtin")
        if mix is not None:
            m.values["mix"] = mix
    if m.given("operations"):
        _operations(m, builtin=(locustfile or "builtin") == "builtin")
    m.number("hot_share", 0, 1)
    hot_seats = m.integer("hot_seats", 1)
    if hot_seats is not None and reference is not None and hot_seats > reference.hot_event_seats:
        m.error("hot_seats", f"expected at most stack.reference.hot_event_seats ({reference.hot_event_seats}), "
                             f"found {hot_seats}")
    m.duration("request_timeout", positive=True, limit=LIMITS["timeout"])
    m.integer("max_retries", 0, 100)
    m.integer("workers", 0, 64)
    return LoadSection(**m.values)


def _profile(ctx: Context, node: Node, path: str) -> LoadProfile | None:
    m = ctx.mapping(node, path, PROFILE_KEYS, "a load profile")
    if m is None:
        return None
    kind = m.text("type", choices=PROFILE_TYPES) or ("constant_users" if not m.has("type") else None)
    m.integer("users", 1, limit=LIMITS["users"])
    m.number("spawn_rate", 0, above=True, limit=LIMITS["rate"])
    m.number("rate", 0, above=True, nullable=True, limit=LIMITS["rate"])
    m.integer("max_users", 1, limit=LIMITS["users"])
    stages = _stages(ctx, m) if m.given("stages") else None
    if stages is not None:
        m.values["stages"] = stages
    if kind == "arrival_rate":
        if not m.given("rate"):
            ctx.error(m.node, m.at("rate"), "expected a 'rate' (operations started per second) for type "
                                            "arrival_rate, found none")
        if m.given("users"):
            m.key_error("users", "expected no users for arrival_rate: it starts as many users as the rate needs, up "
                        "to max_users; found users")
    elif m.given("rate"):
        m.key_error("rate", f"expected no rate for type {kind or 'constant_users'} (set type: arrival_rate to "
                            "offer a fixed rate), found one")
    if kind == "stages":
        if not m.given("stages"):
            ctx.error(m.node, m.at("stages"), "expected a non-empty 'stages' list for type stages, found none")
        if m.given("users"):
            m.key_error("users", "expected no users at the profile level for type stages: each stage sets its own, "
                        "found users")
    elif m.given("stages"):
        m.key_error("stages", f"expected no stages for type {kind or 'constant_users'}: stages belong to type stages, "
                    "found a list")
    return LoadProfile(**m.values) if kind is not None else None


def _stages(ctx: Context, parent: MapView) -> list[Stage] | None:
    items = ctx.sequence(parent.value_node("stages"), parent.at("stages"), "stages")
    if items is None:
        return None
    if not items:
        parent.error("stages", "expected at least one stage, found an empty list")
        return None
    stages, ok, kinds = [], True, set()
    for path, node in items:
        m = ctx.mapping(node, path, STAGE_KEYS, "a stage", required=("duration",))
        if m is None:
            ok = False
            continue
        before = len(ctx.issues)
        m.duration("duration", positive=True)
        m.integer("users", 0, nullable=True, limit=LIMITS["users"])
        m.number("rate", 0, nullable=True, limit=LIMITS["rate"])
        m.number("spawn_rate", 0, above=True, nullable=True, limit=LIMITS["rate"])
        if m.given("users") == m.given("rate"):
            ctx.error(m.node, path, "expected exactly one of users (closed loop) or rate (arrival rate) in a stage, "
                                    f"found {'both' if m.given('users') else 'neither'}")
        else:
            kinds.add("users" if m.given("users") else "rate")
        if len(ctx.issues) > before or "duration" not in m.values:
            ok = False
            continue
        stages.append(Stage(**m.values))
    if len(kinds) > 1:
        parent.error("stages", "expected every stage to set users or every stage to set rate, found a mix "
                               "(a run is either closed loop or arrival rate)")
        ok = False
    total, most = sum(stage.duration for stage in stages), LIMITS["phase_total"]
    if ok and total > most.cap():
        parent.error("stages", f"expected stages of at most {most.shown} together, found {human_duration(total)}")
        ok = False
    return stages if ok else None


def _operations(m: MapView, builtin: bool) -> None:
    """A custom locustfile's own operation names (the history lines' `op`), so budgets and abort conditions on
    them are checked like the builtin ones instead of needing a dummy `mix`."""
    if builtin:
        m.key_error("operations", "expected no operations with the builtin locustfile (its operations are "
                                  f"{', '.join(o for o in OPERATIONS if o != 'all')})")
        return
    names = m.texts("operations", "operation names (the `op` your locustfile records)")
    if names is None:
        return
    clash = [n for n in names if n == "all"]
    if clash:
        m.error("operations", "expected operation names, found 'all' ('all' names every operation in budgets)")
    elif len(set(names)) != len(names):
        m.error("operations", "expected each operation once, found a repeat")


def _mix(ctx: Context, parent: MapView, builtin: bool) -> dict[str, float] | None:
    node, path = parent.value_node("mix"), parent.at("mix")
    if not isinstance(node, Mapping):
        ctx.error(node, path, f"expected a mapping of operation to weight (e.g. purchase: 70), found {describe(node)}")
        return None
    mix: dict[str, float] = {}
    ok = True
    for key, value in node.pairs:
        op = key.value
        sub = child(path, str(op))
        if not isinstance(op, str):
            ctx.error(key, sub, f"expected an operation name, found {describe_value(op)}")
            ok = False
            continue
        if op in mix:
            ctx.error(key, sub, "duplicate key; give each operation once")
            ok = False
            continue
        if builtin and op not in BUILTIN_MIX_OPERATIONS:
            ops = BUILTIN_MIX_OPERATIONS
            why = f" ({_NOT_IN_MIX[op]})" if op in _NOT_IN_MIX else ""
            ctx.error(key, sub, f"expected an operation of the builtin locustfile ({', '.join(ops)}), found "
                                f"'{op}'{why}", did_you_mean(op, ops, known=OPERATIONS))
            ok = False
            continue
        weight = value.value if isinstance(value, Scalar) else None
        if not finite_number(weight) or weight < 0:
            ctx.error(value, sub, f"expected a weight of at least 0, found {describe(value)}")
            ok = False
            continue
        mix[op] = float(weight)
    if ok and sum(mix.values()) <= 0:
        ctx.error(node, path, "expected weights with a positive sum, found "
                              + ("no operations" if not mix else "all zero"))
        ok = False
    return mix if ok else None
