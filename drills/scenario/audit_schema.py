"""The JSON Schema of the `audit` section (part of drills/scenario.schema.json, built by drills/scenario/schema.py),
from the same tables its validator uses (drills/scenario/validate_audit.py, which stays the authority: the
schema cannot say that a model's collection is read or its writes declared, nor that a DSN is loopback)."""

from __future__ import annotations

from drills.scenario.audit_section import FIELD_TYPES, HttpRead
from drills.scenario.limits import LIMITS
from drills.scenario.loopback import LOOPBACK_PATTERN
from drills.scenario.schema_parts import closed_object
from drills.scenario.validate_audit import (
    MODEL_KEYS,
    NAME_PATTERN,
    OP_PATTERN,
    PAGE_SIZE_MAX,
    PATH_PATTERN,
    SOURCE_HELP,
    SOURCE_PATTERN,
)

_obj = closed_object


def audit_schema(timeout_ref: dict) -> dict:
    """The `audit` section; `timeout_ref` is the scenario schema's positive timeout ($ref)."""
    http = HttpRead(url="")
    name = {"type": "string", "pattern": f"^{NAME_PATTERN}$"}
    path = {"type": "string", "pattern": f"^({PATH_PATTERN})?$"}
    source = {"type": "string", "pattern": f"^{SOURCE_PATTERN}$", "description": SOURCE_HELP}
    write = _obj({
        "id": {**source, "description": f"the write's identity (default key): {SOURCE_HELP}"},
        "server_id": {**source, "description": "an id the system assigned, from the acknowledging attempt"},
        "value": {**source, "description": "counter models: the amount the write adds"},
        "counter": {**source, "description": "counter models: which counter it adds to"},
    }, description="where a write's identity is")
    field = {"anyOf": [{**path, "description": "a dotted path in an item ('' the item itself)"},
                       _obj({"path": path, "type": {"type": "string", "enum": list(FIELD_TYPES), "default": "any"}},
                            ["path"])]}
    read = _obj({
        "http": _obj({
            "url": {"type": "string", "description": "a loopback URL, or a path relative to stack.attach.api_url",
                    "anyOf": [{"pattern": "^/"}, {"pattern": LOOPBACK_PATTERN.rstrip("$") + r"(\?.*)?$"}]},
            "items": {**path, "description": "dotted path of each page's list of items ('' the page itself)"},
            "next": {"type": ["string", "null"], "description": "dotted path of the next page's cursor"},
            "cursor_param": {"type": ["string", "null"], "description": "the query parameter the cursor goes back "
                                                                       "as (absent: `next` is the next page's URL)"},
            "limit_param": {"type": ["string", "null"], "description": "the query parameter of the page size"},
            "page_size": {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX, "default": http.page_size},
            "headers": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "request headers; ${NAME} is taken from the environment"},
            "timeout": {**timeout_ref, "description": f"per page (at most {LIMITS['timeout'].shown})"},
        }, ["url"], description="a paginated JSON endpoint"),
        "sql": _obj({"dsn": {"type": "string", "pattern": "^(postgresql|postgres|mysql|mariadb)://",
                             "description": "loopback database URL; a password only as ${NAME}"},
                     "query": {"type": "string", "minLength": 1}}, ["dsn", "query"],
                    description="one query (PostgreSQL through psycopg, MySQL/MariaDB through PyMySQL)"),
        "redis": _obj({"url": {"type": "string", "pattern": "^redis://"},
                       "key": {"type": "string"}, "scan": {"type": "string"}, "json": {"type": "boolean"}},
                      ["url"], oneOf=[{"required": ["key"]}, {"required": ["scan"]}],
                      description="one key read by its type, or every key matching a pattern"),
        "fields": {"type": "object", "propertyNames": name, "additionalProperties": field,
                   "description": "column -> its path in an item (SQL: a column of the query)"},
    }, oneOf=[{"required": ["http"]}, {"required": ["sql"]}, {"required": ["redis"]}],
        description="one collection of the final read")
    models = []
    for kind, keys in MODEL_KEYS.items():
        props: dict = {"model": {"const": kind}, "collection": name}
        for key in keys:
            if key in ("id", "server_id", "created", "value", "counter"):
                props[key] = name
            elif key == "writes":
                props[key] = {"type": "array", "items": {"type": "string", "pattern": f"^{OP_PATTERN}$"}}
            elif key == "fields":
                props[key] = {"type": "array", "minItems": 1, "items": name}
            elif key == "initial":
                props[key] = {"type": "number"}
        required = {"set": ["model", "collection", "id"], "unique": ["model", "collection", "fields"],
                    "counter": ["model", "collection", "value"]}[kind]
        models.append(_obj(props, required))
    return _obj({
        "writes": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": f"^{OP_PATTERN}$"},
                   "additionalProperties": {"anyOf": [{"type": "null"}, source, write]},
                   "description": "history operation -> where each write's identity is"},
        "read": {"type": "object", "minProperties": 1, "propertyNames": name, "additionalProperties": read,
                 "description": "the final read, after heal and recovery: collection name -> its source"},
        "models": {"type": "array", "minItems": 1, "items": {"oneOf": models},
                   "description": "set, unique and counter models comparing the writes with the final read"},
    }, ["writes", "read", "models"], description="the data-loss audit of an attached system "
                                                   "(docs/scenario-format.md#audit)")
