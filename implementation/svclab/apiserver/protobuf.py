"""Decoding the Kubernetes protobuf bodies kubectl POSTs for some creates (pure).

``kubectl create namespace X`` and ``kubectl create service ...`` send
``Content-Type: application/vnd.kubernetes.protobuf`` and do not fall back to JSON.
Such a body is the 4 magic bytes ``k8s\\x00`` followed by a ``runtime.Unknown``
message::

    Unknown  { 1: TypeMeta typeMeta; 2: bytes raw; 3: string contentEncoding; 4: string contentType }
    TypeMeta { 1: string apiVersion; 2: string kind }

where ``raw`` is the object in the protobuf encoding of ``k8s.io/api``'s
``generated.proto`` (field numbers in the schema tables below).

This module is a small protobuf wire-format reader (varint, 64-bit, length-
delimited and 32-bit fields) plus per-kind schema tables; it returns the object
as the JSON-shaped dict the JSON API would carry. Go's generated marshallers
write every non-pointer field, even when empty, and the Go JSON encoder then
drops the empty ones (``omitempty``); we do the same: a decoded zero value
("" / 0 / false / empty message, list or map) is dropped unless the field is a
Go pointer or has no ``omitempty`` (``keep_zero``). Unknown field numbers are
skipped, as the generated Go code does. A zero ``targetPort`` IntOrString is
dropped too (Go would write ``0``; the server's defaulting treats both alike).

This module covers core/v1 Namespace and Service; ``protobuf_schemas`` adds
the other kinds kubectl's ``create`` subcommands send (pass its ``SCHEMAS``).
Anything else raises :class:`ProtobufError` (the server answers 415).
"""

from __future__ import annotations

import base64
import datetime
import enum
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "K8S_PROTOBUF",
    "KIND_SCHEMAS",
    "MAGIC",
    "OBJECT_META",
    "ProtoField",
    "ProtoType",
    "ProtobufError",
    "Schema",
    "decode_k8s_protobuf",
    "decode_message",
    "message",
    "scalar",
    "strings",
]

K8S_PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Protobuf wire types.
WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LENGTH_DELIMITED = 2
WIRE_FIXED32 = 5


class ProtobufError(ValueError):
    """A body that is not a Kubernetes protobuf message of a kind we can decode."""


class ProtoType(str, enum.Enum):
    """How a field's bytes become a JSON value."""

    STRING = "string"
    BYTES = "bytes"
    BOOL = "bool"
    INT32 = "int32"
    INT64 = "int64"
    MESSAGE = "message"
    STRING_MAP = "map<string,string>"
    BYTES_MAP = "map<string,bytes>"  # JSON: base64 values (Secret data, ConfigMap binaryData)
    INT_OR_STRING = "intstr.IntOrString"
    TIME = "metav1.Time"
    MICRO_TIME = "metav1.MicroTime"
    FIELDS_V1 = "metav1.FieldsV1"


Schema = Mapping[int, "ProtoField"]


@dataclass(frozen=True, slots=True)
class ProtoField:
    """One field of a message schema (keyed by field number in its Schema)."""

    name: str
    type: ProtoType = ProtoType.STRING
    repeated: bool = False
    message: Schema | None = None
    keep_zero: bool = False  # Go pointer, or JSON tag without omitempty


def scalar(name: str, kind: ProtoType = ProtoType.STRING, **options: Any) -> ProtoField:
    """A field of a scalar (or map) type; schema tables call it by a short alias."""
    return ProtoField(name, kind, **options)


def message(name: str, schema: Schema, **options: Any) -> ProtoField:
    """A field holding an embedded message of ``schema``."""
    return ProtoField(name, ProtoType.MESSAGE, message=schema, **options)


def strings(name: str) -> ProtoField:
    """A repeated string field."""
    return ProtoField(name, ProtoType.STRING, repeated=True)


_f, _msg, _strings = scalar, message, strings


# --- k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto

_OWNER_REFERENCE: Schema = {
    1: _f("kind"),
    3: _f("name"),
    4: _f("uid"),
    5: _f("apiVersion"),
    6: _f("controller", ProtoType.BOOL, keep_zero=True),
    7: _f("blockOwnerDeletion", ProtoType.BOOL, keep_zero=True),
}
_MANAGED_FIELDS_ENTRY: Schema = {
    1: _f("manager"),
    2: _f("operation"),
    3: _f("apiVersion"),
    4: _f("time", ProtoType.TIME, keep_zero=True),
    6: _f("fieldsType"),
    7: _f("fieldsV1", ProtoType.FIELDS_V1, keep_zero=True),
    8: _f("subresource"),
}
OBJECT_META: Schema = {
    1: _f("name"),
    2: _f("generateName"),
    3: _f("namespace"),
    4: _f("selfLink"),
    5: _f("uid"),
    6: _f("resourceVersion"),
    7: _f("generation", ProtoType.INT64),
    8: _f("creationTimestamp", ProtoType.TIME),
    9: _f("deletionTimestamp", ProtoType.TIME, keep_zero=True),
    10: _f("deletionGracePeriodSeconds", ProtoType.INT64, keep_zero=True),
    11: _f("labels", ProtoType.STRING_MAP),
    12: _f("annotations", ProtoType.STRING_MAP),
    13: _msg("ownerReferences", _OWNER_REFERENCE, repeated=True),
    14: _strings("finalizers"),
    17: _msg("managedFields", _MANAGED_FIELDS_ENTRY, repeated=True),
}
_CONDITION: Schema = {
    1: _f("type"),
    2: _f("status"),
    3: _f("observedGeneration", ProtoType.INT64),
    4: _f("lastTransitionTime", ProtoType.TIME),
    5: _f("reason"),
    6: _f("message"),
}

# --- k8s.io/api/core/v1/generated.proto

_NAMESPACE_CONDITION: Schema = {
    1: _f("type"),
    2: _f("status"),
    4: _f("lastTransitionTime", ProtoType.TIME),
    5: _f("reason"),
    6: _f("message"),
}
NAMESPACE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", {1: _strings("finalizers")}),
    3: _msg("status", {1: _f("phase"), 2: _msg("conditions", _NAMESPACE_CONDITION, repeated=True)}),
}
_SERVICE_PORT: Schema = {
    1: _f("name"),
    2: _f("protocol"),
    6: _f("appProtocol", keep_zero=True),
    3: _f("port", ProtoType.INT32, keep_zero=True),
    4: _f("targetPort", ProtoType.INT_OR_STRING),
    5: _f("nodePort", ProtoType.INT32),
}
_SESSION_AFFINITY_CONFIG: Schema = {
    1: _msg("clientIP", {1: _f("timeoutSeconds", ProtoType.INT32, keep_zero=True)}, keep_zero=True),
}
_SERVICE_SPEC: Schema = {
    1: _msg("ports", _SERVICE_PORT, repeated=True),
    2: _f("selector", ProtoType.STRING_MAP),
    3: _f("clusterIP"),
    18: _strings("clusterIPs"),
    4: _f("type"),
    5: _strings("externalIPs"),
    7: _f("sessionAffinity"),
    8: _f("loadBalancerIP"),
    9: _strings("loadBalancerSourceRanges"),
    10: _f("externalName"),
    11: _f("externalTrafficPolicy"),
    12: _f("healthCheckNodePort", ProtoType.INT32),
    13: _f("publishNotReadyAddresses", ProtoType.BOOL),
    14: _msg("sessionAffinityConfig", _SESSION_AFFINITY_CONFIG, keep_zero=True),
    19: _strings("ipFamilies"),
    17: _f("ipFamilyPolicy", keep_zero=True),
    20: _f("allocateLoadBalancerNodePorts", ProtoType.BOOL, keep_zero=True),
    21: _f("loadBalancerClass", keep_zero=True),
    22: _f("internalTrafficPolicy", keep_zero=True),
    23: _f("trafficDistribution", keep_zero=True),
}
_LOAD_BALANCER_INGRESS: Schema = {
    1: _f("ip"),
    2: _f("hostname"),
    3: _f("ipMode", keep_zero=True),
    4: _msg(
        "ports",
        {1: _f("port", ProtoType.INT32, keep_zero=True), 2: _f("protocol"), 3: _f("error", keep_zero=True)},
        repeated=True,
    ),
}
SERVICE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", _SERVICE_SPEC),
    3: _msg(
        "status",
        {
            1: _msg("loadBalancer", {1: _msg("ingress", _LOAD_BALANCER_INGRESS, repeated=True)}),
            2: _msg("conditions", _CONDITION, repeated=True),
        },
    ),
}

KIND_SCHEMAS: Mapping[tuple[str, str], Schema] = {
    ("v1", "Namespace"): NAMESPACE,
    ("v1", "Service"): SERVICE,
}

_TYPE_META: Schema = {1: _f("apiVersion"), 2: _f("kind")}
_UNKNOWN: Schema = {
    1: _msg("typeMeta", _TYPE_META),
    2: _f("raw", ProtoType.BYTES),
    3: _f("contentEncoding"),
    4: _f("contentType"),
}


# ---------------------------------------------------------------------------
# Wire format


def _read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(buffer):
            raise ProtobufError("truncated varint")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buffer: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of one message.

    Varint and fixed-width values come back as unsigned ints, length-delimited
    ones as bytes. Raises ProtobufError for truncated data and group wire types.
    """
    position = 0
    while position < len(buffer):
        key, position = _read_varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("illegal field number 0")
        value: int | bytes
        if wire_type == WIRE_VARINT:
            value, position = _read_varint(buffer, position)
        elif wire_type in (WIRE_FIXED64, WIRE_FIXED32):
            width = 8 if wire_type == WIRE_FIXED64 else 4
            if position + width > len(buffer):
                raise ProtobufError("truncated fixed-width field")
            value = int.from_bytes(buffer[position : position + width], "little")
            position += width
        elif wire_type == WIRE_LENGTH_DELIMITED:
            length, position = _read_varint(buffer, position)
            if position + length > len(buffer):
                raise ProtobufError(f"field {number} claims {length} bytes, {len(buffer) - position} remain")
            value = buffer[position : position + length]
            position += length
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} for field {number}")
        yield number, wire_type, value


def _signed(value: int, bits: int) -> int:
    # Negative int32/int64 travel as 64-bit two's complement varints.
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    return value


def _rfc3339(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _expect(spec: ProtoField, wire_type: int, wanted: int) -> None:
    if wire_type != wanted:
        raise ProtobufError(f"field {spec.name!r}: wire type {wire_type}, expected {wanted}")


def _decode_value(spec: ProtoField, wire_type: int, raw: int | bytes) -> Any:
    if spec.type in (ProtoType.BOOL, ProtoType.INT32, ProtoType.INT64):
        _expect(spec, wire_type, WIRE_VARINT)
        assert isinstance(raw, int)
        if spec.type is ProtoType.BOOL:
            return raw != 0
        return _signed(raw, 32 if spec.type is ProtoType.INT32 else 64)
    _expect(spec, wire_type, WIRE_LENGTH_DELIMITED)
    assert isinstance(raw, bytes)
    if spec.type is ProtoType.BYTES:
        return raw
    if spec.type is ProtoType.STRING:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtobufError(f"field {spec.name!r}: invalid UTF-8") from err
    if spec.type is ProtoType.MESSAGE:
        assert spec.message is not None
        return decode_message(raw, spec.message)
    return _decode_special(spec, raw)


def _decode_special(spec: ProtoField, raw: bytes) -> Any:
    if spec.type is ProtoType.STRING_MAP:
        entry = decode_message(raw, {1: _f("key", keep_zero=True), 2: _f("value", keep_zero=True)})
        return (entry.get("key", ""), entry.get("value", ""))
    if spec.type is ProtoType.BYTES_MAP:
        entry = decode_message(raw, {1: _f("key", keep_zero=True), 2: _f("value", ProtoType.BYTES, keep_zero=True)})
        return (entry.get("key", ""), base64.b64encode(entry.get("value", b"")).decode())
    if spec.type is ProtoType.INT_OR_STRING:
        value = decode_message(raw, {1: _f("type", ProtoType.INT64), 2: _f("intVal", ProtoType.INT32), 3: _f("strVal")})
        return value.get("strVal", "") if value.get("type") == 1 else value.get("intVal", 0)
    if spec.type is ProtoType.TIME:
        value = decode_message(raw, {1: _f("seconds", ProtoType.INT64), 2: _f("nanos", ProtoType.INT32)})
        # metav1.Time serialises to whole seconds; an empty message is the zero time.
        return _rfc3339(value["seconds"]) if value else None
    if spec.type is ProtoType.MICRO_TIME:  # the same message; JSON keeps microseconds
        value = decode_message(raw, {1: _f("seconds", ProtoType.INT64), 2: _f("nanos", ProtoType.INT32)})
        moment = datetime.datetime.fromtimestamp(value.get("seconds", 0), tz=datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.get('nanos', 0) // 1000:06d}Z" if value else None
    if spec.type is ProtoType.FIELDS_V1:
        # FieldsV1 { bytes Raw = 1 } holds the JSON that the JSON API inlines.
        inner = decode_message(raw, {1: _f("raw", ProtoType.BYTES)})
        try:
            return json.loads(inner["raw"]) if inner else None
        except ValueError as err:
            raise ProtobufError(f"field {spec.name!r}: not JSON") from err
    raise ProtobufError(f"field {spec.name!r}: no decoder for {spec.type.value}")


def _is_zero(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is None or value is False
    return value in ("", 0, b"") or (isinstance(value, (dict, list)) and not value)


def decode_message(buffer: bytes, schema: Schema) -> dict[str, Any]:
    """Decode one message into a JSON-shaped dict following `schema` (side-effect-free)."""
    result: dict[str, Any] = {}
    keep_zero: set[str] = set()
    for number, wire_type, raw in iter_fields(buffer):
        spec = schema.get(number)
        if spec is None:
            continue
        if spec.keep_zero and not spec.repeated:
            keep_zero.add(spec.name)
        value = _decode_value(spec, wire_type, raw)
        if spec.type in (ProtoType.STRING_MAP, ProtoType.BYTES_MAP):
            result.setdefault(spec.name, {})[value[0]] = value[1]
        elif spec.repeated:
            result.setdefault(spec.name, []).append(value)
        else:
            result[spec.name] = value
    return {name: value for name, value in result.items() if name in keep_zero or not _is_zero(value)}


def decode_k8s_protobuf(body: bytes, schemas: Mapping[tuple[str, str], Schema] = KIND_SCHEMAS) -> dict[str, Any]:
    """Decode a ``application/vnd.kubernetes.protobuf`` request body to a JSON dict.

    The result starts with ``apiVersion`` and ``kind`` from the envelope. Raises
    ProtobufError for a missing magic prefix, malformed data, an encoded
    (``contentEncoding``) payload or a kind without a schema here.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError(f"provided data does not appear to be a protobuf message, expected prefix {list(MAGIC)}")
    envelope = decode_message(body[len(MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {envelope['contentEncoding']!r}")
    schema = schemas.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"no protobuf decoder for {api_version or '<none>'}, Kind={kind or '<none>'}")
    decoded = decode_message(envelope.get("raw", b""), schema)
    return {"apiVersion": api_version, "kind": kind, **decoded}
