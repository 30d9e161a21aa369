"""HTTP to the system under test goes through drills/platform/http.py only (direct: no proxy, no .netrc).

A module that makes its own `requests` session, calls `requests.get` & co., `urlopen` or an opener that
keeps the environment's proxies, or imports httpx (which trusts the environment too), fails here. The
source is read, not imported (ast), so this is as cheap as a grep and cannot be fooled by formatting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("drills", "bench")
HOME = "drills/platform/http.py"
# path -> why it may use an HTTP client of its own.
EXEMPT = {
    "drills/runner/notify.py": "posts the chat webhook to an outside service: the CI's proxy is wanted there",
}
REQUESTS_CALLS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "Session", "session"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keeps_env_proxies(call: ast.Call) -> bool:
    """build_opener(...) without ProxyHandler({}) among its handlers installs the environment's proxies."""
    for arg in call.args:
        if (isinstance(arg, ast.Call) and _dotted(arg.func).endswith("ProxyHandler")
                and len(arg.args) == 1 and isinstance(arg.args[0], ast.Dict) and not arg.args[0].keys):
            return False
    return True


def offences(source: str) -> list[str]:
    """`line: what` for every HTTP client made outside the home."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "httpx"]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "httpx":
                found.append(f"{node.lineno}: from {node.module} import ...")
            elif node.module.split(".")[0] == "requests":
                found += [f"{node.lineno}: from {node.module} import {a.name}"
                          for a in node.names if a.name in REQUESTS_CALLS]
            elif node.module == "urllib.request":
                found += [f"{node.lineno}: from urllib.request import {a.name}"
                          for a in node.names if a.name == "urlopen"]
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            head, _, last = name.rpartition(".")
            if head in ("requests", "requests.sessions", "requests.api") and last in REQUESTS_CALLS:
                found.append(f"{node.lineno}: {name}(...)")
            elif last == "urlopen" or name == "urlopen":
                found.append(f"{node.lineno}: {name}(...) (the environment's proxies)")
            elif (last == "build_opener" or name == "build_opener") and _keeps_env_proxies(node):
                found.append(f"{node.lineno}: {name}(...) without ProxyHandler({{}})")
    return found


def _modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for d in SOURCES for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("module", _modules())
def test_http_clients_are_made_only_in_the_home(module: str) -> None:
    if module == HOME or module in EXEMPT:
        return
    found = offences((ROOT / module).read_text())
    assert not found, (f"{module} talks HTTP outside {HOME} (which connects directly, no proxy/.netrc):\n  "
                       + "\n  ".join(found))


def test_exemptions_name_existing_modules() -> None:
    assert set(EXEMPT) <= set(_modules())


@pytest.mark.parametrize("snippet", [
    "import requests\nrequests.get('http://127.0.0.1/')",
    "import requests\ns = requests.Session()",
    "import requests\nrequests.request('GET', 'http://x/')",
    "from requests import Session",
    "from requests import get as fetch",
    "import urllib.request\nurllib.request.urlopen('http://x/')",
    "from urllib.request import urlopen",
    "import urllib.request as u\nu.build_opener()",
    "import urllib.request as u\nu.build_opener(u.ProxyHandler({'http': 'http://proxy'}))",
    "import httpx",
    "from httpx import Client",
])
def test_the_check_catches(snippet: str) -> None:
    assert offences(snippet)


@pytest.mark.parametrize("snippet", [
    "import requests\nx: requests.Session | None = None\nerr = requests.RequestException",
    "from drills.platform import http\nhttp.get('http://127.0.0.1/')",
    "import urllib.request as u\nopener = u.build_opener(u.ProxyHandler({}))",
    "import http.client\nhttp.client.HTTPConnection('127.0.0.1')",  # never reads proxy variables
])
def test_the_check_lets_through(snippet: str) -> None:
    assert offences(snippet) == []
