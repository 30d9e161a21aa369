"""Remote load workers: the token proof, the clock offset and the names, as plain functions (no Locust).

A remote worker (`drill worker`) gets the load config and the run secret from the master only after proving it
knows the shared token: the master sends a fresh nonce, the worker answers HMAC-SHA256(token, nonce + client
id), so the token itself never crosses the network and an answer cannot be replayed for another nonce or
client. The clock offset is measured right after by ping/pong (midpoint method, the sample with the shortest
round trip wins); the checks subtract it from that worker's history times. Names are the master's: Locust's
client id (`<hostname>_<uuid hex>`) made readable as `r-<host>-<n>`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

ENV_WORKER_TOKEN = "DRILLS_WORKER_TOKEN"            # the shared token (worker and master side)
ENV_WORKER_TOKEN_FILE = "DRILLS_WORKER_TOKEN_FILE"  # or a file holding it (master side: the harness machine)
ENV_WORKER_TARGET = "DRILLS_WORKER_TARGET"          # `drill worker --target`: the system under test from there
MIN_TOKEN_CHARS = 16
NONCE_BYTES = 32


class TokenError(ValueError):
    """No usable token: the message says where it was looked for and what was expected."""


def read_token(token_file: str | Path | None = None, env: dict[str, str] | None = None) -> str:
    """The token from `token_file`, else $DRILLS_WORKER_TOKEN_FILE, else $DRILLS_WORKER_TOKEN (stripped).
    Raises TokenError naming the source when there is none or it is shorter than MIN_TOKEN_CHARS."""
    env = dict(os.environ) if env is None else env
    path = token_file or env.get(ENV_WORKER_TOKEN_FILE)
    if path:
        try:
            token, source = Path(path).read_text().strip(), str(path)
        except OSError as exc:
            raise TokenError(f"cannot read the worker token file {path}: {exc.strerror or exc}") from None
    else:
        token, source = (env.get(ENV_WORKER_TOKEN) or "").strip(), f"${ENV_WORKER_TOKEN}"
        if not token:
            raise TokenError(f"no worker token: set ${ENV_WORKER_TOKEN} or ${ENV_WORKER_TOKEN_FILE} "
                             "(or pass --token-file)")
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenError(f"the worker token in {source} is {len(token)} characters long; "
                         f"expected at least {MIN_TOKEN_CHARS}")
    return token


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def proof(token: str, nonce: str, client_id: str) -> str:
    """What the worker answers to the master's nonce: binds the token to this nonce and this client."""
    return hmac.new(token.encode(), f"{nonce}\n{client_id}".encode(), hashlib.sha256).hexdigest()


def verify(token: str, nonce: str, client_id: str, answer: object) -> bool:
    return isinstance(answer, str) and hmac.compare_digest(proof(token, nonce, client_id), answer)


@dataclass(frozen=True)
class ClockSample:
    """One ping/pong: master send time, worker time when it answered, master receive time (epoch seconds)."""

    sent: float
    worker: float
    received: float

    @property
    def rtt(self) -> float:
        return self.received - self.sent

    @property
    def offset(self) -> float:
        """Worker clock minus master clock, assuming the answer was made halfway through the round trip."""
        return self.worker - (self.sent + self.received) / 2.0


def best_offset(samples: list[ClockSample]) -> tuple[float, float] | None:
    """(offset_s, rtt_s) of the sample with the shortest round trip (the least room for asymmetry), rounded
    to the millisecond; None without samples."""
    valid = [s for s in samples if s.rtt >= 0]
    if not valid:
        return None
    best = min(valid, key=lambda s: s.rtt)
    return round(best.offset, 4), round(best.rtt, 4)


_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class WorkerNames:
    """Readable, unique names for Locust client ids: `r-<host>-<n>` (n counts per host from 1). A client id
    asked again (a reconnect) keeps its name."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._per_host: dict[str, int] = {}

    def name(self, client_id: str) -> str:
        if client_id in self._names:
            return self._names[client_id]
        host = client_id.rsplit("_", 1)[0] if "_" in client_id else client_id
        host = _UNSAFE.sub("-", host).strip("-.")[:40] or "worker"
        n = self._per_host.get(host, 0) + 1
        self._per_host[host] = n
        self._names[client_id] = name = f"r-{host}-{n}"
        return name
