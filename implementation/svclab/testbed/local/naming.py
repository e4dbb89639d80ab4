"""Names and addresses of a local cluster, derived from its name and spec.

Everything a local cluster creates on the host is named from the cluster name,
so ``svclab down`` can find it again even after a crash:

* state directory ``/run/svclab/NAME/`` (``$SVCLAB_RUN_DIR`` overrides the root);
* network namespaces ``svclab-NAME-net`` (the cluster bridge, like docker's
  ``kind`` network), ``svclab-NAME-<i>`` (node i) and ``svclab-NAME-p<8 hex>``
  (pods, created by the node agent);
* node names kind-style: ``NAME-control-plane``, ``NAME-worker``, ``NAME-worker2``;
* node i has ``172.18.0.(2+i)/16`` on the cluster bridge and the i-th /24 of the
  pod subnet as its pod CIDR;
* on a dual-stack cluster (issue 18) node i also has ``fc00:f853:ccd:e793::(2+i)/64``
  (an IPv6-only cluster: only that)
  (the IPv6 half of docker's ``kind`` network) and the i-th /64 of the IPv6 pod
  subnet, as kube-controller-manager cuts them (``--node-cidr-mask-size-ipv6``
  defaults to 64). Every list of addresses or CIDRs here keeps the order of the
  spec's subnets: the primary family first.

All functions here are side-effect-free.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from pathlib import Path

__all__ = [
    "CLUSTER_BRIDGE",
    "CLUSTER_GATEWAY",
    "CLUSTER_GATEWAY6",
    "CLUSTER_PREFIXLEN",
    "CLUSTER_PREFIXLEN6",
    "NETNS_PREFIX",
    "cluster_netns",
    "cluster_netns_prefix",
    "node_ip",
    "node_ips",
    "node_names",
    "node_netns",
    "pod_cidr",
    "pod_cidrs",
    "run_root",
    "state_dir",
]

NETNS_PREFIX = "svclab-"  # every namespace svclab creates starts with this
CLUSTER_BRIDGE = "br0"  # in svclab-NAME-net
CLUSTER_NETWORK = ipaddress.ip_network("172.18.0.0/16")  # docker's usual `kind` network
CLUSTER_PREFIXLEN = CLUSTER_NETWORK.prefixlen
CLUSTER_GATEWAY = "172.18.0.1"  # br0's address; the nodes' default route
APISERVER_PORT = 6443
# The IPv6 half of the docker network kind creates with ipFamily dual/ipv6.
CLUSTER_NETWORK6 = ipaddress.IPv6Network("fc00:f853:ccd:e793::/64")
CLUSTER_PREFIXLEN6 = CLUSTER_NETWORK6.prefixlen
CLUSTER_GATEWAY6 = str(CLUSTER_NETWORK6.network_address + 1)
NODE_CIDR_MASK_SIZE = {4: 24, 6: 64}  # per family, as kube-controller-manager's defaults


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


def node_ip(index: int, version: int = 4) -> str:
    """Node ``index``'s address on the cluster bridge in IP ``version`` 4 or 6."""
    network = CLUSTER_NETWORK if version == 4 else CLUSTER_NETWORK6
    return str(network.network_address + 2 + index)


def node_ips(pod_subnet: str, index: int) -> tuple[str, ...]:
    """Node ``index``'s addresses, one per family of the (possibly dual) pod subnet,
    in its order (the primary family first)."""
    return tuple(node_ip(index, _version(member)) for member in _members(pod_subnet))


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
    """The index-th node CIDR (/24 for IPv4, /64 for IPv6) of one pod subnet."""
    network = ipaddress.ip_network(pod_subnet)
    size = NODE_CIDR_MASK_SIZE[network.version]
    if network.prefixlen > size or index >= 2 ** (size - network.prefixlen):
        raise ValueError(f"{pod_subnet} has no /{size} number {index}")
    return str(next(itertools.islice(network.subnets(new_prefix=size), index, None)))


def pod_cidrs(pod_subnet: str, index: int) -> tuple[str, ...]:
    """Node ``index``'s pod CIDRs, one per member of a (possibly dual) pod subnet."""
    return tuple(pod_cidr(member, index) for member in _members(pod_subnet))


def _members(subnets: str) -> list[str]:
    return [part.strip() for part in subnets.split(",") if part.strip()]


def _version(cidr: str) -> int:
    return ipaddress.ip_network(cidr, strict=False).version
