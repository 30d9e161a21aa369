"""Seat purchases with idempotency keys.

One transaction per purchase:

1. authenticate the session and load the event (401 / 404 / 422);
2. claim the idempotency key with INSERT ... ON CONFLICT DO NOTHING. Keys
   are per user (UNIQUE (user_id, idempotency_key)): another user's key of
   the same text is another order. A concurrent request of the same user
   holding the same key makes this statement wait until that transaction
   ends; if it committed we find its order and replay it (200,
   Idempotent-Replayed), if it rolled back we proceed;
3. take seats: specific ones locked in seat order, or best-available with
   FOR UPDATE SKIP LOCKED so buyers of the hot event do not queue behind
   each other (near sell-out, a short pick reruns the transaction with
   ordered, waiting locks -- see _take_best);
4. insert tickets, record seats on the order, bump events.sold -- last, so
   the hot event's counter row is locked only for the commit itself.

The database enforces the invariants (unique seat per ticket, sold within
capacity); violations surface as 409 after rollback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg import errors as pg_errors

from .auth import SESSION_SQL, Principal, iso, token_digest
from .db import Database, Tx
from .events import MAX_INT4
from .web import ApiError

MIN_SEATS = 1
MAX_SEATS = 4
MAX_KEY_LENGTH = 200
#: Upper bound on best-available rounds; each non-final round takes >= 1 seat.
_MAX_PICK_ROUNDS = MAX_SEATS + 2


@dataclass(frozen=True)
class PurchaseRequest:
    """A validated purchase body: either explicit seats or a quantity."""

    seats: tuple[int, ...] | None
    quantity: int

    def canonical(self) -> dict[str, Any]:
        """Normal form hashed for idempotency (seat order does not matter)."""
        if self.seats is not None:
            return {"seats": sorted(self.seats)}
        return {"quantity": self.quantity}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_purchase(body: dict[str, Any]) -> PurchaseRequest:
    """Validate {"seats": [...]} or {"quantity": n} (1-4 seats) or raise 422."""
    has_seats, has_qty = "seats" in body, "quantity" in body
    if has_seats == has_qty:
        raise ApiError(422, "invalid_request", "provide exactly one of 'seats' or 'quantity'")
    if has_seats:
        seats = body["seats"]
        if not isinstance(seats, list) or not all(_is_int(s) for s in seats):
            raise ApiError(422, "invalid_request", "'seats' must be a list of integers")
        if not MIN_SEATS <= len(seats) <= MAX_SEATS:
            raise ApiError(422, "invalid_quantity", f"an order has {MIN_SEATS}-{MAX_SEATS} seats")
        if len(set(seats)) != len(seats):
            raise ApiError(422, "invalid_request", "duplicate seat numbers")
        return PurchaseRequest(seats=tuple(seats), quantity=len(seats))
    quantity = body["quantity"]
    if not _is_int(quantity):
        raise ApiError(422, "invalid_request", "'quantity' must be an integer")
    if not MIN_SEATS <= quantity <= MAX_SEATS:
        raise ApiError(422, "invalid_quantity", f"an order has {MIN_SEATS}-{MAX_SEATS} seats")
    return PurchaseRequest(seats=None, quantity=quantity)


def validate_key(key: str | None) -> str:
    """Idempotency-Key header: required (400) and bounded (422)."""
    if key is None or key.strip() == "":
        raise ApiError(400, "missing_idempotency_key", "Idempotency-Key header is required")
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(422, "invalid_idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
    return key


def request_hash(user_id: int, event_id: int, req: PurchaseRequest) -> str:
    """Fingerprint of who buys what, to tell a retry from a key reuse."""
    doc = {"user_id": user_id, "event_id": event_id, "request": req.canonical()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _order_json(order_id: int, event_id: int, seats: list[int], ticket_ids: list[int],
                key: str, user_id: int, created_at: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "event_id": event_id,
        "seats": seats,
        "ticket_ids": ticket_ids,
        "idempotency_key": key,
        "user_id": user_id,
        "created_at": iso(created_at),
    }


async def _take_specific(q: Tx, event_id: int, order_id: int, seats: tuple[int, ...]) -> list[int]:
    rows = await q.fetchall(
        """
        WITH wanted AS (
            SELECT seat_no FROM seats
             WHERE event_id = %(e)s AND seat_no = ANY(%(s)s::integer[]) AND order_id IS NULL
             ORDER BY seat_no
               FOR UPDATE
        )
        UPDATE seats t SET order_id = %(o)s
          FROM wanted w
         WHERE t.event_id = %(e)s AND t.seat_no = w.seat_no
        RETURNING t.seat_no
        """,
        {"e": event_id, "s": list(seats), "o": order_id},
    )
    got = sorted(r[0] for r in rows)
    if len(got) != len(seats):
        missing = sorted(set(seats) - set(got))
        raise ApiError(409, "seats_unavailable", "some requested seats are already sold", unavailable=missing)
    return got


_PICK_SQL = """
WITH picked AS (
    SELECT seat_no FROM seats
     WHERE event_id = %(e)s AND order_id IS NULL
     ORDER BY seat_no
     LIMIT %(n)s
       FOR UPDATE {mode}
)
UPDATE seats t SET order_id = %(o)s
  FROM picked p
 WHERE t.event_id = %(e)s AND t.seat_no = p.seat_no
RETURNING t.seat_no
"""


class _SeatsHeldElsewhere(Exception):
    """Fast path came up short while other transactions hold free seats."""


async def _take_best(q: Tx, event_id: int, order_id: int, quantity: int, wait: bool) -> list[int]:
    """Lowest free seats.

    Fast path (wait=False): SKIP LOCKED, so concurrent buyers never wait for
    each other. If that comes up short, the missing seats are held by other
    in-flight transactions; we abort (releasing our partial picks) and the
    caller reruns the transaction with wait=True, which locks in ascending
    seat order and waits for holders. Everyone who waits locks in the same
    order, so waiting buyers cannot deadlock, and 'sold_out' is answered
    only when no free seat remains -- not merely because a transaction that
    later aborts was holding one.
    """
    mode = "" if wait else "SKIP LOCKED"
    got: list[int] = []
    for _ in range(_MAX_PICK_ROUNDS):
        need = quantity - len(got)
        rows = await q.fetchall(_PICK_SQL.format(mode=mode), {"e": event_id, "n": need, "o": order_id})
        got.extend(r[0] for r in rows)
        if len(got) == quantity:
            return sorted(got)
        if not wait:
            raise _SeatsHeldElsewhere()
        if not rows:
            break
    raise ApiError(409, "sold_out", f"fewer than {quantity} seats left", available=len(got))


async def _principal_and_event(q: Tx, token: str, event_id: int) -> tuple[Principal, int, int]:
    """Session check and event lookup in one round trip (401 before 404).
    Returns (principal, capacity, committed sold count)."""
    row = await q.fetchone(
        f"""
        SELECT p.id, p.username, p.credential_version, e.capacity, e.sold
          FROM (SELECT 1) AS one
          LEFT JOIN ({SESSION_SQL}) AS p ON true
          LEFT JOIN events e ON e.id = %s
        """,
        (token_digest(token), event_id),
    )
    if row is None or row[0] is None:
        raise ApiError(401, "unauthorized", "unknown, expired or revoked session")
    if row[3] is None:
        raise ApiError(404, "event_not_found", f"no event {event_id}")
    return Principal(int(row[0]), row[1], int(row[2])), int(row[3]), int(row[4])


class Purchases:
    """POST /events/{id}/purchases."""

    def __init__(self, db: Database):
        self.db = db

    async def purchase(self, token: str, event_id: int, key: str, req: PurchaseRequest) -> tuple[dict[str, Any], bool]:
        """Buy seats once per idempotency key. Returns (order, replayed)."""
        if event_id > MAX_INT4:
            raise ApiError(404, "event_not_found", f"no event {event_id}")
        try:
            return await self.db.write("purchase", self._transaction(token, event_id, key, req, wait=False))
        except _SeatsHeldElsewhere:
            # The first transaction rolled back (definitely: no COMMIT sent).
            return await self.db.write("purchase", self._transaction(token, event_id, key, req, wait=True))

    def _transaction(
        self, token: str, event_id: int, key: str, req: PurchaseRequest, wait: bool
    ) -> Callable[[Tx], Awaitable[tuple[dict[str, Any], bool]]]:
        async def body(q: Tx) -> tuple[dict[str, Any], bool]:
            who, capacity, sold = await _principal_and_event(q, token, event_id)
            if req.seats is not None and (min(req.seats) < 1 or max(req.seats) > capacity):
                raise ApiError(422, "seat_out_of_range", f"seats are numbered 1..{capacity}")
            fingerprint = request_hash(who.user_id, event_id, req)

            claim = await q.fetchone(
                """
                INSERT INTO orders (idempotency_key, request_hash, user_id, event_id)
                VALUES (%s, %s, %s, %s)
                ON CONFLICT (user_id, idempotency_key) DO NOTHING
                RETURNING id, created_at
                """,
                (key, fingerprint, who.user_id, event_id),
            )
            if claim is None:
                return await self._replay(q, who.user_id, key, fingerprint), True

            order_id, created_at = claim
            if req.seats is not None:
                seats = await _take_specific(q, event_id, order_id, req.seats)
            elif capacity - sold < req.quantity:
                # Committed sales only grow, so this is final (checked after
                # the replay lookup: a retry of a successful order still replays).
                raise ApiError(409, "sold_out", f"fewer than {req.quantity} seats left", available=capacity - sold)
            else:
                seats = await _take_best(q, event_id, order_id, req.quantity, wait)
            try:
                rows = await q.fetchall(
                    """
                    WITH t AS (
                        INSERT INTO tickets (order_id, event_id, seat_no)
                        SELECT %(o)s, %(e)s, s FROM unnest(%(s)s::integer[]) AS s
                        RETURNING id, seat_no
                    ), o AS (
                        UPDATE orders SET seat_nos = %(s)s::integer[] WHERE id = %(o)s
                    ), ev AS (
                        UPDATE events SET sold = sold + %(n)s WHERE id = %(e)s
                    )
                    SELECT id FROM t ORDER BY seat_no
                    """,
                    {"o": order_id, "e": event_id, "s": seats, "n": len(seats)},
                )
            except pg_errors.UniqueViolation:
                raise ApiError(409, "seats_unavailable", "seat already ticketed") from None
            except pg_errors.CheckViolation:
                raise ApiError(409, "sold_out", "event capacity reached") from None
            ticket_ids = [r[0] for r in rows]
            return _order_json(order_id, event_id, seats, ticket_ids, key, who.user_id, created_at), False

        return body

    @staticmethod
    async def _replay(q: Tx, user_id: int, key: str, fingerprint: str) -> dict[str, Any]:
        """Return this user's committed order for *key*, or 422 if the body differs."""
        row = await q.fetchone(
            "SELECT id, request_hash, event_id, seat_nos, created_at FROM orders"
            " WHERE user_id = %s AND idempotency_key = %s",
            (user_id, key),
        )
        if row is None:  # claim lost to a transaction that then vanished; cannot happen under RC
            raise ApiError(409, "idempotency_conflict", "retry the request")
        order_id, stored_hash, event_id, seat_nos, created_at = row
        if stored_hash != fingerprint:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
        tickets = await q.fetchall("SELECT id FROM tickets WHERE order_id = %s ORDER BY seat_no", (order_id,))
        q.finish_without_commit()
        return _order_json(order_id, event_id, list(seat_nos), [r[0] for r in tickets], key, user_id, created_at)
