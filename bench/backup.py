"""`python -m bench.backup`: how backup and restore time grow with the database (RTO grows with data).

For each size (tickets sold, default 0, 100k, 1M) on one reference stack: seed the data straight into
PostgreSQL (orders, seats, tickets — the same tables the API writes), take a full pgBackRest backup, then
destroy nothing but restore the cluster from it (the same code path as the restore_cluster action) and
time it to "restored leader accepts writes" and to "stack healthy" (synchronous standby back).
Prints numbers; asserts nothing.

`--quick`: sizes 0 and 1000, after a pass of the table over synthetic restore results (the seed SQL built
too). `--offline`: only that pass (no Docker needed; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.common import add_modes, fail, offline_done, own_stack, synthetic
from drills.errors import DrillError
from drills.platform.restore import RestoreResult

if TYPE_CHECKING:
    from drills.platform.stack import Stack

PROG = "python -m bench.backup"
STACK = "bench-backup"
SIZES, QUICK_SIZES = "0,100000,1000000", "0,1000"


def psql(stack: Stack, sql: str) -> str:
    from drills.platform import backups

    code, text = backups.psql(backups.leader(stack)[1], sql, db="ticketing")
    if code != 0:
        raise RuntimeError(f"psql failed: {text[-400:]}")
    return text


def seed_sql(tier: int, tickets: int) -> str:
    """SQL that sells `tickets` seats of a new event `bench-<tier>`, as the API would record them."""
    name = f"bench-{tier}"
    return f"""
        INSERT INTO users (username, password_hash) VALUES ('bench-buyer', 'x') ON CONFLICT DO NOTHING;
        INSERT INTO events (name, capacity, sold) VALUES ('{name}', {tickets}, {tickets});
        INSERT INTO orders (idempotency_key, request_hash, user_id, event_id, seat_nos)
          SELECT '{name}-' || g, md5(g::text), u.id, e.id, ARRAY[g]
          FROM generate_series(1, {tickets}) g, users u, events e
          WHERE u.username = 'bench-buyer' AND e.name = '{name}';
        INSERT INTO seats (event_id, seat_no, order_id)
          SELECT o.event_id, o.seat_nos[1], o.id FROM orders o JOIN events e ON e.id = o.event_id
          WHERE e.name = '{name}';
        INSERT INTO tickets (order_id, event_id, seat_no)
          SELECT o.id, o.event_id, o.seat_nos[1] FROM orders o JOIN events e ON e.id = o.event_id
          WHERE e.name = '{name}';
        CHECKPOINT;"""


def seed(stack: Stack, tier: int, tickets: int) -> float:
    """Sell `tickets` more seats of a new event, as the API would record them; returns seconds taken."""
    t0 = time.monotonic()
    psql(stack, seed_sql(tier, tickets))
    return time.monotonic() - t0


def header() -> str:
    return (f"{'tickets':>9} {'db MB':>7} {'seed s':>7} {'backup s':>9} {'repo MB':>8} {'leader s':>9} "
            f"{'healthy s':>10} {'restore s':>10} {'rows ok':>8}")


def _since(at: float | None, start: float, width: int) -> str:
    return f"{at - start:{width}.1f}" if at is not None else f"{'—':>{width}}"


def row(total: int, db_mb: float, seeded: float, backup_s: float, repo_bytes: float, res: RestoreResult,
        count: int) -> str:
    """One line of the table; a failed restore is a line of its own."""
    if not res.ok:
        return f"{total:>9} restore FAILED: {res.error}"
    restore_s = f"{res.duration_s:10.1f}" if res.duration_s is not None else f"{'—':>10}"
    return (f"{total:>9} {db_mb:7.0f} {seeded:7.1f} {backup_s:9.1f} {repo_bytes / 2**20:8.1f} "
            f"{_since(res.leader_at, res.started, 9)} {_since(res.healthy_at, res.started, 10)} {restore_s} "
            f"{'yes' if count == total else f'{count}!':>8}")


def parse_sizes(text: str) -> list[int]:
    sizes = [int(x) for x in text.split(",") if x.strip()]
    if not sizes or any(s < 0 for s in sizes) or sizes != sorted(sizes):
        raise ValueError("sizes must be ascending non-negative integers")
    return sizes


def self_check(sizes: list[int], seed_: int = 1) -> None:
    """The table over synthetic restore results (the last one failed), and the seed SQL of every size."""
    rng = random.Random(seed_)
    lines, have, t = [header()], 0, 1_764_150_000.0
    for tier, total in enumerate(sizes):
        seed_sql(tier, total - have)
        have = total
        res = RestoreResult(ok=True, started=t, leader_at=t + rng.uniform(20, 40), healthy_at=None if tier else
                            t + rng.uniform(40, 60), finished=t + rng.uniform(60, 80))
        lines.append(row(total, 8 + total / 4000, total / 50_000, 5 + total / 100_000, 2**20 * (1 + total / 20_000),
                         res, total if tier < len(sizes) - 1 else total - 1))
    lines.append(row(sizes[-1], 0, 0, 0, 0, RestoreResult(ok=False, started=t, error="no usable backup set"), 0))
    synthetic("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help=f"total tickets per step, ascending (default {SIZES}; "
                                                  f"--quick {QUICK_SIZES})")
    add_modes(ap)
    args = ap.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    except ValueError as exc:
        ap.error(f"--sizes: {exc}")
    if args.quick or args.offline:
        self_check(sizes)
    if args.offline:
        return offline_done(PROG)
    try:
        run(sizes)
    except DrillError as exc:
        return fail(PROG, exc)
    return 0


def run(sizes: list[int]) -> None:
    from drills.platform import backups, engine
    from drills.platform.restore import restore_cluster
    from drills.platform.stack_spec import StackOptions

    client = engine.connect()
    with own_stack(client, StackOptions(name=STACK), "backups every run", timeout=240) as stack:
        print(header(), flush=True)
        have = 0
        for tier, total in enumerate(sizes):
            seeded = seed(stack, tier, total - have) if total > have else 0.0
            have = total
            db_mb = int(psql(stack, "SELECT pg_database_size('ticketing')")) / 2**20
            t0 = time.monotonic()
            made = backups.take_backup(stack, "full")
            backup_s = time.monotonic() - t0
            res = restore_cluster(stack, log=lambda _m: None, timeout=900)
            count = int(psql(stack, "SELECT count(*) FROM tickets WHERE event_id IN "
                                    "(SELECT id FROM events WHERE name LIKE 'bench-%')")) if res.ok else 0
            print(row(total, db_mb, seeded, backup_s, made.repo_size, res, count), flush=True)
            if not res.ok:
                break


if __name__ == "__main__":
    sys.exit(main())
