"""A controller-manager that dies mid-way leaves correct objects once it is back.

Plan: Services ``web`` and ``old`` select pods p1..p3 and converge. The
controller-manager is then frozen (SIGSTOP), so nothing it would do happens:
p1 is deleted, p4 created, ``old`` deleted and ``new`` created. Then it is
killed (SIGKILL); the cluster's supervisor starts a fresh one, which must list
everything and reach the same objects a live controller would have written:
``web`` and ``new`` list exactly p2..p4 in one slice each (no duplicate slices,
no stale p1), and ``old``'s Endpoints and slices are gone (orphan cleanup at
start, upstream's ``checkLeftoverEndpoints``). Only the local provider has a
hook for the process; elsewhere the test is skipped.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Endpoints, Pod, Service

from harness.builders import (
    ControllerManagerProcess,
    address_row,
    address_view,
    endpoints_of,
    force_delete,
    make_pod,
    make_service,
    node_zones,
    service_port,
    slice_endpoint_view,
    slice_row,
    slices_of,
    wait_endpoints,
    wait_gone,
    wait_pods,
    wait_slices,
)
from harness.cluster import ClusterUnderTest

pytestmark = [pytest.mark.endpoints, pytest.mark.endpointslices, pytest.mark.needs_controllers]

WEB = {"app": "web"}


def _converged(client: Client, namespace: str, service: str, pods: list[Pod]) -> None:
    """Endpoints list exactly ``pods``; exactly one slice lists exactly them."""
    zones = node_zones(client)
    want_addresses = {address_row(p, ready=True) for p in pods}
    want_slice = {slice_row(p, zones, ready=True, serving=True, terminating=False) for p in pods}
    wait_endpoints(
        client,
        namespace,
        service,
        lambda e: address_view(e) == want_addresses,
        what=f"exactly {sorted(p.metadata.name for p in pods)}",
    )
    wait_slices(
        client,
        namespace,
        service,
        lambda s: len(s) == 1 and slice_endpoint_view(s) == want_slice,
        what="one slice with exactly those pods",
        managed_by=None,
    )


def test_objects_are_correct_after_the_controller_manager_restarts(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    if cluster.provider != "local":
        pytest.skip("only the local provider can kill the controller-manager process")
    ports = [service_port("http", 80, 8080)]
    client.create(make_service("web", namespace, selector=WEB, ports=ports))
    client.create(make_service("old", namespace, selector=WEB, ports=ports))
    for name in ("p1", "p2", "p3"):
        client.create(make_pod(name, namespace, labels=WEB))
    before = wait_pods(client, namespace, ["p1", "p2", "p3"])
    _converged(client, namespace, "web", list(before.values()))
    _converged(client, namespace, "old", list(before.values()))

    process = ControllerManagerProcess.find(cluster)
    process.stop()
    try:  # changes the frozen controller-manager never sees
        force_delete(client, namespace, ["p1"])
        client.create(make_pod("p4", namespace, labels=WEB))
        client.delete(Service, "old", namespace=namespace)
        client.create(make_service("new", namespace, selector=WEB, ports=ports))
        wait_gone(client, Pod, namespace, "p1")
        pods = wait_pods(client, namespace, ["p2", "p3", "p4"])
        # Frozen indeed: web still lists the deleted p1, and new has no Endpoints yet.
        assert before["p1"].status.podIP in {row[0] for row in address_view(endpoints_of(client, namespace, "web"))}
        assert endpoints_of(client, namespace, "new") is None
    finally:
        process.kill()
    process.wait_replaced()

    survivors = list(pods.values())
    _converged(client, namespace, "web", survivors)
    _converged(client, namespace, "new", survivors)
    wait_gone(client, Endpoints, namespace, "old")
    wait_slices(client, namespace, "old", lambda s: not s, what="no slices", managed_by=None)
    assert len(slices_of(client, namespace, "web", managed_by=None)) == 1
