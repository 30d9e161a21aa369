"""Recovery actions a scenario schedules like faults: restore_cluster.

An action changes the system on purpose and has nothing to heal. A failed restore is a finding (the backups
did not protect the data), so it is recorded with everything the restore saw and the drill goes on: the
RTO budget then fails, the run is judged and reported like any other. Every restore of a drill — this action
or a disaster's heal — runs through the context's RestoreGate, one at a time.
"""

from __future__ import annotations

from drills.faults.context import ActionFailed, FaultContext, Injection, RestoreGate
from drills.faults.family import Family
from drills.platform.restore import Log, RestoreResult, pg_time, restore_cluster
from drills.platform.stack import Stack
from drills.scenario.model import Fault


def patroni_ports(urls: dict[str, str]) -> dict[str, int]:
    """service -> host port, from http://127.0.0.1:PORT URLs."""
    out = {}
    for service, url in urls.items():
        port = url.rstrip("/").rsplit(":", 1)[-1]
        if port.isdigit():
            out[service] = int(port)
    return out


def run_restore(gate: RestoreGate, stack: Stack, before: float | None, xid: int | None, log: Log,
                patroni_ports: dict[str, int], timeout: float = 300.0) -> RestoreResult:
    """restore_cluster under the gate, recording a success for heals that waited meanwhile."""
    with gate.lock:
        res = restore_cluster(stack, before=before, xid=xid, log=log, timeout=timeout, patroni_ports=patroni_ports)
        if res.ok:
            gate.mark_restored(stack.name)
    return res


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    if fault.type != "restore_cluster":
        raise ValueError(f"not an action: {fault.type}")
    if ctx.stack_name is None:
        raise RuntimeError("restore_cluster needs the reference stack")
    before = None
    ref = fault.params.get("before_fault")
    if ref:
        before = ctx.marks.get(str(ref))
        if before is None:
            raise ActionFailed(f"fault {ref!r} was not injected (or its injection failed): there is no moment "
                               "to restore to")
    timeout = float(fault.params.get("timeout", 300.0))
    ctx.log("restore_cluster: restoring " + (f"to just before {ref} ({pg_time(before)})" if before else
                                              "the latest backup and all archived WAL"))
    xid = ctx.xids.get(str(ref)) if ref else None
    res = run_restore(ctx.restores, Stack(ctx.client, ctx.stack_name), before, xid, ctx.log,
                      patroni_ports(ctx.view.patroni_urls), timeout=timeout)
    ctx.view.refresh()
    data = {"restore": res.to_dict()}
    if not res.ok:
        raise ActionFailed(res.error or "restore failed", data)
    # The restore supersedes the heals of the disasters before it (restoring again at the end would undo
    # what the restored cluster acknowledged since).
    for pending_key, entry in ctx.ledger.pending().items():
        if any(h.get("action") == "restore_cluster" for h in entry.get("heal", [])):
            ctx.ledger.resolve(pending_key)
    point = f", replayed up to {pg_time(res.recovered_to)}" if res.recovered_to else ""
    return Injection(detail=f"restored from {res.set_used} in {res.duration_s:.1f}s (leader {res.leader}){point}",
                     data=data)


FAMILY = Family("action", inject)
