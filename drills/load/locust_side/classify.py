"""Honest outcomes: every client operation is ok, fail or info (docs/run-directory.md).

* ok   - acknowledged: a 2xx (or 3xx) answer.
* fail - definitely did not happen: a 4xx other than 408/429, a non-2xx whose body says `"outcome": "fail"`
  (the API's `{"error": "unavailable", "outcome": "fail"}` 503; the reference HAProxy's own 503, made only
  for a request it never forwarded, says the same: harness/config/haproxy.cfg.tmpl), or a request that never
  left the client (connection refused, connect timeout, name resolution).
* info - indeterminate: the request may have been applied. Timeouts after connecting, a connection lost
  after sending, 502/503/504 (or any 5xx) without an explicit definite marker, 408/429, the API's
  `X-Outcome: indeterminate` header or `{"error": "indeterminate"}` body, anything unrecognised.

When in doubt the answer is info: calling an unknown outcome "fail" would let the data-loss audit miss a
write that did happen. Pure functions, no Locust import (works on requests' and geventhttpclient's
responses and exceptions alike, by duck typing and class names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.rundir import codec

OK, FAIL, INFO = "ok", "fail", "info"
OUTCOMES = (OK, FAIL, INFO)

MAX_BODY_BYTES = 1 << 20

# Exception classes (by name, anywhere in the chain) meaning the request never reached the server.
_NOT_SENT = {
    "ConnectionRefusedError": "ConnectionRefused",
    "NewConnectionError": "ConnectionRefused",      # urllib3: could not connect at all
    "ConnectTimeout": "ConnectTimeout",             # requests: TCP handshake never completed
    "ConnectTimeoutError": "ConnectTimeout",        # urllib3
    "gaierror": "NameResolution",
    "NameResolutionError": "NameResolution",
}
# ... and meaning the request may have been processed.
_SENT = {
    "ReadTimeout": "ReadTimeout", "ReadTimeoutError": "ReadTimeout", "TimeoutError": "ReadTimeout",
    "timeout": "ReadTimeout", "Timeout": "ReadTimeout",
    "ConnectionResetError": "ConnectionReset", "BrokenPipeError": "ConnectionReset",
    "HTTPConnectionClosed": "ConnectionClosed", "RemoteDisconnected": "ConnectionClosed",
    "IncompleteRead": "ConnectionClosed", "HTTPParseError": "ConnectionClosed",
    "ChunkedEncodingError": "ConnectionClosed", "ProtocolError": "ConnectionClosed",
}


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (cause, context, urllib3 `reason`, geventhttpclient `original`)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        for attr in ("original", "reason", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return seen


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """Outcome and error label of a request that got no HTTP answer."""
    chain = _chain(exc)
    for e in chain:  # not sent wins: it is the only way to be sure
        for cls in type(e).__mro__:
            if cls.__name__ in _NOT_SENT:
                return FAIL, _NOT_SENT[cls.__name__]
    for e in chain:
        for cls in type(e).__mro__:
            if cls.__name__ in _SENT:
                return INFO, _SENT[cls.__name__]
    if any(type(e).__name__ == "ConnectionError" for e in chain):
        return INFO, "ConnectionError"
    return INFO, type(exc).__name__


def classify(status: int | None, headers: Mapping[str, str] | None, body: Any,
             exc: BaseException | None = None) -> tuple[str, str | None]:
    """(outcome, error) of one HTTP operation. `status` None/0 means no answer arrived."""
    if not status:
        return classify_exception(exc) if exc is not None else (INFO, "NoResponse")
    marked = exc is not None and type(exc).__name__ == "CatchResponseError"  # Locust: response.failure()
    if 200 <= status < 400:
        return (FAIL, f"marked_failed: {str(exc)[:80]}") if marked else (OK, None)
    data = body if isinstance(body, dict) else {}
    error = data.get("error") if isinstance(data.get("error"), str) else f"http_{status}"
    x_outcome = (headers.get("X-Outcome") or headers.get("x-outcome") or "") if headers is not None else ""
    if x_outcome.lower() == "indeterminate" or data.get("error") == "indeterminate":
        return INFO, "indeterminate"
    if data.get("outcome") in (FAIL, INFO):
        return data["outcome"], error
    if status in (408, 429):
        return INFO, error
    if 400 <= status < 500:
        return FAIL, error
    return INFO, error


def parse_body(headers: Mapping[str, str] | None, content: bytes | None) -> Any:
    """The JSON body when the answer says it is JSON, else None (never raises)."""
    if not content or len(content) > MAX_BODY_BYTES or headers is None:
        return None
    ctype = headers.get("Content-Type") or headers.get("content-type") or ""
    if "json" not in ctype:
        return None
    try:
        return codec.loads(content)
    except codec.DECODE_ERRORS:
        return None


class Classified:
    """A response read once: status, headers, parsed body, outcome and error (cached on the response)."""

    __slots__ = ("status", "headers", "body", "outcome", "error")

    def __init__(self, status: int | None, headers: Mapping[str, str] | None, body: Any, outcome: str,
                 error: str | None) -> None:
        self.status, self.headers, self.body, self.outcome, self.error = status, headers, body, outcome, error

    @property
    def json(self) -> dict:
        return self.body if isinstance(self.body, dict) else {}


def read_response(response: Any, exception: BaseException | None = None) -> Classified:
    """Classify a Locust response object (requests' or FastHttp's); the result is cached on it, so the
    request listener and the workload that both look at it pay for parsing once."""
    cached = getattr(response, "_drills_classified", None)
    if cached is not None:
        return cached
    status = getattr(response, "status_code", None) or None
    headers = getattr(response, "headers", None) if status else None
    content = None
    if status:
        try:
            content = response.content
        except Exception:  # a body that broke mid-read: the status line still counts
            content = None
    body = parse_body(headers, content)
    exc = exception if exception is not None else getattr(response, "error", None)
    outcome, error = classify(status, headers, body, exc)
    result = Classified(status, headers, body, outcome, error)
    try:
        response._drills_classified = result
    except AttributeError:  # objects with __slots__: just do not cache
        pass
    return result
