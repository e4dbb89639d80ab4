"""The Kubernetes manifests that run svclab in a real cluster.

For one testbed spec: the RBAC of ``rbac.py``; a Deployment running
``svclab controller-manager`` (two replicas, leader election on a Lease, the
spec's controllers); a DaemonSet running ``svclab proxy`` on every node, shaped
like kubeadm's kube-proxy DaemonSet: host network, privileged (it programs
iptables/nftables/IPVS, writes sysctls and loads modules), the xtables lock
and ``/lib/modules`` (read-only) from the host, a toleration for every taint,
priority class ``system-node-critical``, the node name from the downward API,
readiness and liveness probes on ``/healthz`` (port 10256) and the metrics
port 10249. A spec with proxy mode ``none`` gets no DaemonSet; one without
controllers gets no Deployment.

``render_manifests(spec, image)`` returns plain dicts; ``dump_manifests``
prints them as one multi-document YAML. Both are side-effect-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from svclab.proxy import modes as proxy_modes
from svclab.testbed import networking
from svclab.testbed.kind.rbac import (
    CONTROLLER_MANAGER_ACCOUNT,
    LEADER_ELECTION_LEASE,
    NAMESPACE,
    PROXY_ACCOUNT,
    controller_manager_rbac,
    proxy_rbac,
)

__all__ = [
    "CONTROLLER_MANAGER_NAME",
    "CONTROLLER_MANAGER_REPLICAS",
    "HEALTHZ_PORT",
    "METRICS_PORT",
    "PROXY_NAME",
    "controller_manager_deployment",
    "dump_manifests",
    "proxy_cluster_cidr",
    "proxy_daemonset",
    "render_manifests",
]

CONTROLLER_MANAGER_NAME = "svclab-controller-manager"
CONTROLLER_MANAGER_REPLICAS = 2
PROXY_NAME = "svclab-proxy"
HEALTHZ_PORT = 10256  # kube-proxy's healthz port
METRICS_PORT = 10249  # kube-proxy's metrics port
XTABLES_LOCK = "/run/xtables.lock"  # iptables' lock, shared with the node's other users
LIB_MODULES = "/lib/modules"
# The image's non-root user (Dockerfile); the proxy needs root for netfilter.
NON_ROOT_UID = 10001


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "svclab", "app.kubernetes.io/component": component}


def _probe(path: str, port: int | str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def controller_manager_deployment(image: str, controllers: Sequence[str]) -> dict[str, Any]:
    """Two replicas of ``svclab controller-manager --leader-elect``, non-root, read-only root."""
    labels = _labels("controller-manager")
    container = {
        "name": "controller-manager",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "controller-manager",
            "--leader-elect",
            f"--leader-elect-lease-name={LEADER_ELECTION_LEASE}",
            f"--leader-elect-namespace={NAMESPACE}",
            f"--controllers={','.join(controllers)}",
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CONTROLLER_MANAGER_NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": CONTROLLER_MANAGER_REPLICAS,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": CONTROLLER_MANAGER_ACCOUNT,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    # like kube-controller-manager: may run on control-plane nodes
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }


def proxy_cluster_cidr(spec: Any) -> str:
    """The pod CIDR our proxies get: one family. A dual testbed's pod subnet is a
    comma pair; the proxies are IPv4-only until the proxy half of issue 18, so they
    get its IPv4 member (an IPv6-only testbed its single CIDR)."""
    return networking.ipv4_member(spec.pod_subnet) or networking.split_subnets(spec.pod_subnet)[0]


def _proxy_args(spec: Any) -> list[str]:
    # A mode with a fallback (ipvs) refuses on a kernel that cannot run it,
    # unless the spec asks for the fallback (proxy.ipvsFallback).
    mode = proxy_modes.find(spec.proxy.mode.value)
    refuse = ["--no-mode-fallback"] if mode is not None and mode.fallback and not spec.proxy.ipvs_fallback else []
    return [
        "proxy",
        f"--mode={spec.proxy.mode.value}",
        "--hostname-override=$(NODE_NAME)",
        f"--min-sync-period={spec.proxy.min_sync_period.text}",
        f"--sync-period={spec.proxy.sync_period.text}",
        f"--cluster-cidr={proxy_cluster_cidr(spec)}",
        f"--metrics-bind-address=0.0.0.0:{METRICS_PORT}",
        f"--healthz-bind-address=0.0.0.0:{HEALTHZ_PORT}",
        *refuse,
    ]


def _proxy_env(apiserver: str | None) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    if apiserver:
        # The in-cluster default is the `kubernetes` Service VIP, which only
        # works once a proxy runs: the proxy must reach the API server directly
        # (kubeadm's kube-proxy does the same through its kubeconfig).
        host, _, port = apiserver.rpartition(":")
        env += [{"name": "KUBERNETES_SERVICE_HOST", "value": host}, {"name": "KUBERNETES_SERVICE_PORT", "value": port}]
    return env


def _proxy_container(image: str, spec: Any, apiserver: str | None) -> dict[str, Any]:
    return {
        "name": "proxy",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": _proxy_args(spec),
        "env": _proxy_env(apiserver),
        "ports": [
            {"name": "healthz", "containerPort": HEALTHZ_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": _probe("/healthz", HEALTHZ_PORT, period=5, failures=3),
        "livenessProbe": _probe("/healthz", HEALTHZ_PORT, period=10, failures=6),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "securityContext": {"privileged": True, "runAsUser": 0},
        "volumeMounts": [
            {"name": "xtables-lock", "mountPath": XTABLES_LOCK},
            {"name": "lib-modules", "mountPath": LIB_MODULES, "readOnly": True},
        ],
    }


def proxy_daemonset(image: str, spec: Any, apiserver: str | None = None) -> dict[str, Any]:
    """``svclab proxy`` on every node, with the spec's mode and sync periods.

    ``apiserver`` (``HOST:PORT``) is where the proxy reaches the API server
    without going through a Service.
    """
    labels = _labels("proxy")
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": PROXY_NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": PROXY_ACCOUNT,
                    "priorityClassName": "system-node-critical",
                    "hostNetwork": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"operator": "Exists"}],  # every node, whatever its taints
                    "containers": [_proxy_container(image, spec, apiserver)],
                    "volumes": [
                        {"name": "xtables-lock", "hostPath": {"path": XTABLES_LOCK, "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": LIB_MODULES, "type": "Directory"}},
                    ],
                },
            },
        },
    }


def render_manifests(spec: Any, image: str, *, apiserver: str | None = None) -> list[dict[str, Any]]:
    """Every object svclab needs in a cluster for ``spec`` (a Testbed), in apply order.

    ``apiserver``: ``HOST:PORT`` of the API server as the nodes reach it (see
    ``proxy_daemonset``); None leaves the in-cluster default.
    """
    controllers = [controller.value for controller in spec.controllers]
    objects: list[dict[str, Any]] = []
    if controllers:
        objects += controller_manager_rbac(controllers)
    if spec.proxy.mode.value != "none":
        objects += proxy_rbac()
    if controllers:
        objects.append(controller_manager_deployment(image, controllers))
    if spec.proxy.mode.value != "none":
        objects.append(proxy_daemonset(image, spec, apiserver))
    return objects


def dump_manifests(objects: Sequence[dict[str, Any]]) -> str:
    """One multi-document YAML text, keys in the order they were written."""
    text: str = yaml.safe_dump_all(list(objects), sort_keys=False, explicit_start=True)
    return text
