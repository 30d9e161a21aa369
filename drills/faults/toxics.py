"""Toxiproxy faults on the declared links: latency (+jitter), bandwidth, timeout, reset_peer, slicer,
limit_data, and link down. Toxics are named drills-<fault>-<stream> so a heal or `drill clean` finds them.
"""

from __future__ import annotations

import fnmatch

from drills.faults.context import FaultContext, Injection
from drills.faults.heal import HealAction
from drills.faults.targets import TargetError
from drills.scenario.model import Fault

# scenario param -> Toxiproxy attribute (Toxiproxy's units: ms, KB/s, bytes, microseconds for slicer delay)
ATTRIBUTES = {
    "latency": {"latency_ms": "latency", "jitter_ms": "jitter"},
    "bandwidth": {"rate_kbps": "rate"},
    "timeout": {"timeout_ms": "timeout"},
    "reset_peer": {"timeout_ms": "timeout"},
    "slicer": {"average_size": "average_size", "size_variation": "size_variation", "delay_us": "delay"},
    "limit_data": {"bytes": "bytes"},
}
DEFAULTS = {"latency": {"latency": 200, "jitter": 0}, "bandwidth": {"rate": 100}, "timeout": {"timeout": 0},
            "reset_peer": {"timeout": 0}, "slicer": {"average_size": 64, "size_variation": 32, "delay": 10},
            "limit_data": {"bytes": 1024}}


def links(ctx: FaultContext, pattern: str) -> list[str]:
    if ctx.toxiproxy is None:
        raise TargetError("this system has no Toxiproxy (declare toxiproxy_url when attaching)")
    names = sorted(n for n in ctx.toxiproxy.proxies() if fnmatch.fnmatch(n, pattern))
    if not names:
        raise TargetError(f"no Toxiproxy link matches {pattern!r} (have: {', '.join(sorted(ctx.toxiproxy.proxies()))})")
    return names


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
    attributes = dict(DEFAULTS[fault.type])
    for param, attr in ATTRIBUTES[fault.type].items():
        if param in fault.params:
            attributes[attr] = int(fault.params[param])
    stream = fault.params.get("stream", "downstream")
    streams = ["upstream", "downstream"] if stream == "both" else [stream]
    toxicity = float(fault.params.get("toxicity", 1.0))
    names = [(p, s, f"drills-{key}-{s}") for p in chosen for s in streams]
    ctx.ledger.register(key, fault.id, fault.type,
                        [HealAction("remove_toxic", toxiproxy=tox.url, proxy=p, toxic=n) for p, _, n in names])
    for p, s, n in names:
        tox.add_toxic(p, n, fault.type, attributes, stream=s, toxicity=toxicity)
    attrs = ", ".join(f"{k}={v}" for k, v in attributes.items())
    return Injection(links=chosen, detail=f"{fault.type} {attrs} on {', '.join(chosen)} ({stream})")
