"""How a line is encoded and decoded: orjson, a required dependency (several times faster than the standard
library on the million-line histories the audit reads and on the generator's hot path).

DRILLS_JSON=json switches to the standard library, on purpose only: to time the two against each other
(`python -m bench.audit --stdlib-json`) or to tell a codec problem from a checks problem. Both give identical
results for the plain values the writers produce; the one difference a reader sees is that orjson refuses NaN
and Infinity (a bad line), which the standard library reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import orjson

_std_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _std_dumps(obj: Any) -> bytes:
    return _std_encode(obj).encode()


def _orjson_dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=str)


loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]
DECODE_ERRORS: tuple[type[Exception], ...]

if os.environ.get("DRILLS_JSON", "").lower() in ("json", "stdlib"):
    loads, dumps, BACKEND = json.loads, _std_dumps, "json"
    DECODE_ERRORS = (ValueError, TypeError)
else:
    loads, dumps, BACKEND = orjson.loads, _orjson_dumps, "orjson"
    DECODE_ERRORS = (orjson.JSONDecodeError, ValueError, TypeError)
