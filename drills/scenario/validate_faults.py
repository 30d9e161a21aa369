"""The `faults` list: what breaks, where, when and how, checked against the fault catalogue and the stack."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from drills.scenario.fault_families import FAMILIES
from drills.scenario.fault_types import FAULT_TYPES, FAULTS, SIGNALS, FaultSpec, ParamSpec, types_acting_on
from drills.scenario.limits import LIMITS
from drills.scenario.model import TARGET_ROLES, After, Fault, Source, Target
from drills.scenario.nodes import Mapping, Node, Scalar, describe
from drills.scenario.reader import Context, MapView
from drills.scenario.signals import alias_of, refused_reason
from drills.scenario.suggest import did_you_mean
from drills.scenario.topology import PATRONI_ROLES, ROLE_HELP, ROLE_PATTERN, Topology, most_nodes

FAULT_KEYS = ("id", "type", "target", "link", "at", "after", "duration", "repeat_every", "repeat_count", "params")
TARGET_KEYS = ("service", "role", "label", "zone", "select", "count", "wait")
ZONE_PATTERN = r"[a-z]|leader|replica"
ZONE_HELP = ("a zone letter (a, b, c, ...), leader (the zone of the Patroni leader when the fault is injected) or "
             "replica (the first zone without the leader where a database replica runs)")
AFTER_KEYS = ("fault", "event", "delay")
SELECTIONS = ("one", "all", "minority", "majority", "random")
AFTER_EVENTS = ("injected", "healed")
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
ID_HELP = "an id of letters, digits, '-', '_' and '.' (at most 64)"
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._/-]*=[^\s]*"


@dataclass
class ReadFault:
    """A fault as built, with the view it came from (for positions in later cross-checks)."""

    fault: Fault
    view: MapView


def read_faults(ctx: Context, node: Node | None, path: str, topo: Topology) -> list[ReadFault]:
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return []
    items = ctx.sequence(node, path, "faults")
    if items is None:
        return []
    read = [r for index, (item_path, item) in enumerate(items)
            if (r := _fault(ctx, item, item_path, index, topo)) is not None]
    _check_ids(ctx, read)
    return read


def _fault(ctx: Context, node: Node, path: str, index: int, topo: Topology) -> ReadFault | None:
    m = ctx.mapping(node, path, FAULT_KEYS, "a fault", required=("type",))
    if m is None:
        return None
    fault_type = m.text("type", choices=FAULT_TYPES)
    fault_id = m.text("id", pattern=ID_PATTERN, pattern_help=ID_HELP)
    spec = FAULTS.get(fault_type or "")
    target = _target(ctx, m, topo) if m.given("target") else None
    link = m.text("link", nullable=True)
    at = m.duration("at", nullable=True)
    after = _after(ctx, m) if m.given("after") else None
    duration = m.duration("duration", positive=True, nullable=True)
    repeat_every = m.duration("repeat_every", positive=True, nullable=True)
    repeat_count = m.integer("repeat_count", 1, nullable=True, limit=LIMITS["repetitions"])
    params = _params(ctx, m, fault_type, spec, topo)

    if m.given("at") == m.given("after"):
        both = m.given("at")
        ctx.error(m.key_node("after") if both else m.node, m.at("after") if both else path,
                  "expected exactly one of `at` (seconds from the start of load) or `after` (relative to another "
                  f"fault), found {'both' if both else 'neither'}")
    if fault_type is not None and spec is not None:  # only a given type has a spec
        _check_placement(ctx, m, fault_type, spec, link, topo)
        if spec.instantaneous and m.given("duration"):
            m.key_error("duration", f"expected no duration: {fault_type} heals by itself at once (to keep a container "
                        f"down for a while use `stop` or `kill` with a duration), found one")
            duration = None
    if fault_type == "kill" and "restart_after" in params:
        if duration is not None:
            m.key_error("duration", "expected one of duration or params.restart_after (for kill they are the same "
                        "thing: when the container is started again), found both")
        duration = params["restart_after"]
    _check_repeats(m, duration, repeat_every, repeat_count, spec)

    source = Source(ctx.file, node.line or 0, node.column or 0) if node.line is not None else None
    fault = Fault(id=fault_id or f"{fault_type or 'fault'}-{index + 1}", type=fault_type or "", target=target,
                  link=link, at=at, after=after, duration=duration, repeat_every=repeat_every,
                  repeat_count=repeat_count, params=params, source=source)
    return ReadFault(fault, m)


def _check_placement(ctx: Context, m: MapView, fault_type: str, spec: FaultSpec, link: str | None,
                     topo: Topology) -> None:
    """Where a fault acts is its family's: Toxiproxy faults on a `link`; process and network faults on a
    `target`; disasters and actions on the reference stack's database cluster and backup repository (neither)."""
    acts_on = FAMILIES[spec.family].acts_on
    if acts_on == "cluster":
        for key in ("target", "link"):
            if m.given(key):
                m.key_error(key, f"expected no {key}: {fault_type} acts on the reference stack's database cluster "
                                 f"and its backups, found a {key}")
        if topo.attached:
            m.error("type", f"expected the reference stack for {fault_type} (it needs the stack's backup "
                            "repository), found stack.attach")
        return
    if acts_on == "link":
        if m.given("target"):
            m.key_error("target", f"expected no target: {fault_type} is a Toxiproxy fault and acts on a link "
                        f"(e.g. link: api1_db), found a target")
        if not m.given("link"):
            ctx.error(m.node, m.at("link"), f"expected a 'link' for {fault_type} (a Toxiproxy proxy name such as "
                                             f"api1_db or lb_api2, or a pattern like api*_db), found none")
        elif link is not None:
            _check_link(m, link, topo)
        if not topo.has_toxiproxy:
            m.error("link", f"expected stack.attach.toxiproxy_url for the Toxiproxy fault {fault_type}, found none")
        return
    if spec.family == "zone":
        _check_zone_target(ctx, m, fault_type)
    if m.given("link"):
        m.key_error("link", f"expected no link: {fault_type} is a {spec.family} fault and acts on a target "
                    f"(Toxiproxy faults are {', '.join(types_acting_on('link'))}), found a link")
    params_node = m.node_of("params")
    groups = isinstance(params_node, Mapping) and any(k.value == "groups" for k, _ in params_node.pairs)
    if fault_type == "partition" and groups and m.given("target"):
        m.key_error("target", "expected either a target (cut off from the rest) or params.groups, found both")
    elif not m.given("target") and not groups:
        extra = " or params.groups" if fault_type == "partition" else ""
        ctx.error(m.node, m.at("target"), f"expected a 'target' for the {spec.family} fault {fault_type} (e.g. "
                                           f"target: {{role: leader}}){extra}, found none")
    if (m.given("target") or groups) and not topo.can_target_containers:
        m.error("target" if m.given("target") else "params",
                "expected stack.attach.containers or stack.attach.label_selector to say which containers "
                f"{fault_type} may act on, found neither")


def _check_zone_target(ctx: Context, m: MapView, fault_type: str) -> None:
    """A zone fault acts on a whole zone: its target names the zone and nothing else."""
    node = m.value_node("target") if m.given("target") else None
    if not isinstance(node, Mapping):
        return   # missing or not a mapping: reported with the target
    keys = {str(k.value): k for k, _ in node.pairs}
    if "zone" not in keys:
        ctx.error(node, m.at("target"), f"expected target: {{zone: a}} (a zone letter, leader or replica) for "
                                        f"{fault_type}: it acts on a whole zone, found {', '.join(keys) or 'none'}")
    for key in ("select", "count"):
        if key in keys:
            ctx.error(keys[key], f"{m.at('target')}.{key}", f"expected no {key} for {fault_type}: it acts on every "
                                                            f"container of the zone, found one")


def _check_link(m: MapView, link: str, topo: Topology) -> None:
    if topo.links is None:
        return
    if not re.fullmatch(r"[A-Za-z0-9_.*?\[\]-]+", link) or not fnmatch.filter(topo.links, link):
        m.error("link", f"expected a link of the reference stack ({', '.join(topo.links)}) or a pattern "
                        f"matching one, found '{link}'", did_you_mean(link, topo.links))


def _target(ctx: Context, parent: MapView, topo: Topology) -> Target | None:
    m = ctx.mapping(parent.value_node("target"), parent.at("target"), TARGET_KEYS, "a target")
    if m is None:
        return None
    kinds = ("service", "role", "label", "zone")
    chosen = [k for k in kinds if m.given(k)]
    if len(chosen) != 1 and not (not chosen and any(m.misspelled(k) for k in kinds)):
        where = chosen[1] if len(chosen) > 1 else "service"
        ctx.error(m.node_of(where) or m.node, m.at(where) if chosen else m.path,
                  f"expected exactly one of service, role, label or zone in the target, found "
                  f"{' and '.join(chosen) if chosen else 'none'}")
    service = m.text("service", nullable=True)
    if (service is not None and topo.services is not None and service not in topo.services
            and topo.can_target_containers):
        where = "the reference stack" if not topo.attached else "stack.attach.containers"
        m.error("service", f"expected a service of {where} ({', '.join(topo.services) or 'none'}), "
                           f"found '{service}'", did_you_mean(service, topo.services))
    # An attached system names its own roles (stack.attach.roles, role_probes, drills.role labels).
    role = (m.text("role", pattern=ROLE_PATTERN, pattern_help=ROLE_HELP, nullable=True) if topo.attached
            else m.text("role", choices=TARGET_ROLES, nullable=True))
    if role is not None and topo.roles is not None and role not in topo.roles and topo.can_target_containers:
        how = ("stack.attach.role_probes or stack.attach.patroni_urls" if role in PATRONI_ROLES or role == "postgres"
               else "stack.attach.roles (etcd_leader needs containers with the role etcd)" if role == "etcd_leader"
               else "stack.attach.roles or stack.attach.role_probes")
        m.error("role", f"expected a role the attached stack can resolve ({', '.join(topo.roles) or 'none'}; "
                        f"declare {role!s} through {how}), found '{role}'")
    m.text("label", pattern=LABEL_PATTERN, pattern_help="a container label key=value", nullable=True)
    _zone(m, topo)
    m.text("select", choices=SELECTIONS)
    count = m.integer("count", 1, nullable=True, limit=LIMITS["targets"])
    most = most_nodes(topo, service, role) if count is not None else None
    if count is not None and most is not None and count > most[0]:
        m.error("count", f"expected a count of at most {most[0]} ({most[1]}), found {count}")
        m.values.pop("count")
    if m.given("select") and m.given("count"):
        m.key_error("count", "expected one of select or count (count picks exactly N and replaces select), found both")
    wait = m.duration("wait", limit=LIMITS["timeout"])
    if wait and role is None and m.given("wait"):
        m.error("wait", "expected wait only with a role (it waits for the role to have a holder again), "
                        f"found it with {' and '.join(chosen) or 'no role'}")
    return Target(**m.values)


def _zone(m: MapView, topo: Topology) -> str | None:
    """`zone: a` must be a zone of the reference stack (stack.reference.zones); an attached system's zones are
    its containers' drills.zone labels, known when the drill attaches."""
    zone = m.text("zone", pattern=ZONE_PATTERN, pattern_help=ZONE_HELP, nullable=True)
    if zone is None:
        return None
    letters = zone_letters(topo)
    if zone not in ("leader", "replica") and letters is not None and zone not in letters:
        m.error("zone", f"expected a zone of the reference stack ({', '.join(letters)}: stack.reference.zones is "
                        f"{len(letters)}), found '{zone}'")
    if zone in ("leader", "replica") and topo.roles is not None and "leader" not in topo.roles:
        m.error("zone", f"expected zone: {zone} only where a Patroni leader can be found (stack.attach.patroni_urls "
                        "or a role probe named leader), found none")
    return zone


def zone_letters(topo: Topology) -> tuple[str, ...] | None:
    """The reference stack's zone letters (a, b, c for zones: 3); None: an attached system's, known at run time."""
    if topo.attached or topo.zones is None:
        return None
    return tuple(chr(ord("a") + i) for i in range(topo.zones))


def _after(ctx: Context, parent: MapView) -> After | None:
    node = parent.value_node("after")
    if isinstance(node, Scalar) and isinstance(node.value, str):
        node_id = node.value  # shorthand: `after: kill-leader` = after it heals
        if not re.fullmatch(ID_PATTERN, node_id):
            parent.error("after", f"expected the id of another fault, found '{node_id}'")
            return None
        return After(fault=node_id)
    m = ctx.mapping(node, parent.at("after"), AFTER_KEYS, "an after reference", required=("fault",))
    if m is None:
        return None
    m.text("fault", pattern=ID_PATTERN, pattern_help="the id of another fault")
    m.text("event", choices=AFTER_EVENTS)
    m.duration("delay")
    return After(**m.values) if "fault" in m.values else None


def _params(ctx: Context, m: MapView, fault_type: str | None, spec: FaultSpec | None, topo: Topology) -> dict:
    if spec is None:  # unknown type: only the shape can be checked
        if m.given("params"):
            node = m.value_node("params")
            if not isinstance(node, Mapping):
                ctx.error(node, m.at("params"), f"expected a mapping of parameters, found {describe(node)}")
        return {}
    params: dict[str, object] = {}
    if m.given("params"):
        node = m.value_node("params")
        if not spec.params:
            _no_params(ctx, node, m.at("params"), fault_type or "")
        else:
            required = [name for name, p in spec.params.items() if p.required]
            pm = ctx.mapping(node, m.at("params"), tuple(spec.params), f"params of {fault_type}", required=required)
            if pm is not None:
                for name, p in spec.params.items():
                    value = _param(ctx, pm, name, p, topo)
                    if value is not None:
                        params[name] = value
                _check_param_relations(pm, fault_type or "", params)
    else:
        missing = [name for name, p in spec.params.items() if p.required]
        for name in missing:
            ctx.error(m.node, m.at(f"params.{name}"),
                      f"expected params.{name} for {fault_type} ({spec.params[name].doc}), found none")
    for name, p in spec.params.items():
        if p.default is not None and name not in params:
            params[name] = p.default
    return params


def _no_params(ctx: Context, node: Node | None, path: str, fault_type: str) -> None:
    if isinstance(node, Mapping):
        for key, _ in node.pairs:
            ctx.error(key, f"{path}.{key.value}", f"expected no params: {fault_type} takes none, found '{key.value}'")
    elif node is not None:
        ctx.error(node, path, f"expected no params: {fault_type} takes none, found {describe(node)}")


def _param(ctx: Context, pm: MapView, name: str, p: ParamSpec, topo: Topology) -> object:
    if p.kind == "int":
        return pm.integer(name, int(p.lo) if p.lo is not None else None, int(p.hi) if p.hi is not None else None,
                          limit=p.bound, unit=p.unit)
    if p.kind == "number":
        return pm.number(name, p.lo, p.hi, above=p.above, limit=p.bound, unit=p.unit)
    if p.kind == "duration":
        return pm.duration(name, positive=p.above, limit=p.bound or LIMITS["duration"])
    if p.kind == "choice":
        return pm.text(name, choices=p.choices)
    if p.kind == "signal":
        return _signal(pm, name)
    if p.kind == "fault_ref":
        return pm.text(name, pattern=ID_PATTERN, pattern_help=ID_HELP)
    return _groups(ctx, pm, name, topo)


def _signal(pm: MapView, name: str) -> str | None:
    """A signal name (`TERM` means SIGTERM); a real signal that is refused says why instead of "did you mean"."""
    node = pm.node_of(name)
    if node is None:
        return None
    raw = node.value if isinstance(node, Scalar) else None
    value = raw.strip().upper() if isinstance(raw, str) else None
    if value is not None and not value.startswith("SIG"):
        value = "SIG" + value
    if value in SIGNALS:
        pm.values[name] = value
        return value
    allowed = ", ".join(SIGNALS)
    reason = refused_reason(value) if value is not None else None
    if reason is not None:
        pm.error(name, f"expected a signal kill may send ({allowed}), found {describe(node)}: {reason}",
                 alias_of(value or ""))
    elif isinstance(raw, int) and not isinstance(raw, bool):
        pm.error(name, f"expected a signal name ({allowed}), found the number {raw} (signal numbers differ "
                       "between platforms: write the name)")
    else:
        pm.error(name, f"expected a signal ({allowed}), found {describe(node)}", did_you_mean(value or "", SIGNALS))
    return None


def _groups(ctx: Context, pm: MapView, name: str, topo: Topology) -> list[list[str]] | None:
    node = pm.node_of(name)
    if node is None:
        return None
    groups = ctx.sequence(node, pm.at(name), "groups (each a list of services or roles)")
    if groups is None:
        return None
    known = None if topo.services is None else (*topo.services, *(topo.roles or TARGET_ROLES))
    result: list[list[str]] = []
    seen: dict[str, str] = {}
    ok = len(groups) >= 2
    if not ok:
        ctx.error(node, pm.at(name), f"expected at least two groups, found {len(groups)}")
    for group_path, group in groups:
        members = ctx.sequence(group, group_path, "services or roles")
        if not members:
            if members is not None:
                ctx.error(group, group_path, "expected a group with at least one service or role, found none")
            ok = False
            continue
        names = []
        for member_path, member in members:
            value = member.value if isinstance(member, Scalar) else None
            if not isinstance(value, str) or (known is not None and value not in known):
                ctx.error(member, member_path, "expected a service or role"
                          + (f" ({', '.join(known)})" if known else "") + f", found {describe(member)}",
                          did_you_mean(value, known or ()))
                ok = False
            elif value in seen:
                ctx.error(member, member_path, f"expected each service or role in one group only, found "
                                               f"'{value}' again (first in {seen[value]})")
                ok = False
            else:
                seen[value] = group_path
                names.append(value)
        result.append(names)
    if ok:
        pm.values[name] = result
        return result
    return None


def _check_param_relations(pm: MapView, fault_type: str, params: dict) -> None:
    if fault_type == "slicer":
        average = params.get("average_size", FAULTS["slicer"].params["average_size"].default)
        variation = params.get("size_variation", FAULTS["slicer"].params["size_variation"].default)
        if isinstance(average, int) and isinstance(variation, int) and variation >= average:
            pm.error("size_variation", f"expected size_variation below average_size ({average}), found {variation}")


def _check_repeats(m: MapView, duration: float | None, every: float | None, count: int | None,
                   spec: FaultSpec | None) -> None:
    if count is not None and every is None:
        m.error("repeat_count", "expected repeat_every with repeat_count (how often to inject again), found none")
    if every is None:
        return
    if duration is None and not (spec and spec.instantaneous):
        m.error("repeat_every", "expected a duration shorter than repeat_every (a repeating fault must heal "
                                "before it is injected again), found none")
    elif duration is not None and duration >= every:
        m.error("repeat_every", f"expected repeat_every longer than the duration ({duration:g} s) so each "
                                f"injection heals before the next, found {every:g} s")


def _check_ids(ctx: Context, read: list[ReadFault]) -> None:
    first: dict[str, ReadFault] = {}
    for r in read:
        fid = r.fault.id
        if fid in first:
            where = f" (first at line {first[fid].view.node.line})" if first[fid].view.node.line else ""
            ctx.error(r.view.node_of("id") or r.view.node, r.view.at("id"),
                      f"expected a unique fault id, found '{fid}' again{where}")
        else:
            first[fid] = r
    ids = list(first)
    for r in read:
        after = r.fault.after
        if after is not None and after.fault not in first:
            node = r.view.node_of("after")
            path = r.view.at("after")
            if node is not None and not isinstance(node, Scalar):
                sub = _child_node(node, "fault")
                node, path = sub or node, f"{path}.fault"
            ctx.error(node, path, f"expected the id of another fault ({', '.join(ids) or 'none'}), found "
                                  f"'{after.fault}'", did_you_mean(after.fault, ids))
    for r in read:
        ref = r.fault.params.get("before_fault")
        if ref is not None and (ref not in first or ref == r.fault.id):
            others = [i for i in ids if i != r.fault.id]
            r.view.error("params", f"expected params.before_fault to be the id of another fault "
                                   f"({', '.join(others) or 'none'}), found '{ref}'", did_you_mean(str(ref), others))


def _child_node(node: Node, key: str) -> Node | None:
    if isinstance(node, Mapping):
        for k, v in node.pairs:
            if k.value == key:
                return v
    return None
