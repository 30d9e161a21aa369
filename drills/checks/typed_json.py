"""JSON documents declared as TypedDicts: their JSON Schema, and reading one back tolerantly.

A TypedDict says which keys a document has and what each holds; `Annotated[T, Meta(...)]` adds what a type
cannot (a description, bounds, a registry's list of names). From that one declaration:

* `schema(Root)` is the JSON Schema (draft 2020-12): every TypedDict becomes a `$defs` entry, closed
  (`additionalProperties: false`) unless listed as open; required keys are the TypedDict's required keys;
* `conform(Root, doc)` reads a document back the way a reader of old or damaged files must: a key the
  declaration does not know is dropped, a damaged list item or map value is dropped, a damaged nullable or
  optional value becomes null or absent, a missing list or map becomes empty, and every repair is named in
  words. Only what has no honest stand-in (a required number, text or choice) makes the enclosing object
  unusable; at the root that means "not a document of this kind" (None).

Supported types: TypedDict, list[T], dict[str, T], `X | None` (and unions of them), Literal, str, int, float
(which accepts integers), bool, Any, each optionally inside Annotated and NotRequired.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, Required, Union

_NO_DEFAULT = object()
_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Meta:
    """What a JSON Schema says of a value beyond its type. `name` makes it a named `$defs` entry."""

    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    enum: tuple[Any, ...] | None = None     # allowed values (e.g. a registry's names) of a str
    name: str | None = None
    comment: str | None = None


class Invalid(Exception):
    """A value that does not fit its declaration and has no stand-in."""


# introspection --------------------------------------------------------------------------------------------------

def _unwrap(tp: Any) -> tuple[Any, list[Meta]]:
    """(the bare type, its Meta annotations) without Annotated / Required / NotRequired."""
    metas: list[Meta] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            metas += [m for m in tp.__metadata__ if isinstance(m, Meta)]
            tp = tp.__origin__
        elif origin in (Required, NotRequired):
            tp = typing.get_args(tp)[0]
        else:
            return tp, metas


def _meta(metas: list[Meta]) -> Meta:
    """The annotations of one type merged; Python lists them innermost first, and the outer ones win."""
    merged: dict[str, Any] = {}
    for m in metas:
        merged.update({key: value for key, value in m.__dict__.items() if value is not None})
    return Meta(**merged)


def _members(tp: Any) -> list[Any] | None:
    """The members of a union, None for anything else."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        return list(typing.get_args(tp))
    return None


def _shape_of(tp: Any) -> tuple[Any, Meta, tuple[Any, ...] | None]:
    bare, metas = _unwrap(tp)
    members = _members(bare)
    return bare, _meta(metas), None if members is None else tuple(members)


_shape_cached = functools.cache(_shape_of)


def _shape(tp: Any) -> tuple[Any, Meta, tuple[Any, ...] | None]:
    """(the bare type, its annotations merged, its union members) of a declared type, worked out once per type."""
    try:
        return _shape_cached(tp)
    except TypeError:   # an unhashable annotation: every time, then
        return _shape_of(tp)


@functools.cache
def fields(td: type) -> Mapping[str, Any]:
    """A TypedDict's keys and their declared types (with their annotations), read-only. Resolved once per type:
    typing.get_type_hints() re-evaluates every annotation and was most of the time of reading a result back
    (it ran for every object of the document)."""
    return types.MappingProxyType(typing.get_type_hints(td, include_extras=True))


@functools.cache
def required_keys(td: type) -> frozenset[str]:
    """The keys a TypedDict requires (once per type). Read from the resolved hints: with postponed annotations
    Python 3.11 cannot see NotRequired when it builds the class, so its own __required_keys__ would say every
    key."""
    total = getattr(td, "__total__", True)
    out = set()
    for key, tp in fields(td).items():
        origin = typing.get_origin(tp)
        if origin is Required or (total and origin is not NotRequired):
            out.add(key)
    return frozenset(out)


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def _def_name(td: type) -> str:
    return td.__name__[:1].lower() + td.__name__[1:]


def _description(td: type) -> str | None:
    doc = td.__doc__
    if not doc or doc.startswith(td.__name__ + "("):  # TypedDict's own generated docstring
        return None
    return re.sub(r"\s+", " ", doc).strip()


# the schema -----------------------------------------------------------------------------------------------------

class _SchemaBuilder:
    def __init__(self, open_types: frozenset[type]) -> None:
        self.defs: dict[str, dict] = {}
        self.open = open_types

    def of(self, tp: Any) -> dict:
        bare, metas = _unwrap(tp)
        named = next((i for i, m in enumerate(metas) if m.name), None)
        if named is None:
            return self._plain(bare, _meta(metas))
        name = str(metas[named].name)
        if name not in self.defs:
            self.defs[name] = {}  # reserved first: a recursive type refers to itself
            self.defs[name] = self._plain(bare, _meta(metas[:named + 1]))
        outer = _meta(metas[named + 1:])   # what a use of the named type adds to it
        out: dict[str, Any] = {"description": outer.description} if outer.description else {}
        out["$ref"] = f"#/$defs/{name}"
        out.update({k: v for k, v in (("minimum", outer.minimum), ("maximum", outer.maximum)) if v is not None})
        return out

    def _plain(self, bare: Any, meta: Meta) -> dict:
        out: dict[str, Any] = {}
        if meta.comment:
            out["$comment"] = meta.comment
        if meta.description:
            out["description"] = meta.description
        out.update(self._type(bare, meta))
        return out

    def _type(self, bare: Any, meta: Meta) -> dict:
        members = _members(bare)
        if members is not None:
            if all(typing.get_origin(m) is Literal or m is type(None) for m in members):
                return {"enum": [x for m in members for x in (typing.get_args(m) if m is not type(None) else [None])]}
            if all(m in _SIMPLE or m is type(None) for m in members):
                merged: dict[str, Any] = {"type": [_SIMPLE.get(m, "null") for m in members]}
                if meta.minimum is not None:
                    merged["minimum"] = meta.minimum
                if meta.maximum is not None:
                    merged["maximum"] = meta.maximum
                return merged
            return {"anyOf": [self.of(m) if m is not type(None) else {"type": "null"} for m in members]}
        if bare is type(None):
            return {"type": "null"}
        if bare is Any:
            return {}
        if typing.get_origin(bare) is Literal:
            return {"enum": list(typing.get_args(bare))}
        if is_typeddict(bare):
            return self._object(bare)
        origin = typing.get_origin(bare)
        if origin is list:
            out: dict[str, Any] = {"type": "array"}
            (item,) = typing.get_args(bare)
            if item is not Any:
                out["items"] = self.of(item)
            if meta.min_items is not None:
                out["minItems"] = meta.min_items
            if meta.max_items is not None:
                out["maxItems"] = meta.max_items
            return out
        if origin is dict:
            _key, value = typing.get_args(bare)
            return {"type": "object"} | ({} if value is Any else {"additionalProperties": self.of(value)})
        if bare in _SIMPLE:
            out = {"type": _SIMPLE[bare]}
            if meta.enum is not None:
                out = {"enum": list(meta.enum)}
            if meta.minimum is not None:
                out["minimum"] = meta.minimum
            if meta.maximum is not None:
                out["maximum"] = meta.maximum
            return out
        raise TypeError(f"no JSON Schema for {bare!r}")

    def _object(self, td: type) -> dict:
        name = _def_name(td)
        if name not in self.defs:
            self.defs[name] = {}
            body: dict[str, Any] = {}
            described = _description(td)
            if described:
                body["description"] = described
            body["type"] = "object"
            required = [k for k in fields(td) if k in required_keys(td)]
            if required:
                body["required"] = required
            body["properties"] = {k: self.of(t) for k, t in fields(td).items()}
            if td not in self.open:
                body["additionalProperties"] = False
            self.defs[name] = body
        return {"$ref": f"#/$defs/{name}"}


def schema(root: type, header: dict[str, Any], open_types: frozenset[type] = frozenset()) -> dict:
    """The JSON Schema of documents declared by the TypedDict `root`; `header` goes first ($schema, $id, title,
    description...). `open_types` are TypedDicts that pass another writer's objects through: extra keys allowed."""
    builder = _SchemaBuilder(open_types)
    root_ref = builder.of(root)
    root_def = builder.defs.pop(root_ref["$ref"].rsplit("/", 1)[1])
    root_def.pop("description", None)
    return {**header, **root_def, "$defs": builder.defs}


# reading back ---------------------------------------------------------------------------------------------------

def _where(path: str) -> str:
    return path or "the document"


def _stand_in(tp: Any) -> Any:
    """What a missing or damaged value of this type honestly becomes, or _NO_DEFAULT: null for a nullable
    value, empty for a list or a map, a repaired object for a TypedDict whose every key has a stand-in."""
    bare, _ = _unwrap(tp)
    members = _members(bare)
    if members is not None and type(None) in members or bare is type(None) or bare is Any:
        return None
    origin = typing.get_origin(bare)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if is_typeddict(bare):
        out = {}
        for key, sub in fields(bare).items():
            if key not in required_keys(bare):
                continue
            value = _stand_in(sub)
            if value is _NO_DEFAULT:
                return _NO_DEFAULT
            out[key] = value
        return out
    return _NO_DEFAULT


class _Reader:
    def __init__(self, open_types: frozenset[type]) -> None:
        self.notes: list[str] = []
        self.open = open_types

    def read(self, tp: Any, value: Any, path: str) -> Any:
        """`value` as `tp` (repaired where it can be, see the module docstring); raises Invalid."""
        bare, meta, members = _shape(tp)
        if members is not None:
            if value is None and type(None) in members:
                return None
            for m in members:
                if m is type(None):
                    continue
                try:
                    return self._quiet(m, value, path)
                except Invalid:
                    continue
            raise Invalid(f"{_where(path)}: {self._kind(value)} where {self._expected(bare)} belongs")
        if bare is Any:
            return value
        if bare is type(None):
            if value is None:
                return None
            raise Invalid(f"{_where(path)}: {self._kind(value)} where null belongs")
        if typing.get_origin(bare) is Literal:
            if any(value == x and type(value) is type(x) for x in typing.get_args(bare)):
                return value
            raise Invalid(f"{_where(path)}: {self._kind(value)} where {self._expected(bare)} belongs")
        if is_typeddict(bare):
            return self._object(bare, value, path)
        origin = typing.get_origin(bare)
        if origin is list:
            return self._list(typing.get_args(bare)[0], value, path)
        if origin is dict:
            return self._map(typing.get_args(bare)[1], value, path)
        return self._scalar(tp, bare, meta, value, path)

    def _quiet(self, tp: Any, value: Any, path: str) -> Any:
        """read() without keeping the notes of an attempt (one member of a union)."""
        kept = len(self.notes)
        try:
            return self.read(tp, value, path)
        except Invalid:
            del self.notes[kept:]
            raise

    @staticmethod
    def _kind(value: Any) -> str:
        if isinstance(value, str):
            return repr(value) if len(value) <= 40 else "text"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(value)
        return {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}.get(type(value), "a value")

    @staticmethod
    def _expected(tp: Any) -> str:
        """A type in words: 'a number or null'."""
        words = []
        for member in _members(_unwrap(tp)[0]) or [tp]:
            bare, metas = _unwrap(member)
            if typing.get_origin(bare) is Literal:
                words.append("one of " + ", ".join(map(repr, typing.get_args(bare))))
            elif is_typeddict(bare) or typing.get_origin(bare) is dict:
                words.append("an object")
            elif typing.get_origin(bare) is list:
                words.append("a list")
            elif bare is str and _meta(metas).enum is not None:
                words.append("one of its names")
            else:
                words.append({str: "text", int: "a whole number", float: "a number", bool: "true/false",
                              type(None): "null"}.get(bare, "a value"))
        return " or ".join(words)

    def _scalar(self, tp: Any, bare: Any, meta: Meta, value: Any, path: str) -> Any:
        ok = False
        if bare is bool:
            ok = isinstance(value, bool)
        elif bare is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif bare is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        elif bare is str:
            ok = isinstance(value, str) and (meta.enum is None or value in meta.enum)
        else:
            raise TypeError(f"cannot read {bare!r}")
        if not ok:
            raise Invalid(f"{_where(path)}: {self._kind(value)} where {self._expected(tp)} belongs")
        if bare is float:
            return float(value)
        return value

    def _list(self, item: Any, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise Invalid(f"{_where(path)}: {self._kind(value)} where a list belongs")
        out, dropped = [], []
        for i, x in enumerate(value):
            try:
                out.append(self.read(item, x, f"{path}[{i}]"))
            except Invalid as exc:
                dropped.append(str(exc))
        if dropped:
            self.notes.append(f"{path}: {len(dropped)} of {len(value)} item(s) skipped ({dropped[0]}"
                              + (", …" if len(dropped) > 1 else "") + ")")
        return out

    def _map(self, item: Any, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"{_where(path)}: {self._kind(value)} where an object belongs")
        out = {}
        for key, x in value.items():
            try:
                out[key] = self.read(item, x, f"{path}.{key}" if path else str(key))
            except Invalid as exc:
                self.notes.append(f"{exc} (skipped)")
        return out

    def _object(self, td: type, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"{_where(path)}: {self._kind(value)} where an object belongs")
        declared = fields(td)
        required = required_keys(td)
        out: dict[str, Any] = {}
        for key, tp in declared.items():
            where = f"{path}.{key}" if path else key
            if key not in value:
                if key not in required:
                    continue
                stand_in = _stand_in(tp)
                if stand_in is _NO_DEFAULT:
                    raise Invalid(f"{where}: missing")
                self.notes.append(f"{where}: missing (read as {_shown(stand_in)})")
                out[key] = stand_in
                continue
            try:
                out[key] = self.read(tp, value[key], where)
            except Invalid as exc:
                if key not in required:
                    self.notes.append(f"{exc} (left out)")
                    continue
                stand_in = _stand_in(tp)
                if stand_in is _NO_DEFAULT:
                    raise
                self.notes.append(f"{exc} (read as {_shown(stand_in)})")
                out[key] = stand_in
        if td in self.open:
            out.update({k: v for k, v in value.items() if k not in declared})
        return out


def _shown(value: Any) -> str:
    return {"[]": "empty", "{}": "empty"}.get(repr(value), "null" if value is None else "empty")


def conform(root: type, doc: Any, open_types: frozenset[type] = frozenset()) -> tuple[Any | None, list[str]]:
    """(`doc` read as `root`, or None when it cannot be; the repairs made, in words)."""
    reader = _Reader(open_types)
    try:
        return reader.read(root, doc, ""), reader.notes
    except Invalid as exc:
        return None, reader.notes + [str(exc)]
