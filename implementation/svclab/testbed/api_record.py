"""A real cluster's record (kind, kubeconfig), read from its Kubernetes API.

A local cluster describes itself (``cluster.json``); a real one is read with
``kubectl`` (the only tool the kubeconfig provider has):

* ``nodes`` from the Node objects: control-plane nodes (label
  ``node-role.kubernetes.io/control-plane``) first, then workers, each group
  by name, since the suite takes ``nodes[0]`` as the control plane; ``ip`` is
  the node's first InternalIP (IPv4 preferred), ``pod_cidr`` its
  ``spec.podCIDR`` ("" when the network plugin sets none), ``labels`` and
  ``taints`` as the API has them, ``netns`` "" (no local network namespace);
* ``apiserver_address``: the InternalIP of the control-plane node when there
  is exactly one (kind: the ``default/kubernetes`` Endpoints must point at
  it), else the first address of those Endpoints (a managed control plane is
  no node, an HA one has several);
* ``service_subnet``: the spec's when the cluster has one, else the
  ``kubernetes`` ServiceCIDR (Kubernetes >= 1.33), else None;
* ``proxy_mode``, ``has_proxy``, ``has_controllers``: the cluster's (the spec's
  mode, or ``unknown`` for a cluster tested as it is); ``kernel`` ``host``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from svclab.testbed.cluster import CONTROL_PLANE_LABEL, ClusterRecord, NodeInfo, Taint
from svclab.testbed.provider import ProviderError, run_captured

__all__ = ["KubectlCluster", "apiserver_address", "describe_from_api", "nodes_from_api", "service_cidr"]


class KubectlCluster(Protocol):
    """What describing a real cluster needs of it."""

    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def kubeconfig(self) -> Path: ...
    @property
    def context(self) -> str | None: ...
    @property
    def proxy_mode(self) -> str: ...
    @property
    def service_subnet(self) -> str | None: ...
    @property
    def has_proxy(self) -> bool: ...
    @property
    def has_controllers(self) -> bool: ...

    def kubectl_argv(self, *args: str) -> list[str]: ...


API_TIMEOUT = 30.0
# kubeadm before 1.24 labelled control-plane nodes "master" only.
_CONTROL_PLANE_LABELS = (CONTROL_PLANE_LABEL, "node-role.kubernetes.io/master")


def _role(labels: Mapping[str, str]) -> str:
    return "control-plane" if any(key in labels for key in _CONTROL_PLANE_LABELS) else "worker"


def _internal_ip(node: Mapping[str, Any]) -> str:
    internal = [
        str(a["address"]) for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"
    ]
    ipv4 = [address for address in internal if ":" not in address]
    return (ipv4 or internal or [""])[0]


def nodes_from_api(items: Iterable[Mapping[str, Any]]) -> tuple[NodeInfo, ...]:
    """NodeInfo for each Node object (as JSON), control planes first. Side-effect-free."""
    described = []
    for item in items:
        metadata, spec = item["metadata"], item.get("spec") or {}
        labels = dict(metadata.get("labels") or {})
        taints = tuple(Taint(t["key"], t.get("value") or "", t["effect"]) for t in spec.get("taints") or [])
        described.append(
            (
                _role(labels),
                metadata["name"],
                _internal_ip(item),
                spec.get("podCIDR") or "",
                tuple(sorted(labels.items())),
                taints,
            )
        )
    described.sort(key=lambda node: (node[0] != "control-plane", node[1]))
    return tuple(
        NodeInfo(name=name, role=role, index=index, netns="", ip=ip, pod_cidr=pod_cidr, labels=labels, taints=taints)
        for index, (role, name, ip, pod_cidr, labels, taints) in enumerate(described)
    )


def apiserver_address(nodes: Sequence[NodeInfo], endpoints: Mapping[str, Any] | None) -> str:
    """Where ``default/kubernetes`` should point (see the module docstring). Side-effect-free."""
    control_planes = [node for node in nodes if node.role == "control-plane"]
    if len(control_planes) == 1 and control_planes[0].ip:
        return control_planes[0].ip
    for subset in (endpoints or {}).get("subsets") or []:
        for address in subset.get("addresses") or []:
            return str(address["ip"])
    return ""


def service_cidr(service_cidr_object: Mapping[str, Any] | None) -> str | None:
    """The IPv4 (else first) CIDR of a ServiceCIDR object, None without one. Side-effect-free."""
    spec = (service_cidr_object or {}).get("spec") or {}
    cidrs = [str(cidr) for cidr in spec.get("cidrs") or []]
    ipv4 = [cidr for cidr in cidrs if ":" not in cidr]
    return (ipv4 or cidrs)[0] if cidrs else None


def _get(cluster: KubectlCluster, *args: str, required: bool) -> dict[str, Any] | None:
    """``kubectl get ARGS -o json``; a failure raises ProviderError when ``required``."""
    result = run_captured(
        cluster.kubectl_argv("get", *args, "-o", "json", f"--request-timeout={API_TIMEOUT:g}s"), API_TIMEOUT + 5
    )
    if result.rc == 0:
        found: dict[str, Any] = json.loads(result.stdout)
        return found
    if required:
        last = (result.stderr.strip().splitlines() or [f"exit status {result.rc}"])[-1]
        raise ProviderError(f"cluster {cluster.name}: `kubectl get {' '.join(args)}` failed: {last}")
    return None


def describe_from_api(cluster: KubectlCluster) -> ClusterRecord:
    """The record of a real cluster, read from its API now.

    Raises ProviderError (one line) when the Nodes cannot be listed."""
    listed = _get(cluster, "nodes", required=True)
    nodes = nodes_from_api((listed or {}).get("items") or [])
    endpoints = _get(cluster, "endpoints", "kubernetes", "-n", "default", required=False)
    subnet = cluster.service_subnet or service_cidr(
        _get(cluster, "servicecidrs.networking.k8s.io", "kubernetes", required=False)
    )
    return ClusterRecord(
        name=cluster.name,
        provider=cluster.provider,
        kubeconfig=cluster.kubeconfig,
        proxy_mode=cluster.proxy_mode,
        has_proxy=cluster.has_proxy,
        has_controllers=cluster.has_controllers,
        service_subnet=subnet,
        apiserver_address=apiserver_address(nodes, endpoints),
        nodes=nodes,
        kernel="host",
        context=cluster.context,
    )
