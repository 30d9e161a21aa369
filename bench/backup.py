"""`python -m bench.backup`: how backup and restore time grow with the database (RTO grows with data).

For each size (tickets sold, default 0, 100k, 1M) on one reference stack: seed the data straight into
PostgreSQL (orders, seats, tickets — the same tables the API writes), take a full pgBackRest backup, then
destroy nothing but restore the cluster from it (the same code path as the restore_cluster action) and
time it to "restored leader accepts writes" and to "stack healthy" (synchronous standby back).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from drills.platform import backups, engine
from drills.platform.restore import restore_cluster
from drills.platform.stack import Stack
from drills.platform.stack_spec import StackOptions

STACK = "bench-backup"


def psql(stack: Stack, sql: str) -> str:
    code, text = backups.psql(backups.leader(stack)[1], sql, db="ticketing")
    if code != 0:
        raise RuntimeError(f"psql failed: {text[-400:]}")
    return text


def seed(stack: Stack, tier: int, tickets: int) -> float:
    """Sell `tickets` more seats of a new event, as the API would record them; returns seconds taken."""
    t0 = time.monotonic()
    name = f"bench-{tier}"
    psql(stack, f"""
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
        CHECKPOINT;""")
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0,100000,1000000", help="total tickets per step (ascending)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    client = engine.connect()
    stack = Stack(client, STACK)
    if stack.exists():
        stack.down(log=lambda _m: None)
    print(f"stack {STACK} up ...")
    stack.up(StackOptions(name=STACK), log=lambda _m: None, timeout=240)
    try:
        print(f"{'tickets':>9} {'db MB':>7} {'seed s':>7} {'backup s':>9} {'repo MB':>8} {'leader s':>9} "
              f"{'healthy s':>10} {'restore s':>10} {'rows ok':>8}")
        have = 0
        for tier, total in enumerate(sizes):
            seeded = seed(stack, tier, total - have) if total > have else 0.0
            have = total
            db_mb = int(psql(stack, "SELECT pg_database_size('ticketing')")) / 2**20
            t0 = time.monotonic()
            made = backups.take_backup(stack, "full")
            backup_s = time.monotonic() - t0
            res = restore_cluster(stack, log=lambda _m: None, timeout=900)
            if not res.ok:
                print(f"{total:>9} restore FAILED: {res.error}")
                break
            count = int(psql(stack, "SELECT count(*) FROM tickets WHERE event_id IN "
                                    "(SELECT id FROM events WHERE name LIKE 'bench-%')"))
            healthy = f"{res.healthy_at - res.started:10.1f}" if res.healthy_at else f"{'—':>10}"
            print(f"{total:>9} {db_mb:7.0f} {seeded:7.1f} {backup_s:9.1f} {made.repo_size / 2**20:8.1f} "
                  f"{res.leader_at - res.started:9.1f} {healthy} {res.duration_s:10.1f} "
                  f"{'yes' if count == total else f'{count}!':>8}")
    finally:
        stack.down(log=lambda _m: None)


if __name__ == "__main__":
    main()
