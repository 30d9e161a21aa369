"""How many zones a stack's nodes can fill: the one rule the scenario validator and the stack's own options check
share (the placement itself is drills/platform/zones.py)."""

from __future__ import annotations

MAX_ZONES = 9   # zone letters a..i


def most_zones(db_nodes: int, etcd_nodes: int, api_replicas: int) -> int:
    """Every zone holds at least one database node, one etcd member and one API replica: a zone without a
    database node has nothing to fail over from, one without a replica serves nothing."""
    return max(1, min(db_nodes, etcd_nodes, api_replicas, MAX_ZONES))


def zones_problem(zones: int, db_nodes: int, etcd_nodes: int, api_replicas: int) -> str | None:
    """Why `zones` does not fit the nodes (None: it does)."""
    most = most_zones(db_nodes, etcd_nodes, api_replicas)
    if 1 <= zones <= most:
        return None
    if zones < 1:
        return f"expected at least 1 zone, found {zones}"
    return (f"expected at most {most} zone{'' if most == 1 else 's'} (each zone holds at least one database node, "
            f"one etcd member and one API replica: {db_nodes} database nodes, {etcd_nodes} etcd members, "
            f"{api_replicas} API replica{'' if api_replicas == 1 else 's'}), found {zones}")
