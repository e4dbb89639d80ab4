"""Service labels a proxy must honour.

Upstream e2e tests in test/e2e/network/service.go: "should implement
service.kubernetes.io/service-proxy-name" and "should implement
service.kubernetes.io/headless". kube-proxy watches Services and
EndpointSlices with the label selector
``!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless``:
a Service carrying either label belongs to another proxy (or is headless) and
gets no rules, even with a ClusterIP; adding the label takes a working Service
down, removing it brings the Service back.

Plan: two netexec backends (``app=backend``) behind two Services: ``disabled``
is created with the label and must never answer; ``toggled`` is created
without it, answers, gets the label (stops answering), loses it (answers
again). The client pod sits on the control-plane node.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service
from lightkube.types import PatchType

from harness.cluster import ClusterUnderTest
from harness.reachability import wait_answering, wait_silent
from harness.traffic import (
    HTTP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    url,
    wait_ready,
)

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
PROXY_NAME = {"service.kubernetes.io/service-proxy-name": "foo-bar"}
HEADLESS = {"service.kubernetes.io/headless": ""}


def _labelled(client: Client, namespace: str, name: str, labels: dict[str, str] | None) -> None:
    """Set (``labels``) or remove (None) the Service's labels with a JSON merge patch."""
    client.patch(Service, name, {"metadata": {"labels": labels}}, namespace=namespace, patch_type=PatchType.MERGE)


def _check_label_is_honoured(cluster: ClusterUnderTest, client: Client, namespace: str, labels: dict[str, str]) -> None:
    backends = create_backends(client, cluster, namespace, 2)
    disabled = create_service(client, "disabled", namespace, ports=WEB, selector={"app": "backend"})
    _labelled(client, namespace, "disabled", labels)
    toggled = create_service(client, "toggled", namespace, ports=WEB, selector={"app": "backend"})
    only = {"client": create_client(client, namespace, control_plane_node(cluster))}
    wait_ready(client, namespace, backends)
    on, off = [url(toggled.cluster_ip, 80)], [url(disabled.cluster_ip, 80)]

    wait_answering(cluster, namespace, only, on, backends)
    wait_silent(cluster, namespace, only, off)

    _labelled(client, namespace, "toggled", labels)
    wait_silent(cluster, namespace, only, on)

    _labelled(client, namespace, "toggled", None)
    wait_answering(cluster, namespace, only, on, backends)
    wait_silent(cluster, namespace, only, off)


def test_service_proxy_name_label_hands_the_service_to_another_proxy(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    _check_label_is_honoured(cluster, client, namespace, PROXY_NAME)


def test_headless_label_makes_a_cluster_ip_service_unproxied(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    _check_label_is_honoured(cluster, client, namespace, HEADLESS)
