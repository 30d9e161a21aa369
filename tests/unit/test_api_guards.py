"""The reference API's request guards (harness/api/ticketing/guards.py, config.py), run here without its
dependencies: they are pure Python on purpose. The whole app is exercised in-process by the API's own tests
inside its image (harness/api/tests, run by tests/integration/test_api_units.py).

Also the one contract the two sides share without sharing code: the audit token the harness derives and
sends is the one the API, configured the way the stack starts it, accepts."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from drills.platform import stack_spec, ticketing
from drills.platform.stack_spec import StackCredentials, StackOptions

API = Path(__file__).resolve().parents[2] / "harness" / "api" / "ticketing"
LIMIT = 64 * 1024


def _load(name: str) -> ModuleType:
    """One stdlib-only module of the API package, by path (importing the package would need Starlette)."""
    spec = importlib.util.spec_from_file_location(f"api_{name}", API / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


guards = _load("guards")
config = _load("config")


class Body:
    """Chunks as the server hands them over, counting how many were taken."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks, self.taken = chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


def read(content_length: str | None, body: Body) -> bytes:
    return asyncio.run(guards.read_capped(content_length, body, LIMIT))


def refused(content_length: str | None, body: Body) -> tuple[int, str]:
    with pytest.raises(guards.BodyRejected) as exc:
        read(content_length, body)
    return exc.value.status, exc.value.code


def test_a_body_within_the_limit_is_read_whole() -> None:
    assert read("5", Body(b"he", b"llo")) == b"hello"
    assert read(None, Body(b"x" * LIMIT)) == b"x" * LIMIT  # exactly the limit is fine


def test_a_declared_oversize_body_is_refused_before_reading() -> None:
    body = Body(b"x" * 10)
    assert refused(str(LIMIT + 1), body) == (413, "body_too_large")
    assert body.taken == 0


def test_a_chunked_body_is_cut_off_once_past_the_limit() -> None:
    body = Body(*[b"x" * 16384] * 100)
    assert refused(None, body) == (413, "body_too_large")
    assert body.taken == 5


def test_a_body_longer_than_declared_is_capped_too() -> None:
    assert refused("3", Body(b"x" * LIMIT, b"y")) == (413, "body_too_large")


@pytest.mark.parametrize("bad", ["-1", "1e3", "ten", "", "0x10"])
def test_a_malformed_content_length_is_a_400(bad: str) -> None:
    assert refused(bad, Body(b"{}")) == (400, "invalid_content_length")


def test_the_audit_token_check() -> None:
    assert guards.audit_refusal("Bearer tok", "tok") is None
    assert guards.audit_refusal("bearer  tok ", "tok") is None
    for header in (None, "", "Bearer", "Bearer tok2", "Bearer to", "Basic tok", "tok", "Bearer t\u00f6k"):
        assert guards.audit_refusal(header, "tok")[:2] == (401, "unauthorized"), header
    assert guards.audit_refusal("Bearer ", "")[:2] == (403, "audit_disabled")  # no token configured: closed


def _api_environment(creds: StackCredentials) -> dict[str, str]:
    """What api1's container environment holds, exactly as stack.py composes it."""
    spec = next(s for s in stack_spec.services(StackOptions(), "run") if s.service == "api1")
    return {**spec.environment, **creds.environment(spec.role)}


class _CapturingSession:
    def __init__(self) -> None:
        self.headers: list[dict] = []

    def request(self, method: str, url: str, **kw: object) -> object:
        self.headers.append(dict(kw.get("headers") or {}))  # type: ignore[call-overload]

        class Resp:
            status_code, content, headers = 200, b"{}", {}

            @staticmethod
            def json() -> dict:
                return {"items": [{"id": 1}], "next_after": None}

        return Resp()


def test_the_harness_and_the_api_agree_on_the_audit_token() -> None:
    token = ticketing.derive_audit_token("run-secret")
    api_config = config.Config.from_env(_api_environment(StackCredentials.generate(token)))
    assert api_config.audit_token == token and token not in repr(api_config)

    session = _CapturingSession()
    client = ticketing.TicketingClient("http://127.0.0.1:1", session=session, audit_token=token)  # type: ignore[arg-type]
    assert list(client.audit("orders")) == [{"id": 1}]
    sent = session.headers[0]["Authorization"]
    assert guards.audit_refusal(sent, api_config.audit_token) is None
    other = f"Bearer {ticketing.derive_audit_token('another-run')}"
    assert guards.audit_refusal(other, api_config.audit_token)[0] == 401


def test_the_audit_token_derivation_is_pinned() -> None:
    """Documented (drills/platform/ticketing.py, harness/api/README.md): HMAC-SHA256 of the secret over the
    context string, hex. Changing it is a protocol change: give the context a new version."""
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"drills/ticketing-audit/v1", hashlib.sha256).hexdigest()
    assert ticketing.derive_audit_token("s") == expected
    assert ticketing.derive_audit_token("s") != ticketing.derive_audit_token("t")


def test_a_client_made_from_the_url_alone_finds_the_remembered_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticketing, "_KNOWN_AUDIT_TOKENS", {})
    session = _CapturingSession()
    ticketing.remember_audit_token("http://127.0.0.1:9/", "remembered")
    client = ticketing.TicketingClient("http://127.0.0.1:9", session=session)  # type: ignore[arg-type]
    list(client.audit("events"))
    assert session.headers[0]["Authorization"] == "Bearer remembered"
    explicit = ticketing.TicketingClient("http://127.0.0.1:9", session=session, audit_token="mine")  # type: ignore[arg-type]
    list(explicit.audit("events"))
    assert session.headers[1]["Authorization"] == "Bearer mine"
    # an attached API the harness did not start: its token from the harness's environment
    monkeypatch.setenv("DRILLS_AUDIT_TOKEN", "attached")
    list(ticketing.TicketingClient("http://127.0.0.1:10", session=session).audit("events"))  # type: ignore[arg-type]
    assert session.headers[2]["Authorization"] == "Bearer attached"


def test_the_api_reads_its_database_password_from_pgpassword_not_the_url() -> None:
    env = _api_environment(StackCredentials.generate("t"))
    api_config = config.Config.from_env(env)
    assert "password" not in api_config.database_url
    assert env["PGPASSWORD"] and env["PGPASSWORD"] not in api_config.database_url
