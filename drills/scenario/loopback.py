"""The network rule for attached stacks: every URL is http://127.0.0.1:PORT or http://localhost:PORT[/path].

Parsed piece by piece with ASCII-only rules, so the message names what is really wrong: user info that hides
another host (`http://localhost:8474@evil.com` goes to evil.com), a port in non-ASCII digits (which int()
would read), whitespace, a query; not just "give the scheme http:// and a port".
"""

from __future__ import annotations

import re

SCHEME = "http://"
HOSTS = ("127.0.0.1", "localhost")
LOOPBACK_HELP = "a loopback URL http://127.0.0.1:PORT or http://localhost:PORT"
_PCHARS = "A-Za-z0-9._~!$&'()*+,;=:@%/-"  # RFC 3986 path characters (percent-encode anything else)
_PATH = re.compile(f"(/[{_PCHARS}]*)?", re.ASCII)
# The same rule for the JSON schema (which cannot say why).
LOOPBACK_PATTERN = rf"^http://(127\.0\.0\.1|localhost):[0-9]{{1,5}}(/[{_PCHARS}]*)?$"
_NOT_LOOPBACK = "the tool only talks to loopback or its own containers; publish the service on 127.0.0.1"


def loopback_problem(url: str) -> str | None:
    """Why `url` is not an allowed loopback URL ("expected ..., found ... (reason)"), or None when it is."""
    reason = _reason(url)
    return None if reason is None else f"expected {LOOPBACK_HELP}, found '{url}' ({reason})"


def _reason(url: str) -> str | None:
    odd = next((c for c in url if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if odd is not None:
        what = "whitespace" if odd.isspace() else "a control character"
        return f"it contains {what} (U+{ord(odd):04X}); a URL has none"
    if not url.startswith(SCHEME):
        scheme = url.split("://", 1)[0] if "://" in url else None
        if scheme is None:
            return f"no scheme: it starts with {SCHEME}"
        return f"the scheme {scheme}:// is not allowed: loopback services are spoken to in plain {SCHEME}"
    rest = url[len(SCHEME):]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        host = hostport.rsplit(":", 1)[0] if ":" in hostport else hostport
        if host not in HOSTS:
            return (f"a URL with user info '{userinfo}@' before its real host '{host}', which is not loopback: "
                    f"{_NOT_LOOPBACK}")
        return f"a URL with user info '{userinfo}@': a scenario holds no user names or passwords"
    if "?" in tail or "#" in tail:
        return "a query (?...) or fragment (#...): give the service's base URL"
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    problem = _host_problem(host) or _port_problem(host, colon, port)
    if problem:
        return problem
    if not _PATH.fullmatch(tail):
        bad = next(c for c in tail if not re.fullmatch(f"[{_PCHARS}]", c, re.ASCII))
        return f"the path holds '{bad}' (U+{ord(bad):04X}), which a URL percent-encodes"
    return None


def _host_problem(host: str) -> str | None:
    if host in HOSTS:
        return None
    odd = next((c for c in host if not c.isascii()), None)
    if odd is not None:
        return f"the host '{host}' holds U+{ord(odd):04X} '{odd}', not ASCII: write 127.0.0.1 or localhost"
    if host.lower() in HOSTS:
        return f"the host '{host}': write it in lower case, {host.lower()}"
    if host == "[::1]" or host.startswith("127."):
        return f"the host '{host}' is loopback but not one of 127.0.0.1 or localhost, the two the tool accepts"
    return f"the host '{host or '(none)'}' is not loopback: {_NOT_LOOPBACK}"


def _port_problem(host: str, colon: str, port: str) -> str | None:
    if not colon or not port:
        return f"no port: write http://{host}:PORT"
    if not re.fullmatch("[0-9]{1,5}", port, re.ASCII):
        odd = next((c for c in port if not c.isascii()), None)
        detail = f" (U+{ord(odd):04X} '{odd}' is not an ASCII digit)" if odd is not None else ""
        return f"the port '{port}' is not a number of ASCII digits 0-9{detail}"
    if not 1 <= int(port) <= 65535:
        return f"the port {port} is outside 1-65535"
    return None
