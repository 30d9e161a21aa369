"""The one home of HTTP sessions for the system under test: direct connections, nothing from the environment.

Everything the harness calls over HTTP is on this machine (the stack publishes on 127.0.0.1; an attached API
must be a loopback URL). `requests` by default reads HTTP(S)_PROXY / ALL_PROXY / NO_PROXY, ~/.netrc and
REQUESTS_CA_BUNDLE from the environment, so on a CI runner with a proxy set, loopback traffic -- audit logins
with the derived passwords, bearer tokens -- would go to that proxy. A session here has `trust_env = False`:
no proxy, no .netrc credentials, whatever the environment says.

Every harness module that talks HTTP to the stack uses `session()` (long-lived clients) or `request()` /
`get()` / `post()` / `delete()` (one call, one fresh session, like `requests.get`). tests/unit/test_http_home.py
fails when a module makes its own `requests` session or calls `requests.get` & co.
"""

from __future__ import annotations

from typing import Any

import requests


def session() -> requests.Session:
    """A requests session that connects directly: no proxy, no .netrc, no CA bundle from the environment."""
    s = requests.Session()
    s.trust_env = False
    s.proxies.clear()
    return s


def request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One call on a fresh direct session, closed afterwards (what `requests.request` does, minus the env)."""
    with session() as s:
        return s.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> requests.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    return request("POST", url, **kwargs)


def delete(url: str, **kwargs: Any) -> requests.Response:
    return request("DELETE", url, **kwargs)
