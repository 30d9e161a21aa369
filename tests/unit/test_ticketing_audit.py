"""Reading the truth back (against a fake API: no network) and the final-state.json round trip."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from drills.checks.finalstate import FinalState
from drills.checks.history import load_history
from drills.platform import ticketing_audit as truth
from drills.platform.ticketing import Response
from drills.rundir.files import history_paths
from drills.rundir.passwords import derive_password
from drills.rundir.tolerant import Problems
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at

SECRET = "s3cret"


class FakePages:
    """The API's audit endpoints as the final read sees them: keyset pages of one row first, then the rest."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.calls: list[tuple[str, dict, dict]] = []

    def get(self, url: str, params: dict, headers: dict, timeout: float) -> requests.Response:
        self.calls.append((url, dict(params), dict(headers)))
        kind = url.rsplit("/", 1)[1]
        rows = self.api.tables.get(kind, [])
        if "after" not in params:
            page, after = rows[:1], (1 if len(rows) > 1 else None)
        elif kind == self.api.broken:
            raise requests.ConnectionError("connection reset")
        else:
            page, after = rows[1:], None
        resp = requests.Response()
        resp.status_code, resp._content = 200, json.dumps({"items": page, "next_after": after}).encode()
        return resp


class FakeApi:
    """Just enough of TicketingClient: the audit pages, logins and /me."""

    base_url = "http://127.0.0.1:8080"

    def __init__(self, tables: dict[str, list[dict]], passwords: dict[str, set[str]] | None = None,
                 live_tokens: set[str] | None = None, broken: str | None = None) -> None:
        self.tables, self.passwords = tables, passwords or {}
        self.live_tokens, self.broken = live_tokens or set(), broken
        self.logins: list[tuple[str, str]] = []
        self.http = FakePages(self)

    def audit_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer audit-token"}

    def login(self, username: str, password: str) -> Response:
        self.logins.append((username, password))
        ok = password in self.passwords.get(username, set())
        return Response(201 if ok else 401, {"token": "t"} if ok else {"error": "invalid_credentials"}, {})

    def me(self, token: str) -> Response:
        return Response(200 if token in self.live_tokens else 401, {}, {})


def tables() -> dict[str, list[dict]]:
    return {
        "orders": [{"id": 1, "idempotency_key": "key-1", "user_id": 1, "event_id": 1, "seats": [1],
                    "created_at": "2023-11-14T22:13:21.010000+00:00"},
                   {"id": 2, "idempotency_key": "key-2", "user_id": 1, "event_id": 1, "seats": [2, 3],
                    "created_at": "2023-11-14T22:13:22.010000+00:00"}],
        "tickets": [{"id": 1, "order_id": 1, "event_id": 1, "seat_no": 1},
                    {"id": 2, "order_id": 2, "event_id": 1, "seat_no": 2},
                    {"id": 3, "order_id": 2, "event_id": 1, "seat_no": 3}],
        "credentials": [{"user_id": 1, "username": "alice", "credential_version": 2,
                         "password_changed_at": "2023-11-14T22:13:21+00:00"},
                        {"user_id": 2, "username": "bob", "credential_version": 2,
                         "password_changed_at": "2023-11-14T22:13:21+00:00"}],
        "events": [{"id": 1, "name": "hot", "capacity": 100, "sold": 3, "tickets": 3, "seats_taken": 3}],
    }


def test_read_final_state() -> None:
    api = FakeApi(tables())
    state = truth.read_final_state(api)  # type: ignore[arg-type]
    assert state.complete and state.errors == []
    url, params, headers = api.http.calls[0]
    assert url == "http://127.0.0.1:8080/audit/orders" and params == {"limit": 5000}
    assert headers == {"Authorization": "Bearer audit-token"} and api.http.calls[1][1] == {"limit": 5000, "after": "1"}
    assert state.order_keys == ["key-1", "key-2"] and state.order_seats == [1, 2]
    assert state.order_created[0] == 1700000001.01
    assert state.ticket_seats == [1, 2, 3] and state.credentials == {"alice": 2, "bob": 2}
    assert state.counts() == {"orders": 2, "tickets": 3, "users": 2, "events": 1}


def test_a_failing_audit_page_marks_the_state_incomplete() -> None:
    state = truth.read_final_state(FakeApi(tables(), broken="tickets"))  # type: ignore[arg-type]
    assert not state.complete and len(state.ticket_ids) == 1
    assert state.errors == ["GET http://127.0.0.1:8080/audit/tickets (page 2): ConnectionError: connection reset"]


def test_derive_password_matches_the_contract() -> None:
    import hashlib
    import hmac
    expected = hmac.new(b"s3cret", b"alice:2", hashlib.sha256).hexdigest()[:24]
    assert derive_password("s3cret", "alice", 2) == expected


def test_verify_credentials() -> None:
    pw = lambda user, v: derive_password(SECRET, user, v)  # noqa: E731
    api = FakeApi(tables(), passwords={"alice": {pw("alice", 2)},                    # rotated properly
                                       "bob": {pw("bob", 1), pw("bob", 2)},          # old one still works
                                       "carol": {pw("carol", 1)}})                   # rotation not in effect
    checks = truth.verify_credentials(api, {"alice": 2, "bob": 2, "carol": 2}, SECRET,
                                      final_versions={"alice": 2, "bob": 2, "carol": 1})
    rows = {r["user"]: r for r in checks["users"]}
    assert checks["checked"] == 3 and checks["errors"] == 0
    assert (rows["alice"]["old_works"], rows["alice"]["new_works"]) == (False, True)
    assert (rows["bob"]["old_works"], rows["bob"]["new_works"]) == (True, True)
    assert (rows["carol"]["old_works"], rows["carol"]["new_works"]) == (True, False)
    assert checks["users"][0]["user"] == "carol"  # suspicious users are checked first


def test_verify_credentials_samples() -> None:
    rotations = {f"u{i}": 2 for i in range(50)}
    checks = truth.verify_credentials(FakeApi({}), rotations, SECRET, limit=10)
    assert checks["eligible"] == 50 and len(checks["users"]) == 10


def test_revoked_sessions(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.op("login", "ok", 1.0, user="alice", token="tok-old")
    run.op("login", "ok", 1.5, user="bob", token="tok-bob")
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("bob", "ok", 3.0, version=2)
    run.op("login", "ok", 5.0, user="alice", token="tok-new")  # after the rotation: must keep working
    out = run.write()
    history = load_history(history_paths(out), Problems())
    checks = truth.verify_revoked_sessions(FakeApi({}, live_tokens={"tok-bob", "tok-new"}), history)
    assert (checks["eligible"], checks["checked"]) == (2, 2)
    assert checks["working"] == [{"user": "bob", "minted_t": at(1.51), "op": "login"}]
    assert "tok" not in json.dumps(checks["working"])  # tokens are never written


def test_no_tokens_leaves_sessions_unknown(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.rotate("alice", "ok", 3.0, version=2)
    history = load_history(history_paths(run.write()), Problems())
    checks = truth.verify_revoked_sessions(FakeApi({}), history)
    assert checks["checked"] == 0 and "no session tokens" in checks["reason"]


def test_collect_writes_final_state_that_judge_reads(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.purchase("ok", 1.0, key="key-1", seats=(1,), order_id=1)
    run.purchase("ok", 2.0, key="key-2", seats=(2, 3), order_id=2)
    run.purchase("ok", 3.0, key="key-3", seats=(4,), order_id=3)  # acknowledged, not in the tables: lost
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("bob", "ok", 3.0, version=2)
    out = run.write()
    pw = lambda user, v: derive_password(SECRET, user, v)  # noqa: E731
    api = FakeApi(tables(), passwords={"alice": {pw("alice", 2)}, "bob": {pw("bob", 1), pw("bob", 2)}})
    state = truth.collect(api, out)  # type: ignore[arg-type]
    doc = json.loads((out / "final-state.json").read_text())
    assert doc["counts"] == {"orders": 2, "tickets": 3, "users": 2, "events": 1}
    assert doc["samples"]["orders"][0]["idempotency_key"] == "key-1"
    assert FinalState.from_json(doc).order_keys == state.order_keys
    result = run.judge(Budget("lost", max=0), Budget("credential_changes_lost", max=0))
    assert result["audit"]["lost"] == 1 and result["audit"]["credential_changes_lost"] == 1
    assert result["audit"]["credentials_checked"] == 2
    assert result["audit"]["samples"]["credential_changes_lost"][0]["reason"] == "old password still works"
    assert result["verdict"] == "fail"


def test_collect_without_run_secret_says_so(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.rotate("alice", "ok", 3.0, version=2)
    run.meta.pop("run_secret")
    state = truth.collect(FakeApi(tables()), run.write())  # type: ignore[arg-type]
    assert state.credential_checks is None
    assert any("run_secret" in e for e in state.errors)
