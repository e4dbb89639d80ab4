"""What kube-apiserver creates for itself: system namespaces and the
`default/kubernetes` Service with its Endpoints and EndpointSlice (the
endpoint reconciler's output: the Endpoints carry the skip-mirror label, the
slice is named like the Service and carries only the service-name label)."""

from __future__ import annotations

from typing import Any

from . import errors
from .registry import Registry
from .resources import by_kind
from .services import kubernetes_service_ip

__all__ = ["ensure_system_objects"]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _ensure(registry: Registry, kind: str, namespace: str, obj: dict[str, Any]) -> None:
    r = by_kind(kind)
    current = registry.store.get(kind, namespace, obj["metadata"]["name"])
    if current is None:
        registry.create(r, namespace, obj, validate=False)
        return
    wanted = dict(current, **{k: v for k, v in obj.items() if k != "metadata"})
    wanted["metadata"] = dict(current["metadata"], labels=obj["metadata"].get("labels", {}))
    if wanted != current:
        registry.update(r, namespace, obj["metadata"]["name"], wanted, validate=False)


def ensure_system_objects(registry: Registry, service_cidr: str, address: str, port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        if registry.store.get("Namespace", "", name) is None:
            registry.create(by_kind("Namespace"), "", {"metadata": {"name": name}})
    service_ip = kubernetes_service_ip(service_cidr)
    svc = registry.store.get("Service", "default", "kubernetes")
    if svc is not None and svc["spec"].get("clusterIP") != service_ip:
        raise errors.internal(
            f"default/kubernetes has clusterIP {svc['spec'].get('clusterIP')}, "
            f"expected {service_ip} for service CIDR {service_cidr}"
        )
    if svc is None:
        registry.create(
            by_kind("Service"),
            "default",
            {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {
                    "clusterIP": service_ip,
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                },
            },
        )
    https = {"name": "https", "port": port, "protocol": "TCP"}
    _ensure(
        registry,
        "Endpoints",
        "default",
        {
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": address}], "ports": [https]}],
        },
    )
    _ensure(
        registry,
        "EndpointSlice",
        "default",
        {
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [https],
        },
    )
