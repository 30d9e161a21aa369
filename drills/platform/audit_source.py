"""What every source of an audit's final read shares (drills/platform/final_read.py, sql_read.py,
redis_read.py): the error that stops a read, and secrets taken from the environment as ${NAME}."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drills.scenario.validate_audit import ENV_REF

Env = Mapping[str, str]


class ReadFailed(Exception):
    """A collection could not be read (further); the message says what and where."""


def expand(text: str, env: Env) -> str:
    """`text` with every ${NAME} replaced from the environment; raises ReadFailed naming an unset one."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise ReadFailed(f"${{{name}}} is not set in the environment of `drill run`")
        return env[name]
    return ENV_REF.sub(one, text)


def shown(v: Any) -> str:
    """A value in a message, cut to a line."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
