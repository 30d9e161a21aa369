"""The reference stack's audit, declared with the same classes a scenario's `audit:` section becomes.

Purchases are writes identified by their idempotency key (`key`, which the built-in locustfile records), with
the order id the API acknowledged as a second identity. The final read is the API's audit endpoints (keyset
pages: `items`, `next_after`; harness/api/ticketing/audit.py), read by the same HTTP reader as any system's.
Models: every acknowledged purchase has its order (set), no seat of an event has two tickets (unique: the
`oversold` count). The checks only the reference API can answer (partial orders, orphan tickets, capacity,
credentials, revoked sessions) run on top, because `reference` is set (drills/checks/audit.py).
"""

from __future__ import annotations

from drills.scenario.audit_section import AuditSection, FieldSpec, HttpRead, ReadSpec, SetModel, UniqueModel, WriteSpec

PAGE = 5000   # rows per audit page: the API allows up to 10 000


def _pages(kind: str) -> HttpRead:
    return HttpRead(url=f"/audit/{kind}", items="items", next="next_after", cursor_param="after",
                    limit_param="limit", page_size=PAGE)


def _fields(*names: str, **renamed: FieldSpec) -> dict[str, FieldSpec]:
    return {**{n: FieldSpec(n) for n in names}, **renamed}


REFERENCE_AUDIT = AuditSection(
    writes={"purchase": WriteSpec("purchase", id="key", server_id="order_id")},
    reads={
        "orders": ReadSpec("orders", _pages("orders"), _fields(
            "id", "idempotency_key", "event_id", created=FieldSpec("created_at", "time"),
            seats=FieldSpec("seats", "length"))),
        "tickets": ReadSpec("tickets", _pages("tickets"), _fields("id", "order_id", "event_id", "seat_no")),
        "credentials": ReadSpec("credentials", _pages("credentials"), _fields("username", "credential_version")),
        "events": ReadSpec("events", _pages("events"), {"event": FieldSpec("")}),   # each event whole
    },
    models=(
        SetModel("orders", id="idempotency_key", writes=("purchase",), server_id="id", created="created"),
        UniqueModel("tickets", fields=("event_id", "seat_no"), metric="oversold"),
    ),
    reference=True,
)
