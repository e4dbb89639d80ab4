"""Decoding kubectl's protobuf request bodies.

Fixtures under data/ are real bodies captured from kubectl v1.37.1 (see
data/README.md); the rest are built with the tiny encoder below, which writes
fields the way Go's generated marshallers do (every non-pointer field, empty
ones included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from svclab.apiserver.protobuf import (
    MAGIC,
    ProtobufError,
    decode_k8s_protobuf,
    iter_fields,
)

DATA = Path(__file__).parent / "data"


# --- a minimal protobuf encoder --------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative ints are 10-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def num(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def raw(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def text(number: int, value: str) -> bytes:
    return raw(number, value.encode())


def msg(number: int, *fields: bytes) -> bytes:
    return raw(number, b"".join(fields))


def entry(number: int, key: str, value: str) -> bytes:
    return msg(number, text(1, key), text(2, value))


def envelope(api_version: str, kind: str, obj: bytes, encoding: str = "") -> bytes:
    return MAGIC + msg(1, text(1, api_version), text(2, kind)) + raw(2, obj) + text(3, encoding) + text(4, "")


def empty_meta(name: str, namespace: str = "") -> bytes:
    # Go writes all non-pointer ObjectMeta fields: strings, generation, creationTimestamp.
    return msg(
        1, text(1, name), text(2, ""), text(3, namespace), text(4, ""), text(5, ""), text(6, ""), num(7, 0), msg(8)
    )


# --- captured kubectl bodies ---------------------------------------------------

CAPTURED = {
    "kubectl-create-namespace-foo.pb": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}},
    "kubectl-create-service-clusterip-web.pb": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "ports": [
                {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443},
            ],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
    },
    "kubectl-create-service-clusterip-headless.pb": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "headless", "namespace": "default", "labels": {"app": "headless"}},
        "spec": {"selector": {"app": "headless"}, "clusterIP": "None", "type": "ClusterIP"},
    },
    "kubectl-create-service-nodeport-np.pb": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np", "labels": {"app": "np"}},
        "spec": {
            "ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}],
            "selector": {"app": "np"},
            "type": "NodePort",
        },
    },
    "kubectl-create-service-externalname-ext.pb": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ext", "labels": {"app": "ext"}},
        "spec": {"selector": {"app": "ext"}, "type": "ExternalName", "externalName": "example.com"},
    },
    "kubectl-create-service-loadbalancer-lb.pb": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "labels": {"app": "lb"}},
        "spec": {
            "ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}],
            "selector": {"app": "lb"},
            "type": "LoadBalancer",
        },
    },
}


@pytest.mark.parametrize("fixture", sorted(CAPTURED), ids=lambda f: f.removesuffix(".pb"))
def test_captured_kubectl_bodies_decode_to_the_json_object(fixture: str) -> None:
    body = (DATA / fixture).read_bytes()
    assert decode_k8s_protobuf(body) == CAPTURED[fixture]


# --- hand-built bodies -----------------------------------------------------------


def full_service() -> bytes:
    meta = msg(
        1,
        text(1, "web"),
        text(2, "web-"),
        text(3, "ns"),
        num(7, 3),
        msg(8, num(1, 1700000000), num(2, 5)),
        num(10, 30),
        entry(11, "app", "web"),
        entry(12, "note", ""),
        msg(13, text(1, "Deployment"), text(3, "d"), text(4, "u-1"), text(5, "apps/v1"), num(6, 1), num(7, 0)),
        text(14, "example.com/f"),
        msg(17, text(1, "kubectl"), text(2, "Apply"), msg(7, raw(1, b'{"f:spec":{}}'))),
    )
    spec = msg(
        2,
        msg(
            1,
            text(1, "http"),
            text(2, "TCP"),
            num(3, 80),
            msg(4, num(1, 0), num(2, 8080), text(3, "")),
            num(5, 0),
            text(6, "http"),
        ),
        entry(2, "app", "web"),
        text(3, "10.96.0.10"),
        text(18, "10.96.0.10"),
        text(18, "fd00::10"),
        text(4, "NodePort"),
        text(5, "1.2.3.4"),
        text(7, "ClientIP"),
        text(10, ""),
        text(11, "Local"),
        num(12, 0),
        num(13, 1),
        msg(14, msg(1, num(1, 600))),
        text(19, "IPv4"),
        text(19, "IPv6"),
        text(17, "PreferDualStack"),
        num(20, 0),
        text(22, "Cluster"),
        # fields this decoder does not know are skipped, whatever their wire type
        num(99, 7),
        varint(98 << 3 | 1) + bytes(8),
        varint(97 << 3 | 5) + bytes(4),
        text(96, "future"),
    )
    status = msg(
        3,
        msg(1, msg(1, text(1, "1.1.1.1"), text(3, "VIP"))),
        msg(2, text(1, "Ready"), text(2, "True"), num(3, -1), msg(4, num(1, 0)), text(5, "OK"), text(6, "")),
    )
    return envelope("v1", "Service", meta + spec + status)


def test_every_service_field_decodes() -> None:
    assert decode_k8s_protobuf(full_service()) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "generateName": "web-",
            "namespace": "ns",
            "generation": 3,
            "creationTimestamp": "2023-11-14T22:13:20Z",
            "deletionGracePeriodSeconds": 30,
            "labels": {"app": "web"},
            "annotations": {"note": ""},
            "ownerReferences": [
                {
                    "kind": "Deployment",
                    "name": "d",
                    "uid": "u-1",
                    "apiVersion": "apps/v1",
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
            "finalizers": ["example.com/f"],
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "appProtocol": "http"}],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10", "fd00::10"],
            "type": "NodePort",
            "externalIPs": ["1.2.3.4"],
            "sessionAffinity": "ClientIP",
            "externalTrafficPolicy": "Local",
            "publishNotReadyAddresses": True,
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
            "ipFamilies": ["IPv4", "IPv6"],
            "ipFamilyPolicy": "PreferDualStack",
            "allocateLoadBalancerNodePorts": False,
            "internalTrafficPolicy": "Cluster",
        },
        "status": {
            "loadBalancer": {"ingress": [{"ip": "1.1.1.1", "ipMode": "VIP"}]},
            "conditions": [{"type": "Ready", "status": "True", "observedGeneration": -1, "reason": "OK"}],
        },
    }


def test_namespace_with_finalizers_and_status() -> None:
    body = envelope("v1", "Namespace", empty_meta("team") + msg(2, text(1, "kubernetes")) + msg(3, text(1, "Active")))
    assert decode_k8s_protobuf(body) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (msg(4, num(1, 0), num(2, 9376)), 9376),
        (msg(4, num(1, 1), text(3, "metrics")), "metrics"),
        (msg(4, num(1, 0), num(2, 0), text(3, "")), None),
    ],
    ids=["int", "string", "zero-dropped"],
)
def test_int_or_string_target_port(value: bytes, expected: Any) -> None:
    body = envelope("v1", "Service", empty_meta("s") + msg(2, msg(1, num(3, 80), value)))
    ports = decode_k8s_protobuf(body)["spec"]["ports"]
    assert ports[0].get("targetPort") == expected


def test_negative_int32_wraps_like_go() -> None:
    body = envelope("v1", "Service", empty_meta("s") + msg(2, num(12, -5)))
    assert decode_k8s_protobuf(body)["spec"]["healthCheckNodePort"] == -5


BAD_BODIES = [
    (b'{"kind":"Namespace"}', "does not appear to be a protobuf message, expected prefix [107, 56, 115, 0]"),
    (envelope("v1", "ConfigMap", empty_meta("c")), "no protobuf decoder for v1, Kind=ConfigMap"),
    (envelope("apps/v1", "Service", empty_meta("c")), "no protobuf decoder for apps/v1"),
    (MAGIC + raw(2, b""), "no protobuf decoder for <none>, Kind=<none>"),
    (envelope("v1", "Namespace", empty_meta("c"), encoding="gzip"), "unsupported content encoding 'gzip'"),
    (MAGIC + b"\x0a\x05ab", "field 1 claims 5 bytes, 2 remain"),
    (MAGIC + b"\x08\xff", "truncated varint"),
    (MAGIC + b"\x08" + b"\xff" * 11, "varint longer than 10 bytes"),
    (MAGIC + b"\x0b", "unsupported wire type 3"),
    (MAGIC + b"\x00\x00", "illegal field number 0"),
    (MAGIC + b"\x09\x01", "truncated fixed-width field"),
    (envelope("v1", "Namespace", num(1, 5)), "field 'metadata': wire type 0, expected 2"),
    (envelope("v1", "Namespace", msg(1, raw(1, b"\xff\xfe"))), "field 'name': invalid UTF-8"),
    (envelope("v1", "Namespace", msg(1, text(7, "x"))), "field 'generation': wire type 2"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES, ids=[m.split(":")[0][:30] for _, m in BAD_BODIES])
def test_bad_bodies_raise_protobuf_error(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError) as caught:
        decode_k8s_protobuf(body)
    assert message in str(caught.value)


def test_iter_fields_reports_wire_types_and_raw_values() -> None:
    data = (
        num(1, 300)
        + text(2, "hi")
        + varint(3 << 3 | 1)
        + (7).to_bytes(8, "little")
        + varint(4 << 3 | 5)
        + (9).to_bytes(4, "little")
    )
    assert list(iter_fields(data)) == [(1, 0, 300), (2, 2, b"hi"), (3, 1, 7), (4, 5, 9)]
