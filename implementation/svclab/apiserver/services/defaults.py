"""Service defaulting, as upstream's ``SetDefaults_Service`` and the Service REST storage do it.

:func:`default_service` is side-effect-free. Allocation (ClusterIP, NodePorts)
is not defaulting: see :mod:`.allocations`.
"""

from __future__ import annotations

import copy
from typing import Any

from .spec import (
    CLUSTER_IP,
    EXTERNAL_NAME,
    LOAD_BALANCER,
    Service,
    externally_accessible,
    normalize_cluster_ips,
)

__all__ = ["DEFAULT_CLIENT_IP_TIMEOUT_SECONDS", "default_service"]

# Upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800


def _default_affinity(spec: dict[str, Any]) -> None:
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        client_ip = config.get("clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}}


def _default_ports(spec: dict[str, Any]) -> None:
    for port in spec.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")


def default_service(svc: Service) -> Service:
    """Return a defaulted copy of ``svc`` (side-effect-free), as upstream defaults it.

    ``ipFamilyPolicy`` / ``ipFamilies`` are not static defaults: they depend on the
    cluster's service CIDRs and, on update, on the old Service (see :mod:`.families`).
    Allocation (ClusterIP, NodePorts) is not defaulting: see :class:`ServiceAllocations`.
    """
    out = copy.deepcopy(svc)
    spec = out.setdefault("spec", {})
    _default_affinity(spec)
    if not spec.get("type"):
        spec["type"] = CLUSTER_IP
    _default_ports(spec)
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec["type"] != EXTERNAL_NAME and not spec.get("internalTrafficPolicy"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    normalize_cluster_ips(spec)
    return out
