"""How a line is encoded and decoded: orjson when it is installed (several times faster on the million-line
histories the audit reads and on the generator's hot path, identical results for the plain values we write),
the standard library otherwise. DRILLS_JSON=json forces the standard library."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

_std_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _std_dumps(obj: Any) -> bytes:
    return _std_encode(obj).encode()


loads: Callable[[bytes | str], Any] = json.loads
dumps: Callable[[Any], bytes] = _std_dumps
DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError)
BACKEND = "json"

if os.environ.get("DRILLS_JSON", "").lower() not in ("json", "stdlib"):
    try:
        import orjson as _orjson

        def _orjson_dumps(obj: Any) -> bytes:
            return _orjson.dumps(obj, default=str)

        loads, dumps, BACKEND = _orjson.loads, _orjson_dumps, "orjson"
        DECODE_ERRORS = (_orjson.JSONDecodeError, ValueError, TypeError)
    except ImportError:  # pragma: no cover - depends on the environment
        pass
