"""Read-only dumps for the post-drill data-loss audit.

These endpoints are a drill-harness feature, deliberately unauthenticated:
after a drill the checker compares every acknowledged write in its history
with what the (new) primary actually holds. They expose no secrets --
usernames and versions, never hashes or tokens.

Pagination is keyset (``WHERE id > after ORDER BY id LIMIT n``), so page
k of a million-row table costs the same as page 1.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from .auth import iso
from .db import Database, Tx

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000

Row = tuple
Mapper = Callable[[Row], Dict[str, Any]]

_QUERIES: Dict[str, str] = {
    "orders": """
        SELECT id, idempotency_key, user_id, event_id, seat_nos, created_at
          FROM orders WHERE id > %s ORDER BY id LIMIT %s
    """,
    "tickets": """
        SELECT id, order_id, event_id, seat_no
          FROM tickets WHERE id > %s ORDER BY id LIMIT %s
    """,
    "credentials": """
        SELECT id, username, credential_version, password_changed_at
          FROM users WHERE id > %s ORDER BY id LIMIT %s
    """,
    "events": """
        SELECT e.id, e.name, e.capacity, e.sold,
               (SELECT count(*) FROM tickets t WHERE t.event_id = e.id) AS tickets,
               (SELECT count(*) FROM seats s WHERE s.event_id = e.id AND s.order_id IS NOT NULL) AS seats_taken
          FROM events e WHERE e.id > %s ORDER BY e.id LIMIT %s
    """,
}

_MAPPERS: Dict[str, Mapper] = {
    "orders": lambda r: {
        "id": r[0], "idempotency_key": r[1], "user_id": r[2], "event_id": r[3],
        "seats": list(r[4]), "created_at": iso(r[5]),
    },
    "tickets": lambda r: {"id": r[0], "order_id": r[1], "event_id": r[2], "seat_no": r[3]},
    "credentials": lambda r: {
        "user_id": r[0], "username": r[1], "credential_version": r[2], "password_changed_at": iso(r[3]),
    },
    "events": lambda r: {
        "id": r[0], "name": r[1], "capacity": r[2], "sold": r[3], "tickets": r[4], "seats_taken": r[5],
    },
}

KINDS = tuple(_QUERIES)


async def page(db: Database, kind: str, after: int, limit: int) -> Dict[str, Any]:
    """One keyset page: {"items": [...], "next_after": last id or None}."""
    sql, mapper = _QUERIES[kind], _MAPPERS[kind]

    async def body(q: Tx) -> List[Row]:
        return await q.fetchall(sql, (after, limit))

    rows = await db.read(f"audit_{kind}", body)
    next_after: Optional[int] = rows[-1][0] if len(rows) == limit else None
    return {"items": [mapper(r) for r in rows], "next_after": next_after}
