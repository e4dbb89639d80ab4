"""What kube-apiserver creates for itself: system namespaces, the
`default/kubernetes` Service with its Endpoints and EndpointSlice (the
endpoint reconciler's output: the Endpoints carry the skip-mirror label, the
slice is named like the Service and carries only the service-name label), the
default ServiceCIDR ``kubernetes`` holding ``--service-cidr`` and marked Ready
(as upstream's default-servicecidr controller keeps it; kube-proxy lists it), and
of the RBAC bootstrap policy the `cluster-admin` ClusterRole bound to the
`system:masters` group (and, as kubeadm adds, `kubeadm:cluster-admins`, the
admin token's group). Authorization itself stays allow-all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import errors
from .registry import Registry
from .resources import by_kind
from .services import kubernetes_service_ip

__all__ = ["ensure_bootstrap_policy", "ensure_system_objects"]

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
    """Namespaces and the ``default/kubernetes`` Service; ``service_cidr`` is the
    primary family's range (upstream gives the Service the primary family only)."""
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
    _ensure_default_service_cidr(registry, service_cidr)
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
            "addressType": "IPv6" if ":" in address else "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [https],
        },
    )


def _ensure_default_service_cidr(registry: Registry, service_cidr: str) -> None:
    if registry.store.get("ServiceCIDR", "", "kubernetes") is not None:
        return  # its CIDRs are immutable; a restart with another --service-cidr fails on default/kubernetes
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "",
        "message": "Kubernetes default Service CIDR is ready",
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    registry.create(
        by_kind("ServiceCIDR"),
        "",
        {"metadata": {"name": "kubernetes"}, "spec": {"cidrs": [service_cidr]}, "status": {"conditions": [ready]}},
    )


def _bootstrap_meta(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def _cluster_admin_rules() -> list[dict[str, Any]]:
    # Fresh objects each time: the store keeps what create() is given.
    return [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]


def _binding(name: str, group: str) -> dict[str, Any]:
    return {
        "metadata": _bootstrap_meta(name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }


def ensure_bootstrap_policy(registry: Registry) -> None:
    """Create (never overwrite) the cluster-admin ClusterRole and its bindings."""
    wanted = [
        ("ClusterRole", {"metadata": _bootstrap_meta("cluster-admin"), "rules": _cluster_admin_rules()}),
        ("ClusterRoleBinding", _binding("cluster-admin", "system:masters")),
        ("ClusterRoleBinding", _binding("kubeadm:cluster-admins", "kubeadm:cluster-admins")),
    ]
    for kind, obj in wanted:
        if registry.store.get(kind, "", obj["metadata"]["name"]) is None:
            registry.create(by_kind(kind), "", obj)
