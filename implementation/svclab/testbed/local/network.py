"""The network of a local cluster: namespaces, bridges, veths and routes.

Like kind's nodes on the docker network ``kind``::

    svclab-NAME-net            br0 172.18.0.1/16 ── node0 ── node1 ── ...  (veth ends)
                                               │          │
    svclab-NAME-0  eth0 172.18.0.2/16          │          svclab-NAME-1  eth0 172.18.0.3/16
                   cni0 10.244.0.1/24 (pods)                             cni0 10.244.1.1/24
                   10.244.1.0/24 via 172.18.0.3                          10.244.0.0/24 via ...
                   default via 172.18.0.1                                default via 172.18.0.1

Each node namespace forwards IP (it routes for its pods), calls iptables for
bridged traffic (``net.bridge.bridge-nf-call-iptables`` is per namespace since
Linux 5.3, so it is set there and never in the root namespace), and has a
default route to br0 so that Service IPs are routable before the proxy's DNAT
rewrites them. The cluster namespace does not forward, so nothing leaves it.
Pods (``svclab-NAME-p<hex>``) are added by the node agent.

``plan_network`` is pure; ``create_network`` and ``teardown`` are idempotent.
Nothing here touches the root namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute

from svclab.testbed.local import naming
from svclab.testbed.local.nsexec import NETNS_RUN_DIR, create_netns, delete_netns, in_netns

__all__ = [
    "ClusterNetwork",
    "NodeNetwork",
    "cluster_namespaces",
    "create_network",
    "list_netns",
    "pids_in_netns",
    "plan_network",
    "remove_netns",
    "teardown",
]

NODE_UPLINK = "eth0"  # in the node namespace, on the cluster bridge
POD_BRIDGE = "cni0"  # in the node namespace, the pods' bridge (kindnet/ptp-like)
NODE_SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
    "net/ipv4/conf/all/route_localnet": "1",  # kube-proxy sets it for NodePorts on 127.0.0.1
}


@dataclass(frozen=True, slots=True)
class NodeNetwork:
    index: int
    name: str
    netns: str
    ip: str  # on the cluster bridge, prefix CLUSTER_PREFIXLEN
    pod_cidr: str

    @property
    def pod_gateway(self) -> str:
        """cni0's address: the first address of the pod CIDR."""
        return str(ipaddress.ip_network(self.pod_cidr).network_address + 1)


@dataclass(frozen=True, slots=True)
class ClusterNetwork:
    cluster: str
    netns: str
    nodes: tuple[NodeNetwork, ...]


def plan_network(cluster: str, node_names: list[str], pod_subnet: str) -> ClusterNetwork:
    """The addresses and namespaces for ``node_names`` in order. Side-effect-free."""
    return ClusterNetwork(
        cluster=cluster,
        netns=naming.cluster_netns(cluster),
        nodes=tuple(
            NodeNetwork(
                index=i,
                name=name,
                netns=naming.node_netns(cluster, i),
                ip=naming.node_ip(i),
                pod_cidr=naming.pod_cidr(pod_subnet, i),
            )
            for i, name in enumerate(node_names)
        ),
    )


def list_netns(prefix: str = naming.NETNS_PREFIX) -> list[str]:
    """Names under /run/netns starting with ``prefix``, sorted."""
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if name.startswith(prefix))


# After ``svclab-NAME-``: the cluster network, a node index, or a pod (node agent).
_OWN_SUFFIX = re.compile(r"net|\d+|p[0-9a-f]{8}")


def cluster_namespaces(cluster: str) -> list[str]:
    """The namespaces of ``cluster``: ``svclab-NAME-net``, ``-<i>`` and ``-p<hex>``.

    Matching the suffix, not only the prefix, keeps cluster ``a`` away from
    cluster ``a-b``'s ``svclab-a-b-net``.
    """
    prefix = naming.cluster_netns_prefix(cluster)
    return [name for name in list_netns(prefix) if _OWN_SUFFIX.fullmatch(name[len(prefix) :])]


def _ensure_netns(name: str) -> None:
    if name not in list_netns(name):
        create_netns(name)


def _write_sysctls(namespace: str, sysctls: dict[str, str]) -> None:
    """Write sysctls inside ``namespace``: /proc/sys/net reflects the reader's netns."""
    from svclab.testbed.local.nsexec import in_netns

    with in_netns(namespace):
        for key, value in sysctls.items():
            Path("/proc/sys", key).write_text(value)


def _ensure_link(ipr: IPRoute, ifname: str, **spec: object) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        ipr.link("add", ifname=ifname, **spec)
        found = ipr.link_lookup(ifname=ifname)
    return int(found[0])


def _ensure_addr(ipr: IPRoute, index: int, address: str, prefixlen: int) -> None:
    try:
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
    except Exception as exc:  # pyroute2 NetlinkError; EEXIST means already done
        if getattr(exc, "code", None) != errno.EEXIST:
            raise


def _ensure_route(ipr: IPRoute, dst: str, gateway: str) -> None:
    ipr.route("replace", dst=dst, gateway=gateway)


def _open(namespace: str) -> IPRoute:
    # Made inside the namespace, the handle stays there (no helper process, and
    # a missing namespace is an error, never created by accident).
    with in_netns(namespace):
        return IPRoute()


def _build_cluster_bridge(net: ClusterNetwork) -> None:
    _ensure_netns(net.netns)
    with _open(net.netns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        bridge = _ensure_link(ipr, naming.CLUSTER_BRIDGE, kind="bridge")
        _ensure_addr(ipr, bridge, naming.CLUSTER_GATEWAY, naming.CLUSTER_PREFIXLEN)
        ipr.link("set", index=bridge, state="up")


def _build_node(net: ClusterNetwork, node: NodeNetwork) -> None:
    _ensure_netns(node.netns)
    uplink = f"node{node.index}"
    with _open(net.netns) as ipr:
        if not ipr.link_lookup(ifname=uplink):
            ipr.link("add", ifname=uplink, kind="veth", peer={"ifname": NODE_UPLINK, "net_ns_fd": node.netns})
        index = ipr.link_lookup(ifname=uplink)[0]
        ipr.link("set", index=index, master=ipr.link_lookup(ifname=naming.CLUSTER_BRIDGE)[0], state="up")
    with _open(node.netns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        eth0 = ipr.link_lookup(ifname=NODE_UPLINK)[0]
        _ensure_addr(ipr, eth0, node.ip, naming.CLUSTER_PREFIXLEN)
        ipr.link("set", index=eth0, state="up")
        cni0 = _ensure_link(ipr, POD_BRIDGE, kind="bridge")
        _ensure_addr(ipr, cni0, node.pod_gateway, ipaddress.ip_network(node.pod_cidr).prefixlen)
        ipr.link("set", index=cni0, state="up")
        for other in net.nodes:
            if other.index != node.index:
                _ensure_route(ipr, other.pod_cidr, other.ip)
        _ensure_route(ipr, "default", naming.CLUSTER_GATEWAY)
    _write_sysctls(node.netns, NODE_SYSCTLS)


def create_network(net: ClusterNetwork) -> None:
    """Create (or complete) the whole topology; safe to call again."""
    _build_cluster_bridge(net)
    for node in net.nodes:
        _build_node(net, node)


def pids_in_netns(names: list[str]) -> list[int]:
    """Processes whose network namespace is one of ``names`` (by inode)."""
    inodes = set()
    for name in names:
        try:
            inodes.add(os.stat(os.path.join(NETNS_RUN_DIR, name)).st_ino)
        except FileNotFoundError:
            continue
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                    pids.append(int(entry))
            except OSError:
                continue  # exited meanwhile, or a kernel thread
    return sorted(pids)


def remove_netns(name: str) -> None:
    """Remove one namespace; a missing one is fine."""
    try:
        delete_netns(name)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def teardown(cluster: str) -> list[str]:
    """Kill what still runs in the cluster's namespaces, then remove them all.

    Covers ``cluster_namespaces``: the cluster network, the nodes and the pods.
    Processes found inside them were started for this cluster (pods, agents,
    proxies); they get SIGKILL by PID. Returns the removed names; idempotent.
    """
    names = cluster_namespaces(cluster)
    for pid in pids_in_netns(names):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for name in names:
        remove_netns(name)
    return names
