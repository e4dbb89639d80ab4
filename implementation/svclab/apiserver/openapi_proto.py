"""``/openapi/v2`` as protobuf: the gnostic ``openapi.v2.Document`` client-go parses.

client-go's ``OpenAPISchema`` asks for
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and parses the
answer as that message whatever its Content-Type, so JSON would not do.
Field numbers are those of gnostic's ``openapiv2/OpenAPIv2.proto``; only what
a Swagger document of definitions needs is written:

    Document { 1 swagger; 2 Info info; 8 Paths paths; 9 Definitions definitions }
    Info { 1 title; 2 version }
    Definitions / Properties { 1 repeated NamedSchema }    NamedSchema { 1 name; 2 Schema }
    Schema { 1 $ref; 2 format; 19 repeated required; 21 AdditionalPropertiesItem;
             22 TypeItem type; 23 ItemsItem items; 25 Properties; 31 repeated NamedAny vendor_extension }
    AdditionalPropertiesItem { 1 Schema | 2 bool }   TypeItem { 1 repeated value }
    ItemsItem { 1 repeated Schema }   NamedAny { 1 name; 2 Any }   Any { 2 yaml }

Vendor extensions (``x-kubernetes-*``) carry their value as YAML text; JSON is
YAML, so the value's JSON is written. Side-effect-free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["MEDIA_TYPE", "encode_document", "encode_schema"]

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
_LENGTH_DELIMITED, _VARINT = 2, 0


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or message)."""
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode()) if text else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(1) if value else b""


def _named(name: str, value: bytes) -> bytes:
    return _string(1, name) + _field(2, value)


def encode_schema(schema: Mapping[str, Any]) -> bytes:
    """One Swagger 2.0 schema as a gnostic ``Schema`` message."""
    out = _string(1, schema.get("$ref", "")) + _string(2, schema.get("format", ""))
    out += b"".join(_string(19, name) for name in schema.get("required") or [])
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        out += _field(21, _field(1, encode_schema(extra)))
    elif isinstance(extra, bool):
        out += _field(21, _bool(2, extra) or b"\x10\x00")  # false is written too: it is the oneof's value
    if isinstance(schema.get("type"), str):
        out += _field(22, _string(1, schema["type"]))
    if isinstance(schema.get("items"), Mapping):
        out += _field(23, _field(1, encode_schema(schema["items"])))
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        out += _field(25, b"".join(_field(1, _named(n, encode_schema(s))) for n, s in properties.items()))
    for key, value in schema.items():
        if key.startswith("x-"):
            out += _field(31, _named(key, _string(2, json.dumps(value))))
    return out


def encode_document(document: Mapping[str, Any]) -> bytes:
    """A Swagger 2.0 document (as :func:`svclab.apiserver.openapi.v2_document` builds it)."""
    info = document.get("info") or {}
    out = _string(1, document.get("swagger", "2.0"))
    out += _field(2, _string(1, info.get("title", "")) + _string(2, info.get("version", "")))
    out += _field(8, b"")  # no paths: clients find kinds through the definitions' extensions
    named = (_field(1, _named(name, encode_schema(s))) for name, s in (document.get("definitions") or {}).items())
    return out + _field(9, b"".join(named))
