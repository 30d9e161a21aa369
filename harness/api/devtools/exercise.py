#!/usr/bin/env python3
"""Dev tool: exercise a running ticketing API and check its invariants.

Not part of the service. Stdlib only, so it also runs inside the API
container. Bounded in requests and time; talks only to the URLs given.

    python3 harness/api/devtools/exercise.py http://127.0.0.1:8001 [more replica URLs...]
        [--event ID] [--buyers 32] [--same-key 16] [--rotations 8] [--seconds 60]
        [--audit-token T]   (default: $AUDIT_TOKEN; the audit endpoints need it)

Checks:
  * oversell: concurrent buyers (more than seats) on one event, then the
    audit endpoints prove no seat was sold twice and sold == tickets ==
    seats acknowledged to clients (with no 5xx expected on a healthy DB);
  * idempotency: N concurrent requests with one key -> exactly one order,
    all successful responses identical; the same key from another user is
    that user's own order (keys are per user);
  * rotation: after an acknowledged password change the old password and
    old sessions fail, the new ones work.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import itertools
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from typing import Any

Response = tuple[int, dict[str, str], Any]
AUDIT_HEADERS: dict[str, str] = {}  # Authorization for the audit endpoints (set by main)


class Client:
    """One keep-alive HTTP connection (not thread-safe: one per thread)."""

    def __init__(self, base: str, timeout: float = 15.0):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"content-type": "application/json", **(headers or {})}
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                parsed = json.loads(raw) if raw else None
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError


def user_with_token(c: Client, prefix: str) -> tuple[str, str, str]:
    name = f"{prefix}-{secrets.token_hex(4)}"
    pw = secrets.token_urlsafe(12)
    st, _, body = c.call("POST", "/users", {"username": name, "password": pw})
    assert st == 201, (st, body)
    st, _, body = c.call("POST", "/sessions", {"username": name, "password": pw})
    assert st == 201, (st, body)
    return name, pw, body["token"]


def audit_all(c: Client, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        st, _, body = c.call("GET", f"/audit/{kind}?after={after}&limit=10000", headers=AUDIT_HEADERS)
        assert st == 200, (st, body)
        items.extend(body["items"])
        if body["next_after"] is None:
            return items
        after = body["next_after"]


def check_oversell(urls: list[str], event_id: int, buyers: int, deadline: float) -> bool:
    c = Client(urls[0])
    st, _, ev = c.call("GET", f"/events/{event_id}")
    assert st == 200, (st, ev)
    print(f"[oversell] event {event_id}: capacity={ev['capacity']} sold={ev['sold']} buyers={buyers}")
    tokens = [user_with_token(Client(urls[i % len(urls)]), "buyer")[2] for i in range(buyers)]
    acked: list[tuple[int, list[int]]] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    n_req = itertools.count()

    def buyer(i: int) -> None:
        cl = Client(urls[i % len(urls)])
        auth = {"authorization": f"Bearer {tokens[i]}"}
        while time.monotonic() < deadline:
            k = next(n_req)
            if k % 3 == 0:
                body: dict[str, Any] = {"seats": sorted({1 + (k * 7 + j) % ev["capacity"] for j in range(1 + k % 2)})}
            else:
                body = {"quantity": 1 + k % 4}
            st, _, resp = cl.call("POST", f"/events/{event_id}/purchases", body,
                                  {**auth, "idempotency-key": f"ov-{secrets.token_hex(8)}"})
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st == 201:
                    acked.append((resp["order_id"], resp["seats"]))
            if st == 409 and resp["error"] == "sold_out" and body.get("quantity") == 1:
                return

    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(buyers) as pool:
        list(pool.map(buyer, range(buyers)))
    dt = time.monotonic() - t0
    seats = [s for _, ss in acked for s in ss]
    tickets = [t for t in audit_all(c, "tickets") if t["event_id"] == event_id]
    events = {e["id"]: e for e in audit_all(c, "events")}
    e = events[event_id]
    ok = True
    ok &= len(seats) == len(set(seats))
    ok &= len({t["seat_no"] for t in tickets}) == len(tickets)
    ok &= e["sold"] == e["tickets"] == e["seats_taken"] <= e["capacity"]
    ok &= set(seats) <= {t["seat_no"] for t in tickets}
    ok &= statuses.get(500, 0) == 0
    print(f"[oversell] {sum(statuses.values())} requests in {dt:.1f}s ({sum(statuses.values())/dt:.0f}/s),"
          f" statuses={dict(sorted(statuses.items()))}, acked orders={len(acked)} seats={len(seats)},"
          f" audit sold={e['sold']} tickets={e['tickets']} capacity={e['capacity']} -> {'OK' if ok else 'FAIL'}")
    return ok


def check_same_key(urls: list[str], event_id: int, n: int) -> bool:
    c = Client(urls[0])
    _, _, token = user_with_token(c, "dup")
    key = f"same-{secrets.token_hex(8)}"
    barrier = threading.Barrier(n)

    def go(i: int) -> Response:
        cl = Client(urls[i % len(urls)])
        cl.call("GET", "/healthz")  # connect before the barrier
        barrier.wait()
        return cl.call("POST", f"/events/{event_id}/purchases", {"quantity": 2},
                       {"authorization": f"Bearer {token}", "idempotency-key": key})

    with cf.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(go, range(n)))
    codes = sorted(r[0] for r in results)
    bodies = {json.dumps(r[2], sort_keys=True) for r in results if r[0] in (200, 201)}
    replayed = sum(1 for r in results if r[0] == 200 and r[1].get("idempotent-replayed") == "true")
    orders = [o for o in audit_all(c, "orders") if o["idempotency_key"] == key]
    # A different body with the same key must be refused.
    st, _, body = c.call("POST", f"/events/{event_id}/purchases", {"quantity": 3},
                         {"authorization": f"Bearer {token}", "idempotency-key": key})
    # Another user with the same key text buys for themselves: keys are per user.
    _, _, other = user_with_token(c, "dup2")
    st2, _, mine = c.call("POST", f"/events/{event_id}/purchases", {"quantity": 2},
                          {"authorization": f"Bearer {other}", "idempotency-key": key})
    first = json.loads(next(iter(bodies))) if bodies else {}
    ok = codes.count(201) == 1 and replayed == n - 1 and len(bodies) == 1 and len(orders) == 1
    ok &= st == 422 and body["error"] == "idempotency_key_reused"
    ok &= st2 == 201 and mine["order_id"] != first.get("order_id") and mine["user_id"] != first.get("user_id")
    print(f"[same-key] {n} concurrent: codes={codes} replayed={replayed} distinct bodies={len(bodies)}"
          f" orders in db={len(orders)} reuse->{st} other user->{st2} -> {'OK' if ok else 'FAIL'}")
    return ok


def check_rotation(urls: list[str], rounds: int) -> bool:
    c = Client(urls[0])
    name, pw, token = user_with_token(c, "rot")
    ok = True
    for r in range(rounds):
        other = Client(urls[(r + 1) % len(urls)])
        st_s, _, extra = other.call("POST", "/sessions", {"username": name, "password": pw})
        new_pw = secrets.token_urlsafe(12)
        st, _, body = c.call("POST", "/users/me/password", {"old_password": pw, "new_password": new_pw},
                             {"authorization": f"Bearer {token}"})
        if st != 200:
            print(f"[rotation] round {r}: change -> {st} {body}")
            return False
        old_token, token, old_pw, pw = token, body["token"], pw, new_pw
        checks = [
            other.call("GET", "/me", headers={"authorization": f"Bearer {old_token}"})[0] == 401,
            other.call("GET", "/me", headers={"authorization": f"Bearer {extra['token']}"})[0] == 401,
            other.call("POST", "/sessions", {"username": name, "password": old_pw})[0] == 401,
            other.call("GET", "/me", headers={"authorization": f"Bearer {token}"})[0] == 200,
            other.call("POST", "/sessions", {"username": name, "password": pw})[0] == 201,
        ]
        ok &= st_s == 201 and all(checks) and body["credential_version"] == r + 2
    creds = [u for u in audit_all(c, "credentials") if u["username"] == name]
    ok &= len(creds) == 1 and creds[0]["credential_version"] == rounds + 1
    print(f"[rotation] {rounds} rotations across replicas, old password/sessions rejected -> {'OK' if ok else 'FAIL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--event", type=int, help="event to sell out (default: smallest)")
    ap.add_argument("--buyers", type=int, default=32)
    ap.add_argument("--same-key", type=int, default=16)
    ap.add_argument("--rotations", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=60.0, help="max duration of the oversell phase")
    ap.add_argument("--audit-token", default=os.environ.get("AUDIT_TOKEN", ""),
                    help="bearer token of the audit endpoints (default: $AUDIT_TOKEN)")
    args = ap.parse_args()
    AUDIT_HEADERS["authorization"] = f"Bearer {args.audit_token}"
    c = Client(args.urls[0])
    st, _, evs = c.call("GET", "/events")
    assert st == 200, (st, evs)
    event_id = args.event or min(evs, key=lambda e: (e["available"] == 0, e["capacity"]))["id"]
    hot = max(evs, key=lambda e: e["capacity"])["id"]
    results = [
        check_same_key(args.urls, hot, args.same_key),
        check_rotation(args.urls, args.rotations),
        check_oversell(args.urls, event_id, args.buyers, time.monotonic() + args.seconds),
    ]
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
