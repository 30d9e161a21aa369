"""What the system holds after healing (the "truth" the audit compares the history with), and its file.

final-state.json carries the *whole* truth in columns (orders, tickets, credential versions, events), not
just counts: `drill report` re-judges a run without the stack, and a lost write can only be found by
looking up every acknowledged key. Columns of plain numbers and strings keep a million rows cheap to parse.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.rundir import files

FORMAT = 1
SAMPLE = 5


@dataclass
class FinalState:
    """Orders, tickets, credential versions and events as read back through the audit endpoints."""

    read_at: float | None = None
    complete: bool = True                # every kind was read to its last page
    errors: list[str] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    order_keys: list[str] = field(default_factory=list)
    order_events: list[int] = field(default_factory=list)
    order_created: list[float | None] = field(default_factory=list)   # epoch
    order_seats: list[int] = field(default_factory=list)              # number of seats on the order
    ticket_ids: list[int] = field(default_factory=list)
    ticket_orders: list[int] = field(default_factory=list)
    ticket_events: list[int] = field(default_factory=list)
    ticket_seats: list[int] = field(default_factory=list)
    credentials: dict[str, int] = field(default_factory=dict)          # username -> credential_version
    events: list[dict] = field(default_factory=list)                   # id, name, capacity, sold, tickets, ...
    credential_checks: dict | None = None                               # truth.verify_credentials()
    session_checks: dict | None = None                                  # truth.verify_revoked_sessions()

    def counts(self) -> dict[str, int]:
        return {"orders": len(self.order_ids), "tickets": len(self.ticket_ids),
                "users": len(self.credentials), "events": len(self.events)}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "read_at": self.read_at,
            "complete": self.complete,
            "errors": self.errors,
            "counts": self.counts(),
            "samples": {
                "orders": [{"id": i, "idempotency_key": k, "event_id": e, "seats": n}
                           for i, k, e, n in zip(self.order_ids[:SAMPLE], self.order_keys, self.order_events,
                                                 self.order_seats, strict=False)],
                "tickets": [{"id": i, "order_id": o, "event_id": e, "seat_no": s}
                            for i, o, e, s in zip(self.ticket_ids[:SAMPLE], self.ticket_orders,
                                                  self.ticket_events, self.ticket_seats, strict=False)],
            },
            "events": self.events,
            "credential_checks": self.credential_checks,
            "session_checks": self.session_checks,
            "orders": {"id": self.order_ids, "idempotency_key": self.order_keys, "event_id": self.order_events,
                       "created": self.order_created, "seats": self.order_seats},
            "tickets": {"id": self.ticket_ids, "order_id": self.ticket_orders, "event_id": self.ticket_events,
                        "seat_no": self.ticket_seats},
            "credentials": self.credentials,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FinalState:
        """Tolerant of missing sections (an audit interrupted half-way is marked incomplete)."""
        orders, tickets = doc.get("orders") or {}, doc.get("tickets") or {}
        ids = list(orders.get("id") or [])
        n = len(ids)

        def col(d: dict, name: str, default: Any, size: int) -> list:
            values = list(d.get(name) or [])
            return values if len(values) == size else [default] * size

        tids = list(tickets.get("id") or [])
        state = cls(
            read_at=doc.get("read_at"), complete=bool(doc.get("complete", True)),
            errors=list(doc.get("errors") or []),
            order_ids=ids, order_keys=col(orders, "idempotency_key", "", n),
            order_events=col(orders, "event_id", 0, n), order_created=col(orders, "created", None, n),
            order_seats=col(orders, "seats", 0, n),
            ticket_ids=tids, ticket_orders=col(tickets, "order_id", 0, len(tids)),
            ticket_events=col(tickets, "event_id", 0, len(tids)), ticket_seats=col(tickets, "seat_no", 0, len(tids)),
            credentials=dict(doc.get("credentials") or {}), events=list(doc.get("events") or []),
            credential_checks=doc.get("credential_checks"), session_checks=doc.get("session_checks"),
        )
        if "orders" not in doc or "tickets" not in doc:
            state.complete = False
            state.errors.append("final-state.json has no orders/tickets columns")
        return state


def write_final_state(run_dir: Path, state: FinalState) -> Path:
    """Write final-state.json atomically (a crash leaves the old file or none, never half a file)."""
    path = Path(run_dir) / files.FINAL_STATE
    tmp = path.with_suffix(".json.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(state.to_json(), f, separators=(",", ":"))
    os.replace(tmp, path)
    return path
