"""The endpoints controller: what it writes into core/v1 Endpoints, and when.

Plan: each test makes a fresh namespace with one Service ``web`` (selector
``app: web``) and busybox ``sleep`` pods labelled ``app: web``; pod IPs come
from the nodes' pod CIDRs, so expectations are built from the pods as the API
reports them. Not-ready pods carry a readiness probe that always fails; a
"stubborn" pod ignores SIGTERM so it stays Terminating for its grace period.
Upstream facts: pkg/controller/endpoint and test/e2e/network/service.go
("serve a basic endpoint from pods", "serve multiport endpoints from pods").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from lightkube import Client
from lightkube.models.core_v1 import EndpointAddress, EndpointPort, EndpointSubset, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Pod, Service
from lightkube.types import PatchType

from harness.builders import (
    LABEL_HEADLESS,
    LAST_CHANGE_TRIGGER_TIME,
    STUBBORN,
    PodPort,
    address_row,
    address_view,
    delete_collection,
    endpoints_of,
    force_delete,
    make_pod,
    make_service,
    port_view,
    service_port,
    wait_endpoints,
    wait_gone,
    wait_pods,
    worker_nodes,
)
from harness.cluster import ClusterUnderTest
from harness.waiting import wait_for

pytestmark = [pytest.mark.endpoints, pytest.mark.needs_controllers]

WEB = {"app": "web"}


def _has(rows: set[object]) -> Callable[[Endpoints], bool]:
    return lambda endpoints: address_view(endpoints) == rows


def test_ready_and_not_ready_pods_with_named_target_port(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    first, last = worker_nodes(cluster)[0], worker_nodes(cluster)[-1]
    client.create(
        make_service("web", namespace, selector=WEB, labels={"team": "blue"}, ports=[service_port("http", 80, "http")])
    )
    client.create(make_pod("ready", namespace, labels=WEB, node=first, ports=[PodPort("http", 8080)]))
    client.create(make_pod("unready", namespace, labels=WEB, node=last, ready=False, ports=[PodPort("http", 9090)]))
    client.create(make_pod("portless", namespace, labels=WEB, node=first))
    pods = wait_pods(client, namespace, ["ready", "portless"])
    pods |= wait_pods(client, namespace, ["unready"], ready=False)

    want = {address_row(pods["ready"], ready=True), address_row(pods["unready"], ready=False)}
    endpoints = wait_endpoints(client, namespace, "web", _has(want), what="ready + not-ready")
    # The named port resolves per pod; the pod without it is left out.
    assert port_view(endpoints) == {
        pods["ready"].status.podIP: {("http", 8080, "TCP")},
        pods["unready"].status.podIP: {("http", 9090, "TCP")},
    }
    assert endpoints.metadata.labels == {"team": "blue"}
    for subset in endpoints.subsets:
        for address in list(subset.addresses or []) + list(subset.notReadyAddresses or []):
            pod = next(p for p in pods.values() if p.status.podIP == address.ip)
            assert address.targetRef.namespace == namespace
            assert address.targetRef.uid == pod.metadata.uid


def test_publish_not_ready_addresses_lists_every_pod_as_ready(client: Client, namespace: str) -> None:
    client.create(
        make_service("web", namespace, selector=WEB, publish_not_ready=True, ports=[service_port("http", 80, 8080)])
    )
    client.create(make_pod("ready", namespace, labels=WEB))
    client.create(make_pod("unready", namespace, labels=WEB, ready=False))
    pods = wait_pods(client, namespace, ["ready"]) | wait_pods(client, namespace, ["unready"], ready=False)
    want = {address_row(pods["ready"], ready=True), address_row(pods["unready"], ready=True)}
    endpoints = wait_endpoints(client, namespace, "web", _has(want), what="both as addresses")
    assert all(not subset.notReadyAddresses for subset in endpoints.subsets)


def test_terminating_pod_is_dropped_while_it_still_exists(client: Client, namespace: str) -> None:
    client.create(make_service("web", namespace, selector=WEB, ports=[service_port("http", 80, 8080)]))
    client.create(make_pod("stays", namespace, labels=WEB))
    client.create(make_pod("leaving", namespace, labels=WEB, grace=60, command=STUBBORN))
    pods = wait_pods(client, namespace, ["stays", "leaving"])
    both = {address_row(pods[name], ready=True) for name in ("stays", "leaving")}
    wait_endpoints(client, namespace, "web", _has(both), what="both pods")

    client.delete(Pod, "leaving", namespace=namespace)
    try:
        wait_endpoints(
            client, namespace, "web", _has({address_row(pods["stays"], ready=True)}), what="terminating pod dropped"
        )
        leaving = client.get(Pod, "leaving", namespace=namespace)
        assert leaving.metadata.deletionTimestamp is not None  # still there, Terminating
    finally:
        force_delete(client, namespace, ["leaving"])


def test_multi_port_multi_protocol_service(client: Client, namespace: str) -> None:
    ports = [
        service_port("dns-tcp", 53, "dns-tcp"),
        service_port("dns-udp", 53, "dns-udp", "UDP"),
        service_port("metrics", 9153, 9153),
        service_port("sctp", 7777, 7777, "SCTP"),
    ]
    client.create(make_service("web", namespace, selector=WEB, ports=ports))
    client.create(
        make_pod("dns", namespace, labels=WEB, ports=[PodPort("dns-tcp", 5353), PodPort("dns-udp", 5353, "UDP")])
    )
    client.create(
        make_pod("other", namespace, labels=WEB, ports=[PodPort("dns-tcp", 1053), PodPort("dns-udp", 2053, "UDP")])
    )
    pods = wait_pods(client, namespace, ["dns", "other"])
    want = {address_row(pod, ready=True) for pod in pods.values()}
    endpoints = wait_endpoints(client, namespace, "web", _has(want), what="two pods")
    common = {("metrics", 9153, "TCP"), ("sctp", 7777, "SCTP")}
    assert port_view(endpoints) == {
        pods["dns"].status.podIP: {("dns-tcp", 5353, "TCP"), ("dns-udp", 5353, "UDP")} | common,
        pods["other"].status.podIP: {("dns-tcp", 1053, "TCP"), ("dns-udp", 2053, "UDP")} | common,
    }


def test_hostname_needs_matching_subdomain_and_headless_label(client: Client, namespace: str) -> None:
    client.create(make_service("web", namespace, selector=WEB, headless=True, ports=[], labels={"team": "blue"}))
    client.create(make_pod("named", namespace, labels=WEB, hostname="alpha", subdomain="web"))
    client.create(make_pod("elsewhere", namespace, labels=WEB, hostname="beta", subdomain="other"))
    client.create(make_pod("plain", namespace, labels=WEB))
    pods = wait_pods(client, namespace, ["named", "elsewhere", "plain"])
    want = {
        address_row(pods["named"], ready=True, hostname="alpha"),
        address_row(pods["elsewhere"], ready=True),
        address_row(pods["plain"], ready=True),
    }
    endpoints = wait_endpoints(client, namespace, "web", _has(want), what="hostnames")
    # A headless Service without ports still lists its pods, with no ports.
    assert all(not subset.ports for subset in endpoints.subsets)
    assert endpoints.metadata.labels == {"team": "blue", LABEL_HEADLESS: ""}


def test_external_name_and_selectorless_services_get_no_endpoints(client: Client, namespace: str) -> None:
    client.create(
        Service(
            metadata=ObjectMeta(name="external", namespace=namespace),
            spec=ServiceSpec(type="ExternalName", externalName="example.com", selector=WEB),
        )
    )
    client.create(make_service("manual", namespace, selector=None, ports=[service_port("http", 80, 8080)]))
    client.create(make_pod("pod", namespace, labels=WEB))
    # A witness created last: once its Endpoints exist the controller has seen the others.
    client.create(make_service("witness", namespace, selector=WEB, ports=[service_port("http", 80, 8080)]))
    pods = wait_pods(client, namespace, ["pod"])
    wait_endpoints(client, namespace, "witness", _has({address_row(pods["pod"], ready=True)}), what="witness filled")
    assert endpoints_of(client, namespace, "external") is None
    assert endpoints_of(client, namespace, "manual") is None


def test_endpoints_go_when_the_service_goes(client: Client, namespace: str) -> None:
    client.create(make_service("web", namespace, selector=WEB, ports=[service_port("http", 80, 8080)]))
    client.create(make_pod("pod", namespace, labels=WEB))
    pods = wait_pods(client, namespace, ["pod"])
    wait_endpoints(client, namespace, "web", _has({address_row(pods["pod"], ready=True)}), what="filled")
    client.delete(Service, "web", namespace=namespace)
    wait_gone(client, Endpoints, namespace, "web")


def _ready_since(pod: Pod) -> str:
    condition = next(c for c in pod.status.conditions if c.type == "Ready")
    return condition.lastTransitionTime.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339(obj: object) -> str:
    return obj.metadata.creationTimestamp.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined]


def test_trigger_time_annotation_and_no_write_without_change(client: Client, namespace: str) -> None:
    client.create(make_pod("first", namespace, labels=WEB))
    pods = wait_pods(client, namespace, ["first"])
    # The Service comes after its pod: its creation is the change that triggers the write.
    service = client.create(make_service("web", namespace, selector=WEB, ports=[service_port("http", 80, 8080)]))
    endpoints = wait_endpoints(
        client, namespace, "web", _has({address_row(pods["first"], ready=True)}), what="first pod"
    )
    assert endpoints.metadata.annotations[LAST_CHANGE_TRIGGER_TIME] == _rfc3339(service)

    version = endpoints.metadata.resourceVersion
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # nothing changes, so nothing may be written
        assert client.get(Endpoints, "web", namespace=namespace).metadata.resourceVersion == version
        time.sleep(0.2)

    # Ready two seconds after the first status: a trigger distinct at second precision.
    client.create(make_pod("second", namespace, labels=WEB, ready_after=2))
    pods = wait_pods(client, namespace, ["first", "second"])
    want = {address_row(pod, ready=True) for pod in pods.values()}
    endpoints = wait_endpoints(client, namespace, "web", _has(want), what="second pod")
    # Upstream publishes the pod's Ready transition as the trigger of this change.
    annotation = wait_for(
        lambda: (endpoints_of(client, namespace, "web").metadata.annotations or {}).get(LAST_CHANGE_TRIGGER_TIME),
        what="trigger time annotation",
    )
    assert annotation == _ready_since(pods["second"])


def test_serve_a_basic_endpoint_from_pods(client: Client, namespace: str) -> None:
    """Upstream conformance: Endpoints follow pods coming and going (numeric targetPort)."""
    client.create(make_service("endpoint-test2", namespace, selector=WEB, ports=[service_port(None, 80, 8080)]))
    wait_endpoints(client, namespace, "endpoint-test2", lambda e: not e.subsets, what="empty")
    client.create(make_pod("pod1", namespace, labels=WEB, ports=[PodPort(None, 8080)]))
    pods = wait_pods(client, namespace, ["pod1"])
    wait_endpoints(client, namespace, "endpoint-test2", _has({address_row(pods["pod1"], ready=True)}), what="pod1")
    client.create(make_pod("pod2", namespace, labels=WEB, ports=[PodPort(None, 8080)]))
    pods = wait_pods(client, namespace, ["pod1", "pod2"])
    endpoints = wait_endpoints(
        client,
        namespace,
        "endpoint-test2",
        _has({address_row(p, ready=True) for p in pods.values()}),
        what="pod1 + pod2",
    )
    assert port_view(endpoints) == {p.status.podIP: {(None, 8080, "TCP")} for p in pods.values()}
    force_delete(client, namespace, ["pod1"])
    wait_endpoints(client, namespace, "endpoint-test2", _has({address_row(pods["pod2"], ready=True)}), what="pod2 only")
    force_delete(client, namespace, ["pod2"])
    wait_endpoints(client, namespace, "endpoint-test2", lambda e: not e.subsets, what="empty")


def test_serve_multiport_endpoints_from_pods(client: Client, namespace: str) -> None:
    """Upstream conformance: two named ports, each pod serving one of them."""
    client.create(
        make_service(
            "multi-endpoint-test",
            namespace,
            selector=WEB,
            ports=[service_port("portname1", 80, "svc1"), service_port("portname2", 81, "svc2")],
        )
    )
    client.create(make_pod("pod1", namespace, labels=WEB, ports=[PodPort("svc1", 100)]))
    client.create(make_pod("pod2", namespace, labels=WEB, ports=[PodPort("svc2", 101)]))
    pods = wait_pods(client, namespace, ["pod1", "pod2"])
    endpoints = wait_endpoints(
        client,
        namespace,
        "multi-endpoint-test",
        _has({address_row(p, ready=True) for p in pods.values()}),
        what="pod1 + pod2",
    )
    assert port_view(endpoints) == {
        pods["pod1"].status.podIP: {("portname1", 100, "TCP")},
        pods["pod2"].status.podIP: {("portname2", 101, "TCP")},
    }
    force_delete(client, namespace, ["pod1"])
    wait_endpoints(
        client, namespace, "multi-endpoint-test", _has({address_row(pods["pod2"], ready=True)}), what="pod2 only"
    )
    force_delete(client, namespace, ["pod2"])
    wait_endpoints(client, namespace, "multi-endpoint-test", lambda e: not e.subsets, what="empty")


def test_lifecycle_of_an_endpoint(client: Client, namespace: str) -> None:
    """Upstream conformance: create, watch, read, list by label, update, patch, delete collection."""
    static = {"test-endpoint-static": "true"}
    watch = client.watch(Endpoints, namespace=namespace, labels=static)
    client.create(
        Endpoints(
            metadata=ObjectMeta(name="testservice", namespace=namespace, labels=static),
            subsets=[
                EndpointSubset(
                    addresses=[EndpointAddress(ip="10.0.0.24")],
                    ports=[EndpointPort(name="http", port=80, protocol="TCP")],
                )
            ],
        )
    )
    events = iter(watch)
    assert _next_event(events) == ("ADDED", {**static}, [("10.0.0.24", "http", 80)])

    got = client.get(Endpoints, "testservice", namespace=namespace)
    assert got.metadata.labels == static
    listed = [e for e in client.list(Endpoints, namespace="*", labels=static)]
    assert [(e.metadata.namespace, e.metadata.name) for e in listed] == [(namespace, "testservice")]

    got.metadata.labels["test-service"] = "updated"
    client.replace(got)
    assert _next_event(events) == ("MODIFIED", {**static, "test-service": "updated"}, [("10.0.0.24", "http", 80)])
    client.patch(
        Endpoints,
        "testservice",
        {
            "metadata": {"labels": {"test-service": "patched"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.25"}], "ports": [{"name": "http-test", "port": 8080}]}],
        },
        namespace=namespace,
        patch_type=PatchType.STRATEGIC,
    )
    patched_labels = {**static, "test-service": "patched"}
    assert _next_event(events) == ("MODIFIED", patched_labels, [("10.0.0.25", "http-test", 8080)])
    patched = client.get(Endpoints, "testservice", namespace=namespace)
    assert patched.metadata.labels == patched_labels
    assert [(p.name, p.port, p.protocol) for p in patched.subsets[0].ports] == [("http-test", 8080, "TCP")]

    delete_collection(client, Endpoints, namespace, static)
    assert _next_event(events)[0] == "DELETED"
    assert endpoints_of(client, namespace, "testservice") is None


def _next_event(events: Iterator[tuple[str, Endpoints]]) -> tuple[str, dict[str, str], list[tuple[str, str, int]]]:
    kind, obj = next(events)
    rows = [(a.ip, p.name, p.port) for s in obj.subsets or [] for a in s.addresses or [] for p in s.ports or []]
    return kind, dict(obj.metadata.labels or {}), rows
