"""Endpoints and EndpointSlice validation.

Address plan: pods 10.244.0.0/16 and fd00:10:244::/64, nodes node-1/node-2.
Messages follow TestValidateEndpointsCreate (core) and TestValidateEndpointSlice
(discovery) in upstream's validation_test.go files.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from validation_builders import (
    BAD_IP,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    PORT_RANGE,
    Obj,
    endpoint_slice,
    endpoints,
    mutated,
    rendered,
)

from svclab.apiserver.validation import validate_create, validate_update


def subset(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for name, value in fields.items():
            if value is None:
                obj["subsets"][0].pop(name, None)
            else:
                obj["subsets"][0][name] = value

    return mutate


def address(ip: str, **extra: Any) -> Callable[[Obj], None]:
    return subset(addresses=[{"ip": ip, **extra}])


ENDPOINTS_CASES = [
    ("no-subsets", lambda o: o.update(subsets=[]), []),
    (
        "subset-without-addresses",
        subset(addresses=[], notReadyAddresses=[]),
        ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"],
    ),
    ("not-ready-only-ok", subset(addresses=[]), []),
    ("ports-optional", subset(ports=[]), []),
    (
        "invalid-ip",
        address("10.244.1"),
        [
            f'subsets[0].addresses[0].ip: Invalid value: "10.244.1": {BAD_IP}',
            'subsets[0].addresses[0].ip: Invalid value: "10.244.1": must be a valid IP address',
        ],
    ),
    (
        "loopback",
        address("127.0.0.1"),
        [
            'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'
        ],
    ),
    (
        "link-local",
        address("169.254.10.10"),
        [
            'subsets[0].addresses[0].ip: Invalid value: "169.254.10.10": may not be in the link-local range '
            "(169.254.0.0/16, fe80::/10)"
        ],
    ),
    (
        "link-local-multicast",
        address("224.0.0.10"),
        [
            'subsets[0].addresses[0].ip: Invalid value: "224.0.0.10": may not be in the link-local multicast range '
            "(224.0.0.0/24, ff02::/10)"
        ],
    ),
    (
        "unspecified",
        address("0.0.0.0"),
        ['subsets[0].addresses[0].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)'],
    ),
    (
        "ipv6-loopback",
        address("::1"),
        ['subsets[0].addresses[0].ip: Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
    ),
    ("ipv6-ok", address("fd00:10:244::5"), []),
    (
        "non-canonical-ipv6",
        address("fd00:10:244:0::5"),
        ['subsets[0].addresses[0].ip: Invalid value: "fd00:10:244:0::5": must be in canonical form ("fd00:10:244::5")'],
    ),
    (
        "bad-hostname",
        address("10.244.1.5", hostname="Web_0"),
        [f'subsets[0].addresses[0].hostname: Invalid value: "Web_0": {DNS1123_LABEL}'],
    ),
    (
        "bad-node-name",
        address("10.244.1.5", nodeName="Node_1"),
        [f'subsets[0].addresses[0].nodeName: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}'],
    ),
    (
        "bad-not-ready-ip",
        subset(notReadyAddresses=[{"ip": "127.0.0.2"}]),
        [
            'subsets[0].notReadyAddresses[0].ip: Invalid value: "127.0.0.2": may not be in the loopback range '
            "(127.0.0.0/8, ::1/128)"
        ],
    ),
    (
        "port-zero",
        subset(ports=[{"port": 0, "protocol": "TCP"}]),
        [f"subsets[0].ports[0].port: Invalid value: 0: {PORT_RANGE}"],
    ),
    (
        "port-too-big",
        subset(ports=[{"port": 65536, "protocol": "TCP"}]),
        [f"subsets[0].ports[0].port: Invalid value: 65536: {PORT_RANGE}"],
    ),
    (
        "bad-protocol",
        subset(ports=[{"port": 80, "protocol": "ICMP"}]),
        ['subsets[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'],
    ),
    (
        "names-required-with-two-ports",
        subset(ports=[{"name": "a", "port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]),
        ["subsets[0].ports[1].name: Required value"],
    ),
    (
        "bad-port-name",
        subset(ports=[{"name": "Http", "port": 80, "protocol": "TCP"}]),
        [f'subsets[0].ports[0].name: Invalid value: "Http": {DNS1123_LABEL}'],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in ENDPOINTS_CASES])
def test_endpoints(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Endpoints", mutated(endpoints, mutation))) == expected


def endpoint(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        obj["endpoints"][0].update(fields)

    return mutate


def top(**fields: Any) -> Callable[[Obj], None]:
    return lambda obj: obj.update(fields)


SLICE_CASES = [
    ("empty-slice-ok", top(endpoints=[], ports=[]), []),
    ("port-without-name-ok", top(ports=[{"name": "", "port": 80, "protocol": "TCP"}]), []),
    ("address-type-required", top(addressType=""), ["addressType: Required value"]),
    (
        "address-type-unknown",
        top(addressType="IP"),
        ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"'],
    ),
    (
        "no-addresses",
        endpoint(addresses=[]),
        ["endpoints[0].addresses: Required value: must contain at least 1 address"],
    ),
    (
        "too-many-addresses",
        endpoint(addresses=[f"10.244.1.{i}" for i in range(1, 102)]),
        ["endpoints[0].addresses: Too many: 101: must have at most 100 items"],
    ),
    (
        "too-many-endpoints",
        top(endpoints=[{"addresses": ["10.244.1.5"]}] * 1001),
        ["endpoints: Too many: 1001: must have at most 1000 items"],
    ),
    (
        "ipv6-in-ipv4-slice",
        endpoint(addresses=["fd00:10:244::5"]),
        ['endpoints[0].addresses[0]: Invalid value: "fd00:10:244::5": must be a valid IPv4 address'],
    ),
    (
        "ipv4-in-ipv6-slice",
        top(addressType="IPv6"),
        ['endpoints[0].addresses[0]: Invalid value: "10.244.1.5": must be a valid IPv6 address'],
    ),
    (
        "loopback-address",
        endpoint(addresses=["127.0.0.1"]),
        [
            'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
            "::1/128)"
        ],
    ),
    (
        "garbage-address",
        endpoint(addresses=["foo"]),
        [
            'endpoints[0].addresses[0]: Invalid value: "foo": must be a valid IPv4 address',
            'endpoints[0].addresses[0]: Invalid value: "foo": must be a valid IP address',
        ],
    ),
    ("fqdn-ok", top(addressType="FQDN", endpoints=[{"addresses": ["web.example.com"]}]), []),
    (
        "fqdn-single-label",
        top(addressType="FQDN", endpoints=[{"addresses": ["web"]}]),
        [
            'endpoints[0].addresses[0]: Invalid value: "web": should be a domain with at least two segments separated '
            "by dots"
        ],
    ),
    (
        "bad-node-name",
        endpoint(nodeName="Node_1"),
        [f'endpoints[0].nodeName: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}'],
    ),
    (
        "bad-hostname",
        endpoint(hostname="web.0"),
        ['endpoints[0].hostname: Invalid value: "web.0": must not contain dots'],
    ),
    (
        "bad-zone-hint",
        endpoint(hints={"forZones": [{"name": "zone a"}]}),
        [f'endpoints[0].hints.forZones[0].name: Invalid value: "zone a": {LABEL_VALUE}'],
    ),
    (
        "duplicate-zone-hint",
        endpoint(hints={"forZones": [{"name": "zone-a"}, {"name": "zone-a"}]}),
        ['endpoints[0].hints.forZones[1].name: Duplicate value: "zone-a"'],
    ),
    (
        "too-many-zone-hints",
        endpoint(hints={"forZones": [{"name": f"z{i}"} for i in range(9)]}),
        ["endpoints[0].hints.forZones: Too many: 9: must have at most 8 items"],
    ),
    (
        "bad-port-name",
        top(ports=[{"name": "Http", "port": 80, "protocol": "TCP"}]),
        [f'ports[0].name: Invalid value: "Http": {DNS1123_LABEL}'],
    ),
    (
        "duplicate-port-name",
        top(ports=[{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "http", "port": 81, "protocol": "UDP"}]),
        ['ports[1].name: Duplicate value: "http"'],
    ),
    (
        "duplicate-empty-port-name",
        top(ports=[{"name": "", "port": 80, "protocol": "TCP"}, {"name": "", "port": 81, "protocol": "TCP"}]),
        ['ports[1].name: Duplicate value: ""'],
    ),
    (
        "bad-port-protocol",
        top(ports=[{"name": "a", "port": 80, "protocol": "ICMP"}]),
        ['ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'],
    ),
    ("port-numbers-not-range-checked", top(ports=[{"name": "a", "port": 0, "protocol": "TCP"}]), []),
    (
        "bad-managed-by-label",
        lambda o: o["metadata"]["labels"].update({"endpointslice.kubernetes.io/managed-by": "my controller"}),
        [f'metadata.labels: Invalid value: "my controller": {LABEL_VALUE}'],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in SLICE_CASES])
def test_endpoint_slice(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("EndpointSlice", mutated(endpoint_slice, mutation))) == expected


def test_endpoint_slice_address_type_is_immutable() -> None:
    old = endpoint_slice()
    new = copy.deepcopy(old)
    new.update(addressType="IPv6", endpoints=[{"addresses": ["fd00:10:244::5"]}])
    assert rendered(validate_update("EndpointSlice", new, old)) == [
        'addressType: Invalid value: "IPv6": field is immutable'
    ]


def test_endpoints_update_revalidates_and_keeps_meta_rules() -> None:
    old = endpoints()
    new = mutated(endpoints, address("127.0.0.1"))
    new["metadata"]["uid"] = "other"
    assert rendered(validate_update("Endpoints", new, old)) == [
        'metadata.uid: Invalid value: "other": field is immutable',
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
        "::1/128)",
    ]
