"""Typed decoding of request bodies, as kube-apiserver's JSON decoder does before anything else.

kube-apiserver decodes a body into Go structs: a field of the wrong JSON type
is a 400 ``BadRequest`` naming the struct, the field path and the Go type,
and ``null`` leaves a field at its zero value (absent, for our dicts). This
module does the same against upstream's OpenAPI definitions of the served
kinds (``schemas/definitions.json``, built from kubernetes-validate's copy by
``tests/apiserver/schema_bundle.py``), in place, so defaulting and
validation only ever see values of the right types. Fields the definitions
do not know are dropped, as decoding into the Go type drops them (kube-apiserver's
default ``fieldValidation=Warn``; the warning header is not sent).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["DecodeError", "decode_in_place", "definition_for"]

_BUNDLE = Path(__file__).with_name("schemas") / "definitions.json"
_INT_BOUNDS = {"int32": 2**31, "int64": 2**63}
_JSON_TYPES: dict[type, str] = {str: "string", list: "array", dict: "object"}
_ZERO = {"string": "", "integer": 0, "number": 0, "boolean": False, "object": {}, "array": []}


class DecodeError(ValueError):
    """A value of the wrong JSON type; the message reads like Go's ``json.UnmarshalTypeError``."""


@functools.cache
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(_BUNDLE.read_text())["definitions"]
    return definitions


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    for name, definition in _definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            found.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return found


def definition_for(group: str, version: str, kind: str) -> str | None:
    """The definition name of a kind (``io.k8s.api.core.v1.Service``), or None when unknown."""
    return _by_gvk().get((group, version, kind))


def decode_in_place(obj: dict[str, Any], group: str, version: str, kind: str) -> None:
    """Check ``obj``'s field types and drop its nulls, as decoding into the Go type would.

    Raises ``DecodeError`` with upstream's wording around Go's message.
    """
    name = definition_for(group, version, kind)
    if name is None:
        return
    try:
        _object(obj, _definitions()[name], _short(name), ())
    except DecodeError as exc:
        api_version = f"{group}/{version}" if group else version
        raise DecodeError(f'{kind} in version "{api_version}" cannot be handled as a {kind}: {exc}') from None


def _short(definition_name: str) -> str:
    return definition_name.rsplit(".", 1)[-1]


def _resolve(schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = schema.get("$ref")
    if ref is None:
        return schema, None
    name = ref.rsplit("/", 1)[-1]
    return _definitions()[name], name


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type", [])
    return [t for t in ([declared] if isinstance(declared, str) else declared) if t != "null"]


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {"string": "string", "array": "array", "object": "object"}.get(_JSON_TYPES.get(type(value), ""), "value")


def _go_type(schema: dict[str, Any], ref: str | None) -> str:
    if ref is not None:
        return _short(ref)
    types = _types(schema)
    kind = types[0] if types else "object"
    if kind == "integer":
        return str(schema.get("format", "int64"))
    if kind == "array":
        item, item_ref = _resolve(schema.get("items", {}))
        return "[]" + _go_type(item, item_ref)
    if kind == "object" and "additionalProperties" in schema:
        value, value_ref = _resolve(schema["additionalProperties"])
        return "map[string]" + _go_type(value, value_ref)
    return {"string": "string", "boolean": "bool", "number": "float64", "object": "map[string]interface {}"}[kind]


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    if "oneOf" in schema:  # IntOrString, Quantity
        return any(_fits(value, alternative) for alternative in schema["oneOf"])
    types = _types(schema)
    if not types:
        return True
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        bound = _INT_BOUNDS.get(str(schema.get("format", "int64")), 2**63)
        return ("integer" in types and -bound <= value < bound) or "number" in types
    if isinstance(value, float):
        return "number" in types
    return _JSON_TYPES.get(type(value)) in types


def _zero(schema: dict[str, Any]) -> Any:
    resolved, _ = _resolve(schema)
    types = _types(resolved)
    if not types or "oneOf" in resolved:
        return None
    return copy.copy(_ZERO.get(types[0]))  # a fresh {} or [] each time


def _value(value: Any, schema: dict[str, Any], struct: str, path: tuple[str, ...]) -> Any:
    """``value`` decoded against ``schema``; ``struct``/``path`` name it in errors as Go does."""
    resolved, ref = _resolve(schema)
    if not _fits(value, resolved):
        where = f"{struct}.{'.'.join(path)}"
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where} of type {_go_type(resolved, ref)}"
        )
    if isinstance(value, dict) and "properties" in resolved:
        _object(value, resolved, _short(ref) if ref else struct, path)
    elif isinstance(value, dict) and isinstance(resolved.get("additionalProperties"), dict):
        for key in list(value):
            if value[key] is not None:
                _value(value[key], resolved["additionalProperties"], struct, path)
            else:
                value[key] = _zero(resolved["additionalProperties"])
    elif isinstance(value, list) and "items" in resolved:
        for index, item in enumerate(value):
            if item is not None:
                _value(item, resolved["items"], struct, path)
            else:
                value[index] = _zero(resolved["items"])
    return value


def _object(obj: dict[str, Any], schema: dict[str, Any], struct: str, path: tuple[str, ...]) -> None:
    properties = schema.get("properties", {})
    for key in list(obj):
        if obj[key] is None or key not in properties:
            # Go leaves a null field at its zero value and has nowhere to put an unknown one
            del obj[key]
        else:
            # Go names the innermost struct and the field's path from the object's root
            _value(obj[key], properties[key], struct, (*path, key))
