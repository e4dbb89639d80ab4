"""What a Service spec's type implies: the type names and pure predicates on a spec.

Defaulting and allocation both ask the same questions (does this type get a
ClusterIP? NodePorts? a health check port?); they are answered once, here.
All functions are side-effect-free except :func:`normalize_cluster_ips`, which
fills in the spec it is given.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CLUSTER_IP",
    "EXTERNAL_NAME",
    "HEADLESS",
    "LOAD_BALANCER",
    "NODE_PORT",
    "Service",
    "allocates_node_ports",
    "externally_accessible",
    "needs_cluster_ip",
    "needs_health_check_port",
    "needs_node_ports",
    "node_ports_of",
    "normalize_cluster_ips",
    "real_ips",
]

EXTERNAL_NAME = "ExternalName"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
CLUSTER_IP = "ClusterIP"
HEADLESS = "None"  # spec.clusterIP of a headless Service

Service = dict[str, Any]


def externally_accessible(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in (NODE_PORT, LOAD_BALANCER) or (kind == CLUSTER_IP and bool(spec.get("externalIPs")))


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != EXTERNAL_NAME


def needs_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in (NODE_PORT, LOAD_BALANCER)


def allocates_node_ports(spec: dict[str, Any]) -> bool:
    """Whether ports without a nodePort get one (LoadBalancers may opt out)."""
    if spec.get("type") == NODE_PORT:
        return True
    return spec.get("type") == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts", True) is not False


def needs_health_check_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") == LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local"


def node_ports_of(spec: dict[str, Any]) -> list[int]:
    return [p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")]


def real_ips(spec: dict[str, Any]) -> list[str]:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip and ip != HEADLESS]


def normalize_cluster_ips(spec: dict[str, Any]) -> None:
    """Keep clusterIP and clusterIPs consistent (upstream NormalizeClusterIPs)."""
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = spec.get("clusterIPs") or []
    if cluster_ip and not cluster_ips:
        spec["clusterIPs"] = [cluster_ip]
    elif cluster_ips and not cluster_ip:
        spec["clusterIP"] = cluster_ips[0]
