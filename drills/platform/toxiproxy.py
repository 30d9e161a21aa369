"""The one place that talks to Toxiproxy.

toxiproxy-python (unmaintained since 2019) keeps the server address in class attributes, sets no request
timeouts, defaults new proxies to a loopback listen address and returns `version()` as bytes. This adapter
binds the library to one server at a time under a lock, gives its HTTP calls a timeout (a heal must never
hang), and speaks the HTTP API directly for what the library cannot do (JSON version, listing with
toxics, existence checks).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import requests
import toxiproxy.api as _toxiproxy_api
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound

from drills.platform import http

_LIBRARY_LOCK = threading.Lock()
DEFAULT_TIMEOUT = 3.0

# Toxic types and the attributes Toxiproxy 2.x understands (see its README "Toxics").
TOXIC_ATTRIBUTES = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}


class ToxiproxyError(RuntimeError):
    """A Toxiproxy call failed; the message names the server, proxy and operation."""


class _TimeoutRequests:
    """Stands in for the `requests` module inside toxiproxy-python so every call has a timeout and connects
    directly (drills.platform.http)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def get(self, url: str, **kw: Any) -> requests.Response:
        return http.get(url, timeout=self.timeout, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return http.post(url, timeout=self.timeout, **kw)

    def delete(self, url: str, **kw: Any) -> requests.Response:
        return http.delete(url, timeout=self.timeout, **kw)


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
            saved = _toxiproxy_api.requests
            APIConsumer.host, APIConsumer.port = self._host, self._port
            _toxiproxy_api.requests = _TimeoutRequests(self.timeout)
            try:
                yield Toxiproxy()
            except requests.RequestException as exc:
                raise ToxiproxyError(f"Toxiproxy at {self.url} did not answer: {exc}") from None
            finally:
                _toxiproxy_api.requests = saved

    def version(self) -> str | None:
        """Server version as text (the library returns raw bytes, and newer servers answer JSON)."""
        try:
            resp = http.get(f"{self.url}/version", timeout=self.timeout)
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
        try:
            resp = http.get(f"{self.url}/proxies", timeout=self.timeout)
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ToxiproxyError(f"Toxiproxy at {self.url}: listing proxies failed: {exc}") from None

    def add_toxic(self, proxy: str, name: str, toxic_type: str, attributes: dict[str, Any],
                  stream: str = "downstream", toxicity: float = 1.0) -> None:
        """Add one toxic; the name is ours (drills-...) so a heal or `drill clean` can find it."""
        if toxic_type not in TOXIC_ATTRIBUTES:
            raise ToxiproxyError(f"unknown toxic type {toxic_type!r}")
        with self._library() as lib:
            target = lib.get_proxy(proxy)
            if target is None:
                raise ToxiproxyError(f"Toxiproxy at {self.url} has no proxy {proxy!r}")
            try:
                target.add_toxic(type=toxic_type, name=name, stream=stream, toxicity=toxicity,
                                 attributes=attributes)
            except Exception as exc:  # the library raises its own exception types with raw bytes
                raise ToxiproxyError(f"adding toxic {name} to {proxy}: {exc}") from None

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """Remove a toxic; False when it was already gone (heals are idempotent)."""
        with self._library() as lib:
            target = lib.get_proxy(proxy)
            if target is None:
                return False
            try:
                target.destroy_toxic(name)
                return True
            except NotFound:
                return False

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        """Link down (disabled: listener closed, connections dropped) or up again."""
        with self._library() as lib:
            target = lib.get_proxy(proxy)
            if target is None:
                raise ToxiproxyError(f"Toxiproxy at {self.url} has no proxy {proxy!r}")
            if enabled:
                target.enable()
            else:
                target.disable()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic: the universal heal."""
        try:
            http.post(f"{self.url}/reset", timeout=self.timeout).raise_for_status()
        except requests.RequestException as exc:
            raise ToxiproxyError(f"Toxiproxy at {self.url}: reset failed: {exc}") from None

    def leftovers(self, prefix: str = "drills-") -> list[str]:
        """Toxics of ours still present, and disabled proxies: what a verified heal must find empty."""
        found = []
        for name, proxy in self.proxies().items():
            if not proxy.get("enabled", True):
                found.append(f"{name}: disabled")
            for toxic in proxy.get("toxics") or []:
                if str(toxic.get("name", "")).startswith(prefix):
                    found.append(f"{name}: toxic {toxic['name']}")
        return found
