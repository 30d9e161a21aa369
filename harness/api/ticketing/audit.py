"""Read-only dumps for the post-drill data-loss audit.

These endpoints are a drill-harness feature: after a drill the checker
compares every acknowledged write in its history with what the (new)
primary actually holds. Only the holder of the audit token may read them
(app.py checks it: guards.audit_refusal), and they expose no secrets --
usernames and versions, never hashes or tokens.

Pagination is keyset (``WHERE id > after ORDER BY id LIMIT n``), so page
k of a million-row table costs the same as page 1.
"""

from __future__ import annotations

import json

from .db import Database, Tx

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000

def _ts(column: str) -> str:
    """Same text as auth.iso(): UTC, microseconds always present."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


#: kind -> (key column, table, JSON object expression). PostgreSQL builds
#: the JSON itself: a 10 000-row page is one text value instead of 10 000
#: rows decoded and re-encoded in Python (~10x faster on big audits).
_SOURCES: dict[str, tuple[str, str, str]] = {
    "orders": (
        "id", "orders o",
        "json_build_object('id', o.id, 'idempotency_key', o.idempotency_key, 'user_id', o.user_id,"
        f" 'event_id', o.event_id, 'seats', o.seat_nos, 'created_at', {_ts('o.created_at')})",
    ),
    "tickets": (
        "id", "tickets t",
        "json_build_object('id', t.id, 'order_id', t.order_id, 'event_id', t.event_id, 'seat_no', t.seat_no)",
    ),
    "credentials": (
        "id", "users u",
        "json_build_object('user_id', u.id, 'username', u.username,"
        f" 'credential_version', u.credential_version, 'password_changed_at', {_ts('u.password_changed_at')})",
    ),
    "events": (
        "id", "events e",
        "json_build_object('id', e.id, 'name', e.name, 'capacity', e.capacity, 'sold', e.sold,"
        " 'tickets', (SELECT count(*) FROM tickets t WHERE t.event_id = e.id),"
        " 'seats_taken', (SELECT count(*) FROM seats s WHERE s.event_id = e.id AND s.order_id IS NOT NULL))",
    ),
}

KINDS = tuple(_SOURCES)


def _page_sql(kind: str) -> str:
    key, table, obj = _SOURCES[kind]
    alias = table.split()[1]
    return f"""
        SELECT coalesce(json_agg(p.obj ORDER BY p.k), '[]'::json)::text, count(*), max(p.k)
          FROM (SELECT {alias}.{key} AS k, {obj} AS obj
                  FROM {table}
                 WHERE {alias}.{key} > %s
                 ORDER BY {alias}.{key}
                 LIMIT %s) AS p
    """


async def page(db: Database, kind: str, after: int, limit: int) -> bytes:
    """One keyset page as JSON bytes: {"items": [...], "next_after": id|null}.

    next_after is the last id when the page is full (there may be more),
    null when this page reached the end.
    """
    sql = _page_sql(kind)

    async def body(q: Tx) -> tuple[str, int, int | None]:
        row = await q.fetchone(sql, (after, limit))
        assert row is not None
        return row[0], int(row[1]), row[2]

    items, count, last = await db.read(f"audit_{kind}", body)
    next_after = json.dumps(last if count == limit else None)
    return f'{{"items":{items},"next_after":{next_after}}}'.encode()
