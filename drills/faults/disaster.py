"""Disasters on the reference stack's database: lose the cluster, an operator's mistake, lose backups.

Each registers its heal before acting, like every fault: a lost cluster is healed by restoring the latest
backup, an operator's mistake by a point-in-time restore to just before it, lost backups by a new full
backup — unless a scheduled restore_cluster action has done it first (it resolves those heals). Restores go
through the context's RestoreGate, so a heal never runs while the scheduled restore does.
"""

from __future__ import annotations

import time

from drills.faults.actions import patroni_ports, run_restore
from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family, Healed, HealFailed, need
from drills.faults.ledger import HealAction
from drills.platform import backups
from drills.platform.restore import writable
from drills.platform.stack import Stack
from drills.platform.stack_spec import BACKUP_REPO_PATH, STANZA
from drills.scenario.fault_types import LOST_BACKUP_LEADER_WAIT_S
from drills.scenario.model import Fault


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    stack_name = ctx.stack_name
    if stack_name is None:
        raise RuntimeError(f"{fault.type} needs the reference stack")
    stack = Stack(ctx.client, stack_name)
    if fault.type == "destroy_cluster":
        return _destroy(ctx, stack, key, fault)
    if fault.type == "operator_error":
        return _operator_error(ctx, stack, key, fault)
    if fault.type == "lose_backup":
        return _lose_backup(ctx, stack, key, fault)
    raise ValueError(f"not a disaster: {fault.type}")


def _heal(stack: Stack, ctx: FaultContext, before: float | None = None, xid: int | None = None) -> list[HealAction]:
    return [HealAction("restore_cluster", stack=stack.name, name="database cluster", before=before, xid=xid,
                       ports=patroni_ports(ctx.view.patroni_urls))]


def _destroy(ctx: FaultContext, stack: Stack, key: str, fault: Fault) -> Injection:
    ctx.ledger.register(key, fault.id, fault.type, _heal(stack, ctx))
    nodes = backups.pg_containers(stack, running=False)
    if not nodes:
        raise RuntimeError("no database node to destroy")
    ctx.marks[fault.id] = time.time()
    for c in nodes.values():  # SIGKILL all first, so no node outlives another long enough to be promoted
        try:
            c.kill(signal="SIGKILL")
        except Exception:  # already stopped
            pass
    volumes = []
    for c in nodes.values():
        volumes += backups.remove_db_node(ctx.client, c)[1]
    removed = sorted(nodes)
    return Injection(detail=f"SIGKILLed and removed {', '.join(removed)} with their data volumes "
                            f"({len(volumes)}); the backup repository is kept",
                     data={"disaster": True, "at": ctx.marks[fault.id], "removed": removed, "volumes": volumes})


_STATEMENTS = {"drop_table": "DROP TABLE {t} CASCADE", "truncate": "TRUNCATE {t} CASCADE",
               "delete_rows": "DELETE FROM {t}"}


def _operator_error(ctx: FaultContext, stack: Stack, key: str, fault: Fault) -> Injection:
    service, node = backups.leader(stack)
    table = str(fault.params.get("table", "tickets"))
    statement = _STATEMENTS[str(fault.params.get("mistake", "drop_table"))].format(t=table)
    # One session, one transaction: the database's own clock before it and the transaction id, so a
    # point-in-time restore can stop exactly before this commit (recovery_target_xid, exclusive). A time
    # target alone would also drop purchases that committed while the statement waited for its lock.
    registered_at = time.time()
    ctx.ledger.register(key, fault.id, fault.type, _heal(stack, ctx, before=registered_at))
    # Under purchase load the DDL can be chosen as a deadlock victim; a person at the keyboard would retry.
    for _attempt in range(3):
        code, text = backups.psql(node, "SET lock_timeout = '20s'", "BEGIN",
                                  "SELECT 'clock=' || extract(epoch FROM clock_timestamp())",
                                  "SELECT 'xid=' || txid_current()", statement, "COMMIT", db="ticketing")
        if code == 0 or "deadlock detected" not in text:
            break
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if code != 0:
        ctx.ledger.resolve(key)  # nothing happened: nothing to heal
        why = next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else f"exit {code}")
        raise RuntimeError(f"{statement} on {service} failed: {why}")
    found = dict(ln.split("=", 1) for ln in lines if ln.startswith(("clock=", "xid=")))
    before = float(found.get("clock", registered_at))
    xid = int(found["xid"]) if found.get("xid", "").isdigit() else None
    ctx.marks[fault.id] = before
    if xid is not None:
        ctx.xids[fault.id] = xid
    ctx.ledger.register(key, fault.id, fault.type, _heal(stack, ctx, before=before, xid=xid))
    return Injection(detail=f"{statement} on {service} (the leader), committed",
                     data={"disaster": True, "at": before, "statement": statement, "db_time_before": before,
                           "xid": xid, "node": service})


def _lose_backup(ctx: FaultContext, stack: Stack, key: str, fault: Fault) -> Injection:
    which = str(fault.params.get("which", "latest"))
    sets = backups.catalogue(stack)
    nodes = backups.pg_containers(stack)
    if not nodes:
        raise RuntimeError("no running database node to reach the repository through")
    node = next(iter(nodes.values()))
    ctx.ledger.register(key, fault.id, fault.type, [HealAction("take_backup", stack=stack.name,
                                                               name="backup repository")])
    if which == "all":
        lost = [s.label for s in sets]
        paths = [f"{BACKUP_REPO_PATH}/backup/{STANZA}", f"{BACKUP_REPO_PATH}/archive/{STANZA}"]
        script = " ".join(f"'{p}'/*" for p in paths)
        cmd = ["sh", "-c", f"rm -rf {script}"]
    else:
        if not sets:
            ctx.ledger.resolve(key)
            raise RuntimeError("no backup set in the repository to lose")
        lost = [sets[-1].label]
        cmd = ["rm", "-rf", f"{BACKUP_REPO_PATH}/backup/{STANZA}/{lost[0]}"]
    code, out = node.exec_run(cmd, user="postgres")
    if code != 0:
        raise RuntimeError(f"deleting backup files failed: {out.decode(errors='replace').strip()[-300:]}")
    what = "every backup set and the WAL archive" if which == "all" else f"backup set {lost[0]}"
    return Injection(detail=f"deleted the files of {what}; the catalogue still lists {len(lost)} set(s)",
                     data={"lost": lost, "which": which})


def _restore(action: HealAction, env: HealEnv) -> str:
    """Heal a lost cluster (restore the latest backup unless it serves again) or an operator's mistake
    (point-in-time restore to just before it)."""
    stack = Stack(env.docker(), need(action.stack, "the stack name"))
    waiting_since = time.time()
    with env.restores.lock:  # a scheduled restore may be running right now
        if env.restores.restored_since(stack.name, waiting_since):
            return "a restore finished meanwhile: nothing to restore"
        if not stack.exists():
            return f"stack {action.stack} is gone: nothing to restore"
        if action.before is None:
            try:
                _, node = backups.leader(stack)
                if writable(node):
                    return "database cluster serves again: nothing to restore"
            except backups.BackupError:
                pass
        res = run_restore(env.restores, stack, action.before, action.xid, lambda _m: None, action.ports)
    if not res.ok:
        raise HealFailed(f"restore failed: {res.error}", {"restore": res.to_dict()})
    return Healed(f"restored the database cluster from {res.set_used} in {res.duration_s:.1f}s",
                  {"restore": res.to_dict()})


def _take_backup(action: HealAction, env: HealEnv) -> str:
    """Heal lost backups with a new full backup, once there is a leader to take it from: a scheduled restore
    may be rebuilding the cluster right now (wait for it through the gate), or Patroni is still electing."""
    stack = Stack(env.docker(), need(action.stack, "the stack name"))
    with env.restores.lock:
        pass
    deadline = time.monotonic() + LOST_BACKUP_LEADER_WAIT_S
    try:
        while True:
            try:
                backups.leader(stack)
                break
            except backups.BackupError:
                if time.monotonic() > deadline or not stack.exists():
                    raise
                time.sleep(1.0)
        made = backups.first_backup(stack)
    except backups.BackupError as exc:
        raise RuntimeError(f"new full backup failed: {exc.message}") from None
    return f"took a new full backup {made.label} ({made.duration_s:.0f}s)"


FAMILY = Family("disaster", inject, {"restore_cluster": _restore, "take_backup": _take_backup})


def restores_cluster(entry: dict) -> bool:
    """A ledger entry whose heal restores the database cluster (a disaster not restored yet)."""
    return any(h.get("action") == "restore_cluster" for h in entry.get("heal", []))


def heals_only_the_database(entry: dict) -> bool:
    """A ledger entry whose every heal acts on the cluster's data (restore, new backup): moot once the stack
    is removed."""
    return all(h.get("action") in ("restore_cluster", "take_backup") for h in entry.get("heal", []))
