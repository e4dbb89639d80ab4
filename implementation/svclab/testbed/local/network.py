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

A dual-stack cluster (issue 18) gets the same again in IPv6 on the same links
(an IPv6-only one gets only the IPv6 half on the nodes; br0 keeps its IPv4 address):
br0 ``fc00:f853:ccd:e793::1/64``, node i ``fc00:f853:ccd:e793::(2+i)/64`` on
eth0, cni0 ``<node's IPv6 pod /64>::1``, a route to each other node's IPv6 pod
/64 via that node, and an IPv6 default route to br0. Every IPv6 address is added
with ``nodad``: duplicate address detection would keep it tentative (unusable)
for about two seconds, and these addresses are unique by construction. IPv6
forwarding is switched on per node namespace; the cluster namespace keeps it off.

``plan_network`` is pure; ``create_network`` and ``teardown`` are idempotent.
Nothing here touches the root namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import signal
import socket
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
    "node_routes",
    "pids_in_netns",
    "plan_network",
    "remove_netns",
    "teardown",
]

NODE_UPLINK = "eth0"  # in the node namespace, on the cluster bridge
POD_BRIDGE = "cni0"  # in the node namespace, the pods' bridge (kindnet/ptp-like)
NODE_SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/ipv6/conf/all/disable_ipv6": "0",
    "net/ipv6/conf/all/forwarding": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
    "net/ipv4/conf/all/route_localnet": "1",  # kube-proxy sets it for NodePorts on 127.0.0.1
}
# Written before any link exists in a node namespace, so the links made later inherit
# them: no DAD for link-local addresses either (nodad only covers the ones we add).
NODE_DEFAULT_SYSCTLS = {
    "net/ipv6/conf/default/disable_ipv6": "0",
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/all/accept_dad": "0",
}
IFA_F_NODAD = 0x02  # linux/if_addr.h: skip duplicate address detection


@dataclass(frozen=True, slots=True)
class NodeNetwork:
    index: int
    name: str
    netns: str
    ips: tuple[str, ...]  # on the cluster bridge, one per family, primary first
    pod_cidrs: tuple[str, ...]  # in the same family order

    @property
    def ip(self) -> str:
        """The primary family's address."""
        return self.ips[0]

    @property
    def pod_cidr(self) -> str:
        """The primary family's pod CIDR."""
        return self.pod_cidrs[0]

    @property
    def pod_gateway(self) -> str:
        """cni0's primary address: the first address of the primary pod CIDR."""
        return self.pod_gateways[0]

    @property
    def pod_gateways(self) -> tuple[str, ...]:
        """cni0's addresses, the first address of each pod CIDR."""
        return tuple(str(ipaddress.ip_network(cidr).network_address + 1) for cidr in self.pod_cidrs)


@dataclass(frozen=True, slots=True)
class ClusterNetwork:
    cluster: str
    netns: str
    nodes: tuple[NodeNetwork, ...]


def plan_network(cluster: str, node_names: list[str], pod_subnet: str) -> ClusterNetwork:
    """The addresses and namespaces for ``node_names`` in order, one address and pod
    CIDR per family of the (possibly dual) ``pod_subnet``. Side-effect-free."""
    return ClusterNetwork(
        cluster=cluster,
        netns=naming.cluster_netns(cluster),
        nodes=tuple(
            NodeNetwork(
                index=i,
                name=name,
                netns=naming.node_netns(cluster, i),
                ips=naming.node_ips(pod_subnet, i),
                pod_cidrs=naming.pod_cidrs(pod_subnet, i),
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
    # IPv6 without DAD: usable at once instead of tentative for ~2 s (see the module doc).
    flags = {"flags": IFA_F_NODAD} if ":" in address else {}
    try:
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen, **flags)
    except Exception as exc:  # pyroute2 NetlinkError; EEXIST means already done
        if getattr(exc, "code", None) != errno.EEXIST:
            raise


def _ensure_route(ipr: IPRoute, dst: str, gateway: str) -> None:
    family = socket.AF_INET6 if ":" in gateway else socket.AF_INET
    ipr.route("replace", dst=dst, gateway=gateway, family=family)


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
        if any(_has_ipv6(node) for node in net.nodes):
            _ensure_addr(ipr, bridge, naming.CLUSTER_GATEWAY6, naming.CLUSTER_PREFIXLEN6)
        ipr.link("set", index=bridge, state="up")


def _has_ipv6(node: NodeNetwork) -> bool:
    return any(":" in ip for ip in node.ips)


def _cluster_prefixlen(address: str) -> int:
    return naming.CLUSTER_PREFIXLEN6 if ":" in address else naming.CLUSTER_PREFIXLEN


def _build_node(net: ClusterNetwork, node: NodeNetwork) -> None:
    created = node.netns not in list_netns(node.netns)
    _ensure_netns(node.netns)
    if created and _has_ipv6(node):
        _write_sysctls(node.netns, NODE_DEFAULT_SYSCTLS)  # before the veth end moves in
    uplink = f"node{node.index}"
    with _open(net.netns) as ipr:
        if not ipr.link_lookup(ifname=uplink):
            ipr.link("add", ifname=uplink, kind="veth", peer={"ifname": NODE_UPLINK, "net_ns_fd": node.netns})
        index = ipr.link_lookup(ifname=uplink)[0]
        ipr.link("set", index=index, master=ipr.link_lookup(ifname=naming.CLUSTER_BRIDGE)[0], state="up")
    with _open(node.netns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        eth0 = ipr.link_lookup(ifname=NODE_UPLINK)[0]
        for ip in node.ips:
            _ensure_addr(ipr, eth0, ip, _cluster_prefixlen(ip))
        ipr.link("set", index=eth0, state="up")
        cni0 = _ensure_link(ipr, POD_BRIDGE, kind="bridge")
        for gateway, cidr in zip(node.pod_gateways, node.pod_cidrs, strict=True):
            _ensure_addr(ipr, cni0, gateway, ipaddress.ip_network(cidr).prefixlen)
        ipr.link("set", index=cni0, state="up")
        for dst, via in node_routes(net, node):
            _ensure_route(ipr, dst, via)
    _write_sysctls(node.netns, NODE_SYSCTLS if _has_ipv6(node) else _IPV4_SYSCTLS)


# An IPv4-only node keeps exactly the sysctls it always had.
_IPV4_SYSCTLS = {key: value for key, value in NODE_SYSCTLS.items() if not key.startswith("net/ipv6/")}


def node_routes(net: ClusterNetwork, node: NodeNetwork) -> list[tuple[str, str]]:
    """``node``'s routes as (destination, gateway): each other node's pod CIDRs via
    that node's address of the same family, then a default route per family to br0.
    Side-effect-free."""
    routes: list[tuple[str, str]] = []
    for other in net.nodes:
        if other.index != node.index:
            routes.extend(zip(other.pod_cidrs, other.ips, strict=True))
    for ip in node.ips:
        if ":" in ip:
            routes.append(("::/0", naming.CLUSTER_GATEWAY6))
        else:
            routes.append(("default", naming.CLUSTER_GATEWAY))
    return routes


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
