"""The EndpointSlice mirroring controller: hand-written Endpoints become slices.

Plan: a selector-less Service ``ext`` and an Endpoints ``ext`` written by the
test with made-up addresses from 10.1.0.0/16 (never dialled). Expected slices
follow upstream pkg/controller/endpointslicemirroring and
test/e2e/network/endpointslicemirroring.go: managed by
``endpointslicemirroring-controller.k8s.io``, labelled with the service name
and the Endpoints' own labels, owned by the Endpoints (controller,
blockOwnerDeletion), one slice per subset port set, ``ready`` true for
addresses and false for notReadyAddresses, hostname / nodeName copied; only
Endpoints of an existing selector-less Service are mirrored, and never those
labelled ``endpointslice.kubernetes.io/skip-mirror: "true"``.

One test sends traffic (upstream "should mirror a custom Endpoint with
multiple subsets and same IP address"): Service ``example-custom-endpoints``
(``port80`` 80, ``port81`` 81, no selector) and an Endpoints with two subsets
naming one pod's IP, ``port80`` -> 8090 and ``port81`` -> 9090; the pod runs
two netexec containers, one per port. Both ClusterIP ports answer with the
pod's name (a mirroring or a proxy that keeps one subset per IP loses one
port); once the Endpoints is deleted, its mirrored slices go.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from lightkube import Client
from lightkube.models.core_v1 import Container, EndpointAddress, EndpointPort, EndpointSubset, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from harness.builders import (
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SKIP_MIRROR,
    MANAGED_BY_MIRRORING,
    MANAGED_BY_SLICES,
    address_row,
    address_view,
    make_pod,
    make_service,
    service_port,
    slice_endpoint_view,
    slice_port_view,
    slices_of,
    wait_endpoints,
    wait_pods,
    wait_slices,
    worker_nodes,
)
from harness.cluster import ClusterUnderTest
from harness.traffic import AGNHOST, control_plane_node, create_client, create_service, http_get, url, wait_ready
from harness.waiting import wait_for

pytestmark = [pytest.mark.mirroring, pytest.mark.needs_controllers]


def _endpoints(
    name: str,
    namespace: str,
    subsets: Sequence[EndpointSubset],
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Endpoints:
    return Endpoints(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=labels, annotations=annotations),
        subsets=list(subsets),
    )


def _subset(ips: Sequence[str], port: int, name: str | None = None) -> EndpointSubset:
    return EndpointSubset(addresses=[EndpointAddress(ip=ip) for ip in ips], ports=[EndpointPort(port=port, name=name)])


def _mirrored(client: Client, namespace: str, service: str) -> list[EndpointSlice]:
    return slices_of(client, namespace, service, MANAGED_BY_MIRRORING)


def _addresses(slices: list[EndpointSlice]) -> list[list[str]]:
    return sorted(e.addresses for s in slices for e in s.endpoints or [])


def test_mirror_a_custom_endpoints_resource_through_create_update_and_delete(client: Client, namespace: str) -> None:
    """Upstream conformance, with the exact slice asserted at each step."""
    client.create(
        make_service("example-custom-endpoints", namespace, selector=None, ports=[service_port("example", 80)])
    )
    endpoints = client.create(_endpoints("example-custom-endpoints", namespace, [_subset(["10.1.2.3"], 80)]))
    (slice_,) = wait_slices(
        client,
        namespace,
        "example-custom-endpoints",
        lambda s: _addresses(s) == [["10.1.2.3"]],
        what="10.1.2.3",
        managed_by=MANAGED_BY_MIRRORING,
    )
    assert slice_port_view(slice_) == {(None, 80, "TCP")}
    (owner,) = slice_.metadata.ownerReferences
    assert (owner.apiVersion, owner.kind, owner.name, owner.uid) == (
        "v1",
        "Endpoints",
        "example-custom-endpoints",
        endpoints.metadata.uid,
    )
    assert owner.controller is True and owner.blockOwnerDeletion is True

    endpoints.subsets = [_subset(["10.2.3.4"], 80)]
    client.replace(endpoints)
    (updated,) = wait_slices(
        client,
        namespace,
        "example-custom-endpoints",
        lambda s: _addresses(s) == [["10.2.3.4"]],
        what="10.2.3.4",
        managed_by=MANAGED_BY_MIRRORING,
    )
    assert updated.metadata.name == slice_.metadata.name  # updated in place
    assert slice_port_view(updated) == {(None, 80, "TCP")}

    client.delete(Endpoints, "example-custom-endpoints", namespace=namespace)
    wait_slices(client, namespace, "example-custom-endpoints", lambda s: not s, what="no slices", managed_by=None)


def test_mirrored_slices_copy_labels_annotations_conditions_per_port_set(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    node = worker_nodes(cluster)[0]
    client.create(
        make_service("ext", namespace, selector=None, ports=[service_port("http", 80), service_port("metrics", 9090)])
    )
    web = EndpointSubset(
        addresses=[EndpointAddress(ip="10.1.0.1", hostname="one", nodeName=node)],
        notReadyAddresses=[EndpointAddress(ip="10.1.0.2")],
        ports=[EndpointPort(name="http", port=8080)],
    )
    metrics = _subset(["10.1.0.1"], 9090, "metrics")
    endpoints = client.create(
        _endpoints("ext", namespace, [web, metrics], labels={"team": "blue"}, annotations={"note": "hand-written"})
    )

    def two_slices(found: list[EndpointSlice]) -> bool:
        return len(found) == 2 and sum(len(s.endpoints or []) for s in found) == 3

    found = wait_slices(
        client, namespace, "ext", two_slices, what="one slice per port set", managed_by=MANAGED_BY_MIRRORING
    )
    by_ports = {frozenset(slice_port_view(s)): s for s in found}
    http = by_ports[frozenset({("http", 8080, "TCP")})]
    assert slice_endpoint_view([http]) == {
        (("10.1.0.1",), True, None, None, node, None, None, None),
        (("10.1.0.2",), False, None, None, None, None, None, None),
    }
    assert {e.addresses[0]: e.hostname for e in http.endpoints} == {"10.1.0.1": "one", "10.1.0.2": None}
    assert _addresses([by_ports[frozenset({("metrics", 9090, "TCP")})]]) == [["10.1.0.1"]]
    for slice_ in found:
        assert slice_.addressType == "IPv4"
        assert slice_.metadata.generateName == "ext-"
        assert slice_.metadata.labels == {
            "team": "blue",
            LABEL_SERVICE_NAME: "ext",
            LABEL_MANAGED_BY: MANAGED_BY_MIRRORING,
        }
        assert slice_.metadata.annotations == {"note": "hand-written"}
        assert [o.uid for o in slice_.metadata.ownerReferences] == [endpoints.metadata.uid]


def test_only_endpoints_of_existing_selectorless_services_are_mirrored(client: Client, namespace: str) -> None:
    # Endpoints without any Service, and Endpoints of a Service with a selector.
    client.create(_endpoints("orphan", namespace, [_subset(["10.1.1.1"], 80)]))
    client.create(make_service("selected", namespace, selector={"app": "none"}, ports=[service_port("http", 80)]))
    client.create(make_service("witness", namespace, selector=None, ports=[service_port("http", 80)]))
    client.create(_endpoints("witness", namespace, [_subset(["10.1.1.3"], 80)]))
    wait_slices(
        client,
        namespace,
        "witness",
        lambda s: _addresses(s) == [["10.1.1.3"]],
        what="witness mirrored",
        managed_by=MANAGED_BY_MIRRORING,
    )
    assert _mirrored(client, namespace, "orphan") == []
    assert _mirrored(client, namespace, "selected") == []


def test_skip_mirror_label_is_respected(client: Client, namespace: str) -> None:
    client.create(make_service("ext", namespace, selector=None, ports=[service_port("http", 80)]))
    client.create(_endpoints("ext", namespace, [_subset(["10.1.3.1"], 80)], labels={LABEL_SKIP_MIRROR: "true"}))
    client.create(make_service("witness", namespace, selector=None, ports=[service_port("http", 80)]))
    client.create(_endpoints("witness", namespace, [_subset(["10.1.3.2"], 80)]))
    wait_slices(
        client, namespace, "witness", lambda s: len(s) == 1, what="witness mirrored", managed_by=MANAGED_BY_MIRRORING
    )
    assert _mirrored(client, namespace, "ext") == []

    # Dropping the label starts mirroring; setting it again removes the mirrored slice.
    client.patch(
        Endpoints,
        "ext",
        {"metadata": {"labels": {LABEL_SKIP_MIRROR: None}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    wait_slices(
        client,
        namespace,
        "ext",
        lambda s: _addresses(s) == [["10.1.3.1"]],
        what="mirrored once the label is gone",
        managed_by=MANAGED_BY_MIRRORING,
    )
    client.patch(
        Endpoints,
        "ext",
        {"metadata": {"labels": {LABEL_SKIP_MIRROR: "true"}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    wait_slices(
        client, namespace, "ext", lambda s: not s, what="mirrored slice removed", managed_by=MANAGED_BY_MIRRORING
    )


def test_selector_added_hands_over_from_mirrored_to_managed_slices(client: Client, namespace: str) -> None:
    client.create(make_service("ext", namespace, selector=None, ports=[service_port("http", 80)]))
    client.create(_endpoints("ext", namespace, [_subset(["10.1.4.1"], 80, "http")]))
    wait_slices(
        client,
        namespace,
        "ext",
        lambda s: _addresses(s) == [["10.1.4.1"]],
        what="mirrored",
        managed_by=MANAGED_BY_MIRRORING,
    )
    client.create(make_pod("pod", namespace, labels={"app": "ext"}))
    pods = wait_pods(client, namespace, ["pod"])

    client.patch(
        Service, "ext", {"spec": {"selector": {"app": "ext"}}}, namespace=namespace, patch_type=PatchType.MERGE
    )
    pod_ip = pods["pod"].status.podIP
    # Mirrored slices go, managed ones come; the Endpoints now follow the pods.
    found = wait_slices(
        client,
        namespace,
        "ext",
        lambda s: len(s) == 1 and _addresses(s) == [[pod_ip]],
        what="only the managed slice",
        managed_by=None,
    )
    assert found[0].metadata.labels[LABEL_MANAGED_BY] == MANAGED_BY_SLICES
    assert found[0].metadata.ownerReferences[0].kind == "Service"
    wait_endpoints(
        client,
        namespace,
        "ext",
        lambda e: address_view(e) == {address_row(pods["pod"], ready=True)},
        what="the pod instead of the hand-written address",
    )


def _two_port_server(name: str, namespace: str, node: str) -> Pod:
    """One pod, two netexec containers: HTTP on 8090 and on 9090 (no UDP)."""
    containers = [
        Container(name=f"handle-{port}", image=AGNHOST, args=["netexec", f"--http-port={port}", "--udp-port=-1"])
        for port in (8090, 9090)
    ]
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=PodSpec(
            containers=containers, terminationGracePeriodSeconds=1, nodeSelector={"kubernetes.io/hostname": node}
        ),
    )


@pytest.mark.needs_proxy
@pytest.mark.traffic
@pytest.mark.breadth
def test_traffic_to_both_ports_of_a_mirrored_endpoints_with_two_subsets_and_one_ip(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    name = "example-custom-endpoints"
    ports = [service_port("port80", 80), service_port("port81", 81)]
    vip = create_service(client, name, namespace, ports=ports, selector=None).cluster_ip
    server = "pod-handle-http-request"
    client.create(_two_port_server(server, namespace, worker_nodes(cluster)[0]))
    ip = wait_ready(client, namespace, [server])[server].status.podIP
    client.create(_endpoints(name, namespace, [_subset([ip], 8090, "port80"), _subset([ip], 9090, "port81")]))
    wait_slices(client, namespace, name, bool, what="mirrored slices", managed_by=MANAGED_BY_MIRRORING)

    pod = create_client(client, namespace, control_plane_node(cluster))
    for port in (80, 81):
        wait_for(lambda port=port: http_get(cluster, namespace, pod, url(vip, port)) == server, what=f"{vip}:{port}")

    client.delete(Endpoints, name, namespace=namespace)
    wait_slices(client, namespace, name, lambda s: not s, what="mirrored slices gone", managed_by=MANAGED_BY_MIRRORING)
