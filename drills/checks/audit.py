"""The data-loss audit: every acknowledged write against what the healed system holds (Jepsen-style).

Purchases are judged per idempotency key, over all its attempts (a retry is its own operation):

* acknowledged = some attempt got `ok`, even if other attempts were `info`;
* lost        = acknowledged, yet no order with that key (nor with the acknowledged order_id) exists, or its
                order has fewer tickets than seats (a partial write);
* unexpected  = an order created during the run whose key was never attempted, or whose every attempt
                failed definitely (a definite failure promises no side effect), or a ticket without order;
* duplicated  = a key with more than one order;  oversold = a seat with more than one ticket;
* sold_over_capacity = tickets beyond an event's capacity (the larger of `sold` and its ticket count);
* indeterminate = attempted with `info` and never `ok`: split into took effect / did not, never lost.

Credentials: a user whose acknowledged rotation is not in effect at the end (final credential_version
lower than acknowledged, or the sampled logins show the old password working / the new one failing).
A metric with no final state, or nothing to judge, is None ("unknown"), never 0; so is one that needs a
section of the final state that was damaged (FinalState.damaged: its orders, tickets, events, credentials or
password / session checks), and the audit's errors say which and why.
"""

from __future__ import annotations

from collections import Counter
from itertools import filterfalse
from typing import Any

from drills.checks.finalstate import FinalState
from drills.checks.history import R_COMPLETE, R_VERSION, History
from drills.checks.window import RunWindow

MAX_SAMPLES = 20
CREATED_SLACK_S = 5.0   # orders created this long before the run started still count as the run's
ORDER_ID_LOOKUPS = 10000  # beyond this many keys missing, the order-id fallback is not tried


class Samples:
    """Up to MAX_SAMPLES examples per anomaly. History lines are fetched in one batch at the end."""

    def __init__(self, history: History, window: RunWindow) -> None:
        self.history, self.window = history, window
        self.rows: dict[str, list[dict]] = {}
        self._pending: list[tuple[dict, int]] = []

    def add(self, anomaly: str, row: dict, ref: int | None = None) -> None:
        rows = self.rows.setdefault(anomaly, [])
        if len(rows) < MAX_SAMPLES:
            rows.append(row)
            if ref is not None:
                self._pending.append((row, ref))

    def key(self, anomaly: str, key: str, **extra: Any) -> None:
        """A purchase sample: filled in from the history line that acknowledged (or first tried) the key."""
        self.add(anomaly, {"key": key, **extra}, self.history.purchases.ref(key))

    def resolve(self) -> dict[str, list[dict]]:
        lines = self.history.lookup(ref for _, ref in self._pending)
        for row, ref in self._pending:
            line = lines.get(ref) or {}
            for name in ("user", "event_id", "seats", "order_id", "replica", "outcome", "error"):
                row.setdefault(name, line.get(name))
            row.setdefault("t_s", self.window.offset(line.get("complete")))
        return {k: v for k, v in self.rows.items() if v}


def _lost(history: History, by_key: dict[str, int], order_ids: set[int]) -> tuple[list[str], int]:
    """(acknowledged keys with no order by key, nor by the order id their acknowledgement named, read back
    from the history: the key may have been mangled while the order survived; how many had no order by key)."""
    acked = history.purchases.acknowledged
    if acked.keys() <= by_key.keys():  # the usual case, one C-level pass
        return [], 0
    missing = sorted(filterfalse(by_key.__contains__, acked))
    if len(missing) > ORDER_ID_LOOKUPS:
        return missing, len(missing)
    lines = history.lookup(acked[k] for k in missing)
    return [k for k in missing if (lines.get(acked[k]) or {}).get("order_id") not in order_ids], len(missing)


def purchases_audit(history: History, state: FinalState | None, samples: Samples,
                    since: float | None, lost_keys: list[str] | None = None) -> dict[str, Any]:
    """Lost / unexpected / duplicated / oversold / over capacity / indeterminate. Every lost key is appended
    to `lost_keys` when given (the recovery checks classify them by time)."""
    keys = history.purchases
    acked = keys.acknowledged
    undecided, failed = keys.undecided(), keys.failed()
    out: dict[str, Any] = {
        "attempted": len(acked) + len(undecided) + len(failed), "acknowledged": len(acked), "failed": len(failed),
        "indeterminate": len(undecided), "lost": None, "unexpected": None, "duplicated": None,
        "oversold": None, "sold_over_capacity": None, "indeterminate_applied": None,
        "indeterminate_not_applied": None, "inventory_mismatch": None,
    }
    if history.unkeyed_purchases:
        out["unkeyed"] = history.unkeyed_purchases
    if state is None:
        return out
    orders_ok, tickets_ok = "orders" not in state.damaged, "tickets" not in state.damaged
    by_key = dict(zip(state.order_keys, state.order_ids, strict=False))
    if orders_ok:
        _duplicated(state, samples, by_key, out)
    if orders_ok and tickets_ok:
        _lost_and_unexpected(history, state, samples, since, by_key, failed, out, lost_keys)
    if tickets_ok:
        _oversold(state, samples, out)
    if "events" not in state.damaged and (tickets_ok or all("tickets" in ev for ev in state.events)):
        _capacity(state, samples, out)
    if orders_ok:  # indeterminate: took effect or not (never lost)
        applied = [k for k in undecided if k in by_key]
        out["indeterminate_applied"] = len(applied)
        out["indeterminate_not_applied"] = len(undecided) - len(applied)
        for k in applied[:MAX_SAMPLES]:
            samples.key("indeterminate_applied", k, order_id=by_key[k])
        for k in [k for k in undecided[:5 * MAX_SAMPLES] if k not in by_key][:MAX_SAMPLES]:
            samples.key("indeterminate_not_applied", k)
    return out


def _duplicated(state: FinalState, samples: Samples, by_key: dict[str, int], out: dict[str, Any]) -> None:
    """One key, several orders."""
    duplicated = 0
    if len(by_key) < len(state.order_keys):
        many = {k: n for k, n in Counter(state.order_keys).items() if n > 1}
        duplicated = len(many)
        first = dict(zip(reversed(state.order_keys), reversed(state.order_ids), strict=False))
        for k in list(many)[:MAX_SAMPLES]:
            samples.key("duplicated", k, orders=many[k], order_ids=[first[k], by_key[k]])
    out["duplicated"] = duplicated


def _lost_and_unexpected(history: History, state: FinalState, samples: Samples, since: float | None,
                         by_key: dict[str, int], failed: list[str], out: dict[str, Any],
                         lost_keys: list[str] | None) -> None:
    """Lost and unexpected purchases: they need the orders and the tickets."""
    keys = history.purchases
    acked = keys.acknowledged

    # lost: acknowledged, but no order (by key or order id), or an order short of tickets (a partial write)
    order_ids = set(state.order_ids)
    lost, missing_by_key = _lost(history, by_key, order_ids)
    per_order = Counter(state.ticket_orders)
    seats_by_order = dict(zip(state.order_ids, state.order_seats, strict=False))
    partial: list[str] = []
    if not dict.__eq__(per_order, seats_by_order):  # the usual case is equal: one C-level comparison
        key_of = dict(zip(state.order_ids, state.order_keys, strict=False))
        partial = sorted(key_of[o] for o, n in seats_by_order.items()
                         if per_order.get(o, 0) < n and key_of[o] in acked)
    out["lost"] = len(lost) + len(partial) if acked else None
    if lost_keys is not None:
        lost_keys += lost + partial
    for k in lost:
        samples.key("lost", k, reason="no order with this key or order id")
    for k in partial:
        samples.key("lost", k, reason="its order has fewer tickets than seats", order_id=by_key.get(k))

    # unexpected: orders nobody asked for (created during the run), effects of definite failures, orphans
    never = keys.never_tried(by_key, acked_found=len(acked) - missing_by_key)
    if never and since is not None:
        floor = since - CREATED_SLACK_S
        created = dict(zip(state.order_keys, state.order_created, strict=False))
        never = {k for k in never if (created.get(k) or floor) >= floor}  # unknown creation time: ours
    failed_applied = [k for k in failed if k in by_key]
    orphan_orders = set() if per_order.keys() <= order_ids else per_order.keys() - order_ids
    orphans = ([t for t, o in zip(state.ticket_ids, state.ticket_orders, strict=False) if o in orphan_orders]
               if orphan_orders else [])
    out["unexpected"] = len(never) + len(failed_applied) + len(orphans)
    for k in sorted(never)[:MAX_SAMPLES]:
        samples.add("unexpected", {"key": k, "order_id": by_key.get(k), "reason": "key never attempted"})
    for k in failed_applied:
        samples.key("unexpected", k, order_id=by_key[k], reason="every attempt failed definitely")
    for t in orphans:
        samples.add("unexpected", {"ticket_id": t, "reason": "ticket without order"})


def _oversold(state: FinalState, samples: Samples, out: dict[str, Any]) -> None:
    """A seat with more than one ticket."""
    oversold = 0
    if len(set(zip(state.ticket_events, state.ticket_seats, strict=False))) < len(state.ticket_ids):
        for (event, seat), n in Counter(zip(state.ticket_events, state.ticket_seats, strict=False)).items():
            if n > 1:
                oversold += 1
                samples.add("oversold", {"event_id": event, "seat_no": seat, "tickets": n})
    out["oversold"] = oversold


def _capacity(state: FinalState, samples: Samples, out: dict[str, Any]) -> None:
    """Tickets beyond an event's capacity, and events whose counts disagree."""
    counted = all("tickets" in ev for ev in state.events)  # the endpoint counts tickets per event itself
    tickets_per_event: Counter[int] = Counter() if counted else Counter(state.ticket_events)
    over, mismatch = 0, 0
    for ev in state.events:
        cap, sold = ev.get("capacity"), int(ev.get("sold") or 0)
        tickets = max(int(ev.get("tickets") or 0), tickets_per_event.get(ev.get("id", -1), 0))
        row = {"event_id": ev.get("id"), "name": ev.get("name"), "capacity": cap, "sold": sold, "tickets": tickets,
               "seats_taken": ev.get("seats_taken")}
        if isinstance(cap, int) and max(sold, tickets) > cap:
            over += max(sold, tickets) - cap
            samples.add("sold_over_capacity", row)
        if sold != tickets or ("seats_taken" in ev and ev["seats_taken"] != tickets):
            mismatch += 1
            samples.add("inventory_mismatch", row)
    out["sold_over_capacity"] = over if state.events else None
    out["inventory_mismatch"] = mismatch if state.events else None


def credentials_audit(history: History, state: FinalState | None, samples: Samples,
                      lost_rows: list[dict] | None = None) -> dict[str, Any]:
    """Acknowledged rotations not in effect at the end, and revoked sessions that still work. Every lost
    credential change is appended to `lost_rows` when given."""
    acked = {u: r for u, r in history.rotations.items() if r[R_VERSION] > 0}
    out: dict[str, Any] = {"rotations_acknowledged": len(acked), "credential_changes_lost": None,
                           "credentials_checked": 0, "revoked_sessions_working": None, "sessions_checked": 0}
    if state is None:
        return out
    if "session_checks" not in state.damaged:
        _sessions(state, samples, out)
    if "credentials" in state.damaged or "credential_checks" in state.damaged:
        return out
    bad: dict[str, dict] = {}
    if acked and state.credentials:
        for user, r in acked.items():
            final = state.credentials.get(user)
            if final is None or final < r[R_VERSION]:
                bad[user] = {"user": user, "acknowledged_version": r[R_VERSION], "final_version": final,
                             "acknowledged_s": samples.window.offset(r[R_COMPLETE]),
                             "reason": "credential version went back"}
    checks = state.credential_checks or {}
    for row in checks.get("users") or []:
        if row.get("old_works") or row.get("new_works") is False:
            user = row.get("user")
            reason = "old password still works" if row.get("old_works") else "new password does not work"
            bad.setdefault(user, {"user": user, "acknowledged_version": row.get("acknowledged_version"),
                                  "final_version": row.get("final_version"), "reason": reason})
    out["credentials_checked"] = int(checks.get("checked") or 0)
    if acked and (state.credentials or out["credentials_checked"]):
        out["credential_changes_lost"] = len(bad)
    for row in bad.values():
        samples.add("credential_changes_lost", row)
    if lost_rows is not None and out["credential_changes_lost"] is not None:
        lost_rows += bad.values()
    return out


def _sessions(state: FinalState, samples: Samples, out: dict[str, Any]) -> None:
    """Revoked sessions that still work."""
    sessions = state.session_checks or {}
    out["sessions_checked"] = int(sessions.get("checked") or 0)
    working = sessions.get("working") or []
    if out["sessions_checked"]:
        out["revoked_sessions_working"] = len(working)
    for row in working:
        samples.add("revoked_sessions_working", dict(row))


# what a damaged section of the final state makes unknown (FinalState.damaged)
UNKNOWN_WITHOUT = {
    "orders": "lost, unexpected, duplicated and indeterminate_applied / _not_applied unknown",
    "tickets": "lost, unexpected, oversold (and, unless the events count their own tickets, sold_over_capacity "
               "and inventory_mismatch) unknown",
    "events": "sold_over_capacity and inventory_mismatch unknown",
    "credentials": "credential_changes_lost unknown",
    "credential_checks": "credential_changes_lost unknown",
    "session_checks": "revoked_sessions_working unknown",
    "complete": "every data-loss metric unknown",
}


def run_audit(history: History, state: FinalState | None, window: RunWindow, since: float | None = None,
              details: dict | None = None) -> dict:
    """The audit section of result.json. An incomplete final state (a page could not be read) would turn
    unread rows into "lost", so it is judged as no final state: unknown. `details`, when given, receives
    every lost purchase key (`lost_purchases`) and lost credential change (`lost_credentials`), not just
    the samples."""
    errors = list(state.errors) if state is not None else []
    for section, reasons in (state.damaged if state is not None else {}).items():
        errors += [f"{r}: {UNKNOWN_WITHOUT[section]}" if section in UNKNOWN_WITHOUT else r for r in reasons]
    usable = state
    if state is not None and not state.complete:
        errors.append("final state incomplete: data-loss metrics unknown")
        usable = None
    samples = Samples(history, window)
    lost_keys: list[str] = []
    lost_rows: list[dict] = []
    p = purchases_audit(history, usable, samples, since, lost_keys)
    c = credentials_audit(history, usable, samples, lost_rows)
    if details is not None:
        details["lost_purchases"], details["lost_credentials"] = lost_keys, lost_rows
    final = "missing" if state is None else ("complete" if state.complete else "incomplete")
    return {"final_state": final, **p, **c, "samples": samples.resolve(), "errors": errors}
