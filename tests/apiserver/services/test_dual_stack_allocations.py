"""ClusterIP allocation on a dual-stack API server: one IP per family, upgrade and
downgrade on update, both IPs given back on delete.

Address plan: service CIDRs 10.96.0.0/16 (primary) and fd00:10:96::/112 (kind's IPv6
default); the kubernetes Service would hold 10.96.0.1. Randomness is seeded.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from svclab.apiserver.services import (
    ServiceAllocationError,
    ServiceAllocations,
    default_service,
    parse_service_cidrs,
)

DUAL = "10.96.0.0/16,fd00:10:96::/112"


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def allocations(cidrs: str = DUAL) -> ServiceAllocations:
    return ServiceAllocations(cidrs, rng=random.Random(7))


def prepared(alloc: ServiceAllocations, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the registry does before validation: defaults, then the IP-family fields."""
    out = default_service(obj)
    assert alloc.init_ip_family_fields(out, old) == []
    return out


def create(alloc: ServiceAllocations, name: str = "web", **spec: Any) -> dict[str, Any]:
    return alloc.prepare_create(prepared(alloc, svc(name, **spec)))


def update(alloc: ServiceAllocations, old: dict[str, Any], **spec: Any) -> dict[str, Any]:
    new = prepared(alloc, svc(old["metadata"]["name"], **spec), old)
    return alloc.prepare_update(new, old)


def test_parse_service_cidrs() -> None:
    assert parse_service_cidrs(DUAL) == ["10.96.0.0/16", "fd00:10:96::/112"]
    assert parse_service_cidrs("fd00:10:96::/112") == ["fd00:10:96::/112"]
    with pytest.raises(ValueError, match="one IPv4 and one IPv6"):
        parse_service_cidrs("10.96.0.0/16,10.97.0.0/16")
    with pytest.raises(ValueError, match="one CIDR or two"):
        parse_service_cidrs("10.96.0.0/16,fd00::/112,10.1.0.0/16")


def test_families_primary_first() -> None:
    assert allocations().families == ("IPv4", "IPv6")
    assert allocations("fd00:10:96::/112,10.96.0.0/16").families == ("IPv6", "IPv4")


def test_create_single_stack_on_dual_cluster_takes_primary_only() -> None:
    alloc = allocations()
    spec = create(alloc)["spec"]
    assert spec["ipFamilies"] == ["IPv4"] and len(spec["clusterIPs"]) == 1
    assert alloc.ips_by_family["IPv6"].used == 0


def test_create_require_dual_stack_takes_one_ip_per_family() -> None:
    alloc = allocations()
    spec = create(alloc, ipFamilyPolicy="RequireDualStack")["spec"]
    v4, v6 = spec["clusterIPs"]
    assert spec["clusterIP"] == v4 and v4.startswith("10.96.") and v6.startswith("fd00:10:96::")
    assert alloc.ips_by_family["IPv4"].is_allocated(v4) and alloc.ips_by_family["IPv6"].is_allocated(v6)


def test_create_ipv6_primary_order_follows_families() -> None:
    alloc = allocations()
    spec = create(alloc, ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6", "IPv4"])["spec"]
    assert ":" in spec["clusterIPs"][0] and "." in spec["clusterIPs"][1]


def test_create_requested_pair_and_conflict_on_secondary_rolls_back_primary() -> None:
    alloc = allocations()
    create(alloc, "a", ipFamilyPolicy="RequireDualStack", clusterIPs=["10.96.0.10", "fd00:10:96::10"])
    with pytest.raises(ServiceAllocationError) as err:
        create(alloc, "b", ipFamilyPolicy="RequireDualStack", clusterIPs=["10.96.0.11", "fd00:10:96::10"])
    assert err.value.field_path == "spec.clusterIPs"
    assert err.value.message == (
        'Invalid value: []string{"10.96.0.11", "fd00:10:96::10"}: failed to allocate IP fd00:10:96::10: '
        "provided IP is already allocated"
    )
    assert not alloc.ips_by_family["IPv4"].is_allocated("10.96.0.11")


def test_create_requested_primary_with_secondary_allocated() -> None:
    alloc = allocations()
    spec = create(alloc, ipFamilyPolicy="PreferDualStack", clusterIP="10.96.0.20")["spec"]
    assert spec["clusterIPs"][0] == "10.96.0.20" and spec["clusterIPs"][1].startswith("fd00:10:96::")


def test_upgrade_to_dual_stack_allocates_the_secondary() -> None:
    alloc = allocations()
    old = create(alloc, clusterIP="10.96.0.30")
    new = update(alloc, old, ipFamilyPolicy="RequireDualStack")
    v4, v6 = new["spec"]["clusterIPs"]
    assert v4 == "10.96.0.30" and alloc.ips_by_family["IPv6"].is_allocated(v6)
    assert new["spec"]["ipFamilies"] == ["IPv4", "IPv6"]


def test_downgrade_to_single_stack_releases_the_secondary() -> None:
    alloc = allocations()
    old = create(alloc, ipFamilyPolicy="RequireDualStack")
    v4, v6 = old["spec"]["clusterIPs"]
    new = update(
        alloc,
        old,
        ipFamilyPolicy="SingleStack",
        clusterIP=v4,
        clusterIPs=[v4, v6],
        ipFamilies=["IPv4", "IPv6"],
    )
    assert new["spec"]["clusterIPs"] == [v4] and new["spec"]["ipFamilies"] == ["IPv4"]
    assert alloc.ips_by_family["IPv4"].is_allocated(v4) and not alloc.ips_by_family["IPv6"].is_allocated(v6)


def test_dry_run_upgrade_keeps_nothing() -> None:
    alloc = allocations()
    old = create(alloc)
    new = prepared(alloc, svc(ipFamilyPolicy="RequireDualStack"), old)
    alloc.prepare_update(new, old, dry_run=True)
    assert alloc.ips_by_family["IPv6"].used == 0


def test_release_gives_back_both_families() -> None:
    alloc = allocations()
    created = create(alloc, ipFamilyPolicy="RequireDualStack", type="NodePort")
    alloc.release(created)
    assert alloc.ips_by_family["IPv4"].used == alloc.ips_by_family["IPv6"].used == 0
    assert alloc.ports.used == 0


def test_restore_marks_both_and_reports_unconfigured_family() -> None:
    alloc = allocations()
    dual = create(alloc, ipFamilyPolicy="RequireDualStack")
    fresh = allocations()
    assert fresh.restore([dual]) == []
    assert all(fresh.ips_by_family[f].used == 1 for f in ("IPv4", "IPv6"))
    single = allocations("10.96.0.0/16")
    problems = single.restore([dual])
    assert problems == [
        f"service default/web: cluster IP {dual['spec']['clusterIPs'][1]}: IPv6 is not configured on this cluster"
    ]


def test_ipv6_only_cluster() -> None:
    alloc = allocations("fd00:10:96::/112")
    spec = create(alloc)["spec"]
    assert spec["ipFamilies"] == ["IPv6"] and spec["clusterIP"].startswith("fd00:10:96::")
