"""A selector-less Service served by EndpointSlices the test writes itself.

Upstream e2e conformance tests (test/e2e/network/endpointslice.go, v1.34):
"should support a Service with multiple ports specified in multiple
EndpointSlices" and "... multiple endpoint IPs specified in multiple
EndpointSlices". The Service has ports ``port80`` (80) and ``port81`` (81) and
no selector, so no controller writes its slices; the test writes two, labelled
with the Service's name and its own ``managed-by`` value, each carrying one of
the two ports. The proxy must join them: port 80 reaches what the first slice
says, port 81 what the second says, with the target ports of each slice.

Pods: agnhost netexec containers serving HTTP on 8090 (and 9090), placed by
the scheduler; the client pod sits on the control-plane node.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import Container, ContainerPort, PodSpec, ServicePort
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from harness.builders import LABEL_MANAGED_BY, LABEL_SERVICE_NAME
from harness.cluster import ClusterUnderTest
from harness.traffic import (
    AGNHOST,
    control_plane_node,
    create_client,
    create_service,
    http_get,
    pod_ips,
    url,
    wait_ready,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.endpointslices]

PORTS = [
    ServicePort(name="port80", port=80, protocol="TCP"),
    ServicePort(name="port81", port=81, protocol="TCP"),
]


def _server(name: str, namespace: str, http_ports: list[int]) -> Pod:
    """One netexec container per HTTP port (no UDP)."""
    containers = [
        Container(
            name=f"handle-{port}",
            image=AGNHOST,
            args=["netexec", f"--http-port={port}", "--udp-port=-1"],
            ports=[ContainerPort(containerPort=port, protocol="TCP")],
        )
        for port in http_ports
    ]
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=PodSpec(containers=containers, terminationGracePeriodSeconds=1),
    )


def _slice(namespace: str, ip: str, port_name: str, target: int) -> EndpointSlice:
    return EndpointSlice(
        metadata=ObjectMeta(
            generateName="e2e-custom-slice",
            namespace=namespace,
            labels={LABEL_SERVICE_NAME: "example-custom-endpoints", LABEL_MANAGED_BY: f"e2e-test{namespace}"},
        ),
        addressType="IPv4",
        endpoints=[Endpoint(addresses=[ip], conditions=EndpointConditions(ready=True))],
        ports=[EndpointPort(name=port_name, port=target, protocol="TCP")],
    )


def _reaches(cluster: ClusterUnderTest, namespace: str, pod: str, target: str, expected: str) -> None:
    wait_for(lambda: http_get(cluster, namespace, pod, target) == expected, what=f"{target} answers {expected}")
    answers = {http_get(cluster, namespace, pod, target) for _ in range(3)}
    assert answers == {expected}, f"{target}: {answers}"


def test_multiple_ports_in_multiple_slices(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: one pod, two slices with one port each (8090 and 9090)."""
    vip = create_service(client, "example-custom-endpoints", namespace, ports=PORTS, selector=None).cluster_ip
    client.create(_server("server", namespace, [8090, 9090]))
    ip = pod_ips(wait_ready(client, namespace, ["server"]))["server"]
    client.create(_slice(namespace, ip, "port80", 8090))
    client.create(_slice(namespace, ip, "port81", 9090))
    pod = create_client(client, namespace, control_plane_node(cluster))

    _reaches(cluster, namespace, pod, url(vip, 80), "server")
    _reaches(cluster, namespace, pod, url(vip, 81), "server")


def test_multiple_endpoint_ips_in_multiple_slices(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: two pods, each the only endpoint of one port's slice."""
    vip = create_service(client, "example-custom-endpoints", namespace, ports=PORTS, selector=None).cluster_ip
    client.create(_server("server-1", namespace, [8090]))
    client.create(_server("server-2", namespace, [8090]))
    ips = pod_ips(wait_ready(client, namespace, ["server-1", "server-2"]))
    client.create(_slice(namespace, ips["server-1"], "port80", 8090))
    client.create(_slice(namespace, ips["server-2"], "port81", 8090))
    pod = create_client(client, namespace, control_plane_node(cluster))

    _reaches(cluster, namespace, pod, url(vip, 80), "server-1")
    _reaches(cluster, namespace, pod, url(vip, 81), "server-2")
