"""The built-in workload for the reference ticketing API: buyers who register, browse, buy and rotate
their passwords (Locust side only).

Each step of a user is one operation chosen from `load.mix` (purchase, browse, rotate_password, login);
in the open model each step waits for a token of the rate gate first. What a buyer does:

* register (or, if the name exists, log in) before anything else; passwords are derived from the run
  secret (drills.rundir.passwords) and never written;
* purchase 1-4 seats: `hot_share` of them as specific seats among the `hot_seats` lowest seat numbers of
  the hot event (buyers contend for the same seats), the rest as a best-available `quantity`. After a
  timeout, a lost connection or a 5xx the purchase is retried with the SAME Idempotency-Key and body, at
  most `max_retries` times, with exponential backoff and jitter; every attempt is its own history line;
* rotate the password now and then, and right after an acknowledged rotation verify it (op
  `verify_password`): the old password must be refused, the new one accepted, the old session revoked;
* when a rotation's fate is unknown (info), find out which password works (op `resolve_password`) before
  doing anything else, so the user never guesses. Each question these two ask is asked again (same
  backoff, at most `max_retries` times) while the answer is no answer: a login shed with 503 overloaded
  changed nothing, and must not leave an acknowledged rotation unverified.

Every HTTP call goes through Locust's client with a `context` dict, which is what the recorder writes.
The HTTP client never retries on its own (`max_retries = 0`): a hidden retry would be an unrecorded write.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust import FastHttpUser, task
from locust.exception import StopUser

from drills.load.config import LoadConfig
from drills.load.locust_side.choices import HotSeats, Mix, backoff
from drills.load.locust_side.classify import INFO, OK, Classified, read_response
from drills.load.locust_side.pacing import takes_own_token
from drills.load.locust_side.plugin import Runtime, runtime
from drills.rundir.passwords import derive_password


class Catalog:
    """The events and the free hot seats, shared by the users of this process (from GET /events)."""

    def __init__(self, hot_seats: int) -> None:
        self.ids: list[int] = []
        self.hot_id: int | None = None
        self.hot_capacity = 0
        self.hot_seats: HotSeats | None = None
        self._hot_set_size = hot_seats

    def update(self, events: Any) -> None:
        items = [e for e in events if isinstance(e, dict) and "id" in e] if isinstance(events, list) else []
        if not items:
            return
        hot = next((e for e in items if e.get("name") == "hot"), max(items, key=lambda e: e.get("capacity", 0)))
        self.ids = [int(e["id"]) for e in items]
        self.hot_id, self.hot_capacity = int(hot["id"]), int(hot.get("capacity") or 0)
        if self.hot_seats is None:
            self.hot_seats = HotSeats(min(self._hot_set_size, self.hot_capacity or self._hot_set_size))


@dataclass
class Shop:
    """What the buyers of one Locust process share: the config, the run tag, the mix and the catalogue."""

    config: LoadConfig
    run_tag: str      # in every user name and idempotency key: unique per run, shared by all its workers
    mix: Mix
    catalog: Catalog
    user_ids: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def of(cls, rt: Runtime) -> Shop:
        """This process's shop, kept on its Runtime (built by the first buyer)."""
        shop = rt.shared.get(cls.__name__)
        if shop is None:
            config = rt.config or LoadConfig(api_url="", run_dir=".", seed=0, duration=60.0)
            tag = hashlib.sha256(f"{rt.secret}:{config.seed}:{config.run_dir}".encode()).hexdigest()[:6]
            shop = rt.shared[cls.__name__] = cls(config, tag, Mix(config.mix), Catalog(config.hot_seats))
        return shop


class OperationFailed(Exception):
    """Marks a compound operation as failed in Locust's own statistics."""


class TicketBuyer(FastHttpUser):
    """A buyer of the reference stack; see the module docstring."""

    max_retries = 0
    concurrency = 2

    # Who the buyer is now and what it knows; set by _new_identity (on start, and when it becomes another buyer).
    username: str
    cv: int                         # the credential version it believes is current
    seq: int
    token: str | None
    registered: bool
    confirmed: bool
    taken: bool
    candidates: list[int] | None    # credential versions to try when it no longer knows which one works

    def __init__(self, environment: Any) -> None:
        self.rt = runtime(environment)
        self.shop = Shop.of(self.rt)
        self.network_timeout = self.connection_timeout = self.shop.config.request_timeout  # read by the client
        super().__init__(environment)

    def on_start(self) -> None:
        """Register and log in once while being spawned, outside the arrival rate: the target rate is then
        all steady-state operations, and the registration burst belongs to the warmup. Whatever fails here
        is retried by the steps."""
        self.n = next(self.shop.user_ids)
        self.rng = random.Random(f"{self.shop.config.seed}:{self.rt.worker}:{self.n}")
        self.generation = -1
        self._new_identity()
        if self.rt.stopping:
            return
        self.register()
        if self.registered:
            self.login()
        if self.shop.catalog.hot_id is None:
            self.browse(listing=True)

    def wait_time(self) -> float:
        if self.rt.gate is not None:
            return 0.0  # the gate paces the open model
        low, high = self.shop.config.think_time
        return self.rng.uniform(low, high)

    @task
    @takes_own_token  # the gate's token is taken here, before anything else (not again by pacing)
    def step(self) -> None:
        gate = self.rt.gate
        if gate is not None and not gate.acquire():
            raise StopUser()
        if self.rt.stopping:
            raise StopUser()
        if not self.registered:
            self.register()
        elif self.candidates:
            self.resolve_password()
        elif self.token is None:
            self.login()
        elif self.shop.catalog.hot_id is None:
            self.browse(listing=True)
        else:
            getattr(self, self.shop.mix.pick(self.rng))()

    # -- operations --------------------------------------------------------------------------------
    def register(self) -> None:
        ctx = {"op": "register", "user": self.username, "credential_version": 1}
        r = self._http("POST", "/users", ctx, json={"username": self.username, "password": self._pw(1)})
        # Taken: an earlier attempt of ours committed (or the name is someone else's: the login will tell).
        # Unknown: the login that follows will tell too.
        self.taken = r.error == "username_taken"
        self.registered = r.outcome in (OK, INFO) or self.taken

    def login(self) -> None:
        ctx = {"op": "login", "user": self.username, "credential_version": self.cv, "_token": True}
        r = self._http("POST", "/sessions", ctx, json={"username": self.username, "password": self._pw(self.cv)})
        if r.outcome == OK:
            self._session(r.json)
        elif r.status == 401:
            if self.confirmed:  # our idea of the password is off: find out which one works
                self.candidates = [v for v in (self.cv - 1, self.cv + 1) if v >= 1]
            elif self.taken:    # the name belongs to someone else: become another buyer
                self._new_identity()
            else:               # the registration never committed
                self.registered = False

    def browse(self, listing: bool | None = None) -> None:
        if listing is None:
            listing = not self.shop.catalog.ids or self.rng.random() < 0.5
        if listing:
            r = self._http("GET", "/events", {"op": "browse", "user": self.username}, name="/events")
            if r.outcome == OK:
                self.shop.catalog.update(r.body)
        else:
            event_id = self.rng.choice(self.shop.catalog.ids)
            self._http("GET", f"/events/{event_id}", {"op": "browse", "user": self.username, "event_id": event_id},
                       name="/events/{id}")

    def purchase(self) -> None:
        event_id, count = self.shop.catalog.hot_id, self.rng.randint(1, 4)
        hot = self.shop.catalog.hot_seats
        seats: list[int] | None = None
        if hot is not None and self.rng.random() < self.shop.config.hot_share:
            seats = hot.pick(self.rng, count) or None  # None: the hot set is sold out
        body: dict = {"seats": seats} if seats else {"quantity": count}
        self.seq += 1
        key = f"{self.shop.run_tag}-{self.rt.worker}-{self.n}.{self.generation}-{self.seq}"
        for attempt in range(1, self.shop.config.max_retries + 2):
            ctx = {"op": "purchase", "user": self.username, "key": key, "attempt": attempt, "event_id": event_id,
                   "seats": seats, "quantity": len(seats) if seats else count}
            r = self._http("POST", f"/events/{event_id}/purchases", ctx, json=body, name="/events/{id}/purchases",
                           headers={"Idempotency-Key": key}, token=self.token)
            if hot is not None and r.outcome in (OK, "fail"):
                hot.sold(r.json.get("seats") if r.outcome == OK else r.json.get("unavailable"))
            if r.outcome == OK:
                return
            if r.status == 401:
                self.token = None
                return
            if not self._retry_after(r, attempt):
                return

    def rotate_password(self) -> None:
        old_cv, old_token = self.cv, self.token
        ctx = {"op": "rotate_password", "user": self.username, "credential_version": old_cv + 1, "_token": True}
        r = self._http("POST", "/users/me/password", ctx, token=old_token,
                       json={"old_password": self._pw(old_cv), "new_password": self._pw(old_cv + 1)})
        if r.outcome == OK:
            self._session(r.json)
            self.verify_password(old_cv, self.cv, old_token)
        elif r.outcome == INFO:  # it may or may not have happened: ask the API which password works
            self.token, self.candidates = None, [old_cv + 1, old_cv]
        elif r.error == "unauthorized":
            self.token = None
        elif r.error == "invalid_credentials":
            self.token, self.candidates = None, [v for v in (old_cv - 1, old_cv + 1) if v >= 1]

    def verify_password(self, old_cv: int, new_cv: int, old_token: str | None) -> None:
        """After an acknowledged rotation: old password refused, new accepted, old session revoked."""
        started, ctx = time.time(), self._announce({"op": "verify_password", "user": self.username,
                                                    "credential_version": new_cv})
        old = self._ask("POST", "/sessions", "sub:verify_password",
                        json={"username": self.username, "password": self._pw(old_cv)})
        new = self._ask("POST", "/sessions", "sub:verify_password",
                        json={"username": self.username, "password": self._pw(new_cv)})
        if new.outcome == OK:
            self._session(new.json)
        session = self._ask("GET", "/me", "sub:verify_password", token=old_token)
        checks = {"old_password": _verdict(old), "new_password": _verdict(new), "old_session": _verdict(session)}
        violations = [name for name, key, bad in (("old_password_accepted", "old_password", "accepted"),
                                                  ("new_password_rejected", "new_password", "rejected"),
                                                  ("revoked_session_works", "old_session", "accepted"))
                      if checks[key] == bad]
        if violations:
            outcome, error = "fail", ",".join(violations)
        elif checks == {"old_password": "rejected", "new_password": "accepted", "old_session": "rejected"}:
            outcome, error = OK, None
        else:
            outcome, error = INFO, "inconclusive"
        self._fire("verify_password", ctx, started, outcome, error, verify=checks)

    def resolve_password(self) -> None:
        """Which of the candidate passwords works now (after an indeterminate or lost rotation)."""
        started, ctx = time.time(), self._announce({"op": "resolve_password", "user": self.username})
        candidates, refused, found = list(self.candidates or []), [], None
        for version in candidates:
            r = self._ask("POST", "/sessions", "sub:resolve_password",
                          json={"username": self.username, "password": self._pw(version)})
            if r.outcome == OK:
                self._session(r.json)
                found = self.cv
                break
            if r.status != 401:
                break  # no answer: try again at the next step
            refused.append(version)
        if found is not None:
            self.candidates = None
            outcome, error = OK, None
        elif len(refused) == len(candidates):
            outcome, error = "fail", "password_unknown"
        else:
            outcome, error = INFO, "inconclusive"
        self._fire("resolve_password", ctx, started, outcome, error, credential_version=found,
                   candidates=candidates)
        if outcome == "fail":
            self._new_identity()  # nothing works: continue as a new buyer

    # -- plumbing ----------------------------------------------------------------------------------
    def _new_identity(self) -> None:
        self.generation += 1
        suffix = f"-{self.generation}" if self.generation else ""
        self.username = f"u-{self.shop.run_tag}-{self.rt.worker}-{self.n}{suffix}"
        self.cv, self.seq = 1, 0
        self.token = None
        self.registered = self.confirmed = self.taken = False
        self.candidates = None

    def _pw(self, version: int) -> str:
        return derive_password(self.rt.secret, self.username, version)

    def _session(self, body: dict) -> None:
        if body.get("token"):
            self.token = body["token"]
            self.cv = int(body.get("credential_version") or self.cv)
            self.confirmed = True

    def _announce(self, ctx: dict) -> dict:
        if self.rt.recorder is not None:
            self.rt.recorder.begin(ctx)
        return ctx

    def _http(self, method: str, path: str, ctx: dict, name: str | None = None, json: Any = None,
              headers: dict | None = None, token: str | None = None, announce: bool = True) -> Classified:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if announce:
            self._announce(ctx)
        resp = self.client.request(method, path, name=name or path, json=json, headers=hdrs, context=ctx)
        return read_response(resp)

    def _sub(self, method: str, path: str, name: str, json: Any = None, token: str | None = None) -> Classified:
        """A step of a compound operation: in Locust's stats under `name`, not in the history."""
        return self._http(method, path, {"_skip": True}, name=name, json=json, token=token, announce=False)

    def _ask(self, method: str, path: str, name: str, json: Any = None, token: str | None = None) -> Classified:
        """A question of a check (is this password / session accepted?), asked again like a purchase while the
        answer is no answer (an accepted or rejected answer is never retryable)."""
        for attempt in itertools.count(1):
            r = self._sub(method, path, name, json=json, token=token)
            if not self._retry_after(r, attempt):
                return r
        raise AssertionError("unreachable: the count never ends")

    def _retry_after(self, r: Classified, attempt: int) -> bool:
        """Whether attempt number `attempt` (1-based), answered `r`, is sent again: no answer (timeout, 5xx,
        408, 429), retries left and the load not stopping. True after the backoff has been waited."""
        if not _retryable(r) or attempt > self.shop.config.max_retries or self.rt.stopping:
            return False
        gevent.sleep(backoff(attempt, self.rng))
        return True

    def _fire(self, name: str, ctx: dict, started: float, outcome: str, error: str | None, **fields: Any) -> None:
        """Record a compound operation through events.request, like any request."""
        self.environment.events.request.fire(
            request_type="OP", name=name, response_time=(time.time() - started) * 1000.0, response_length=0,
            response=None, context={**ctx, **fields, "outcome": outcome, "error": error},
            exception=None if outcome == OK else OperationFailed(f"{outcome}: {error}"), start_time=started,
        )


def _retryable(r: Classified) -> bool:
    """No answer worth keeping: the same request may be sent again (purchases with the same key)."""
    return r.status is None or r.status >= 500 or r.status in (408, 429)


def _verdict(r: Classified) -> str:
    """accepted (2xx) / rejected (401) / unknown (anything else: no answer to the question)."""
    if r.outcome == OK:
        return "accepted"
    return "rejected" if r.status == 401 else "unknown"
