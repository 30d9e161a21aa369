"""When an attached system serves again: the checks of `stack.attach.ready` (a URL answering 200, a role that
has a holder), every one holding for `for` seconds in a row.

One 200 is not recovery: right after a failover a service can answer /readyz once while no node takes writes
yet, so the checks must hold continuously. Without `ready`, GET api_url + /readyz must answer 200 (the
default, documented; a system without that endpoint is told so, before any fault, with what to declare).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from drills.platform import http
from drills.platform.inventory import StackView, TargetError
from drills.platform.role_probes import holders
from drills.scenario.model import AttachedStack

POLL_S = 0.5
_PATRONI_WANTED = {"replica": ("replica", "sync_standby")}


@dataclass(frozen=True)
class Check:
    name: str                               # "GET http://127.0.0.1:18080/readyz answers 200"
    observe: Callable[[], tuple[bool, str]]  # (holds now, what was seen)


class NotReady(Exception):
    """The checks did not hold long enough in time; the message says what each saw last."""

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def default_url(at: AttachedStack) -> str:
    return at.api_url.rstrip("/") + "/readyz"


def checks_for(at: AttachedStack, view: StackView, timeout: float = 2.0) -> list[Check]:
    """The scenario's readiness checks (the default: the API's /readyz)."""
    ready = at.ready
    out = []
    url = ready.http or (default_url(at) if ready.role is None else None)
    if url is not None:
        out.append(Check(f"GET {url} answers 200", lambda: _http_200(url, timeout)))
    if ready.role is not None:
        role = ready.role
        out.append(Check(f"a container holds the role {role!r}", lambda: _has_holder(view, role)))
    return out


def wait_ready(checks: list[Check], timeout: float, hold: float, *, clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep, poll: float = POLL_S,
               default_hint: str | None = None) -> float:
    """Return (seconds waited) once every check has held for `hold` seconds in a row; NotReady after `timeout`."""
    start = clock()
    since: float | None = None
    longest = 0.0
    seen: dict[str, str] = {}
    while True:
        now = clock()
        results = []
        for check in checks:
            try:
                ok, what = check.observe()
            except Exception as exc:   # a check that cannot look is a check that does not hold
                ok, what = False, f"{exc.__class__.__name__}: {exc}"
            seen[check.name] = what
            results.append(ok)
        if all(results):
            since = now if since is None else since
            longest = max(longest, now - since)
            if now - since >= hold:
                return now - start
        else:
            since = None
        if now - start >= timeout:
            break
        sleep(poll)
    words = "; ".join(f"{name}: last saw {what}" for name, what in seen.items())
    held = f" (held {longest:.1f}s at most, {hold:g}s needed)" if longest > 0 else ""
    raise NotReady(f"not ready within {timeout:.0f}s{held}: {words}", default_hint)


def hint_for(at: AttachedStack) -> str | None:
    """What to declare when the default check is the one that fails."""
    if at.ready.http or at.ready.role:
        return "the checks are stack.attach.ready's (docs/scenario-format.md#stack)"
    return (f"without stack.attach.ready the drill waits for GET {default_url(at)} to answer 200; give your "
            "system that endpoint, or declare `ready: {http: URL}` and/or `ready: {role: ROLE}` (a role of "
            "role_probes that must have a holder)")


def _http_200(url: str, timeout: float) -> tuple[bool, str]:
    try:
        status = http.get(url, timeout=timeout).status_code
    except requests.RequestException as exc:
        return False, exc.__class__.__name__
    return status == 200, f"HTTP {status}"


def _has_holder(view: StackView, role: str) -> tuple[bool, str]:
    try:
        view.refresh()   # a container recreated meanwhile (`docker compose up`) has a new id
    except TargetError as exc:
        return False, str(exc)
    if role in view.role_probes:
        answers = view.probe(role)
        found = holders(answers)
        if found:
            return True, f"held by {', '.join(found)}"
        return False, "no holder (" + "; ".join(f"{a.node}: {a.error or a.said or 'no output'}" for a in answers) + ")"
    wanted = _PATRONI_WANTED.get(role, (role,))
    found = sorted(s for s, r in view.current_roles().items() if r in wanted)
    return (True, f"held by {', '.join(found)}") if found else (False, "no holder (Patroni)")
