"""Service updates on a dual-stack API server, through the real registry (defaulting,
carry-over of allocated values, IP-family init, validation, allocation), against
upstream's ``TestUpdateIPsFromSingleStack`` / ``TestUpdateIPsFromDualStack`` cases.

Address plan as upstream's: service CIDRs 10.0.0.0/16 and 2000::/108 (both orders:
v4v6 and v6v4); the created Service asks for 10.0.0.1 / 2000::1. The update body,
like upstream's ``svctest.MakeService``, carries a new selector and whatever the
case sets, nothing else (allocated values are carried over from the stored one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svclab.apiserver.errors import ApiError
from svclab.apiserver.registry import Registry
from svclab.apiserver.resources import by_kind
from svclab.apiserver.services import ServiceAllocations
from svclab.apiserver.storage import Store

SERVICE = by_kind("Service")
SS, PDS, RDS = "SingleStack", "PreferDualStack", "RequireDualStack"
V4, V6 = "IPv4", "IPv6"


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[Any]:
    stores: list[Store] = []

    def make(cidrs: str) -> Registry:
        store = Store(tmp_path / f"state-{len(stores)}.db")
        stores.append(store)
        registry = Registry(store, ServiceAllocations(cidrs))
        # Only the namespace: no default/kubernetes Service holding the first IPs,
        # as in upstream's storage tests.
        registry.create(by_kind("Namespace"), "", {"metadata": {"name": "default"}})
        return registry

    yield make
    for store in stores:
        store.close()


def body(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "foo"}, "spec": {"selector": {"k": "v"}, "ports": [{"port": 93}], **spec}}


def update(registry: Registry, **spec: Any) -> dict[str, Any]:
    new = body(**spec)
    new["spec"]["selector"] = {"k2": "v2"}
    out, _ = registry.update(SERVICE, "default", "foo", new)
    return out["spec"]  # type: ignore[no-any-return]


CASES_FROM_SINGLE_V6 = [
    # (update spec, expected families or None for an error); created: SingleStack, 2000::1, cluster v6v4
    ({}, [V6]),
    ({"ipFamilyPolicy": RDS}, [V6, V4]),
    ({"ipFamilyPolicy": RDS, "ipFamilies": [V6]}, [V6, V4]),
    (
        {"ipFamilyPolicy": RDS, "ipFamilies": [V6], "clusterIPs": ["2000::1", "10.0.0.1"], "clusterIP": "2000::1"},
        [V6, V4],
    ),
    ({"ipFamilyPolicy": RDS, "ipFamilies": [V6, V4]}, [V6, V4]),
    ({"ipFamilyPolicy": RDS, "ipFamilies": [V4, V6]}, None),  # single-dual_wrong_order_families
    ({"ipFamilyPolicy": RDS, "clusterIPs": ["10.0.0.1", "2000::1"], "clusterIP": "10.0.0.1"}, None),  # wrong order ips
    ({"ipFamilyPolicy": PDS}, [V6, V4]),
    ({"ipFamilies": [V6, V4]}, None),  # policy adopted from the old one: SingleStack
]


@pytest.mark.parametrize(("spec", "expected"), CASES_FROM_SINGLE_V6)
def test_update_from_single_stack_v6v4(make_registry: Any, spec: dict[str, Any], expected: list[str] | None) -> None:
    registry = make_registry("2000::/108,10.0.0.0/16")
    registry.create(SERVICE, "default", body(ipFamilyPolicy=SS, clusterIP="2000::1"))
    if expected is None:
        with pytest.raises(ApiError) as err:
            update(registry, **spec)
        assert err.value.code == 422
        return
    got = update(registry, **spec)
    assert got["ipFamilies"] == expected and got["clusterIPs"][0] == "2000::1"
    assert len(got["clusterIPs"]) == len(expected)


def test_update_ip_in_use_fails_and_keeps_the_old_allocation(make_registry: Any) -> None:
    # upstream single-dual_ip_in_use
    registry = make_registry("2000::/108,10.0.0.0/16")
    registry.create(SERVICE, "default", body(ipFamilyPolicy=SS, clusterIP="2000::1"))
    registry.allocations.ips_by_family[V4].allocate("10.0.0.1")
    with pytest.raises(ApiError) as err:
        update(
            registry, ipFamilyPolicy=RDS, ipFamilies=[V6, V4], clusterIP="2000::1", clusterIPs=["2000::1", "10.0.0.1"]
        )
    assert err.value.code == 422 and "provided IP is already allocated" in err.value.message
    assert registry.store.get("Service", "default", "foo")["spec"]["clusterIPs"] == ["2000::1"]


CASES_FROM_DUAL_V4V6 = [
    # created: RequireDualStack, 10.0.0.1 + 2000::1, cluster v4v6
    ({}, 2),
    ({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}, None),  # policy:nil_families:nil_ips:single
    ({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "2000::1"]}, 2),
    ({"ipFamilyPolicy": SS}, 1),  # downgrade by policy alone
    ({"ipFamilyPolicy": SS, "ipFamilies": [V4]}, 1),
    ({"ipFamilyPolicy": PDS, "ipFamilies": [V4]}, None),  # shrinking needs SingleStack
    ({"ipFamilyPolicy": SS, "ipFamilies": [V6]}, None),  # the primary family may not change
]


@pytest.mark.parametrize(("spec", "expected"), CASES_FROM_DUAL_V4V6)
def test_update_from_dual_stack_v4v6(make_registry: Any, spec: dict[str, Any], expected: int | None) -> None:
    registry = make_registry("10.0.0.0/16,2000::/108")
    registry.create(
        SERVICE, "default", body(ipFamilyPolicy=RDS, clusterIP="10.0.0.1", clusterIPs=["10.0.0.1", "2000::1"])
    )
    if expected is None:
        with pytest.raises(ApiError) as err:
            update(registry, **spec)
        assert err.value.code == 422
        assert registry.allocations.ips_by_family[V6].is_allocated("2000::1")
        return
    got = update(registry, **spec)
    assert len(got["ipFamilies"]) == len(got["clusterIPs"]) == expected
    assert registry.allocations.ips_by_family[V6].is_allocated("2000::1") is (expected == 2)


HEADLESS_CASES = [
    # created: headless SingleStack with selector, cluster v4v6 (upstream testCasesHeadless)
    ({}, 1),
    ({"ipFamilies": [V4]}, 1),
    ({"ipFamilies": [V4, V6]}, None),
    ({"ipFamilyPolicy": SS, "ipFamilies": [V4, V6]}, None),
    ({"ipFamilyPolicy": PDS}, 2),
    ({"ipFamilyPolicy": PDS, "ipFamilies": [V4, V6]}, 2),
    ({"ipFamilyPolicy": RDS, "ipFamilies": [V4]}, 2),
]


@pytest.mark.parametrize(("spec", "expected"), HEADLESS_CASES)
def test_update_headless(make_registry: Any, spec: dict[str, Any], expected: int | None) -> None:
    registry = make_registry("10.0.0.0/16,2000::/108")
    registry.create(SERVICE, "default", body(ipFamilyPolicy=SS, clusterIP="None"))
    if expected is None:
        with pytest.raises(ApiError):
            update(registry, **spec)
        return
    got = update(registry, **spec)
    assert got["clusterIPs"] == ["None"] and len(got["ipFamilies"]) == expected
