"""Structural OpenAPI v3 schemas of custom resources: pruning, defaulting, validation.

What apiextensions-apiserver does to a custom object before it is stored, on
the JSON form (all side-effect-free; each function returns new data):

* ``prune``: drop every field the schema does not declare, unless the schema
  (or the enclosing one) says ``x-kubernetes-preserve-unknown-fields: true``
  or gives ``additionalProperties``; ``apiVersion``, ``kind`` and ``metadata``
  at the root are never pruned (upstream keeps them for every custom object).
* ``default``: fill ``default`` values of absent properties, top-down.
* ``validate``: the OpenAPI keywords clients meet most (type, required, enum,
  numeric and length bounds, pattern, nullable), reported as field errors with
  upstream's paths (``spec.replicas``) and wording.

Not modelled: ``x-kubernetes-validations`` (CEL), ``oneOf``/``anyOf``/``allOf``/``not``,
``x-kubernetes-int-or-string``, ``x-kubernetes-list-type`` uniqueness.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..validation import ErrorType, FieldError

__all__ = ["default", "prune", "validate"]

Schema = dict[str, Any]
_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def prune(obj: Any, schema: Schema) -> Any:
    """``obj`` without the fields ``schema`` does not allow (the root object's
    apiVersion, kind and metadata always stay), keys in their original order."""
    if not isinstance(obj, dict):
        return _prune(copy.deepcopy(obj), schema)
    pruned = _prune({k: v for k, v in obj.items() if k not in _ROOT_KEPT}, schema)
    return {
        k: copy.deepcopy(v) if k in _ROOT_KEPT else pruned[k] for k, v in obj.items() if k in _ROOT_KEPT or k in pruned
    }


def _prune(value: Any, schema: Schema) -> Any:
    if isinstance(value, list):
        items = schema.get("items")
        return [_prune(v, items) for v in value] if isinstance(items, dict) else value
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get(_PRESERVE))
    kept: dict[str, Any] = {}
    for key, child in value.items():
        if key in properties:
            kept[key] = _prune(copy.deepcopy(child), properties[key])
        elif isinstance(additional, dict):
            kept[key] = _prune(child, additional)
        elif preserve or additional is True:
            kept[key] = child
    return kept


def default(obj: Any, schema: Schema) -> Any:
    """``obj`` with the schema's ``default`` of each absent property filled in."""
    return _default(copy.deepcopy(obj), schema)


def _default(value: Any, schema: Schema) -> Any:
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_default(v, schema["items"]) for v in value]
    if not isinstance(value, dict):
        return value
    for key, child_schema in (schema.get("properties") or {}).items():
        if key not in value and "default" in child_schema:
            value[key] = copy.deepcopy(child_schema["default"])
        if key in value:
            value[key] = _default(value[key], child_schema)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key in value:
            if key not in (schema.get("properties") or {}):
                value[key] = _default(value[key], additional)
    return value


def validate(obj: Any, schema: Schema) -> list[FieldError]:
    """Field errors of ``obj`` against ``schema`` (metadata excluded: ObjectMeta has its own rules)."""
    errs: list[FieldError] = []
    if isinstance(obj, dict):
        trimmed = {k: v for k, v in obj.items() if k not in _ROOT_KEPT}
        root = dict(schema)
        root["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_KEPT}
        root["required"] = [k for k in schema.get("required") or [] if k not in _ROOT_KEPT]
        _validate(trimmed, root, "", errs)
    return errs


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_ok(value: Any, wanted: str) -> bool:
    if isinstance(value, bool) and wanted in ("integer", "number"):
        return False
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(wanted, (object,)))


def _validate(value: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            errs.append(FieldError(ErrorType.INVALID, path, value, f"must be of type {schema['type']}"))
        return
    wanted = schema.get("type")
    if wanted and not _type_ok(value, wanted):
        errs.append(FieldError(ErrorType.INVALID, path, value, f"must be of type {wanted}"))
        return
    if "enum" in schema and value not in schema["enum"]:
        errs.append(FieldError(ErrorType.NOT_SUPPORTED, path, value, _supported(schema["enum"])))
    _check_bounds(value, schema, path, errs)
    if isinstance(value, dict):
        _validate_object(value, schema, path, errs)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _validate(item, schema["items"], f"{path}[{index}]", errs)


def _supported(values: list[Any]) -> str:
    return "supported values: " + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)


def _check_bounds(value: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(
                FieldError(ErrorType.INVALID, path, value, f"should be greater than or equal to {schema['minimum']}")
            )
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(
                FieldError(ErrorType.INVALID, path, value, f"should be less than or equal to {schema['maximum']}")
            )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(
                FieldError(ErrorType.TOO_LONG, path, value, f"may not be more than {schema['maxLength']} bytes")
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(
                FieldError(ErrorType.INVALID, path, value, f"should be at least {schema['minLength']} chars long")
            )
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errs.append(FieldError(ErrorType.INVALID, path, value, f"should match '{schema['pattern']}'"))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(
                FieldError(ErrorType.TOO_MANY, path, len(value), f"must have at most {schema['maxItems']} items")
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(
                FieldError(ErrorType.INVALID, path, len(value), f"should have at least {schema['minItems']} items")
            )


def _validate_object(value: dict[str, Any], schema: Schema, path: str, errs: list[FieldError]) -> None:
    properties = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in value:
            errs.append(FieldError(ErrorType.REQUIRED, _join(path, key), "", ""))
    additional = schema.get("additionalProperties")
    for key, child in value.items():
        if key in properties:
            _validate(child, properties[key], _join(path, key), errs)
        elif isinstance(additional, dict):
            _validate(child, additional, _join(path, key), errs)
