"""JSON for the generator's hot path: orjson when installed (several times faster, identical output for
the plain values we write), the standard library otherwise. DRILLS_JSON=json forces the standard library.

Why it matters: every operation's response body is parsed and its history line encoded inside the Locust
process, and that CPU is taken from generating load (see `python -m bench.load generator`).
"""

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
DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError, UnicodeDecodeError)
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
