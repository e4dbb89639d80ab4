"""ServiceCIDR validation (networking.k8s.io/v1), as upstream's ServiceCIDR validation tests.

Address plan: 10.96.0.0/16 (the default Service CIDR), fd00:10:96::/112 for a
second family.
"""

from __future__ import annotations

from typing import Any

import pytest
from validation_builders import rendered

from svclab.apiserver.validation import validate_create, validate_update


def service_cidr(*cidrs: str, name: str = "kubernetes") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": name, "resourceVersion": "1", "uid": "u", "creationTimestamp": "2026-12-03T10:00:00Z"},
        "spec": {"cidrs": list(cidrs)},
    }


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        pytest.param(("10.96.0.0/16",), [], id="one"),
        pytest.param(("10.96.0.0/16", "fd00:10:96::/112"), [], id="dual-stack"),
        pytest.param((), ["spec.cidrs: Required value: at least one CIDR required"], id="none"),
        pytest.param(
            ("10.96.0.0/16", "10.97.0.0/16"),
            [
                'spec.cidrs: Invalid value: []string{"10.96.0.0/16", "10.97.0.0/16"}: may specify no more than one '
                "IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"
            ],
            id="two-of-one-family",
        ),
        pytest.param(
            ("10.96.0.1/16",),
            ['spec.cidrs[0]: Invalid value: "10.96.0.1/16": must not have bits set beyond the prefix length'],
            id="host-bits",
        ),
    ],
)
def test_service_cidr(cidrs: tuple[str, ...], expected: list[str]) -> None:
    assert rendered(validate_create("ServiceCIDR", service_cidr(*cidrs))) == expected


def test_too_many_cidrs() -> None:
    errors = rendered(validate_create("ServiceCIDR", service_cidr("10.96.0.0/16", "fd00::/112", "10.97.0.0/16")))
    assert len(errors) == 1 and errors[0].endswith("may only hold up to 2 values")


def test_cidrs_are_immutable_but_may_gain_the_other_family() -> None:
    old = service_cidr("10.96.0.0/16")
    assert rendered(validate_update("ServiceCIDR", service_cidr("10.96.0.0/16", "fd00:10:96::/112"), old)) == []
    assert rendered(validate_update("ServiceCIDR", service_cidr("10.97.0.0/16"), old)) == [
        'spec.cidrs: Invalid value: []string{"10.97.0.0/16"}: field is immutable'
    ]


def test_name_is_a_dns_subdomain() -> None:
    errors = rendered(validate_create("ServiceCIDR", service_cidr("10.96.0.0/16", name="Bad_Name")))
    assert len(errors) == 1 and errors[0].startswith('metadata.name: Invalid value: "Bad_Name"')
