"""Seat purchases with idempotency keys.

One transaction per purchase:

1. authenticate the session and load the event (401 / 404 / 422);
2. claim the idempotency key with INSERT ... ON CONFLICT DO NOTHING -- in
   the same statement as step 1 (the request fingerprint is hashed by the
   server from a prefix made here plus the user id it just found). Keys
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
   the hot event's counter row is locked only for the commit itself. For a
   best-available pick, steps 3 and 4 are one statement (_TAKE_BEST_SQL).

So the common purchase is four round trips: BEGIN, claim, take, COMMIT.
Each round trip costs CPU in the API (psycopg), Toxiproxy, HAProxy and the
PostgreSQL backend alike, which is why they are merged (README, "Purchase
rate").

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


def request_hash_prefix(event_id: int, req: PurchaseRequest) -> str:
    """The text `request_hash` hashes, up to the user id: the server appends the id and "}" and hashes it
    (SHA-256, hex), so the claim needs no round trip to learn the user first. The keys sort as event_id,
    request, user_id, so the id is the last value of the same compact JSON."""
    doc = json.dumps({"event_id": event_id, "request": req.canonical()}, sort_keys=True, separators=(",", ":"))
    return doc[:-1] + ',"user_id":'


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


#: Session check, event lookup and the idempotency-key claim in one round trip. The claim happens only for a
#: live session, an existing event and (explicit seats) seats within its capacity: exactly when the checks
#: that come first answer nothing (401, 404, 422), so it never happens for a request refused before it.
#: Parameters: token digest, event id, key, fingerprint prefix, event id, lowest seat, lowest seat, highest seat.
_CLAIM_SQL = f"""
WITH p AS ({SESSION_SQL}),
     e AS (SELECT capacity, sold FROM events WHERE id = %s),
     claim AS (
        INSERT INTO orders (idempotency_key, request_hash, user_id, event_id)
        SELECT %s, encode(sha256(convert_to(%s || p.id::text || '}}', 'UTF8')), 'hex'), p.id, %s
          FROM p, e
         WHERE %s::bigint IS NULL OR (%s::bigint >= 1 AND %s::bigint <= e.capacity)
        ON CONFLICT (user_id, idempotency_key) DO NOTHING
        RETURNING id, created_at
     )
SELECT p.id, p.username, p.credential_version, e.capacity, e.sold, claim.id, claim.created_at
  FROM (SELECT 1) AS one
  LEFT JOIN p ON true
  LEFT JOIN e ON true
  LEFT JOIN claim ON true
"""


@dataclass(frozen=True)
class _Claimed:
    """What the claim statement found: who, the event's capacity and committed sold count, and the new order
    (None: the key was already this user's, so the request is a replay or a key reuse)."""

    who: Principal
    capacity: int
    sold: int
    order: tuple[int, Any] | None


def _clamp(seat: int) -> int:
    return max(-(2**62), min(seat, 2**62))


async def _claim(q: Tx, token: str, event_id: int, key: str, req: PurchaseRequest) -> _Claimed:
    """Authenticate, load the event and claim the key (401, then 404, then 422 seat_out_of_range)."""
    low, high = (min(req.seats), max(req.seats)) if req.seats is not None else (None, None)
    # Any integer is a valid seat number in the body (out of range is a 422 after 401 and 404): clamped into
    # bigint, a huge one still compares the same against an integer capacity instead of failing the cast.
    low_p, high_p = (None, None) if low is None or high is None else (_clamp(low), _clamp(high))
    row = await q.fetchone(
        _CLAIM_SQL,
        (token_digest(token), event_id, key, request_hash_prefix(event_id, req), event_id, low_p, low_p, high_p),
    )
    if row is None or row[0] is None:
        raise ApiError(401, "unauthorized", "unknown, expired or revoked session")
    if row[3] is None:
        raise ApiError(404, "event_not_found", f"no event {event_id}")
    capacity = int(row[3])
    if low is not None and high is not None and (low < 1 or high > capacity):
        raise ApiError(422, "seat_out_of_range", f"seats are numbered 1..{capacity}")
    order = (int(row[5]), row[6]) if row[5] is not None else None
    return _Claimed(Principal(int(row[0]), row[1], int(row[2])), capacity, int(row[4]), order)


#: Best-available without waiting, and everything a full pick leads to, in one statement: lowest free seats
#: (SKIP LOCKED), the seats marked, and -- only when all `n` were got -- the tickets, the order's seats and the
#: event's sold count (last: the hot counter row is locked for the commit only). Every taken seat comes back
#: with its ticket id, NULL for all of them when the pick came up short (the caller then rolls back).
_TAKE_BEST_SQL = """
WITH picked AS (
    SELECT seat_no FROM seats
     WHERE event_id = %(e)s AND order_id IS NULL
     ORDER BY seat_no
     LIMIT %(n)s
       FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE seats t SET order_id = %(o)s
      FROM picked p
     WHERE t.event_id = %(e)s AND t.seat_no = p.seat_no
    RETURNING t.seat_no
), full_pick AS (
    SELECT count(*) = %(n)s AS ok FROM taken
), t AS (
    INSERT INTO tickets (order_id, event_id, seat_no)
    SELECT %(o)s, %(e)s, seat_no FROM taken WHERE (SELECT ok FROM full_pick)
    RETURNING id, seat_no
), o AS (
    UPDATE orders SET seat_nos = (SELECT array_agg(seat_no ORDER BY seat_no) FROM taken)
     WHERE id = %(o)s AND (SELECT ok FROM full_pick)
), ev AS (
    UPDATE events SET sold = sold + %(n)s WHERE id = %(e)s AND (SELECT ok FROM full_pick)
)
SELECT taken.seat_no, t.id FROM taken LEFT JOIN t ON t.seat_no = taken.seat_no ORDER BY taken.seat_no
"""


async def _take_best_and_ticket(q: Tx, event_id: int, order_id: int, quantity: int) -> tuple[list[int], list[int]]:
    """The fast path of _take_best and the ticket statement at once: (seats, ticket ids), or
    _SeatsHeldElsewhere when the free seats left are held by others (nothing written is kept: the caller's
    transaction rolls back)."""
    try:
        rows = await q.fetchall(_TAKE_BEST_SQL, {"e": event_id, "n": quantity, "o": order_id})
    except pg_errors.UniqueViolation:
        raise ApiError(409, "seats_unavailable", "seat already ticketed") from None
    except pg_errors.CheckViolation:
        raise ApiError(409, "sold_out", "event capacity reached") from None
    if len(rows) != quantity or any(r[1] is None for r in rows):
        raise _SeatsHeldElsewhere()
    return [r[0] for r in rows], [r[1] for r in rows]


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
            claimed = await _claim(q, token, event_id, key, req)
            who, capacity, sold = claimed.who, claimed.capacity, claimed.sold
            if claimed.order is None:
                return await self._replay(q, who.user_id, key, request_hash(who.user_id, event_id, req)), True

            order_id, created_at = claimed.order
            if req.seats is not None:
                seats = await _take_specific(q, event_id, order_id, req.seats)
            elif capacity - sold < req.quantity:
                # Committed sales only grow, so this is final (checked after
                # the replay lookup: a retry of a successful order still replays).
                raise ApiError(409, "sold_out", f"fewer than {req.quantity} seats left", available=capacity - sold)
            elif not wait:
                seats, ticket_ids = await _take_best_and_ticket(q, event_id, order_id, req.quantity)
                return _order_json(order_id, event_id, seats, ticket_ids, key, who.user_id, created_at), False
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
