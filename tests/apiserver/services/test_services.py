"""Service defaulting and ClusterIP / NodePort allocation.

Address plan: service CIDR 10.96.0.0/16 (kubernetes Service 10.96.0.1), small ranges
10.0.0.0/29 (usable .1-.6) and NodePorts 30000-30003 to exercise exhaustion; IPv6
fd00:10:96::/112. Randomness is seeded so runs repeat.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from svclab.apiserver.services import (
    AllocationError,
    IPAllocator,
    PortAllocator,
    ServiceAllocationError,
    ServiceAllocations,
    default_service,
    kubernetes_service_ip,
)

CIDR = "10.96.0.0/16"


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def allocations(cidr: str = CIDR, ports: str = "30000-32767") -> ServiceAllocations:
    return ServiceAllocations(cidr, ports, rng=random.Random(7))


def create(alloc: ServiceAllocations, name: str = "web", **spec: Any) -> dict[str, Any]:
    return alloc.prepare_create(default_service(svc(name, **spec)))


# --- defaulting ----------------------------------------------------------------------


def test_default_cluster_ip_service() -> None:
    original = svc(ports=[{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": 5353}])
    out = default_service(original)
    assert out["spec"] == {
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": 5353},
        ],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }
    assert "type" not in original["spec"], "input must not be mutated"


def test_default_client_ip_affinity_timeout() -> None:
    out = default_service(svc(sessionAffinity="ClientIP"))
    assert out["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    kept = default_service(svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    assert kept["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 60


def test_default_none_affinity_drops_config() -> None:
    out = default_service(svc(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    assert "sessionAffinityConfig" not in out["spec"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"type": "NodePort"}, {"externalTrafficPolicy": "Cluster"}, id="nodeport"),
        pytest.param(
            {"type": "LoadBalancer"},
            {"externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True},
            id="loadbalancer",
        ),
        pytest.param(
            {"externalIPs": ["192.0.2.1"]}, {"externalTrafficPolicy": "Cluster"}, id="clusterip-with-external-ips"
        ),
        pytest.param(
            {"type": "ExternalName", "externalName": "example.com"},
            {"externalTrafficPolicy": None, "internalTrafficPolicy": None, "ipFamilies": None, "ipFamilyPolicy": None},
            id="externalname",
        ),
    ],
)
def test_default_type_dependent_fields(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    out = default_service(svc(**spec))["spec"]
    for key, value in expected.items():
        assert out.get(key) == value, key


def test_default_headless_keeps_families_for_the_allocator() -> None:
    # ipFamilyPolicy / ipFamilies depend on the cluster: set by init_ip_family_fields
    # (tests/apiserver/services/test_families.py), never by the static defaults.
    out = default_service(svc(clusterIP="None"))["spec"]
    assert out["clusterIPs"] == ["None"]
    assert "ipFamilyPolicy" not in out and "ipFamilies" not in out


def test_default_named_target_port_kept() -> None:
    out = default_service(svc(ports=[{"port": 80, "targetPort": "http"}]))["spec"]
    assert out["ports"][0]["targetPort"] == "http"


# --- IPAllocator -----------------------------------------------------------------------


def test_kubernetes_service_ip() -> None:
    assert kubernetes_service_ip(CIDR) == "10.96.0.1"
    assert kubernetes_service_ip("fd00:10:96::/112") == "fd00:10:96::1"


def test_ip_allocator_range_and_messages() -> None:
    ips = IPAllocator(CIDR, rng=random.Random(1))
    assert not ips.contains("10.96.0.0")
    assert not ips.contains("10.96.255.255")
    assert ips.contains("10.96.0.1") and ips.contains("10.96.255.254")
    ips.allocate("10.96.0.5")
    assert ips.is_allocated("10.96.0.5")
    with pytest.raises(AllocationError, match="^provided IP is already allocated$"):
        ips.allocate("10.96.0.5")
    with pytest.raises(AllocationError) as err:
        ips.allocate("10.97.0.1")
    assert str(err.value) == (
        "the provided IP (10.97.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/16"
    )
    ips.release("10.96.0.5")
    assert not ips.is_allocated("10.96.0.5")
    ips.allocate("10.96.0.5")


def test_ip_allocator_exhaustion_skips_kubernetes_ip() -> None:
    ips = IPAllocator("10.0.0.0/29", rng=random.Random(3))
    got = {ips.allocate_next() for _ in range(5)}
    assert got == {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}
    with pytest.raises(AllocationError, match="^range is full$"):
        ips.allocate_next()
    ips.allocate("10.0.0.1")  # the kubernetes Service may still ask for it


def test_ip_allocator_prefers_upper_band() -> None:
    # /24: 254 usable addresses, static band min(max(16, 256/16), 256) = 16 offsets.
    ips = IPAllocator("10.1.0.0/24", rng=random.Random(5))
    first = [ips.allocate_next() for _ in range(254 - 16)]
    assert all(int(ip.rsplit(".", 1)[1]) >= 17 for ip in first)
    lower = ips.allocate_next()
    assert 2 <= int(lower.rsplit(".", 1)[1]) <= 16


def test_ip_allocator_ipv6() -> None:
    ips = IPAllocator("fd00:10:96::/112", rng=random.Random(1))
    assert ips.contains("fd00:10:96::ffff")
    assert not ips.contains("fd00:10:96::")
    assert not ips.contains("10.96.0.1")
    ip = ips.allocate_next()
    assert ips.is_allocated(ip) and ip.startswith("fd00:10:96::")


# --- PortAllocator ---------------------------------------------------------------------


def test_port_allocator_messages() -> None:
    ports = PortAllocator(rng=random.Random(1))
    ports.allocate(30080)
    with pytest.raises(AllocationError, match="^provided port is already allocated$"):
        ports.allocate(30080)
    with pytest.raises(AllocationError) as err:
        ports.allocate(8080)
    assert str(err.value) == ("provided port is not in the valid range. The range of valid ports is 30000-32767")
    port = ports.allocate_next()
    assert 30000 <= port <= 32767 and ports.is_allocated(port)


def test_port_allocator_full() -> None:
    ports = PortAllocator("30000-30003", rng=random.Random(1))
    assert sorted(ports.allocate_next() for _ in range(4)) == [30000, 30001, 30002, 30003]
    with pytest.raises(AllocationError, match="^range is full$"):
        ports.allocate_next()
    ports.release(30002)
    assert ports.allocate_next() == 30002


# --- ServiceAllocations: create ----------------------------------------------------------


def test_create_allocates_cluster_ip() -> None:
    alloc = allocations()
    out = create(alloc)
    ip = out["spec"]["clusterIP"]
    assert out["spec"]["clusterIPs"] == [ip]
    assert alloc.ips.is_allocated(ip) and ip != "10.96.0.1"


def test_create_requested_ip_conflict_is_422_on_cluster_ips() -> None:
    alloc = allocations()
    create(alloc, "a", clusterIP="10.96.0.10")
    with pytest.raises(ServiceAllocationError) as err:
        create(alloc, "b", clusterIP="10.96.0.10")
    assert err.value.field_path == "spec.clusterIPs"
    assert err.value.message == (
        'Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated'
    )
    assert not err.value.internal


def test_create_requested_ip_out_of_range() -> None:
    with pytest.raises(ServiceAllocationError) as err:
        create(allocations(), clusterIP="192.168.1.1")
    assert err.value.message == (
        'Invalid value: []string{"192.168.1.1"}: failed to allocate IP 192.168.1.1: the '
        "provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is "
        "10.96.0.0/16"
    )


def test_create_headless_and_external_name_take_nothing() -> None:
    alloc = allocations()
    headless = create(alloc, clusterIP="None")
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = create(alloc, "ext", type="ExternalName", externalName="example.com")
    assert "clusterIP" not in external["spec"]
    assert alloc.ips.used == 0


def test_create_node_ports_share_per_service_port() -> None:
    alloc = allocations()
    out = create(
        alloc,
        type="NodePort",
        ports=[
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "dns-udp", "port": 53, "protocol": "UDP", "nodePort": 30053},
            {"name": "http", "port": 80},
        ],
    )
    ports = out["spec"]["ports"]
    assert ports[0]["nodePort"] == ports[1]["nodePort"] == 30053
    assert 30000 <= ports[2]["nodePort"] <= 32767 and ports[2]["nodePort"] != 30053
    assert alloc.ports.used == 2


def test_create_node_port_conflict_rolls_back_everything() -> None:
    alloc = allocations()
    create(alloc, "a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    ips_before, ports_before = alloc.ips.used, alloc.ports.used
    with pytest.raises(ServiceAllocationError) as err:
        create(
            alloc,
            "b",
            type="NodePort",
            clusterIP="10.96.0.20",
            ports=[{"name": "a", "port": 81}, {"name": "b", "port": 82, "nodePort": 30080}],
        )
    assert err.value.field_path == "spec.ports[1].nodePort"
    assert err.value.message == "Invalid value: 30080: provided port is already allocated"
    assert (alloc.ips.used, alloc.ports.used) == (ips_before, ports_before)
    assert not alloc.ips.is_allocated("10.96.0.20")


def test_create_node_port_out_of_range() -> None:
    with pytest.raises(ServiceAllocationError) as err:
        create(allocations(), type="NodePort", ports=[{"port": 80, "nodePort": 8080}])
    assert err.value.message == (
        "Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"
    )


def test_create_full_ranges_are_internal_errors() -> None:
    alloc = allocations("10.0.0.0/30", "30000-30000")  # .1 (kubernetes) and .2 usable
    assert create(alloc, "first")["spec"]["clusterIP"] == "10.0.0.2"
    with pytest.raises(ServiceAllocationError) as err:
        create(alloc)
    assert err.value.internal
    assert err.value.message == "failed to allocate a serviceIP: range is full"
    with pytest.raises(ServiceAllocationError) as err:
        create(alloc, type="NodePort", clusterIP="10.0.0.1", ports=[{"port": 80}, {"port": 81}])
    assert err.value.internal and "range is full" in err.value.message
    assert alloc.ips.used == 1 and alloc.ports.used == 0


def test_create_load_balancer_local_gets_health_check_port() -> None:
    alloc = allocations()
    out = create(alloc, type="LoadBalancer", externalTrafficPolicy="Local")
    hc = out["spec"]["healthCheckNodePort"]
    assert alloc.ports.is_allocated(hc) and hc != out["spec"]["ports"][0]["nodePort"]
    no_ports = create(alloc, "lb2", type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    assert "nodePort" not in no_ports["spec"]["ports"][0]


# --- ServiceAllocations: update and delete ------------------------------------------------


def test_update_keeps_cluster_ip_and_node_ports_left_out() -> None:
    alloc = allocations()
    old = create(alloc, type="NodePort", ports=[{"name": "http", "port": 80}])
    update = default_service(svc(type="NodePort", ports=[{"name": "http", "port": 8080}]))
    new = alloc.prepare_update(update, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["clusterIPs"] == old["spec"]["clusterIPs"]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    assert alloc.ports.used == 1 and alloc.ips.used == 1


def test_update_cluster_ip_may_not_change() -> None:
    alloc = allocations()
    old = create(alloc, clusterIP="10.96.0.10")
    with pytest.raises(ServiceAllocationError) as err:
        alloc.prepare_update(default_service(svc(clusterIP="10.96.0.11")), old)
    assert err.value.field_path == "spec.clusterIPs[0]"
    assert err.value.message == 'Invalid value: []string{"10.96.0.11"}: may not change once set'
    assert not alloc.ips.is_allocated("10.96.0.11")


def test_update_type_changes_release_and_allocate() -> None:
    alloc = allocations()
    cluster = create(alloc, clusterIP="10.96.0.10")
    as_node_port = alloc.prepare_update(default_service(svc(type="NodePort")), cluster)
    node_port = as_node_port["spec"]["ports"][0]["nodePort"]
    assert alloc.ports.is_allocated(node_port)
    assert as_node_port["spec"]["clusterIP"] == "10.96.0.10"

    external = default_service(
        {**as_node_port, "spec": {**as_node_port["spec"], "type": "ExternalName", "externalName": "example.com"}}
    )
    as_external = alloc.prepare_update(external, as_node_port)
    spec = as_external["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec and "ipFamilies" not in spec
    assert "nodePort" not in spec["ports"][0]
    assert alloc.ips.used == 0 and alloc.ports.used == 0

    back = alloc.prepare_update(default_service(svc()), as_external)
    assert alloc.ips.is_allocated(back["spec"]["clusterIP"]) and alloc.ips.used == 1


def test_update_failure_keeps_old_allocations() -> None:
    alloc = allocations()
    create(alloc, "other", type="NodePort", ports=[{"port": 80, "nodePort": 30090}])
    old = create(alloc, type="NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30080}])
    bad = default_service(
        svc(
            type="NodePort",
            ports=[{"name": "a", "port": 80, "nodePort": 30081}, {"name": "b", "port": 81, "nodePort": 30090}],
        )
    )
    with pytest.raises(ServiceAllocationError) as err:
        alloc.prepare_update(bad, old)
    assert err.value.field_path == "spec.ports[1].nodePort"
    assert alloc.ports.is_allocated(30080) and not alloc.ports.is_allocated(30081)


def test_update_moves_node_port_and_health_check() -> None:
    alloc = allocations()
    old = create(
        alloc,
        type="LoadBalancer",
        externalTrafficPolicy="Local",
        ports=[{"name": "a", "port": 80, "nodePort": 30080}],
        healthCheckNodePort=30500,
    )
    moved = alloc.prepare_update(
        default_service(svc(type="LoadBalancer", ports=[{"name": "a", "port": 80, "nodePort": 30081}])), old
    )
    assert moved["spec"]["ports"][0]["nodePort"] == 30081
    assert "healthCheckNodePort" not in moved["spec"]
    assert not alloc.ports.is_allocated(30080) and not alloc.ports.is_allocated(30500)
    assert alloc.ports.is_allocated(30081)


def test_release_and_restore() -> None:
    alloc = allocations()
    a = create(alloc, "a", type="NodePort")
    b = create(alloc, "b", clusterIP="None")
    alloc.release(a)
    assert alloc.ips.used == 0 and alloc.ports.used == 0

    fresh = allocations()
    dup = {**a, "metadata": {"name": "dup", "namespace": "default"}}
    problems = fresh.restore([a, b, dup])
    assert fresh.ips.is_allocated(a["spec"]["clusterIP"])
    assert fresh.ports.is_allocated(a["spec"]["ports"][0]["nodePort"])
    assert len(problems) == 2 and all("default/dup" in p for p in problems)
