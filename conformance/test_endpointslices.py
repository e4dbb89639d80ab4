"""The EndpointSlice controller: labels, owners, conditions, topology and packing.

Plan: a fresh namespace per test, Service ``web`` selecting ``app: web``, busybox
``sleep`` pods on the workers (zones come from the nodes'
``topology.kubernetes.io/zone`` labels as the API reports them). Expected
slices follow upstream pkg/controller/endpointslice and
test/e2e/network/endpointslice.go: ``serving`` = pod Ready, ``terminating`` =
deletionTimestamp set, ``ready`` = serving and not terminating (or
publishNotReadyAddresses), at most 100 endpoints per slice, a placeholder slice
with no ports and no endpoints when nothing matches, slices owned by the
Service (controller, blockOwnerDeletion) and gone with it.
"""

from __future__ import annotations

import pytest
from lightkube import ApiError, Client
from lightkube.models.discovery_v1 import Endpoint
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from harness.builders import (
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_SLICES,
    STUBBORN,
    PodPort,
    address_view,
    create_all,
    delete_collection,
    force_delete,
    make_pod,
    make_service,
    node_zones,
    service_port,
    slice_endpoint_view,
    slice_port_view,
    slice_row,
    slices_of,
    wait_endpoints,
    wait_gone,
    wait_pods,
    wait_slices,
    worker_nodes,
)
from harness.cluster import ClusterUnderTest

pytestmark = [pytest.mark.endpointslices, pytest.mark.needs_controllers]

WEB = {"app": "web"}
MAX_ENDPOINTS_PER_SLICE = 100
MANY_PODS = 110


def _assert_owned_by(slice_: EndpointSlice, service: Service, labels: dict[str, str]) -> None:
    assert slice_.addressType == "IPv4"
    assert slice_.metadata.labels == {
        **labels,
        LABEL_SERVICE_NAME: service.metadata.name,
        LABEL_MANAGED_BY: MANAGED_BY_SLICES,
    }
    (owner,) = slice_.metadata.ownerReferences
    assert (owner.apiVersion, owner.kind, owner.name, owner.uid) == (
        "v1",
        "Service",
        service.metadata.name,
        service.metadata.uid,
    )
    assert owner.controller is True and owner.blockOwnerDeletion is True
    assert slice_.metadata.generateName == f"{service.metadata.name}-"


def test_slice_conditions_topology_labels_and_owner(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    first, last = worker_nodes(cluster)[0], worker_nodes(cluster)[-1]
    service = client.create(
        make_service("web", namespace, selector=WEB, labels={"team": "blue"}, ports=[service_port("http", 80, "http")])
    )
    client.create(make_pod("ready", namespace, labels=WEB, node=first, ports=[PodPort("http", 8080)]))
    client.create(make_pod("unready", namespace, labels=WEB, node=last, ready=False, ports=[PodPort("http", 8080)]))
    client.create(
        make_pod("leaving", namespace, labels=WEB, node=last, grace=60, command=STUBBORN, ports=[PodPort("http", 8080)])
    )
    pods = wait_pods(client, namespace, ["ready", "leaving"])
    pods |= wait_pods(client, namespace, ["unready"], ready=False)
    zones = node_zones(client)
    rows = {
        name: slice_row(pods[name], zones, ready=True, serving=True, terminating=False) for name in ("ready", "leaving")
    }
    rows["unready"] = slice_row(pods["unready"], zones, ready=False, serving=False, terminating=False)
    wait_slices(client, namespace, "web", lambda s: slice_endpoint_view(s) == set(rows.values()), what="three pods")

    client.delete(Pod, "leaving", namespace=namespace)
    try:
        # Terminating but still running: kept, serving, not ready.
        rows["leaving"] = slice_row(pods["leaving"], zones, ready=False, serving=True, terminating=True)
        (slice_,) = wait_slices(
            client,
            namespace,
            "web",
            lambda s: slice_endpoint_view(s) == set(rows.values()),
            what="terminating pod kept with terminating=True",
        )
    finally:
        force_delete(client, namespace, ["leaving"])
    _assert_owned_by(slice_, service, {"team": "blue"})
    assert slice_port_view(slice_) == {("http", 8080, "TCP")}
    for endpoint in slice_.endpoints:
        pod = next(p for p in pods.values() if p.status.podIP == endpoint.addresses[0])
        assert endpoint.targetRef.namespace == namespace
        assert endpoint.targetRef.uid == pod.metadata.uid
        assert endpoint.zone is not None and endpoint.zone == zones[pod.spec.nodeName]


def test_placeholder_slice_when_nothing_matches_is_reused(client: Client, namespace: str) -> None:
    service = client.create(make_service("web", namespace, selector=WEB, ports=[service_port("example", 80, 8080)]))
    (placeholder,) = wait_slices(client, namespace, "web", lambda s: len(s) == 1, what="placeholder")
    assert not placeholder.endpoints and not placeholder.ports
    _assert_owned_by(placeholder, service, {})

    client.create(make_pod("pod", namespace, labels=WEB))
    pods = wait_pods(client, namespace, ["pod"])
    (slice_,) = wait_slices(
        client, namespace, "web", lambda s: len(s) == 1 and bool(s[0].endpoints), what="pod in slice"
    )
    assert slice_.metadata.name == placeholder.metadata.name  # updated, not replaced
    assert [e.addresses for e in slice_.endpoints] == [[pods["pod"].status.podIP]]
    assert slice_port_view(slice_) == {("example", 8080, "TCP")}


@pytest.mark.timeout(300)  # 110 pod sandboxes on two workers
def test_more_than_100_endpoints_spread_over_slices(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    if cluster.kernel.startswith("uml"):
        # Inside the one-CPU User-Mode Linux guest 110 pod sandboxes take minutes (the
        # stalls once seen here were the node agent's IPAM race, since fixed); the
        # packing itself is the controller's and is covered on the host testbeds.
        pytest.skip("110 pods are too many for the one-CPU User-Mode Linux guest")
    client.create(make_service("web", namespace, selector=WEB, ports=[service_port("http", 80, 8080)]))
    names = [f"pod-{i:03d}" for i in range(MANY_PODS)]
    create_all(client, (make_pod(name, namespace, labels=WEB) for name in names))
    pods = wait_pods(client, namespace, names, timeout=120.0)
    zones = node_zones(client)
    want = {slice_row(p, zones, ready=True, serving=True, terminating=False) for p in pods.values()}
    found = wait_slices(
        client, namespace, "web", lambda s: slice_endpoint_view(s) == want, what=f"{MANY_PODS} endpoints", timeout=60.0
    )
    sizes = sorted(len(s.endpoints) for s in found)
    assert sum(sizes) == MANY_PODS  # no endpoint listed twice
    assert max(sizes) <= MAX_ENDPOINTS_PER_SLICE
    assert len(found) == 2  # packed: ceil(110 / 100)
    assert all(slice_port_view(s) == {("http", 8080, "TCP")} for s in found)
    endpoints = wait_endpoints(
        client, namespace, "web", lambda e: len(address_view(e)) == MANY_PODS, what=f"{MANY_PODS} addresses"
    )
    assert {row[0] for row in address_view(endpoints)} == {p.status.podIP for p in pods.values()}


def test_slices_and_endpoints_go_with_the_service(client: Client, namespace: str) -> None:
    """Upstream conformance: create and delete EndpointSlices for a Service matching no pods."""
    client.create(
        make_service(
            "example-empty-selector",
            namespace,
            selector={"does-not-match-anything": "endpoints-and-endpoint-slices-should-still-be-created"},
            ports=[service_port("example", 80)],
        )
    )
    wait_slices(
        client,
        namespace,
        "example-empty-selector",
        lambda s: len(s) == 1 and not s[0].endpoints,
        what="one empty slice",
    )
    wait_endpoints(client, namespace, "example-empty-selector", lambda e: not e.subsets, what="empty Endpoints")
    client.delete(Service, "example-empty-selector", namespace=namespace)
    wait_slices(client, namespace, "example-empty-selector", lambda s: not s, managed_by=None, what="all slices gone")
    # the endpoints controller removes its Endpoints on its own schedule
    wait_gone(client, Endpoints, namespace, "example-empty-selector")


def test_endpointslices_for_pods_matching_a_service(client: Client, namespace: str) -> None:
    """Upstream conformance: int and named targetPorts; deleted slices are recreated."""
    create_all(
        client,
        [
            make_pod("pod1", namespace, labels={"pod1": "on", "shared12": "on"}, ports=[PodPort("example-name", 3000)]),
            make_pod(
                "pod2",
                namespace,
                labels={"pod2": "on", "shared12": "on"},
                ports=[PodPort("example-name", 3001), PodPort("other-port", 3002)],
            ),
            make_service(
                "example-int-port",
                namespace,
                selector={"pod1": "on"},
                publish_not_ready=True,
                ports=[service_port("example", 80, 3000)],
            ),
            make_service(
                "example-named-port",
                namespace,
                selector={"shared12": "on"},
                publish_not_ready=True,
                ports=[service_port("http", 80, "example-name")],
            ),
        ],
    )
    pods = wait_pods(client, namespace, ["pod1", "pod2"])

    def by_address(slices: list[EndpointSlice]) -> dict[str, tuple[str, set[object]]]:
        return {e.addresses[0]: (e.targetRef.uid, slice_port_view(s)) for s in slices for e in s.endpoints or []}

    pod1, pod2 = pods["pod1"], pods["pod2"]
    int_port = {pod1.status.podIP: (pod1.metadata.uid, {("example", 3000, "TCP")})}
    named = {
        pod1.status.podIP: (pod1.metadata.uid, {("http", 3000, "TCP")}),
        pod2.status.podIP: (pod2.metadata.uid, {("http", 3001, "TCP")}),
    }
    wait_slices(client, namespace, "example-int-port", lambda s: len(s) == 1 and by_address(s) == int_port, what="pod1")
    # Different ports per pod: one slice per port mapping.
    old = wait_slices(
        client, namespace, "example-named-port", lambda s: len(s) == 2 and by_address(s) == named, what="pod1 + pod2"
    )
    for slice_ in old:
        client.delete(EndpointSlice, slice_.metadata.name, namespace=namespace)
    new = wait_slices(
        client, namespace, "example-named-port", lambda s: len(s) == 2 and by_address(s) == named, what="recreated"
    )
    assert not {s.metadata.name for s in new} & {s.metadata.name for s in old}


def test_endpointslice_api_operations(client: Client, namespace: str) -> None:
    """Upstream conformance: create/get/list/watch/patch/update/delete/deletecollection."""
    unique = {"special-label": namespace}
    template = EndpointSlice(
        metadata=ObjectMeta(generateName="e2e-example-ing", labels=unique),
        addressType="IPv4",
        endpoints=[Endpoint(addresses=["1.2.3.4", "5.6.7.8"]), Endpoint(addresses=["2.2.3.4", "6.6.7.8"])],
    )
    created = [client.create(template, namespace=namespace) for _ in range(3)][-1]
    name = created.metadata.name
    assert name.startswith("e2e-example-ing") and len(name) > len("e2e-example-ing")

    got = client.get(EndpointSlice, name, namespace=namespace)
    assert got.metadata.uid == created.metadata.uid and got.metadata.resourceVersion
    assert [e.addresses for e in got.endpoints] == [["1.2.3.4", "5.6.7.8"], ["2.2.3.4", "6.6.7.8"]]
    listed = client.list(EndpointSlice, namespace=namespace, labels=unique)
    assert len(list(listed)) == 3
    assert len(list(client.list(EndpointSlice, namespace="*", labels=unique))) == 3

    watch = client.watch(
        EndpointSlice, namespace=namespace, labels=unique, resource_version=got.metadata.resourceVersion
    )
    patched = client.patch(
        EndpointSlice,
        name,
        {"metadata": {"annotations": {"patched": "true"}}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert patched.metadata.annotations == {"patched": "true"}
    assert int(patched.metadata.resourceVersion) > int(created.metadata.resourceVersion)
    patched.metadata.annotations["updated"] = "true"
    updated = client.replace(patched)
    assert updated.metadata.annotations == {"patched": "true", "updated": "true"}
    seen = []
    for event, obj in watch:
        seen.append((event, obj.metadata.name, dict(obj.metadata.annotations or {})))
        if (obj.metadata.annotations or {}).get("updated") == "true":
            break
    assert seen == [("MODIFIED", name, {"patched": "true"}), ("MODIFIED", name, {"patched": "true", "updated": "true"})]

    client.delete(EndpointSlice, name, namespace=namespace)
    with pytest.raises(ApiError) as missing:
        client.get(EndpointSlice, name, namespace=namespace)
    assert missing.value.status.code == 404
    remaining = list(client.list(EndpointSlice, namespace=namespace, labels=unique))
    assert len(remaining) == 2 and name not in {s.metadata.name for s in remaining}
    delete_collection(client, EndpointSlice, namespace, unique)
    assert not list(client.list(EndpointSlice, namespace=namespace, labels=unique))


@pytest.mark.services
def test_endpoints_and_endpointslices_point_at_the_api_server(cluster: ClusterUnderTest, client: Client) -> None:
    """Upstream conformance: default/kubernetes Endpoints and slice name the API server."""
    endpoints = client.get(Endpoints, "kubernetes", namespace="default")
    assert endpoints.metadata.labels == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    (subset,) = endpoints.subsets
    assert [a.ip for a in subset.addresses] == [cluster.apiserver_address]
    assert [(p.name, p.port, p.protocol) for p in subset.ports] == [("https", 6443, "TCP")]

    slices = slices_of(client, "default", "kubernetes", managed_by=None)
    assert [s.metadata.name for s in slices] == ["kubernetes"]  # none mirrored (skip-mirror)
    (slice_,) = slices
    assert slice_.addressType == "IPv4"
    assert [(e.addresses, e.conditions.ready) for e in slice_.endpoints] == [([cluster.apiserver_address], True)]
    assert slice_port_view(slice_) == {("https", 6443, "TCP")}
    assert len(slice_.endpoints) == sum(len(s.addresses or []) for s in endpoints.subsets)
