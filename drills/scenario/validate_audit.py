"""The `audit` section: the writes, the final read and the models of a data-loss audit for any system
(drills/scenario/audit_section.py; docs/scenario-format.md#audit).

Everything the final read will contact is checked here, before anything runs: every URL and DSN is loopback
(the network rule, drills/scenario/loopback.py), secrets are `${NAME}` references to the environment, never
written in the scenario, and every model names a collection that is read and writes that are declared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from drills.scenario.audit_section import (
    FIELD_TYPES,
    MODEL_KINDS,
    RECORDED_PREFIXES,
    AuditModel,
    AuditSection,
    CounterModel,
    FieldSpec,
    HttpRead,
    ReadSource,
    ReadSpec,
    RedisRead,
    SetModel,
    SqlRead,
    UniqueModel,
    WriteSpec,
)
from drills.scenario.limits import LIMITS
from drills.scenario.loopback import HOSTS, loopback_problem
from drills.scenario.nodes import Mapping, Node, Scalar, describe
from drills.scenario.reader import Context, MapView, child, finite_number
from drills.scenario.suggest import did_you_mean

T = TypeVar("T")

AUDIT_KEYS = ("writes", "read", "models")
WRITE_KEYS = ("id", "server_id", "value", "counter")
READ_KEYS = ("http", "sql", "redis", "fields")
READ_SOURCES = ("http", "sql", "redis")
HTTP_KEYS = ("url", "items", "next", "cursor_param", "limit_param", "page_size", "headers", "timeout")
SQL_KEYS = ("dsn", "query")
REDIS_KEYS = ("url", "key", "scan", "json")
FIELD_KEYS = ("path", "type")
MODEL_KEYS = {
    "set": ("model", "collection", "id", "writes", "server_id", "created"),
    "unique": ("model", "collection", "fields"),
    "counter": ("model", "collection", "value", "writes", "counter", "initial"),
}
PAGE_SIZE_MAX = 100_000
SQL_SCHEMES = {"postgresql": "PostgreSQL", "postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
NAME_HELP = "a name of letters, digits and '_' (at most 64), not starting with a digit"
# A dotted path into a JSON value: names or list indices, e.g. data.items or order.lines.0.sku
_SEGMENT = r"[A-Za-z0-9_-]+"
PATH_PATTERN = rf"{_SEGMENT}(\.{_SEGMENT})*"
PATH_HELP = "a dotted path such as id or order.id (names and list indices, separated by '.')"
SOURCE_PATTERN = rf"(response\.|request\.)?{PATH_PATTERN}"
SOURCE_HELP = ("a history field the locustfile records (e.g. key), or response.PATH / request.PATH: a dotted path "
               "in the 2xx JSON response body / the JSON request body, recorded by the load")
OP_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_TEXT = re.compile(r"(\$\{[A-Za-z_][A-Za-z0-9_]*\}|[^$])*")
SECRET_HELP = "write a secret as ${NAME}, taken from the environment when the drill reads"


def read_audit(ctx: Context, node: Node | None, path: str, attached: bool, builtin_ops: tuple[str, ...] | None
               ) -> AuditSection | None:
    """The declared audit, or None when the scenario has none. `builtin_ops`: the operations the built-in
    locustfile records (None: the scenario's own locustfile, whose operations cannot be known here)."""
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return None
    m = ctx.mapping(node, path, AUDIT_KEYS, "the audit section", required=("writes", "read", "models"))
    if m is None:
        return None
    if not attached:
        m.error("writes", "expected `audit` only with stack.attach: the reference stack's audit is built in "
                          "(drills/scenario/reference_audit.py)")
    writes = _writes(ctx, m, builtin_ops)
    reads = _reads(ctx, m, attached)
    models = _models(ctx, m, writes, reads)
    if writes is None or reads is None or models is None:
        return None
    reads = _with_model_columns(reads, models)
    return AuditSection(writes=writes, reads=reads, models=tuple(models))


# writes ---------------------------------------------------------------------------------------------------------

def _writes(ctx: Context, m: MapView, builtin_ops: tuple[str, ...] | None) -> dict[str, WriteSpec] | None:
    node = m.node_of("writes")
    if node is None:
        return None
    path = m.at("writes")
    if not isinstance(node, Mapping) or not node.pairs:
        ctx.error(node, path, "expected the writes (a mapping of history operation -> where its identity is, e.g. "
                              f"`add_order: {{id: key}}`), found {describe(node)}")
        return None

    def entry(key: Node, op: str, value: Node, at: str) -> WriteSpec | None:
        if builtin_ops is not None and op not in builtin_ops:
            ctx.error(key, at, f"expected an operation the built-in locustfile records ({', '.join(builtin_ops)}), "
                               f"found '{op}'", did_you_mean(op, builtin_ops))
            return None
        return _write(ctx, value, at, op)

    return _named(ctx, node, path, "an operation name of the history", OP_PATTERN, entry)


def _named(ctx: Context, node: Mapping, path: str, what: str, pattern: str,
           parse: Callable[[Node, str, Node, str], T | None]) -> dict[str, T] | None:
    """A mapping of names (matching `pattern`, each once) to what `parse(key, name, value, path)` makes of its
    value: every bad name or entry is an error; None when any was (the writes, the reads, a read's fields)."""
    out: dict[str, T] = {}
    ok = True
    for key, value in node.pairs:
        name = key.value
        at = child(path, str(name))
        if not isinstance(name, str) or not re.fullmatch(pattern, name) or name in out:
            ctx.error(key, at, f"expected {what}, once each, found {describe(key)}")
            ok = False
            continue
        spec = parse(key, name, value, at)
        if spec is None:
            ok = False
        else:
            out[name] = spec
    return out if ok else None


def _write(ctx: Context, node: Node, path: str, op: str) -> WriteSpec | None:
    if isinstance(node, Scalar) and node.value is None:
        return WriteSpec(op)
    if isinstance(node, Scalar) and isinstance(node.value, str):   # shorthand: `add_order: key`
        problem = _source_problem(node.value)
        if problem:
            ctx.error(node, path, problem)
            return None
        return WriteSpec(op, id=node.value)
    w = ctx.mapping(node, path, WRITE_KEYS, f"the write {op} (where its identity is)")
    if w is None:
        return None
    before = len(ctx.issues)
    for key in WRITE_KEYS:
        w.text(key, check=_source_problem)
    if w.given("counter") and not w.given("value"):
        w.key_error("counter", "expected a `value` with `counter` (what the write adds to that counter), found none")
    if len(ctx.issues) > before:
        return None
    return WriteSpec(op, **w.values)


def _source_problem(text: str) -> str | None:
    bare = next((p[:-1] for p in RECORDED_PREFIXES if text in (p, p[:-1])), None)
    if bare is None and re.fullmatch(SOURCE_PATTERN, text):
        return None
    detail = f" ({bare} names no path: write {bare}.id or similar)" if bare else ""
    return f"expected {SOURCE_HELP}, found '{text}'{detail}"


# reads ----------------------------------------------------------------------------------------------------------

def _reads(ctx: Context, m: MapView, attached: bool) -> dict[str, ReadSpec] | None:
    node = m.node_of("read")
    if node is None:
        return None
    path = m.at("read")
    if not isinstance(node, Mapping) or not node.pairs:
        ctx.error(node, path, "expected the final read (a mapping of collection name -> its source: http, sql or "
                              f"redis), found {describe(node)}")
        return None
    return _named(ctx, node, path, f"a collection name ({NAME_HELP})", NAME_PATTERN,
                  lambda _key, name, value, at: _read(ctx, value, at, name, attached))


def _read(ctx: Context, node: Node, path: str, name: str, attached: bool) -> ReadSpec | None:
    r = ctx.mapping(node, path, READ_KEYS, f"the collection {name} (one of http, sql, redis; and its fields)")
    if r is None:
        return None
    given = [k for k in READ_SOURCES if r.has(k)]
    if len(given) != 1:
        ctx.error(r.node, path, f"expected exactly one of {', '.join(READ_SOURCES)} (where {name} is read from), "
                                f"found {' and '.join(given) if given else 'none'}")
        return None
    before = len(ctx.issues)
    kind = given[0]
    source: ReadSource | None
    if kind == "http":
        source = _http(ctx, r, attached)
    elif kind == "sql":
        source = _sql(ctx, r)
    else:
        source = _redis(ctx, r)
    fields = _fields(ctx, r)
    if source is None or fields is None or len(ctx.issues) > before:
        return None
    return ReadSpec(name, source, fields)


def _http(ctx: Context, parent: MapView, attached: bool) -> HttpRead | None:
    h = ctx.mapping(parent.value_node("http"), parent.at("http"), HTTP_KEYS, "a paginated JSON endpoint",
                    required=("url",))
    if h is None:
        return None
    h.text("url", check=_url_problem)
    for key in ("items", "next"):
        h.text(key, check=lambda v: None if v == "" or re.fullmatch(PATH_PATTERN, v) else
               f"expected {PATH_HELP} (or '' for the page itself), found '{v}'", nullable=True)
    for key in ("cursor_param", "limit_param"):
        h.text(key, pattern=r"[A-Za-z0-9_.\[\]-]{1,64}", pattern_help="a query parameter name", nullable=True)
    h.integer("page_size", 1, PAGE_SIZE_MAX)
    h.text_map("headers", "a mapping of header name to value",
               key_check=lambda k: None if re.fullmatch(r"[A-Za-z0-9-]{1,64}", k) else
               (f"expected a header name, found '{k}'", None),
               value_check=_env_text_problem)
    h.duration("timeout", positive=True, limit=LIMITS["timeout"])
    if h.values.get("cursor_param") and not h.values.get("next"):
        h.key_error("cursor_param", "expected a `next` (where each page holds the next page's cursor) with "
                                    "cursor_param, found none")
    if "url" not in h.values:
        return None
    if h.values["url"].startswith("/") and not attached:
        h.error("url", "expected a loopback URL: a path relative to the API needs stack.attach.api_url")
    return HttpRead(**{k: v for k, v in h.values.items() if v is not None})


def _url_problem(url: str) -> str | None:
    if url.startswith("/"):
        bad = next((c for c in url if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F), None)
        if bad is not None:
            return f"expected a path relative to stack.attach.api_url, found '{url}' (it contains U+{ord(bad):04X})"
        return None
    if "?" in url:
        base = url.split("?", 1)[0]
        problem = loopback_problem(base)
        if problem is None:
            return None   # a query of fixed parameters (e.g. ?status=all) is fine on a read
    return loopback_problem(url)


def _env_text_problem(value: str) -> tuple[str, str | None] | None:
    if _ENV_TEXT.fullmatch(value):
        return None
    return (f"expected text where every '$' starts a ${{NAME}} reference to the environment, found '{value}'", None)


def _sql(ctx: Context, parent: MapView) -> SqlRead | None:
    s = ctx.mapping(parent.value_node("sql"), parent.at("sql"), SQL_KEYS, "an SQL query on a loopback database",
                    required=("dsn", "query"))
    if s is None:
        return None
    s.text("dsn", check=dsn_problem)
    s.text("query", check=lambda q: None if q.strip() else "expected a query, found an empty one")
    if "dsn" not in s.values or "query" not in s.values:
        return None
    return SqlRead(**s.values)


def dsn_problem(dsn: str) -> str | None:
    """Why `dsn` is not a loopback PostgreSQL / MySQL URL without a written password, or None."""
    expected = ("expected a database URL on loopback, postgresql://USER@127.0.0.1:PORT/DB or "
                "mysql://USER@127.0.0.1:PORT/DB")
    return _service_url_problem(dsn, tuple(SQL_SCHEMES), expected, need_path=True)


def redis_url_problem(url: str) -> str | None:
    return _service_url_problem(url, ("redis",), "expected a Redis URL on loopback, redis://127.0.0.1:PORT[/DB]",
                                need_path=False)


def _service_url_problem(url: str, schemes: tuple[str, ...], expected: str, need_path: bool) -> str | None:
    scheme = url.split("://", 1)[0] if "://" in url else None
    if scheme not in schemes:
        return f"{expected}, found '{url}' (the scheme is {scheme + '://' if scheme else 'missing'})"
    masked = ENV_REF.sub("x", url)   # ${NAME} references stand for text: check what is around them
    try:
        parts = urlsplit(masked)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return f"{expected}, found '{url}' ({exc})"
    if host not in HOSTS:
        return f"{expected}, found '{url}' (the host '{host or ''}' is not loopback: publish it on 127.0.0.1)"
    if port is None:
        return f"{expected}, found '{url}' (no port)"
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    userinfo = netloc.rsplit("@", 1)[0] if "@" in netloc else ""
    if ":" in userinfo and not ENV_REF.fullmatch(userinfo.split(":", 1)[1]):
        return f"{expected}, found a password written in the URL: {SECRET_HELP}"
    if need_path and not parts.path.strip("/"):
        return f"{expected}, found '{url}' (no database name after the port)"
    if parts.query or parts.fragment:
        return f"{expected}, found '{url}' (a query or fragment: give the URL alone)"
    return None


def _redis(ctx: Context, parent: MapView) -> RedisRead | None:
    r = ctx.mapping(parent.value_node("redis"), parent.at("redis"), REDIS_KEYS, "keys of a loopback Redis",
                    required=("url",))
    if r is None:
        return None
    r.text("url", check=redis_url_problem)
    r.text("key")
    r.text("scan")
    r.flag("json")
    if r.has("key") == r.has("scan"):
        ctx.error(r.node, r.path, "expected exactly one of key (one key, read by its type) or scan (every key "
                                  f"matching a pattern), found {'both' if r.has('key') else 'neither'}")
        return None
    if "url" not in r.values:
        return None
    return RedisRead(**r.values)


def _fields(ctx: Context, r: MapView) -> dict[str, FieldSpec] | None:
    node = r.node_of("fields")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return {}
    path = r.at("fields")
    if not isinstance(node, Mapping):
        ctx.error(node, path, f"expected the fields (a mapping of column -> path, or {{path, type}}), found "
                              f"{describe(node)}")
        return None
    return _named(ctx, node, path, f"a column name ({NAME_HELP})", NAME_PATTERN,
                  lambda _key, _name, value, at: _field(ctx, value, at))


def _field(ctx: Context, node: Node, path: str) -> FieldSpec | None:
    if isinstance(node, Scalar) and isinstance(node.value, str):
        problem = _path_problem(node.value)
        if problem:
            ctx.error(node, path, problem)
            return None
        return FieldSpec(node.value)
    f = ctx.mapping(node, path, FIELD_KEYS, "a field (its path in an item, and its type)", required=("path",))
    if f is None:
        return None
    before = len(ctx.issues)
    f.text("path", check=_path_problem)
    f.text("type", choices=FIELD_TYPES)
    if len(ctx.issues) > before or "path" not in f.values:
        return None
    return FieldSpec(**f.values)


def _path_problem(text: str) -> str | None:
    if text == "" or re.fullmatch(PATH_PATTERN, text):
        return None
    return f"expected {PATH_HELP}, or '' for the whole item, found '{text}'"


# models ---------------------------------------------------------------------------------------------------------

def _models(ctx: Context, m: MapView, writes: dict[str, WriteSpec] | None, reads: dict[str, ReadSpec] | None
            ) -> list[AuditModel] | None:
    node = m.node_of("models")
    if node is None:
        return None
    items = ctx.sequence(node, m.at("models"), "models (set, unique, counter)")
    if items is None:
        return None
    if not items:
        ctx.error(node, m.at("models"), "expected at least one model (set, unique or counter), found an empty list")
        return None
    out: list[AuditModel] = []
    ok = True
    for path, item in items:
        model = _model(ctx, item, path, writes, reads)
        if model is None:
            ok = False
        else:
            out.append(model)
    return out if ok else None


def _model(ctx: Context, node: Node, path: str, writes: dict[str, WriteSpec] | None,
           reads: dict[str, ReadSpec] | None) -> AuditModel | None:
    kind = _model_kind(ctx, node, path)
    if kind is None:
        return None
    mm = ctx.mapping(node, path, MODEL_KEYS[kind], f"a {kind} model", required=_REQUIRED[kind])
    if mm is None:
        return None
    before = len(ctx.issues)
    mm.text("model", choices=MODEL_KINDS)
    mm.values.pop("model", None)
    mm.text("collection", check=lambda c: _collection_problem(c, reads))
    for key in ("id", "server_id", "created", "value", "counter"):
        if key in MODEL_KEYS[kind]:
            mm.text(key, pattern=NAME_PATTERN, pattern_help=f"a column of the collection ({NAME_HELP})")
    if "writes" in MODEL_KEYS[kind]:
        names = mm.texts("writes", "write operations", choices=tuple(writes) if writes is not None else None)
        if names is not None:
            mm.values["writes"] = tuple(names)
    if kind == "unique":
        cols = mm.texts("fields", "columns")
        if cols is not None:
            bad = [c for c in cols if not re.fullmatch(NAME_PATTERN, c)]
            if bad:
                mm.error("fields", f"expected columns of the collection ({NAME_HELP}), found '{bad[0]}'")
            mm.values["fields"] = tuple(cols)
    if kind == "counter":
        value = mm.node_of("initial")
        if value is not None:
            v = value.value if isinstance(value, Scalar) else None
            if not finite_number(v):
                mm.error("initial", "expected a number (every counter's value before the run), found "
                                    f"{describe(value)}")
            else:
                mm.values["initial"] = float(v)
        _counter_writes(mm, writes)
    if len(ctx.issues) > before:
        return None
    if kind == "set":
        return SetModel(**mm.values)
    if kind == "unique":
        return UniqueModel(**mm.values)
    return CounterModel(**mm.values)


_REQUIRED = {"set": ("model", "collection", "id"), "unique": ("model", "collection", "fields"),
             "counter": ("model", "collection", "value")}


def _model_kind(ctx: Context, node: Node, path: str) -> str | None:
    if not isinstance(node, Mapping):
        ctx.error(node, path, f"expected a model (a mapping with `model: set`, `unique` or `counter`), found "
                              f"{describe(node)}")
        return None
    value = next((v for k, v in node.pairs if k.value == "model"), None)
    kind = value.value if isinstance(value, Scalar) else None
    if kind not in MODEL_KINDS:
        shown = f"'{kind}'" if isinstance(kind, str) else (describe(value) if value is not None else "none")
        ctx.error(value or node, child(path, "model"), f"expected `model`: one of {', '.join(MODEL_KINDS)}, found "
                                                       f"{shown}", did_you_mean(str(kind), MODEL_KINDS))
        return None
    return str(kind)


def _collection_problem(name: str, reads: dict[str, ReadSpec] | None) -> str | None:
    if reads is None or name in reads:
        return None
    return f"expected a collection of audit.read ({', '.join(reads) or 'none'}), found '{name}'"


def _counter_writes(mm: MapView, writes: dict[str, WriteSpec] | None) -> None:
    if writes is None:
        return
    named = mm.values.get("writes") or tuple(op for op, w in writes.items() if w.value is not None)
    if not named:
        mm.error("writes", "expected writes with a `value` (what each adds to the counter) for a counter model, "
                           "found none")
        return
    for op in named:
        w = writes.get(op)
        if w is not None and w.value is None:
            mm.error("writes", f"expected the write {op} to declare a `value` (what it adds), found none")
        if w is not None and (w.counter is None) != (mm.values.get("counter") is None):
            mm.error("counter", f"expected the counter model and the write {op} to name the counter both or "
                                "neither (the model: the column naming each counter; the write: the field)")


def _with_model_columns(reads: dict[str, ReadSpec], models: list[AuditModel]) -> dict[str, ReadSpec]:
    """Every column a model uses is read: a column the fields do not declare is read from the item's key (the
    query's column) of the same name."""
    wanted: dict[str, list[str]] = {}
    for model in models:
        if isinstance(model, SetModel):
            cols = [model.id, model.server_id, model.created]
        elif isinstance(model, UniqueModel):
            cols = list(model.fields)
        else:
            cols = [model.value, model.counter]
        wanted.setdefault(model.collection, []).extend(c for c in cols if c is not None)
    out = {}
    for name, spec in reads.items():
        fields = dict(spec.fields)
        for col in wanted.get(name, []):
            fields.setdefault(col, FieldSpec(col, "time") if _is_created(models, name, col) else FieldSpec(col))
        out[name] = ReadSpec(name, spec.source, fields)
    return out


def _is_created(models: list[AuditModel], collection: str, column: str) -> bool:
    return any(isinstance(m, SetModel) and m.collection == collection and m.created == column for m in models)
