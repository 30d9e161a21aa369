"""What the system holds after healing (the "truth" the audit compares the history with), and its file.

final-state.json carries the *whole* truth in columns (orders, tickets, credential versions, events), not
just counts: `drill report` re-judges a run without the stack, and a lost write can only be found by
looking up every acknowledged key. Columns of plain numbers and strings keep a million rows cheap to parse; the
run directory's reader parses them one at a time and hands whole numbers over as array('q') (8 bytes a value),
which the checks use like lists.

Reading it back (`FinalState.from_json`) holds every section against what it must be, once: a section of the
wrong type, a column of the wrong length or with one item of the wrong type is *damaged*. Its data is left out
and named in `damaged` (section -> what was wrong), and the audit makes the metrics that need it unknown,
never a number computed from half a column (a dropped order would be a "lost" one).

A declared audit (a scenario's `audit:`, drills/scenario/audit_section.py) stores its final read as named
`collections` of columns instead (`"audit": "declared"`), each with its own completeness and error; the
reference stack's sections (orders, tickets, credentials, events) are the reference audit's collections, kept
under their own names and types (the format stored runs have). The audit's models see both through
`FinalState.collection(name)`.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.checks.damage import epoch, kind, label
from drills.checks.writing import replace_file
from drills.rundir import files

FORMAT = 1
SAMPLE = 5
NAME = files.FINAL_STATE


def _whole(v: object) -> bool:
    return type(v) is int            # not bool


def _whole_or_null(v: object) -> bool:
    return v is None or type(v) is int


def _text(v: object) -> bool:
    return type(v) is str


def _flag_or_null(v: object) -> bool:
    return v is None or type(v) is bool


WHOLE: frozenset[type] = frozenset((int,))
TEXT: frozenset[type] = frozenset((str,))
TIME: frozenset[type] = frozenset((int, float, type(None)))

# section -> column -> (what each item must be, in words; the types it may have: checked in C over a million
# rows). Every column is required: the writer (to_json) writes them all, and a column of stand-ins would invent
# data (every seat number 0: oversold). `created` is also finite (NaN reads as no time).
ORDER_COLUMNS: dict[str, tuple[str, frozenset[type]]] = {
    "id": ("a whole number", WHOLE), "idempotency_key": ("text", TEXT), "event_id": ("a whole number", WHOLE),
    "created": ("a time or null", TIME), "seats": ("a whole number", WHOLE)}
TICKET_COLUMNS: dict[str, tuple[str, frozenset[type]]] = {
    "id": ("a whole number", WHOLE), "order_id": ("a whole number", WHOLE),
    "event_id": ("a whole number", WHOLE), "seat_no": ("a whole number", WHOLE)}
# an event's numbers the audit compares: whole numbers or null
EVENT_NUMBERS = ("id", "capacity", "sold", "tickets", "seats_taken")
# credential_checks.users[] and session_checks.working[] rows, as verify_credentials / verify_revoked_sessions
# (drills/platform/ticketing_audit.py) write them
CHECK_ROW: dict[str, tuple[str, Callable[[object], bool]]] = {
    "user": ("text", _text), "old_works": ("true/false or null", _flag_or_null),
    "new_works": ("true/false or null", _flag_or_null),
    "acknowledged_version": ("a whole number or null", _whole_or_null),
    "final_version": ("a whole number or null", _whole_or_null)}
SESSION_ROW: dict[str, tuple[str, Callable[[object], bool]]] = {"user": ("text", _text)}


@dataclass
class Collection:
    """One collection of a declared audit's final read, in columns (drills/platform/final_read.py)."""

    columns: dict[str, list] = field(default_factory=dict)   # column -> one value per row
    rows: int = 0
    complete: bool = True                # read to its last page / row
    error: str | None = None             # why not (the read failed, a page was malformed, ...)
    source: str = ""                     # where it was read, e.g. "GET http://127.0.0.1:8080/orders"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "complete": self.complete, "error": self.error, "rows": self.rows,
                "columns": self.columns}

    def sample(self, n: int = SAMPLE) -> list[dict[str, Any]]:
        return [{c: col[k] for c, col in self.columns.items()} for k in range(min(n, self.rows))]


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
    damaged: dict[str, list[str]] = field(default_factory=dict)         # section -> what was wrong (from_json)
    declared: bool = False               # a declared audit's final read: everything is in `collections`
    collections: dict[str, Collection] = field(default_factory=dict)   # name -> columns (declared audits)

    def collection(self, name: str) -> Collection | None:
        """A collection the audit's models read, None when it was not read or is damaged (unknown). The
        reference sections are their own collections: orders (id, idempotency_key, event_id, created, seats)
        and tickets (id, order_id, event_id, seat_no)."""
        if self.declared:
            return None if f"collections.{name}" in self.damaged else self.collections.get(name)
        if name in self.damaged or name not in ("orders", "tickets"):
            return None
        cols: dict[str, list]
        if name == "orders":
            cols = {"id": self.order_ids, "idempotency_key": self.order_keys, "event_id": self.order_events,
                    "created": self.order_created, "seats": self.order_seats}
        else:
            cols = {"id": self.ticket_ids, "order_id": self.ticket_orders, "event_id": self.ticket_events,
                    "seat_no": self.ticket_seats}
        return Collection(cols, len(cols["id"]), self.complete)

    def counts(self) -> dict[str, int]:
        if self.declared:
            return {name: c.rows for name, c in self.collections.items()}
        return {"orders": len(self.order_ids), "tickets": len(self.ticket_ids),
                "users": len(self.credentials), "events": len(self.events)}

    def to_json(self) -> dict[str, Any]:
        if self.declared:
            return {"format": FORMAT, "audit": "declared", "read_at": self.read_at, "complete": self.complete,
                    "errors": self.errors, "counts": self.counts(),
                    "samples": {name: c.sample() for name, c in self.collections.items()},
                    "collections": {name: c.to_json() for name, c in self.collections.items()}}
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
            "orders": {"id": _listed(self.order_ids), "idempotency_key": self.order_keys,
                       "event_id": _listed(self.order_events), "created": _listed(self.order_created),
                       "seats": _listed(self.order_seats)},
            "tickets": {"id": _listed(self.ticket_ids), "order_id": _listed(self.ticket_orders),
                        "event_id": _listed(self.ticket_events), "seat_no": _listed(self.ticket_seats)},
            "credentials": self.credentials,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FinalState:
        """Tolerant of missing sections (an audit interrupted half-way is marked incomplete) and of damaged ones
        (left out, named in `damaged`: see the module docstring)."""
        damaged: dict[str, list[str]] = {}

        def bad(section: str, what: str) -> None:
            damaged.setdefault(section, []).append(f"{NAME}: {what}")

        if doc.get("audit") == "declared":
            return _declared(doc, damaged, bad)
        orders = _columns(doc, "orders", ORDER_COLUMNS, bad)
        tickets = _columns(doc, "tickets", TICKET_COLUMNS, bad)
        complete = doc.get("complete", True)
        if not isinstance(complete, bool):
            bad("complete", f"complete is {kind(complete)}, not true/false: read as incomplete")
            complete = False
        state = cls(
            read_at=epoch(doc.get("read_at")), complete=complete, errors=_errors(doc.get("errors"), bad),
            order_ids=orders["id"], order_keys=orders["idempotency_key"], order_events=orders["event_id"],
            order_created=orders["created"], order_seats=orders["seats"],
            ticket_ids=tickets["id"], ticket_orders=tickets["order_id"], ticket_events=tickets["event_id"],
            ticket_seats=tickets["seat_no"],
            credentials=_credentials(doc.get("credentials"), bad), events=_events(doc.get("events"), bad),
            credential_checks=_checks(doc.get("credential_checks"), "credential_checks", "users", CHECK_ROW, bad),
            session_checks=_checks(doc.get("session_checks"), "session_checks", "working", SESSION_ROW, bad),
        )
        state.damaged = damaged
        if "orders" not in doc or "tickets" not in doc:
            state.complete = False
            state.errors.append(f"{NAME} has no orders/tickets columns")
        return state


def _columns(doc: dict[str, Any], section: str, columns: dict[str, tuple[str, frozenset[type]]],
             bad: Callable[[str, str], None]) -> dict[str, list]:
    """The columns of `section` (orders, tickets), every one as long as `id`; all empty when the section is
    absent or damaged (then named by `bad`), null included."""
    empty: dict[str, list] = {name: [] for name in columns}
    if section not in doc:      # an interrupted audit: the state is incomplete (from_json)
        return empty
    value = doc[section]
    if not isinstance(value, dict):
        bad(section, f"{section} is {kind(value)}, not an object of columns")
        return empty
    ids = value.get("id")
    size = len(ids) if isinstance(ids, (list, array)) else 0
    out: dict[str, list] = {}
    for name, (words, types) in columns.items():
        col = value.get(name)
        if isinstance(col, array):     # numbers, compact (drills/rundir/tolerant.py read_json_columns())
            if (int if col.typecode == "q" else float) in types and len(col) == size:
                out[name] = col     # type: ignore[assignment]   # a list's interface, 8 bytes a value
                continue
            col = col.tolist()
        if not isinstance(col, list):
            bad(section, f"{section}.{name} is {'missing' if name not in value else kind(col)}, not a list")
            return empty
        if len(col) != size:
            bad(section, f"{section}.{name} has {len(col)} values for {size} {section}")
            return empty
        if not set(map(type, col)) <= types or (float in types and not _finite(col)):
            wrong = next(k for k, v in enumerate(col)
                         if type(v) not in types or (type(v) is float and not math.isfinite(v)))
            bad(section, f"{section}.{name}[{wrong}] is {kind(col[wrong])}, not {words}")
            return empty
        out[name] = col
    return out


def order_keys(doc: object) -> list:
    """The orders' `idempotency_key` column of a final-state.json document as read, unchecked ([] when there is
    none): the history holds every acknowledged key a second time, and load_history() lets it hold these very
    objects instead."""
    orders = doc.get("orders") if isinstance(doc, dict) else None
    keys = orders.get("idempotency_key") if isinstance(orders, dict) else None
    return keys if isinstance(keys, list) else []


def _listed(col: list) -> list:
    """A column as JSON can write it (from_json() keeps numbers read compactly as array('q') / array('d'))."""
    return col.tolist() if isinstance(col, array) else col


def _finite(col: list) -> bool:
    return all(map(math.isfinite, (v for v in col if type(v) is float)))


def _errors(value: object, bad: Callable[[str, str], None]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        bad("errors", f"errors is {kind(value)}, not a list: ignored")
        return []
    texts = [e for e in value if isinstance(e, str)]
    if len(texts) < len(value):
        bad("errors", f"{len(value) - len(texts)} of {len(value)} errors not text: left out")
    return texts


def _credentials(value: object, bad: Callable[[str, str], None]) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        bad("credentials", f"credentials is {kind(value)}, not an object (user -> credential version)")
        return {}
    wrong = next((u for u, v in value.items() if not _whole(v)), None)
    if wrong is not None:
        bad("credentials", f"credentials.{label(wrong)} is {kind(value[wrong])}, not a whole number")
        return {}
    return dict(value)


def _events(value: object, bad: Callable[[str, str], None]) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        bad("events", f"events is {kind(value)}, not a list")
        return []
    for k, ev in enumerate(value):
        if not isinstance(ev, dict):
            bad("events", f"events[{k}] is {kind(ev)}, not an object")
            return []
        wrong = next((n for n in EVENT_NUMBERS if not _whole_or_null(ev.get(n))), None)
        if wrong is not None:
            bad("events", f"events[{k}].{wrong} is {kind(ev[wrong])}, not a whole number or null")
            return []
    return list(value)


def _checks(value: object, section: str, rows: str, row: dict[str, tuple[str, Callable[[object], bool]]],
            bad: Callable[[str, str], None]) -> dict | None:
    """credential_checks / session_checks: null, or an object whose `checked` is a whole number and whose
    `rows` (users / working) is a list of objects with `row`'s fields of their types."""
    if value is None:
        return None
    if not isinstance(value, dict):
        bad(section, f"{section} is {kind(value)}, not an object")
        return None
    if not _whole_or_null(value.get("checked")):
        bad(section, f"{section}.checked is {kind(value['checked'])}, not a whole number")
        return None
    items = value.get(rows)
    if items is None:
        return value
    if not isinstance(items, list):
        bad(section, f"{section}.{rows} is {kind(items)}, not a list")
        return None
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            bad(section, f"{section}.{rows}[{k}] is {kind(item)}, not an object")
            return None
        wrong = next((n for n, (_, test) in row.items() if n in item and not test(item[n])), None)
        if wrong is not None:
            bad(section, f"{section}.{rows}[{k}].{wrong} is {kind(item[wrong])}, not {row[wrong][0]}")
            return None
    return value


def write_final_state(run_dir: Path, state: FinalState) -> Path:
    """Write final-state.json atomically (a crash leaves the old file or none, never half a file)."""
    doc = state.to_json()
    return replace_file(Path(run_dir) / files.FINAL_STATE, lambda f: json.dump(doc, f, separators=(",", ":")))


def _declared(doc: dict[str, Any], damaged: dict[str, list[str]], bad: Callable[[str, str], None]) -> FinalState:
    """A declared audit's final state: its collections, each held against the shape Collection.to_json writes;
    a damaged one is left out and named (its models are unknown)."""
    complete = doc.get("complete", True)
    if not isinstance(complete, bool):
        bad("complete", f"complete is {kind(complete)}, not true/false: read as incomplete")
        complete = False
    state = FinalState(read_at=epoch(doc.get("read_at")), complete=complete, errors=_errors(doc.get("errors"), bad),
                       declared=True)
    found = doc.get("collections")
    if not isinstance(found, dict):
        bad("complete", f"collections is {'missing' if 'collections' not in doc else kind(found)}, not an object: "
                        "read as incomplete")
        state.complete = False
        found = {}
    for name, value in found.items():
        c = _collection(str(name), value, bad)
        if c is not None:
            state.collections[str(name)] = c
    state.damaged = damaged
    return state


def _collection(name: str, value: object, bad: Callable[[str, str], None]) -> Collection | None:
    section = f"collections.{name}"
    if not isinstance(value, dict):
        bad(section, f"{section} is {kind(value)}, not an object")
        return None
    columns, rows = value.get("columns"), value.get("rows")
    if not isinstance(columns, dict) or not all(isinstance(c, list) for c in columns.values()):
        bad(section, f"{section}.columns is {kind(columns)}, not an object of lists")
        return None
    if not isinstance(rows, int) or isinstance(rows, bool) or any(len(c) != rows for c in columns.values()):
        sizes = sorted({len(c) for c in columns.values()})
        bad(section, f"{section}: rows is {rows!r}, its columns hold {sizes} values")
        return None
    complete, error, source = value.get("complete"), value.get("error"), value.get("source")
    if not isinstance(complete, bool) or not (error is None or isinstance(error, str)) \
            or not isinstance(source, str):
        bad(section, f"{section}: complete, error or source is not true/false, text or null, text")
        return None
    return Collection(dict(columns), rows, complete, error, source)
