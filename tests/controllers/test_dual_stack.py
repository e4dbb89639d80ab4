"""Dual-stack in the three endpoint controllers, against upstream's own cases.

* Endpoints: ``TestPodToEndpointAddressForService`` (endpoints_controller_test.go):
  the address of the Service's primary family, the pod's bad IP (a leading 0, as
  upstream's ``addBadIPPod`` writes it) read sloppily and written canonical.
* EndpointSlices: ``TestReconcile1Pod`` (endpointslice reconciler_test.go): one
  slice per address type of the Service, the pod's IP of that type as given.
* Mirroring: one slice per family of a custom Endpoints subset.

Address plan: pod 0 has 1.2.3.4 and/or 2000::4 (upstream ``testPod``), in the
order the cluster's families say; the slice cases' pod 1 has 1.2.3.4 and
1234::5678:0000:0000:9abc:def0 (upstream's literal, kept uncompressed).
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.models.core_v1 import EndpointAddress
from lightkube.resources.core_v1 import Endpoints, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.endpoints import desired_endpoints, pod_address_for_service
from svclab.controllers.mirroring import plan_mirrored_slices
from svclab.controllers.slices.reconciler import plan_slices
from svclab.controllers.slices.service_slices import address_types_for_service
from svclab.kube.names import NamespacedName

from .builders import (
    NAMESPACE,
    T0,
    endpoint_port,
    endpoints,
    endpoints_of,
    labels_of,
    must,
    node,
    pod,
    raw_address,
    service,
    subset,
)
from .slices.builders import NODES, existing_slice

pytestmark = pytest.mark.timeout(2)

IPV4ONLY, IPV6ONLY = ["IPv4"], ["IPv6"]
IPV4IPV6, IPV6IPV4 = ["IPv4", "IPv6"], ["IPv6", "IPv4"]


def bad_ip_pod(cluster_families: list[str]) -> Any:
    """Upstream addBadIPPod: pod0 with one IP per cluster family, the first with a leading 0."""
    ips = ["1.2.3.4" if family == "IPv4" else "2000::4" for family in cluster_families]
    ips[0] = "0" + ips[0]
    return pod(0, ips=ips)


@pytest.mark.parametrize(
    ("cluster", "cluster_ip", "families", "expected"),
    [
        pytest.param(IPV4ONLY, "10.0.0.1", ["IPv4"], "1.2.3.4", id="v4 service, in a single stack cluster"),
        pytest.param(IPV4IPV6, "10.0.0.1", ["IPv4"], "1.2.3.4", id="v4 service, in a dual stack cluster"),
        pytest.param(IPV6IPV4, "10.0.0.1", ["IPv4"], "1.2.3.4", id="v4 service, in a dual stack ipv6-primary cluster"),
        pytest.param(IPV4ONLY, "None", ["IPv4"], "1.2.3.4", id="v4 headless service, in a single stack cluster"),
        pytest.param(IPV4IPV6, "None", ["IPv4"], "1.2.3.4", id="v4 headless service, in a dual stack cluster"),
        pytest.param(IPV4IPV6, "3000::1", ["IPv6"], "2000::4", id="v6 service, in a dual stack cluster"),
        pytest.param(IPV6ONLY, "None", ["IPv6"], "2000::4", id="v6 headless service, in a single stack cluster"),
        pytest.param(IPV4IPV6, "None", ["IPv6"], "2000::4", id="v6 headless service, in a dual stack cluster"),
        pytest.param(IPV4ONLY, "3000::1", ["IPv6"], None, id="v6 service, in a v4 only cluster"),
    ],
)
def test_pod_to_endpoint_address_for_service(
    cluster: list[str], cluster_ip: str, families: list[str], expected: str | None
) -> None:
    the_pod = bad_ip_pod(cluster)
    got = pod_address_for_service(service(cluster_ip=cluster_ip, families=families), the_pod)
    if expected is None:
        assert got is None
        return
    assert isinstance(got, EndpointAddress)
    assert got.ip == expected  # canonical: never the leading-0 text
    assert (got.nodeName, must(got.targetRef).kind, must(got.targetRef).name) == ("node-1", "Pod", "pod0")


@pytest.mark.parametrize(
    ("cluster_ip", "pod_ips", "expected"),
    [
        pytest.param("10.0.0.1", ["1.2.3.4", "2000::4"], "1.2.3.4", id="legacy-v4-clusterip"),
        pytest.param("3000::1", ["1.2.3.4", "2000::4"], "2000::4", id="legacy-v6-clusterip"),
        pytest.param("None", ["2000::4", "1.2.3.4"], "2000::4", id="legacy-headless-follows-podIP"),
    ],
)
def test_service_without_families_uses_cluster_ip_else_pod_ip(
    cluster_ip: str, pod_ips: list[str], expected: str
) -> None:
    # An old API server leaves ipFamilies empty: upstream guesses from the ClusterIP,
    # or for a headless Service from status.podIP.
    got = pod_address_for_service(service(cluster_ip=cluster_ip, families=None), pod(0, ips=pod_ips))
    assert must(got).ip == expected


def test_dual_stack_service_endpoints_hold_the_primary_family_only() -> None:
    dual = pod(0, ips=["1.2.3.4", "2000::4"])
    v6_first = desired_endpoints(service(cluster_ip="3000::1", families=IPV6IPV4), [dual])
    assert [a.ip for s in must(must(v6_first).subsets) for a in must(s.addresses)] == ["2000::4"]
    v4_first = desired_endpoints(service(families=IPV4IPV6), [dual])
    assert [a.ip for s in must(must(v4_first).subsets) for a in must(s.addresses)] == ["1.2.3.4"]


# --- EndpointSlices: TestReconcile1Pod's address-type cases ------------------------------

POD1_V6 = "1234::5678:0000:0000:9abc:def0"


def reconcile_1_pod(svc: Service) -> dict[str, list[str]]:
    plan = plan_slices(svc, [pod(1, ips=["1.2.3.4", POD1_V6])], NODES, [], trigger_time=T0)
    assert plan.update == () and plan.delete == ()
    return {s.addressType: [a for e in endpoints_of(s) for a in e.addresses] for s in plan.create}


@pytest.mark.parametrize(
    ("svc", "expected"),
    [
        pytest.param(service(cluster_ip="10.0.0.10", families=None), {"IPv4": ["1.2.3.4"]}, id="no-family-service"),
        pytest.param(service(cluster_ip="None", families=IPV4ONLY), {"IPv4": ["1.2.3.4"]}, id="ipv4"),
        pytest.param(service(cluster_ip="1.1.1.1"), {"IPv4": ["1.2.3.4"]}, id="ipv4-clusterip"),
        pytest.param(service(cluster_ip="None", families=IPV6ONLY), {"IPv6": [POD1_V6]}, id="ipv6"),
        pytest.param(
            service(cluster_ip="1234::5678:0000:0000:9abc:def1", families=None),
            {"IPv6": [POD1_V6]},
            id="ipv6-clusterip",
        ),
        pytest.param(
            service(cluster_ip="10.0.0.10", families=IPV4IPV6),
            {"IPv4": ["1.2.3.4"], "IPv6": [POD1_V6]},
            id="dualstack-service",
        ),
    ],
)
def test_reconcile_1_pod_address_types(svc: Service, expected: dict[str, list[str]]) -> None:
    assert reconcile_1_pod(svc) == expected


def test_dual_stack_slices_carry_the_same_labels() -> None:
    plan = plan_slices(service(families=IPV4IPV6), [pod(1, ips=["1.2.3.4", POD1_V6])], NODES, [], trigger_time=T0)
    assert len({tuple(sorted(labels_of(s).items())) for s in plan.create}) == 1


def test_downgrade_to_single_stack_deletes_the_other_family_slice() -> None:
    dual_svc = service(families=IPV4IPV6)
    the_pod = pod(1, ips=["1.2.3.4", POD1_V6])
    current = [
        existing_slice(1, dual_svc, [the_pod], node=NODES["node-1"], address_type="IPv4"),
        existing_slice(2, dual_svc, [the_pod], node=NODES["node-1"], address_type="IPv6"),
    ]
    single = service(families=IPV4ONLY)
    assert address_types_for_service(single) == {"IPv4"}
    plan = plan_slices(single, [the_pod], NODES, current)
    assert [s.addressType for s in plan.delete] == ["IPv6"] and plan.create == ()


def test_upgrade_to_dual_stack_adds_the_other_family_slice() -> None:
    single = service(families=IPV4ONLY)
    the_pod = pod(1, ips=["1.2.3.4", POD1_V6])
    current = [existing_slice(1, single, [the_pod], node=NODES["node-1"], address_type="IPv4")]
    plan = plan_slices(service(families=IPV4IPV6), [the_pod], NODES, current)
    assert [s.addressType for s in plan.create] == ["IPv6"] and plan.delete == ()


# --- Mirroring: one slice per family --------------------------------------------------


def test_mirroring_splits_a_dual_subset_by_family_with_the_same_ports() -> None:
    http = endpoint_port(80, name="http")
    custom = endpoints(
        "foo", subset([raw_address("10.0.0.1"), raw_address("2001:db8::1"), raw_address("10.0.0.2")], ports=[http])
    )
    plan = plan_mirrored_slices(custom, [])
    by_type = {s.addressType: s for s in plan.create}
    assert sorted(by_type) == ["IPv4", "IPv6"]
    assert [e.addresses for e in endpoints_of(by_type["IPv4"])] == [["10.0.0.1"], ["10.0.0.2"]]
    assert [e.addresses for e in endpoints_of(by_type["IPv6"])] == [["2001:db8::1"]]
    assert by_type["IPv4"].ports == by_type["IPv6"].ports


# --- the controllers' shell: one sync of a dual-stack Service over the FakeClient -------

FOO = NamespacedName(NAMESPACE, "foo")


@pytest.mark.timeout(10)
async def test_slice_controller_writes_and_retires_per_family(make_harness: Any) -> None:
    the_pod = pod(0, ips=["1.2.3.4", "2000::4"])
    h = await make_harness(service(families=IPV4IPV6), the_pod, node(), controllers=["endpointslice", "endpoints"])
    assert await h.sync("endpointslice", FOO) == [("create", "EndpointSlice"), ("create", "EndpointSlice")]
    assert sorted(s.addressType for s in h.client.objects(EndpointSlice)) == ["IPv4", "IPv6"]
    assert await h.sync("endpoints", FOO) == [("create", "Endpoints")]
    [eps] = h.client.objects(Endpoints)
    assert [a.ip for s in must(eps.subsets) for a in must(s.addresses)] == ["1.2.3.4"]

    await h.client.replace(service(families=IPV4ONLY))  # downgraded to single-stack
    await h.settle()
    assert await h.sync("endpointslice", FOO) == [("delete", "EndpointSlice")]
    assert [s.addressType for s in h.client.objects(EndpointSlice)] == ["IPv4"]
