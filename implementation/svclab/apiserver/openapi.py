"""The OpenAPI definitions this server serves, from ``schemas/definitions.json``.

The bundle holds upstream's definitions in JSON-Schema form (``$ref`` to
``#/$defs/NAME``, nullable types as ``["string", "null"]``). Clients want
them as OpenAPI:

* ``/openapi/v3/<group-version>`` (``kubectl explain``, and apply's check that
  the server validates fields itself): ``components.schemas`` with refs to
  ``#/components/schemas/NAME`` and one type per schema (:func:`v3_schemas`);
* ``/openapi/v2`` (kubectl's client-side validation, which it still runs for a
  ``kind: List`` - what ``kubectl get -o yaml`` writes): a Swagger 2.0 document
  with refs to ``#/definitions/NAME`` (:func:`v2_document`), served as protobuf
  when asked for it (:mod:`.openapi_proto`), else JSON.

A union without a type (``IntOrString``, ``Quantity``: ``oneOf`` string or
number) becomes a schema without a type in v2, which kubectl's validation
accepts any value for; upstream publishes ``type: string`` with a format.
A reference to a definition the bundle lacks (a few alpha kinds) is dropped,
leaving that field untyped. No descriptions: the bundle has none, so ``kubectl explain`` prints fields and
types only. Side-effect-free apart from reading the bundle once.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["definitions", "v2_document", "v2_schemas", "v3_schemas"]

_BUNDLE = Path(__file__).with_name("schemas") / "definitions.json"
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")  # name -> schema
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


@functools.cache
def definitions() -> dict[str, Any]:
    """name -> JSON-Schema definition, as bundled."""
    loaded: dict[str, Any] = json.loads(_BUNDLE.read_text())["definitions"]
    return loaded


def _convert(schema: Any, ref_prefix: str, *, v2: bool) -> Any:
    """One schema in OpenAPI form: refs re-pointed, a nullable type made single."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            target = value.rsplit("/", 1)[-1]
            if target in definitions():  # the bundle names a few kinds it does not carry: leave those untyped
                out[key] = ref_prefix + target
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) == 1:
                out[key] = types[0]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _convert(sub, ref_prefix, v2=v2) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            if not v2:  # Swagger 2.0 has no oneOf/anyOf: leave the value untyped
                out[key] = [_convert(sub, ref_prefix, v2=v2) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = _convert(value, ref_prefix, v2=v2)
        else:
            out[key] = value
    return out


@functools.cache
def v3_schemas() -> dict[str, Any]:
    """``components.schemas`` of every v3 group-version document."""
    return {name: _convert(d, "#/components/schemas/", v2=False) for name, d in definitions().items()}


@functools.cache
def v2_schemas() -> dict[str, Any]:
    return {name: _convert(d, "#/definitions/", v2=True) for name, d in definitions().items()}


def v2_document(version: str) -> dict[str, Any]:
    """The Swagger 2.0 document (definitions only: clients read the kinds from
    their ``x-kubernetes-group-version-kind``, not from paths)."""
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {},
        "definitions": v2_schemas(),
    }
