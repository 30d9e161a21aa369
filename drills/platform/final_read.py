"""The final read of a declared audit: every collection of `audit.read`, read once the system serves again, into
columns (drills/checks/finalstate.py's Collection) and final-state.json.

This is the part of an audit that talks to the system under test (HTTP pages, an SQL query, Redis keys); the
checks only ever see the file. A collection that cannot be read to its end -- a refused page, a body that is
not JSON, a page without its list of items, an item without a declared field, a next-page cursor that
repeats -- is kept as far as it was read, marked incomplete, and its error names what and where: the models
reading it are unknown, never judged on part of the data.

`check_reads()` is the pre-flight: the same sources asked once before any fault (a first page, a connection
and EXPLAIN of the query, a PING), so a 404 or a wrong password is a clear refusal to start, not an unknown
audit after the drill.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from drills.checks.finalstate import Collection, FinalState, write_final_state
from drills.platform import http
from drills.platform.audit_source import Env, ReadFailed, expand, shown
from drills.platform.redis_read import ping, redis_pages
from drills.platform.sql_read import explain, sql_pages
from drills.scenario.audit_section import (
    MISSING,
    AuditSection,
    FieldSpec,
    HttpRead,
    ReadSpec,
    RedisRead,
    SqlRead,
    at_path,
)
from drills.scenario.loopback import loopback_problem

MAX_PAGES = 1_000_000        # a cursor that never ends is a broken endpoint, not a big table


# items -> columns -----------------------------------------------------------------------------------------------

def convert(v: Any, kind: str) -> Any:
    """`v` as a field of type `kind` (audit_section.FIELD_TYPES); raises ValueError saying why not."""
    if v is None:
        return 0 if kind == "length" else None
    if kind == "any":
        return v
    if kind == "text":
        if isinstance(v, str):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise ValueError("not text or a whole number")
    if kind == "number":
        n = float(v) if isinstance(v, str) else v
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
            raise ValueError("not a number")
        return n
    if kind == "time":
        return epoch_of(v)
    if kind == "length":
        if isinstance(v, (list, dict, str)):
            return len(v)
        raise ValueError("not a list, an object or text")
    raise ValueError(f"unknown type {kind}")


def epoch_of(v: Any) -> float:
    """Epoch seconds from a number (seconds; milliseconds when above 1e11) or ISO-8601 text (UTC if no zone)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v) / 1000.0 if abs(v) > 1e11 else float(v)
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not a time (epoch seconds or ISO-8601 text)") from None
        return round((t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp(), 6)
    raise ValueError("not a time (epoch seconds or ISO-8601 text)")


class Columns:
    """Items appended as rows of the declared fields; the first item that lacks a field or holds a value of the
    wrong type stops the read (ReadFailed naming it), the rows before it kept."""

    def __init__(self, fields: Mapping[str, FieldSpec]) -> None:
        self.fields = dict(fields)
        self.columns: dict[str, list] = {name: [] for name in self.fields}
        self.rows = 0

    def add_page(self, items: list) -> None:
        """A page of items, column by column (a million rows stay cheap); a page the quick way cannot take goes
        item by item, which keeps the rows before a bad one and names it."""
        try:
            new = {name: _column(items, spec) for name, spec in self.fields.items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            for item in items:
                self.add(item)
            return
        for name, values in new.items():
            self.columns[name].extend(values)
        self.rows += len(items)

    def add(self, item: Any) -> None:
        values = []
        for name, spec in self.fields.items():
            v = at_path(item, spec.path)
            if v is MISSING:
                raise ReadFailed(f"item {self.rows} has no {spec.path!r} (field {name}){_what(item)}")
            try:
                values.append(convert(v, spec.type))
            except ValueError as exc:
                raise ReadFailed(f"item {self.rows}: {spec.path!r} (field {name}) is {shown(v)}: {exc}") from None
        for name, v in zip(self.columns, values, strict=True):
            self.columns[name].append(v)
        self.rows += 1


def _column(items: list, spec: FieldSpec) -> list:
    """One field of every item of a page; raises (KeyError, TypeError, ValueError) where Columns.add would name
    the item."""
    path = spec.path
    if path == "":
        values = list(items)
    elif "." not in path:
        values = [item[path] for item in items]      # a dict item each (anything else raises)
    else:
        values = [_present(at_path(item, path)) for item in items]
    if spec.type == "any" or (spec.type == "text" and set(map(type, values)) <= {str}):
        return values
    if spec.type == "time":
        return _times(values)
    if spec.type == "length":
        try:
            return [0 if v is None else len(v) for v in values]
        except TypeError:
            pass
    return [convert(v, spec.type) for v in values]


def _times(values: list) -> list[float | None]:
    """ISO-8601 texts with their zone, the usual column, in one pass; anything else value by value (epoch_of)."""
    try:
        parsed = [datetime.fromisoformat(v) for v in values]
    except (TypeError, ValueError):
        parsed = []
    if parsed and all(t.tzinfo is not None for t in parsed):
        return [round(t.timestamp(), 6) for t in parsed]
    return [convert(v, "time") for v in values]


def _present(v: Any) -> Any:
    if v is MISSING:
        raise KeyError("missing")
    return v


def _what(item: Any) -> str:
    if isinstance(item, dict):
        keys = ", ".join(list(map(str, item))[:8])
        return f" (its keys: {keys or 'none'})"
    return f" (it is {shown(item)}; a field path '' reads the item itself)"


# the sources ----------------------------------------------------------------------------------------------------

def http_pages(src: HttpRead, base_url: str | None, env: Env, session: requests.Session,
               extra_headers: Mapping[str, str] | None = None, first_page_only: bool = False) -> Iterator[list]:
    """Every page of a paginated JSON endpoint, as its list of items."""
    url = resolve_url(src.url, base_url)
    headers = {k: expand(v, env) for k, v in src.headers.items()} | dict(extra_headers or {})
    params: dict[str, Any] = {src.limit_param: src.page_size} if src.limit_param else {}
    seen: set[str] = set()
    for page in range(MAX_PAGES):
        where = f"GET {url}" + (f" (page {page + 1})" if page else "")
        try:
            resp = session.get(url, params=params, headers=headers, timeout=src.timeout)
        except requests.RequestException as exc:
            raise ReadFailed(f"{where}: {exc.__class__.__name__}: {exc}") from None
        if resp.status_code != 200:
            raise ReadFailed(f"{where} answered {resp.status_code}: {resp.text[:200]!r}")
        try:
            body = resp.json()
        except ValueError:
            raise ReadFailed(f"{where}: the body is not JSON: {resp.text[:200]!r}") from None
        items = at_path(body, src.items)
        if not isinstance(items, list):
            found = "nothing there" if items is MISSING else shown(items)
            raise ReadFailed(f"{where}: expected a list of items at {src.items or 'the top of the body'!r}, found "
                             f"{found}")
        yield items
        if first_page_only or src.next is None:
            return
        cursor = at_path(body, src.next)
        if cursor is MISSING or cursor is None or cursor == "":
            return
        if not isinstance(cursor, (str, int)) or isinstance(cursor, bool):
            raise ReadFailed(f"{where}: the next-page cursor at {src.next!r} is {shown(cursor)}, not text or a "
                             "number")
        token = str(cursor)
        if token in seen:
            raise ReadFailed(f"{where}: the next-page cursor {token!r} came back again: the endpoint would page "
                             "for ever")
        seen.add(token)
        if src.cursor_param:
            params = {**params, src.cursor_param: token}
        else:
            url = resolve_url(urljoin(url, token), None)
            params = {}
    raise ReadFailed(f"GET {url}: more than {MAX_PAGES} pages")


def resolve_url(url: str, base_url: str | None) -> str:
    """A read's URL: a path is relative to the attached API; whatever it becomes must be loopback."""
    full = base_url.rstrip("/") + url if url.startswith("/") and base_url else url
    problem = loopback_problem(full.split("?", 1)[0])
    if problem:
        raise ReadFailed(f"{url}: {problem}")
    return full


def source_pages(spec: ReadSpec, base_url: str | None, env: Env, session: requests.Session,
                 extra_headers: Mapping[str, str] | None = None) -> Iterator[list]:
    """The items of one collection in pages (lists), from whichever source it declares."""
    src = spec.source
    if isinstance(src, HttpRead):
        return http_pages(src, base_url, env, session, extra_headers)
    if isinstance(src, SqlRead):
        return sql_pages(src, env)
    return redis_pages(src, env)


def describe_source(spec: ReadSpec, base_url: str | None) -> str:
    src = spec.source
    if isinstance(src, HttpRead):
        try:
            return f"GET {resolve_url(src.url, base_url)}"
        except ReadFailed:
            return f"GET {src.url}"
    if isinstance(src, SqlRead):
        return f"{src.dsn.split('://', 1)[0]} query on {_host_of(src.dsn)}"
    return f"redis {_host_of(src.url)} {'key ' + (src.key or '') if src.key else 'scan ' + (src.scan or '')}"


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1]   # never the user or the password


def read_collection(spec: ReadSpec, base_url: str | None, env: Env | None = None,
                    session: requests.Session | None = None,
                    extra_headers: Mapping[str, str] | None = None) -> Collection:
    """One collection, read to its end or as far as it could be (then incomplete, with the error)."""
    env = os.environ if env is None else env
    cols = Columns(spec.fields)
    out = Collection(cols.columns, 0, True, None, describe_source(spec, base_url))
    own = session is None
    s = http.session() if session is None else session
    try:
        for page in source_pages(spec, base_url, env, s, extra_headers):
            cols.add_page(page)
    except ReadFailed as exc:
        out.complete, out.error = False, str(exc)
    except Exception as exc:   # a driver's own error (connection refused, a bad query): said, not raised
        out.complete, out.error = False, f"{out.source}: {exc.__class__.__name__}: {_one_line(exc)}"
    finally:
        if own:
            s.close()
    out.rows = cols.rows
    return out


def read_final_state(audit: AuditSection, base_url: str | None, env: Env | None = None,
                     session_factory: Callable[[], requests.Session] = http.session) -> FinalState:
    """Every collection of a declared audit, as a declared final state."""
    state = FinalState(read_at=round(time.time(), 3), declared=True)
    for name, spec in audit.reads.items():
        with session_factory() as session:
            c = read_collection(spec, base_url, env, session)
        state.collections[name] = c
        if not c.complete:
            state.complete = False
            state.errors.append(f"audit.read.{name}: {c.error}")
    return state


def collect(audit: AuditSection, base_url: str | None, run_dir: Path, env: Env | None = None) -> FinalState:
    """Read every collection and write final-state.json."""
    state = read_final_state(audit, base_url, env)
    write_final_state(Path(run_dir), state)
    return state


def _one_line(exc: BaseException) -> str:
    """A driver's message on one line, cut (a database quotes the query back over several)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


# the pre-flight -------------------------------------------------------------------------------------------------

def check_reads(audit: AuditSection, base_url: str | None, env: Env | None = None,
                session_factory: Callable[[], requests.Session] = http.session) -> list[str]:
    """What keeps each collection from being read, asked once now (before the drill): [] when all answer."""
    env = os.environ if env is None else env
    problems = []
    for name, spec in audit.reads.items():
        try:
            _probe(spec, base_url, env, session_factory)
        except ReadFailed as exc:
            problems.append(f"audit.read.{name}: {exc}")
        except Exception as exc:
            problems.append(f"audit.read.{name}: {describe_source(spec, base_url)}: {exc.__class__.__name__}: "
                            f"{_one_line(exc)}")
    return problems


def _probe(spec: ReadSpec, base_url: str | None, env: Env, session_factory: Callable[[], requests.Session]) -> None:
    src = spec.source
    if isinstance(src, HttpRead):
        cols = Columns(spec.fields)
        with session_factory() as s:
            for page in http_pages(src, base_url, env, s, first_page_only=True):
                cols.add_page(page[:1])
    elif isinstance(src, SqlRead):
        explain(src, env)
    elif isinstance(src, RedisRead):
        ping(src, env)
