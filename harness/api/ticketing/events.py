"""Read-only event inventory views."""

from __future__ import annotations

from typing import Any, Dict, List

from .db import Database, Row, Tx
from .web import ApiError

#: PostgreSQL integer upper bound; larger ids cannot exist, so they are 404.
MAX_INT4 = 2**31 - 1

_COLUMNS = "id, name, capacity, sold"


def _event_json(row: Row) -> Dict[str, Any]:
    event_id, name, capacity, sold = row
    return {"id": event_id, "name": name, "capacity": capacity, "sold": sold, "available": capacity - sold}


async def list_events(db: Database) -> List[Dict[str, Any]]:
    """All events with live sold/available counters."""

    async def body(q: Tx) -> List[Dict[str, Any]]:
        return [_event_json(r) for r in await q.fetchall(f"SELECT {_COLUMNS} FROM events ORDER BY id")]

    return await db.read("list_events", body)


async def get_event(db: Database, event_id: int) -> Dict[str, Any]:
    """One event or 404."""
    if event_id > MAX_INT4:
        raise ApiError(404, "event_not_found", f"no event {event_id}")

    async def body(q: Tx) -> Dict[str, Any]:
        row = await q.fetchone(f"SELECT {_COLUMNS} FROM events WHERE id = %s", (event_id,))
        if row is None:
            raise ApiError(404, "event_not_found", f"no event {event_id}")
        return _event_json(row)

    return await db.read("get_event", body)
