"""The data-loss audit: every acknowledged write against what the healed system holds (Jepsen-style).

One path for every system: the writes are declared (which history operations, where each one's identity
is), the final read is declared (collections read after the heal), and models compare the two
(drills/checks/audit_models.py: set, unique, counter). A scenario's `audit:` section declares them for an
attached system (declared_audit()); the reference stack's audit is the same declaration
(drills/scenario/reference_audit.py) with the checks only its API can answer on top (reference_audit()).

Reference purchases are judged per idempotency key, over all its attempts (a retry is its own operation):

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
password / session checks), or a collection that could not be read whole or holds values a model cannot use;
the audit's errors say which and why.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from drills.checks.audit_models import Malformed, SetCheck, check_counter, check_set, check_unique
from drills.checks.finalstate import FinalState
from drills.checks.history import PURCHASE, R_COMPLETE, R_VERSION, History, WriteKeys
from drills.checks.window import RunWindow
from drills.scenario.audit_section import AuditSection, CounterModel, SetModel, UniqueModel
from drills.scenario.reference_audit import REFERENCE_AUDIT

MAX_SAMPLES = 20
# what a purchase sample shows of the line that acknowledged (or first tried) its key
PURCHASE_SAMPLE_FIELDS = ("user", "event_id", "seats", "order_id", "replica", "outcome", "error")


class Samples:
    """Up to MAX_SAMPLES examples per anomaly. History lines are fetched in one batch at the end."""

    def __init__(self, history: History, window: RunWindow) -> None:
        self.history, self.window = history, window
        self.rows: dict[str, list[dict]] = {}
        self._pending: list[tuple[dict, int, tuple[str, ...]]] = []

    def add(self, anomaly: str, row: dict, ref: int | None = None,
            fields: tuple[str, ...] = PURCHASE_SAMPLE_FIELDS) -> None:
        """A sample row; with `ref`, filled in from that history line (its `fields` and its time)."""
        rows = self.rows.setdefault(anomaly, [])
        if len(rows) < MAX_SAMPLES:
            rows.append(row)
            if ref is not None:
                self._pending.append((row, ref, fields))

    def key(self, anomaly: str, key: str, **extra: Any) -> None:
        """A purchase sample: filled in from the history line that acknowledged (or first tried) the key."""
        self.add(anomaly, {"key": key, **extra}, self.history.purchases.ref(key))

    def resolve(self) -> dict[str, list[dict]]:
        lines = self.history.lookup(ref for _, ref, _ in self._pending)
        for row, ref, fields in self._pending:
            line = lines.get(ref) or {}
            for name in fields:
                row.setdefault(name, line.get(name))
            row.setdefault("t_s", self.window.offset(line.get("complete")))
        return {k: v for k, v in self.rows.items() if v}


def _model(spec: AuditSection, kind: type[SetModel] | type[UniqueModel]) -> Any:
    return next(m for m in spec.models if isinstance(m, kind))


def purchases_audit(history: History, state: FinalState | None, samples: Samples,
                    since: float | None, lost_keys: list[str] | None = None) -> dict[str, Any]:
    """The reference stack's purchases: its set model (orders by idempotency key) and unique model (a seat's
    tickets), plus partial orders, orphan tickets and capacity. Every lost key is appended to `lost_keys`
    when given (the recovery checks classify them by time)."""
    orders_model, seats_model = _model(REFERENCE_AUDIT, SetModel), _model(REFERENCE_AUDIT, UniqueModel)
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
    orders, tickets = state.collection(orders_model.collection), state.collection(seats_model.collection)
    check = None
    if orders is not None:
        server = REFERENCE_AUDIT.writes[PURCHASE].server_id
        check = check_set(keys, history, orders, orders_model.id, orders_model.server_id,
                          {PURCHASE: server} if server else {}, orders_model.created, since)
        _duplicated(check, samples, out)
    if check is not None and tickets is not None:
        _lost_and_unexpected(history, state, samples, check, out, lost_keys)
    if tickets is not None:
        _oversold(check_unique(tickets, seats_model.fields), samples, seats_model, out)
    if "events" not in state.damaged and (tickets is not None or all("tickets" in ev for ev in state.events)):
        _capacity(state, samples, out)
    if check is not None:  # indeterminate: took effect or not (never lost)
        out["indeterminate_applied"] = len(check.applied)
        out["indeterminate_not_applied"] = len(check.not_applied)
        for k in check.applied[:MAX_SAMPLES]:
            samples.key("indeterminate_applied", k, order_id=check.by_id[k])
        for k in check.not_applied[:MAX_SAMPLES]:
            samples.key("indeterminate_not_applied", k)
    return out


def _duplicated(check: SetCheck, samples: Samples, out: dict[str, Any]) -> None:
    """One key, several orders."""
    out["duplicated"] = len(check.duplicated)
    for k in list(check.duplicated)[:MAX_SAMPLES]:
        samples.key("duplicated", k, orders=check.duplicated[k], order_ids=[check.first_server[k], check.by_id[k]])


def _lost_and_unexpected(history: History, state: FinalState, samples: Samples, check: SetCheck,
                         out: dict[str, Any], lost_keys: list[str] | None) -> None:
    """Lost and unexpected purchases: the set model's, plus an order short of tickets (a partial write: lost)
    and a ticket without order (unexpected); they need the orders and the tickets."""
    acked = history.purchases.acknowledged
    whole = _every_order_whole(state)
    per_order: Counter = Counter() if whole else Counter(state.ticket_orders)
    seats_by_order = {} if whole else dict(zip(state.order_ids, state.order_seats, strict=False))
    partial: list[str] = []
    if not whole and not dict.__eq__(per_order, seats_by_order):
        key_of = dict(zip(state.order_ids, state.order_keys, strict=False))
        partial = sorted(key_of[o] for o, n in seats_by_order.items()
                         if per_order.get(o, 0) < n and key_of[o] in acked)
    out["lost"] = len(check.lost) + len(partial) if acked else None
    if lost_keys is not None:
        lost_keys += check.lost + partial
    for k in check.lost:
        samples.key("lost", k, reason="no order with this key or order id")
    for k in partial:
        samples.key("lost", k, reason="its order has fewer tickets than seats", order_id=check.by_id.get(k))

    orphan_orders: set = set()
    if not whole:   # (every ticket's order exists when every order is whole)
        order_ids = set(state.order_ids)
        orphan_orders = set() if per_order.keys() <= order_ids else per_order.keys() - order_ids
    orphans = ([t for t, o in zip(state.ticket_ids, state.ticket_orders, strict=False) if o in orphan_orders]
               if orphan_orders else [])
    out["unexpected"] = len(check.never) + len(check.failed_applied) + len(orphans)
    for k in check.never[:MAX_SAMPLES]:
        samples.add("unexpected", {"key": k, "order_id": check.by_id.get(k), "reason": "key never attempted"})
    for k in check.failed_applied:
        samples.key("unexpected", k, order_id=check.by_id[k], reason="every attempt failed definitely")
    for t in orphans:
        samples.add("unexpected", {"ticket_id": t, "reason": "ticket without order"})


def _every_order_whole(state: FinalState) -> bool:
    """Whether every order holds exactly its seats in tickets and every ticket's order exists (the usual case:
    no partial order, no orphan ticket), by sorting columns of whole numbers in numpy; False when that cannot
    be told so (other values, an order id twice): _lost_and_unexpected() then counts per order."""
    ids, seats, owners = state.order_ids, state.order_seats, state.ticket_orders
    if not (_whole_numbers(ids) and _whole_numbers(seats) and _whole_numbers(owners)):
        return False
    try:
        order_ids, order_seats, ticket_orders = (_int64s(c) for c in (ids, seats, owners))
    except OverflowError:
        return False
    if _whole_in_order(order_ids, order_seats, ticket_orders):
        return True
    order = np.argsort(order_ids, kind="stable")
    order_ids, order_seats = order_ids[order], order_seats[order]
    if len(order_ids) > 1 and not (order_ids[1:] != order_ids[:-1]).all():
        return False
    held, counts = np.unique(ticket_orders, return_counts=True)
    return bool(len(held) == len(order_ids) and (held == order_ids).all() and (counts == order_seats).all())


def _whole_in_order(order_ids: np.ndarray, order_seats: np.ndarray, ticket_orders: np.ndarray) -> bool:
    """The usual layout told without sorting or counting (CPU, and ~30 MB of temporaries at 1M orders): orders by
    increasing id, each of at least one seat, and the tickets' orders each order's id its seats times, in the
    same order. True means every order is whole (as sorting would find); False only that this cannot tell."""
    n = len(ticket_orders)
    if not (len(order_ids) == len(order_seats) and len(order_ids)):
        return False
    if not ((order_ids[1:] > order_ids[:-1]).all() and order_seats.min() >= 1 and order_seats.max() <= n):
        return False
    return int(order_seats.sum()) == n and np.array_equal(np.repeat(order_ids, order_seats), ticket_orders)


def _whole_numbers(col: Sequence) -> bool:
    """Whether a column holds only whole numbers: one read compactly (array('q')) does by its type, without
    boxing each of its values to ask."""
    return (isinstance(col, array) and col.typecode == "q") or set(map(type, col)) <= {int}


def _int64s(col: Sequence[int]) -> np.ndarray:
    """A column of whole numbers as int64: a view of one read compactly (array('q')), else a copy (raises
    OverflowError beyond int64)."""
    if isinstance(col, array) and col.typecode == "q":
        return np.frombuffer(col, dtype=np.int64)
    return np.array(col, dtype=np.int64)


def _oversold(repeated: dict[tuple, int], samples: Samples, model: UniqueModel, out: dict[str, Any]) -> None:
    """A seat with more than one ticket."""
    out[model.metric] = len(repeated)
    for values, n in repeated.items():
        samples.add(model.metric, {**dict(zip(model.fields, values, strict=False)), model.collection: n})


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
              details: dict | None = None, audit: AuditSection | None = None) -> dict:
    """The audit section of result.json, by the scenario's declared audit (None: the reference stack's).
    `details`, when given, receives every lost purchase key (`lost_purchases`) and lost credential change
    (`lost_credentials`), not just the samples."""
    if audit is not None and not audit.reference:
        return declared_audit(history, state, window, audit, since, details)
    return reference_audit(history, state, window, since, details)


def reference_audit(history: History, state: FinalState | None, window: RunWindow, since: float | None = None,
                    details: dict | None = None) -> dict:
    """The reference stack's audit. An incomplete final state (a page could not be read) would turn unread rows
    into "lost", so it is judged as no final state: unknown."""
    errors = list(state.errors) if state is not None else []
    for section, reasons in (state.damaged if state is not None else {}).items():
        errors += [f"{r}: {UNKNOWN_WITHOUT[section]}" if section in UNKNOWN_WITHOUT else r for r in reasons]
    usable = state
    if state is not None and state.declared:
        errors.append("final-state.json holds a declared audit's collections, but the scenario declares no "
                      "`audit`: data-loss metrics unknown")
        usable = None
    elif state is not None and not state.complete:
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


# a declared audit (a scenario's `audit:` section) ----------------------------------------------------------------

# what a declared audit's samples show of the history line behind a write
WRITE_SAMPLE_FIELDS = ("op", "user", "outcome", "status", "error")
SET_COUNTS = ("lost", "unexpected", "duplicated", "indeterminate_applied", "indeterminate_not_applied")


def declared_audit(history: History, state: FinalState | None, window: RunWindow, audit: AuditSection,
                   since: float | None = None, details: dict | None = None) -> dict:
    """Every model of `audit` against its collection of the final read. A model whose collection was not read
    whole (or holds values it cannot use) is unknown, with the reason in `errors`; a sum over models is
    unknown when any of its models is: never a count made from part of the data."""
    errors = list(state.errors) if state is not None else []
    for section, reasons in (state.damaged if state is not None else {}).items():
        errors += [f"{r}: the models reading it are unknown" if section.startswith("collections.") else r
                   for r in reasons]
    if state is None:
        errors.append("no final state (final-state.json): the final read did not happen, every data-loss metric "
                      "is unknown (events.jsonl and drill.log say why)")
    elif not state.declared:
        errors.append("final-state.json holds the reference stack's audit, not the collections the scenario's "
                      "`audit` declares: data-loss metrics unknown")
        state = None
    samples = Samples(history, window)
    keys = [history.write_keys.get(op) for op in audit.writes]
    attempted = {"acknowledged": 0, "failed": 0, "indeterminate": 0}
    for k in keys:
        if k is not None:
            attempted["acknowledged"] += len(k.acknowledged)
            attempted["failed"] += len(k.failed())
            attempted["indeterminate"] += len(k.undecided())
    out: dict[str, Any] = {"final_state": "missing" if state is None else ("complete" if state.complete
                                                                            else "incomplete"),
                           "attempted": sum(attempted.values()), **attempted}
    unkeyed = sum(history.unkeyed.get(op, 0) for op in audit.writes)
    if unkeyed:
        out["unkeyed"] = unkeyed
    rows = [_judge_model(m, history, state, audit, samples, since, errors) for m in audit.models]
    _sum(out, rows, SET_COUNTS, "set")
    _sum(out, rows, ("unique_violations",), "unique")
    _sum(out, rows, ("counter_mismatch",), "counter")
    if details is not None:
        details["lost_purchases"], details["lost_credentials"] = [], []
    return {**out, "models": rows, "samples": samples.resolve(), "errors": errors}


def _sum(out: dict[str, Any], rows: list[dict], counts: tuple[str, ...], kind: str) -> None:
    """Each count over the models of `kind` (absent when there are none): unknown when any model is, or when
    none of them has anything to judge."""
    mine = [r for r in rows if r["model"] == kind]
    if not mine:
        return
    for name in counts:
        values = [r.get(name) for r in mine]
        known = [v for v in values if v is not None]
        out[name] = None if any(r["error"] for r in mine) or not known else sum(known)


def _judge_model(model: Any, history: History, state: FinalState | None, audit: AuditSection, samples: Samples,
                 since: float | None, errors: list[str]) -> dict[str, Any]:
    """One model's row of the result (counts, or the reason it is unknown); its anomalies go to `samples`."""
    row: dict[str, Any] = {"model": model.kind, "name": model.name, "collection": model.collection,
                           "rows": None, "error": None}
    rows = state.collection(model.collection) if state is not None else None
    reason = None
    if state is None:
        reason = "no final state"
    elif rows is None:
        reason = f"the collection {model.collection} was not read (or is damaged)"
    elif not rows.complete:
        reason = f"{model.collection} not read whole: {rows.error or 'incomplete'}"
    if rows is not None:
        row["rows"] = rows.rows
    if reason is None and rows is not None:
        try:
            if isinstance(model, SetModel):
                _set_row(model, history, rows, audit, samples, since, row)
            elif isinstance(model, UniqueModel):
                _unique_row(model, rows, samples, row)
            else:
                _counter_row(model, history, rows, audit, samples, row)
        except Malformed as exc:
            reason = f"{model.collection}: {exc}"
    if reason is not None:
        row["error"] = reason
        errors.append(f"{model.name}: {reason}: its counts are unknown")
    return row


def _set_row(model: SetModel, history: History, rows: Any, audit: AuditSection, samples: Samples,
             since: float | None, row: dict[str, Any]) -> None:
    ops = audit.model_writes(model)
    keys = _merged([history.write_keys[op] for op in ops if op in history.write_keys])
    servers = {op: w.server_id for op, w in audit.writes.items() if op in ops and w.server_id is not None}
    check = check_set(keys, history, rows, model.id, model.server_id, servers, model.created, since)
    row.update(writes=list(ops), acknowledged=check.acknowledged, lost=len(check.lost) if check.acknowledged else None,
               unexpected=len(check.never) + len(check.failed_applied), duplicated=len(check.duplicated),
               indeterminate_applied=len(check.applied), indeterminate_not_applied=len(check.not_applied),
               null_ids=check.null_ids)
    by = f"{model.id} or {model.server_id}" if model.server_id else model.id
    name = model.name

    def write(anomaly: str, k: str, **extra: Any) -> None:
        extra = {"model": name, "id": k, **extra}
        if model.server_id and check.by_id.get(k) is not None:
            extra.setdefault("server_id", check.by_id[k])
        samples.add(anomaly, extra, keys.ref(k), WRITE_SAMPLE_FIELDS + tuple(servers.values()))

    for k in check.lost:
        write("lost", k, reason=f"not in {model.collection} (by {by})")
    for k in check.never[:MAX_SAMPLES]:
        samples.add("unexpected", {"model": name, "id": k, "reason": "never attempted"})
    for k in check.failed_applied:
        write("unexpected", k, reason="every attempt failed definitely")
    for k in list(check.duplicated)[:MAX_SAMPLES]:
        write("duplicated", k, rows=check.duplicated[k])
    for k in check.applied[:MAX_SAMPLES]:
        write("indeterminate_applied", k)
    for k in check.not_applied[:MAX_SAMPLES]:
        write("indeterminate_not_applied", k)


def _merged(keys: list[WriteKeys]) -> WriteKeys:
    """The identities of several write operations as one (a collection several operations write to): their
    columns end to end, so an identity's last ok attempt is the last operation's, its first info/fail the
    first's."""
    if len(keys) == 1:
        return keys[0]
    cols = {o: ([k for w in keys for k in w.columns[o][0]], array("q", b"".join(w.columns[o][1].tobytes()
                                                                              for w in keys)))
            for o in ("ok", "info", "fail")}
    return WriteKeys(cols["ok"], cols["info"], cols["fail"])


def _unique_row(model: UniqueModel, rows: Any, samples: Samples, row: dict[str, Any]) -> None:
    repeated = check_unique(rows, model.fields)
    row.update(fields=list(model.fields), unique_violations=len(repeated))
    for values, n in list(repeated.items())[:MAX_SAMPLES]:
        samples.add(model.metric, {"model": model.name, **dict(zip(model.fields, values, strict=False)), "rows": n})


def _counter_row(model: CounterModel, history: History, rows: Any, audit: AuditSection, samples: Samples,
                 row: dict[str, Any]) -> None:
    ops = audit.model_writes(model)
    check = check_counter(history, ops, rows, model.value, model.counter, model.initial)
    row.update(writes=list(ops), counters_checked=check.checked, counter_mismatch=len(check.out_of_bounds),
               counters_unbounded=len(check.unbounded))
    for r in check.out_of_bounds[:MAX_SAMPLES]:
        samples.add("counter_mismatch", {"model": model.name, **r})
