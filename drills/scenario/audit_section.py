"""The `audit` section, typed: which history operations are writes, how the final read gets the system's data
back after the heal, and the models that compare the two (docs/scenario-format.md#audit).

Jepsen's vocabulary: a write attempt is acknowledged (`ok`), definitely failed (`fail`) or indeterminate
(`info`); retries share the write's identity, so a write is acknowledged when any attempt was. Only an
acknowledged write can be lost. The reference stack's own audit is one instance of these classes
(drills/scenario/reference_audit.py): there is one audit path, whatever the system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where a write's identity (or value) is found, by the spelling of the source:
#   a plain name   a field of the history line (what the locustfile put in the request's `context`)
#   response.PATH  a dotted path in the 2xx JSON response body, recorded by the load as it happens
#   request.PATH   a dotted path in the JSON request body, recorded by the load as it happens
# The load writes response./request. values into the history line under the source's own spelling, so the
# checks read every source the same way: as the history field of that name.
RECORDED_PREFIXES = ("response.", "request.")

# Conversions a read field may ask for; `any` keeps the JSON value (or the database's) as it is.
FIELD_TYPES = ("any", "text", "number", "time", "length")
MODEL_KINDS = ("set", "unique", "counter")


MISSING = object()   # what at_path() finds where a path leads nowhere


def at_path(value: Any, path: str) -> Any:
    """The value at a dotted path of names and list indices ('' is the value itself), MISSING where a step is
    not there: how every path of the audit section reads JSON (the load's response./request. sources, the final
    read's items, fields and cursors)."""
    if path == "":
        return value
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step, MISSING)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def recorded_source(source: str | None) -> bool:
    """Whether the load must record this source itself (a path in the request or response body)."""
    return source is not None and source.startswith(RECORDED_PREFIXES)


@dataclass(frozen=True)
class WriteSpec:
    """One history operation that writes, and where each write's identity is."""

    op: str
    id: str = "key"                     # the write's identity (idempotent retries share it)
    server_id: str | None = None        # an id the system assigned, from the acknowledging attempt's line
    value: str | None = None            # counter model: the amount the write adds (a number)
    counter: str | None = None          # counter model: which counter it adds to (absent: the only counter)

    def recorded(self) -> tuple[str, ...]:
        """The sources the load records into the history line for this operation."""
        return tuple(s for s in (self.id, self.server_id, self.value, self.counter) if s and recorded_source(s))


@dataclass(frozen=True)
class FieldSpec:
    """Where a column of a collection comes from in each item read, and how it is converted."""

    path: str                           # dotted path in an item (HTTP JSON), a column of the query (SQL)
    type: str = "any"                   # one of FIELD_TYPES


@dataclass(frozen=True)
class HttpRead:
    """A paginated JSON endpoint: GET url, items at `items`, the next page's cursor at `next`."""

    url: str                            # a loopback URL, or a path relative to the attached API's URL
    items: str = ""                     # dotted path of the page's list of items ("": the page is the list)
    next: str | None = None             # dotted path of the next page's cursor; absent or null there: last page
    cursor_param: str | None = None     # the cursor goes back as this query parameter (None: `next` is a URL)
    limit_param: str | None = None      # query parameter for the page size (None: the server's own)
    page_size: int = 1000
    headers: dict[str, str] = field(default_factory=dict)  # ${NAME} is taken from the environment
    timeout: float = 30.0


@dataclass(frozen=True)
class SqlRead:
    """One query against a loopback database (PostgreSQL through psycopg, MySQL/MariaDB through PyMySQL)."""

    dsn: str                            # postgresql://USER@127.0.0.1:PORT/DB or mysql://...; ${NAME} from the env
    query: str


@dataclass(frozen=True)
class RedisRead:
    """Keys of a loopback Redis: one key read by its type, or every key matching a pattern (SCAN)."""

    url: str                            # redis://127.0.0.1:PORT[/DB]; a password as ${NAME} from the environment
    key: str | None = None              # set, list, sorted set: its members; hash: {field, value}; string: itself
    scan: str | None = None             # every key matching: {key, value} items (value: string or hash)
    json: bool = False                  # string values hold JSON: parse them


ReadSource = HttpRead | SqlRead | RedisRead


@dataclass(frozen=True)
class ReadSpec:
    """One collection of the final read."""

    name: str
    source: ReadSource
    fields: dict[str, FieldSpec] = field(default_factory=dict)   # column -> where (every column a model uses)


@dataclass(frozen=True)
class SetModel:
    """Every acknowledged write must be present once (Jepsen's set-full counts): lost, unexpected,
    duplicated, indeterminate applied / not applied."""

    collection: str
    id: str                             # the column holding each row's write identity
    writes: tuple[str, ...] = ()        # write operations checked (empty: every declared write)
    server_id: str | None = None        # the column holding the id the system assigned (WriteSpec.server_id)
    created: str | None = None          # creation times: rows created before the run are not its own
    kind: str = "set"

    @property
    def name(self) -> str:
        return f"set {self.collection}.{self.id}"


@dataclass(frozen=True)
class UniqueModel:
    """A field (or fields together) whose value no two rows may share, e.g. a seat of an event."""

    collection: str
    fields: tuple[str, ...]
    metric: str = "unique_violations"   # the budget metric its count adds to (the reference's: oversold)
    kind: str = "unique"

    @property
    def name(self) -> str:
        return f"unique {self.collection}.({', '.join(self.fields)})"


@dataclass(frozen=True)
class CounterModel:
    """A counter's final value must lie between what the acknowledged writes add and what they plus every
    indeterminate one could add (definitely failed writes add nothing)."""

    collection: str
    value: str                          # the column holding each counter's final value
    writes: tuple[str, ...] = ()        # write operations that add to it (empty: every write with a `value`)
    counter: str | None = None          # the column naming each counter (WriteSpec.counter); None: one counter
    initial: float = 0.0                # every counter's value before the run
    kind: str = "counter"

    @property
    def name(self) -> str:
        return f"counter {self.collection}.{self.value}"


AuditModel = SetModel | UniqueModel | CounterModel


@dataclass(frozen=True)
class AuditSection:
    """The declared audit of a scenario (or the reference stack's built-in one)."""

    writes: dict[str, WriteSpec] = field(default_factory=dict)    # op -> its write spec
    reads: dict[str, ReadSpec] = field(default_factory=dict)      # collection name -> how it is read
    models: tuple[AuditModel, ...] = ()
    reference: bool = False             # the reference stack's: its own extra checks run too (partial writes,
                                        # orphan tickets, capacity, credentials, revoked sessions)

    def model_writes(self, model: SetModel | CounterModel) -> tuple[str, ...]:
        """The write operations a model checks (all that fit it when it names none)."""
        if model.writes:
            return model.writes
        if isinstance(model, CounterModel):
            return tuple(op for op, w in self.writes.items() if w.value is not None)
        return tuple(self.writes)

    def recorded(self) -> dict[str, list[str]]:
        """op -> the request/response sources the load records into its history lines."""
        return {op: list(w.recorded()) for op, w in self.writes.items() if w.recorded()}
