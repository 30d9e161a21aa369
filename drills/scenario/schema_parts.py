"""Building blocks of the scenario's JSON Schema, shared by schema.py and the section schemas it includes
(audit_schema.py), so an object means the same everywhere: closed (no unknown keys), with its required ones."""

from __future__ import annotations


def described(text: str, **schema: object) -> dict:
    return {"description": text, **schema}


def closed_object(properties: dict, required: list[str] | None = None, **extra: object) -> dict:
    schema: dict = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema
