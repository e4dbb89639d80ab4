"""Byte fields of the API: Secret ``data`` and ConfigMap ``binaryData`` are base64 in JSON.

kube-apiserver decodes them into bytes, so a value that is not standard base64
never reaches validation: the request fails with 400 BadRequest and the
decoder's message (``Secret in version "v1" cannot be handled as a Secret:
illegal base64 data at input byte N``); so does a number where a string map
(ConfigMap ``data``, Secret ``stringData``) wants a string. Side-effect-free apart from raising.
"""

from __future__ import annotations

import string
from typing import Any

from . import errors

__all__ = ["base64_error_offset", "check_encoding"]

_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")
_BYTE_FIELDS = {"Secret": "data", "ConfigMap": "binaryData"}


def _skip_newlines(value: str, at: int) -> int:
    while at < len(value) and value[at] in "\r\n":
        at += 1
    return at


def _padding_error(value: str, at: int, filled: int) -> int | None:
    """The error after a "=" at ``at - 1`` that ends a quantum holding ``filled`` characters."""
    if filled < 2:
        return at - 1
    if filled == 2:  # "==" expected: the second "=" must follow
        at = _skip_newlines(value, at)
        if at == len(value):
            return len(value)
        if value[at] != "=":
            return at - 1
        at += 1
    at = _skip_newlines(value, at)
    return at if at < len(value) else None


def base64_error_offset(value: str) -> int | None:
    """Where Go's padded standard base64 decoder gives up on ``value``, or None if it decodes.

    The same walk as Go's ``decodeQuantum``: newlines are skipped, a quantum
    cut short by the end of input fails at its start.
    """
    at = 0
    while True:
        for filled in range(4):
            at = _skip_newlines(value, at)
            if at == len(value):
                return None if filled == 0 else at - filled
            char = value[at]
            at += 1
            if char == "=":
                return _padding_error(value, at, filled)
            if char not in _ALPHABET:
                return at - 1


_GO_JSON_TYPES = {bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _check_string_values(kind: str, obj: dict[str, Any]) -> None:
    """ConfigMap data and Secret stringData are maps of strings: ``port: 8080`` in YAML is
    a number, which Go's JSON decoder refuses (the most common ConfigMap mistake)."""
    field = {"ConfigMap": "data", "Secret": "stringData"}.get(kind)
    values = obj.get(field) if field else None
    if not isinstance(values, dict):
        return
    for value in values.values():
        if value is not None and not isinstance(value, str):
            found = _GO_JSON_TYPES.get(type(value), "value")
            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {found} '
                f"into Go struct field {kind}.{field} of type string"
            )


def check_encoding(kind: str, obj: dict[str, Any]) -> None:
    """Raise 400 BadRequest, as upstream's decoder would, when a byte field is not base64
    or a string map holds something else."""
    _check_string_values(kind, obj)
    field = _BYTE_FIELDS.get(kind)
    if field is None:
        return
    values = obj.get(field)
    if values is None:
        return
    if not isinstance(values, dict):
        raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {field} must be an object')
    for value in values.values():
        offset = base64_error_offset(value) if isinstance(value, str) else 0
        if offset is not None:
            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data at input byte {offset}'
            )
