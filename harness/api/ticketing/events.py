"""Read-only event inventory views."""

from __future__ import annotations

from typing import Any

from .db import Database, Row, Tx
from .web import ApiError

#: PostgreSQL integer upper bound; larger ids cannot exist, so they are 404.
MAX_INT4 = 2**31 - 1

_COLUMNS = "id, name, capacity, sold"


def _event_json(row: Row) -> dict[str, Any]:
    event_id, name, capacity, sold = row
    return {"id": event_id, "name": name, "capacity": capacity, "sold": sold, "available": capacity - sold}


async def list_events(db: Database) -> list[dict[str, Any]]:
    """All events with live sold/available counters."""

    async def body(q: Tx) -> list[dict[str, Any]]:
        return [_event_json(r) for r in await q.fetchall(f"SELECT {_COLUMNS} FROM events ORDER BY id")]

    return await db.read("list_events", body)


async def get_event(db: Database, event_id: int) -> dict[str, Any]:
    """One event or 404."""
    if event_id > MAX_INT4:
        raise ApiError(404, "event_not_found", f"no event {event_id}")

    async def body(q: Tx) -> dict[str, Any]:
        row = await q.fetchone(f"SELECT {_COLUMNS} FROM events WHERE id = %s", (event_id,))
        if row is None:
            raise ApiError(404, "event_not_found", f"no event {event_id}")
        return _event_json(row)

    return await db.read("get_event", body)
