"""The Service API itself: the ``/status`` subresource, deletecollection, listing
across namespaces (upstream e2e conformance tests in test/e2e/network/service.go:
"should complete a service status lifecycle", "should delete a collection of
services", "should find a service from listing all namespaces").

The status lifecycle follows upstream's: a LoadBalancer Service with a
``loadBalancerClass`` no controller serves (so nothing else writes its status);
``/status`` is read, merge-patched with an ingress address and an annotation,
then replaced with an added condition; a write to ``/status`` never changes the
spec, a write to the Service never changes the status. Everything goes through
the API, so the tests run on any cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.types import PatchType

from harness.builders import delete_collection, meta

pytestmark = [pytest.mark.services]

LB_CLASS = "example.com/internal-vip"  # no controller owns it: only the test writes the status
INGRESS_IP = "203.0.113.1"  # RFC 5737 documentation address, as upstream uses
HTTP = [ServicePort(name="http", port=80, targetPort=80, protocol="TCP")]


def _status_path(client: Client, method: str, name: str, namespace: str, obj: Any = None) -> Any:
    """A raw request on ``services/NAME/status`` (lightkube's Client has no status replace)."""
    return client._client.request(method, res=Service.Status, name=name, namespace=namespace, obj=obj)


def _conditions(svc: Service) -> list[tuple[str, str, str | None, str | None]]:
    status = svc.status
    return [(c.type, c.status, c.reason, c.message) for c in (status.conditions if status else None) or []]


def _ingress(svc: Service) -> list[str | None]:
    lb = svc.status.loadBalancer if svc.status else None
    return [i.ip for i in (lb.ingress if lb else None) or []]


def test_service_status_lifecycle(client: Client, namespace: str) -> None:
    """Upstream conformance: get, patch and update ``/status``; patch the Service."""
    labels = {"test-service-static": "true"}
    created = client.create(
        Service(
            metadata=ObjectMeta(name="status-test", namespace=namespace, labels=labels),
            spec=ServiceSpec(type="LoadBalancer", ports=HTTP, loadBalancerClass=LB_CLASS),
        )
    )
    spec_before = created.to_dict()["spec"]

    status_view = client.get(Service.Status, "status-test", namespace=namespace)
    assert meta(status_view).name == "status-test"
    assert _ingress(status_view) == []

    client.patch(
        Service.Status,
        "status-test",
        {
            "metadata": {"annotations": {"patchedstatus": "true"}},
            "status": {"loadBalancer": {"ingress": [{"ip": INGRESS_IP}]}},
        },
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    patched = client.get(Service, "status-test", namespace=namespace)
    assert _ingress(patched) == [INGRESS_IP]
    assert (meta(patched).annotations or {}).get("patchedstatus") == "true"
    assert patched.to_dict()["spec"] == spec_before

    body = patched.to_dict()
    body["status"]["conditions"] = [
        {
            "type": "StatusUpdate",
            "status": "True",
            "reason": "E2E",
            "message": "Set from e2e test",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    ]
    body["spec"]["sessionAffinity"] = "ClientIP"  # a status write must drop spec changes
    _status_path(client, "put", "status-test", namespace, Service.from_dict(body))
    updated = client.get(Service, "status-test", namespace=namespace)
    assert _conditions(updated) == [("StatusUpdate", "True", "E2E", "Set from e2e test")]
    assert _ingress(updated) == [INGRESS_IP]
    assert updated.to_dict()["spec"] == spec_before

    client.patch(Service, "status-test", {"metadata": {"labels": {"test-service": "patched"}}}, namespace=namespace)
    relabelled = client.get(Service, "status-test", namespace=namespace)
    assert (meta(relabelled).labels or {}) == {**labels, "test-service": "patched"}
    assert _conditions(relabelled) == [("StatusUpdate", "True", "E2E", "Set from e2e test")]

    client.delete(Service, "status-test", namespace=namespace)
    with pytest.raises(ApiError) as gone:
        client.get(Service, "status-test", namespace=namespace)
    assert gone.value.status.code == 404


def test_spec_write_does_not_change_the_status(client: Client, namespace: str) -> None:
    client.create(
        Service(
            metadata=ObjectMeta(name="spec-write", namespace=namespace),
            spec=ServiceSpec(type="LoadBalancer", ports=HTTP, loadBalancerClass=LB_CLASS),
        )
    )
    patch = {"status": {"loadBalancer": {"ingress": [{"ip": INGRESS_IP}]}}, "metadata": {"labels": {"a": "b"}}}
    client.patch(Service, "spec-write", patch, namespace=namespace, patch_type=PatchType.MERGE)
    after = client.get(Service, "spec-write", namespace=namespace)
    assert (meta(after).labels or {}).get("a") == "b"
    assert _ingress(after) == [], "a write to the Service itself must leave its status alone"


def test_delete_a_collection_of_services(client: Client, namespace: str) -> None:
    """Upstream conformance: deletecollection by label selector leaves the rest."""
    for name, label, port in (("svc-a", "delete", 8001), ("svc-b", "delete", 8002), ("svc-c", "keep", 8003)):
        client.create(
            Service(
                metadata=ObjectMeta(name=name, namespace=namespace, labels={"e2e-test-service": label}),
                spec=ServiceSpec(type="ClusterIP", ports=[ServicePort(name="http", port=port, targetPort=port)]),
            )
        )
    assert len(list(client.list(Service, namespace=namespace))) == 3

    delete_collection(client, Service, namespace, {"e2e-test-service": "delete"})

    left = [meta(s).name for s in client.list(Service, namespace=namespace)]
    assert left == ["svc-c"]


def test_find_a_service_listing_all_namespaces(client: Client, namespace: str) -> None:
    """Upstream conformance: a list over all namespaces includes default/kubernetes."""
    client.create(Service(metadata=ObjectMeta(name="listed", namespace=namespace), spec=ServiceSpec(ports=HTTP)))
    found = {(meta(s).namespace, meta(s).name) for s in client.list(Service, namespace="*")}
    assert ("default", "kubernetes") in found
    assert (namespace, "listed") in found
