"""Toxiproxy faults on the declared links: one toxic per fault type of the catalogue's `toxic` family, and
link down. Toxics are named drills-<fault>-<stream> so a heal or `drill clean` finds them.

A new toxic is a catalogue row (drills/scenario/fault_types.py: params with their Toxiproxy attribute, defaults,
ranges); ATTRIBUTES and the parameter defaults come from it. The Toxiproxy adapter (platform/toxiproxy.py) lists
the toxic types the server knows.
"""

from __future__ import annotations

import fnmatch

from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family, need
from drills.faults.ledger import HealAction
from drills.platform.inventory import TargetError
from drills.platform.toxiproxy import ToxiproxyClient
from drills.scenario.fault_types import FAULTS
from drills.scenario.model import Fault

# scenario param -> Toxiproxy attribute, per toxic type (Toxiproxy's units: ms, KB/s, bytes; slicer's delay is µs),
# from the catalogue's ParamSpec.toxic_attr
ATTRIBUTES = {name: {param: p.toxic_attr for param, p in spec.params.items() if p.toxic_attr is not None}
              for name, spec in FAULTS.items() if spec.family == "toxic" and name != "link_down"}


def links(ctx: FaultContext, pattern: str) -> list[str]:
    if ctx.toxiproxy is None:
        raise TargetError("this system has no Toxiproxy (declare toxiproxy_url when attaching)")
    names = sorted(n for n in ctx.toxiproxy.proxies() if fnmatch.fnmatch(n, pattern))
    if not names:
        raise TargetError(f"no Toxiproxy link matches {pattern!r} (have: {', '.join(sorted(ctx.toxiproxy.proxies()))})")
    return names


def attributes(fault: Fault) -> dict[str, int]:
    """The toxic's Toxiproxy attributes: the fault's params, else the catalogue's defaults."""
    spec = FAULTS[fault.type].params
    out = {}
    for param, attr in ATTRIBUTES[fault.type].items():
        value = fault.params.get(param, spec[param].default)
        if value is None:
            raise ValueError(f"{fault.type} needs params.{param}")
        out[attr] = int(value)
    return out


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    chosen = links(ctx, fault.link or "")
    tox = ctx.toxiproxy
    assert tox is not None
    if fault.type == "link_down":
        ctx.ledger.register(key, fault.id, fault.type,
                            [HealAction("enable_proxy", toxiproxy=tox.url, proxy=p) for p in chosen])
        for p in chosen:
            tox.set_enabled(p, False)
        return Injection(links=chosen, detail=f"disabled {', '.join(chosen)}")
    attrs = attributes(fault)
    stream = fault.params.get("stream", "downstream")
    streams = ["upstream", "downstream"] if stream == "both" else [stream]
    toxicity = float(fault.params.get("toxicity", 1.0))
    names = [(p, s, f"drills-{key}-{s}") for p in chosen for s in streams]
    ctx.ledger.register(key, fault.id, fault.type,
                        [HealAction("remove_toxic", toxiproxy=tox.url, proxy=p, toxic=n) for p, _, n in names])
    for p, s, n in names:
        tox.add_toxic(p, n, fault.type, attrs, stream=s, toxicity=toxicity)
    shown = ", ".join(f"{k}={v}" for k, v in attrs.items())
    return Injection(links=chosen, detail=f"{fault.type} {shown} on {', '.join(chosen)} ({stream})")


def _remove_toxic(action: HealAction, env: HealEnv) -> str:
    url, proxy = need(action.toxiproxy, "the Toxiproxy URL"), need(action.proxy, "the proxy name")
    toxic = need(action.toxic, "the toxic name")
    gone = ToxiproxyClient(url).remove_toxic(proxy, toxic)
    return f"removed toxic {proxy}/{toxic}" if gone else f"toxic {toxic} already gone"


def _enable_proxy(action: HealAction, env: HealEnv) -> str:
    url, proxy = need(action.toxiproxy, "the Toxiproxy URL"), need(action.proxy, "the proxy name")
    ToxiproxyClient(url).set_enabled(proxy, True)
    return f"enabled proxy {proxy}"


def leftovers(ctx: FaultContext) -> list[str]:
    """Toxics of ours still on a link, and disabled links."""
    if ctx.toxiproxy is None:
        return []
    try:
        return ctx.toxiproxy.leftovers()
    except Exception as exc:
        return [f"toxiproxy not checked: {exc}"]


FAMILY = Family("toxic", inject, {"remove_toxic": _remove_toxic, "enable_proxy": _enable_proxy}, leftovers)
