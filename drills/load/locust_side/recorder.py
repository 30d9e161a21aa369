"""Turns Locust request events into history.jsonl lines and per-second stats.

Hooked to Locust's `events.request` (by `drills.load.locust_side.plugin`), so it records every request any locustfile
makes, the built-in workload and a user's own alike. A request is described by Locust's event arguments
plus the optional `context` dict passed to the client call; recognised context keys:

  op, user, key, attempt, event_id, seats, quantity, order_id, ticket_ids, credential_version
      copied into the history line (`op` defaults to the request's Locust name);
  outcome, error, status
      override the classification (e.g. a compound operation fired by hand);
  _skip
      do not record this request (a sub-step of a compound operation recorded on its own);
  _token
      keep the session `token` of a 2xx JSON body — in the owner-only token file (`tokens`), never in the
      history, which is uploaded with the reports — so the audit can check after the drill that sessions
      revoked by a rotation stay dead (lab sessions of synthetic users; never passwords);
  _op
      set by `begin()`: the operation was announced when it started (offered load, in-flight tracking).

Any other context key that does not start with "_" is copied into the line as is.

A declared audit's write identities from a body (`response.PATH`, `request.PATH`: drills/scenario/audit_section.py)
are recorded here, where the bodies still exist: for each op that declares one, the value at PATH of the 2xx
response body (or of the JSON request body) is written under the source's own spelling, e.g.
`"response.order.id": 17`, so the checks read it as a history field like any other.
No Locust import: the listener is a plain callable, unit-tested directly.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from drills.load.locust_side.classify import INFO, OK, classify, read_response
from drills.load.locust_side.stats import SecondStats
from drills.rundir.codec import DECODE_ERRORS, loads
from drills.rundir.writers import BufferedLineWriter
from drills.scenario.audit_section import MISSING, at_path

STANDARD_KEYS = ("op", "worker", "user", "invoke", "complete", "outcome", "status", "error", "key", "attempt",
                 "event_id", "seats", "quantity", "order_id", "ticket_ids", "replica", "credential_version", "lb")
ACKNOWLEDGED_KEYS = ("order_id", "ticket_ids", "seats", "credential_version")  # taken from a 2xx body
_KNOWN_KEYS = frozenset(STANDARD_KEYS)


class Recorder:
    """One per Locust process that generates load."""

    def __init__(self, worker: str, history: BufferedLineWriter | None, stats: SecondStats | None,
                 clock: Callable[[], float] = time.time, tokens: BufferedLineWriter | None = None,
                 record: dict[str, list[str]] | None = None) -> None:
        self.worker = worker
        self.record = record or {}   # op -> the response./request. sources its lines carry (LoadConfig.record)
        self.history = history
        self.tokens = tokens
        self.stats = stats
        self.clock = clock
        self.recorded = 0
        self._ids = itertools.count(1)
        self._inflight: dict[int, tuple[float, dict]] = {}

    # -- announced operations ------------------------------------------------------------------------
    def begin(self, context: dict) -> dict:
        """Call right before an operation starts: counts it as offered and tracks it until it completes,
        so an operation killed by the stop is still written (as info) instead of vanishing."""
        op_id = next(self._ids)
        context["_op"] = op_id
        now = self.clock()
        self._inflight[op_id] = (now, context)
        if self.stats is not None:
            self.stats.started(now)
        return context

    def abandon_inflight(self) -> int:
        """Write every announced operation that never completed (killed at stop) as info/Abandoned."""
        now = self.clock()
        pending = list(self._inflight.values())
        self._inflight.clear()
        for started, ctx in pending:
            self._write(ctx, ctx.get("op") or "unknown", started, now, INFO, None, "Abandoned", None, None,
                        announced=True)
        return len(pending)

    # -- the events.request listener -----------------------------------------------------------------
    def on_request(self, request_type: str = "", name: str = "", response_time: float | None = 0.0,
                   response_length: int = 0, response: Any = None, context: dict | None = None,
                   exception: BaseException | None = None, start_time: float | None = None,
                   **_kwargs: Any) -> None:
        ctx = context or {}
        if ctx.get("_skip"):
            return
        op_id = ctx.get("_op")
        announced = op_id is not None and self._inflight.pop(op_id, None) is not None
        elapsed = (response_time or 0.0) / 1000.0
        invoke = start_time if start_time else self.clock() - elapsed
        body, headers, status = None, None, ctx.get("status")
        if "outcome" in ctx:
            outcome, error = ctx["outcome"], ctx.get("error")
            if response is not None:
                seen = read_response(response, exception)
                body, headers, status = seen.body, seen.headers, status if status is not None else seen.status
        elif response is not None:
            seen = read_response(response, exception)
            body, headers, status, outcome, error = seen.body, seen.headers, seen.status, seen.outcome, seen.error
        else:
            outcome, error = classify(None, None, None, exception)
        op = ctx.get("op") or name
        self._write(ctx, op, invoke, invoke + elapsed, outcome, status, error, body, headers,
                    announced=announced, response=response)

    def _write(self, ctx: dict, op: str, invoke: float, complete: float, outcome: str, status: int | None,
               error: str | None, body: Any, headers: Any, announced: bool, response: Any = None) -> None:
        get = ctx.get
        rec: dict[str, Any] = {
            "op": op, "worker": self.worker, "user": get("user"), "invoke": round(invoke, 3),
            "complete": round(complete, 3), "outcome": outcome, "status": status, "error": error,
            "key": get("key"), "attempt": get("attempt"), "event_id": get("event_id"), "seats": get("seats"),
            "quantity": get("quantity"), "order_id": get("order_id"), "ticket_ids": get("ticket_ids"),
            "replica": headers.get("X-Replica") if headers is not None else None,
            "credential_version": get("credential_version"),
            "lb": headers.get("X-LB") if headers is not None else None,   # the load balancer that answered
        }
        if outcome == OK and isinstance(body, dict):
            for k in ACKNOWLEDGED_KEYS:
                if k in body:
                    rec[k] = body[k]
            if get("_token") and isinstance(body.get("token"), str) and self.tokens is not None:
                self.tokens.append({"user": rec["user"], "op": op, "complete": rec["complete"],
                                    "token": body["token"]})
        sources = self.record.get(op)
        if sources:
            _record_sources(rec, sources, body if outcome == OK else None, response)
        extra = ctx.keys() - _KNOWN_KEYS
        if extra:
            for k in extra:
                if not k.startswith("_"):
                    rec[k] = ctx[k]
        if self.history is not None:
            self.history.append(rec)
        if self.stats is not None:
            self.stats.completed(complete, outcome, (complete - invoke) * 1000.0, counted_start=announced)
        self.recorded += 1


def _record_sources(rec: dict[str, Any], sources: list[str], body: Any, response: Any) -> None:
    """Write each response./request. source found into the line under its own spelling (null when the body has
    no such path: an identity that is not there is an unkeyed write, which the audit counts)."""
    request_body: Any = MISSING
    for source in sources:
        where, _, path = source.partition(".")
        if where == "request":
            if request_body is MISSING:
                request_body = _request_json(response)
            value = at_path(request_body, path)
        else:
            value = at_path(body, path) if body is not None else MISSING
        rec[source] = None if value is MISSING else value


def _request_json(response: Any) -> Any:
    """The JSON body of the request behind `response` (requests' or FastHttp's), None when it has none."""
    raw = getattr(getattr(response, "request", None), "body", None)
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, (bytes, bytearray)):
        return None
    try:
        return loads(bytes(raw))
    except DECODE_ERRORS:
        return None
