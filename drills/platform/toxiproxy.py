"""The one place that talks to Toxiproxy.

toxiproxy-python (unmaintained since 2019) keeps the server address in class attributes, sets no request
timeouts, defaults new proxies to a loopback listen address and returns `version()` as bytes. This adapter
binds the library to one server at a time under a lock, and speaks the HTTP API directly, with timeouts,
for what the library cannot do.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

_LIBRARY_LOCK = threading.Lock()
DEFAULT_TIMEOUT = 3.0


class ToxiproxyClient:
    """A Toxiproxy server reached at `url` (e.g. http://127.0.0.1:32768)."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        parsed = urlparse(self.url)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 8474

    @contextmanager
    def _library(self) -> Iterator[Toxiproxy]:
        """toxiproxy-python bound to this server (its address is global state, hence the lock)."""
        with _LIBRARY_LOCK:
            APIConsumer.host, APIConsumer.port = self._host, self._port
            yield Toxiproxy()

    def version(self) -> str | None:
        """Server version as text (the library returns raw bytes, or JSON on newer servers)."""
        try:
            resp = requests.get(f"{self.url}/version", timeout=self.timeout)
            resp.raise_for_status()
        except requests.RequestException:
            return None
        text = resp.text.strip()
        if text.startswith("{"):
            try:
                return str(resp.json().get("version"))
            except ValueError:
                return text
        return text

    def proxies(self) -> dict[str, dict]:
        """All proxies with their listen/upstream/enabled state and toxics."""
        resp = requests.get(f"{self.url}/proxies", timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic: the universal heal."""
        with self._library() as lib:
            lib.reset()
