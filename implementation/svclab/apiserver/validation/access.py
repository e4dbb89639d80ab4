"""Typed reads from plain JSON dicts for the validators.

Objects reach validation already decoded and defaulted, but a client can still
send a number where a string belongs. These helpers never raise: a missing or
wrongly typed value reads as the empty value of the expected type, so a
validator reports what upstream would report for an empty field instead of
failing with a traceback (the server answers 422, never 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["child", "flag", "index", "key", "mapping", "number", "objects", "seq", "text"]


def mapping(obj: object, name: str) -> dict[str, Any]:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else {}


def seq(obj: object, name: str) -> list[Any]:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return list(value) if isinstance(value, list) else []


def objects(obj: object, name: str) -> list[dict[str, Any]]:
    """A list of sub-objects; non-object items read as empty objects."""
    return [dict(item) if isinstance(item, Mapping) else {} for item in seq(obj, name)]


def text(obj: object, name: str, default: str = "") -> str:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) else default


def number(obj: object, name: str) -> int | None:
    """An integer field, or None when absent (Go's nil pointer)."""
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def flag(obj: object, name: str) -> bool | None:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, bool) else None


def child(path: str, name: str) -> str:
    """``field.Path.Child``."""
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    """``field.Path.Index``."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """``field.Path.Key``: the key in brackets, unquoted."""
    return f"{path}[{k}]"
