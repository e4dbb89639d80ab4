"""Names and addresses of a local cluster, derived from its name and spec.

Everything a local cluster creates on the host is named from the cluster name,
so ``svclab down`` can find it again even after a crash:

* state directory ``/run/svclab/NAME/`` (``$SVCLAB_RUN_DIR`` overrides the root);
* network namespaces ``svclab-NAME-net`` (the cluster bridge, like docker's
  ``kind`` network), ``svclab-NAME-<i>`` (node i) and ``svclab-NAME-p<8 hex>``
  (pods, created by the node agent);
* node names kind-style: ``NAME-control-plane``, ``NAME-worker``, ``NAME-worker2``;
* node i has ``172.18.0.(2+i)/16`` on the cluster bridge and the i-th /24 of the
  pod subnet as its pod CIDR.

All functions here are side-effect-free.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

__all__ = [
    "CLUSTER_BRIDGE",
    "CLUSTER_GATEWAY",
    "CLUSTER_PREFIXLEN",
    "NETNS_PREFIX",
    "cluster_netns",
    "cluster_netns_prefix",
    "node_ip",
    "node_names",
    "node_netns",
    "pod_cidr",
    "run_root",
    "state_dir",
]

NETNS_PREFIX = "svclab-"  # every namespace svclab creates starts with this
CLUSTER_BRIDGE = "br0"  # in svclab-NAME-net
CLUSTER_NETWORK = ipaddress.ip_network("172.18.0.0/16")  # docker's usual `kind` network
CLUSTER_PREFIXLEN = CLUSTER_NETWORK.prefixlen
CLUSTER_GATEWAY = "172.18.0.1"  # br0's address; the nodes' default route
APISERVER_PORT = 6443


def run_root() -> Path:
    return Path(os.environ.get("SVCLAB_RUN_DIR", "/run/svclab"))


def state_dir(cluster: str) -> Path:
    return run_root() / cluster


def cluster_netns_prefix(cluster: str) -> str:
    """Prefix of every namespace of this cluster (network, nodes and pods)."""
    return f"{NETNS_PREFIX}{cluster}-"


def cluster_netns(cluster: str) -> str:
    return f"{cluster_netns_prefix(cluster)}net"


def node_netns(cluster: str, index: int) -> str:
    return f"{cluster_netns_prefix(cluster)}{index}"


def node_ip(index: int) -> str:
    return str(CLUSTER_NETWORK.network_address + 2 + index)


def node_names(cluster: str, roles: list[str]) -> list[str]:
    """kind's naming: NAME-control-plane, NAME-control-plane2, NAME-worker, NAME-worker2."""
    counts: dict[str, int] = {}
    names = []
    for role in roles:
        counts[role] = counts.get(role, 0) + 1
        suffix = "" if counts[role] == 1 else str(counts[role])
        names.append(f"{cluster}-{role}{suffix}")
    return names


def pod_cidr(pod_subnet: str, index: int) -> str:
    """The index-th /24 of the pod subnet (IPv4)."""
    network = ipaddress.IPv4Network(pod_subnet)
    first = network.network_address + index * 256
    if network.prefixlen > 24 or first + 255 > network.broadcast_address:
        raise ValueError(f"{pod_subnet} has no /24 number {index}")
    return f"{first}/24"
