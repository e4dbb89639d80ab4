"""The local cluster: network on real namespaces (root only), naming, layout and supervisor.

Address plan (cluster ``tnNNNN``, 2 nodes, pod subnet 10.244.0.0/16):
  svclab-tnNNNN-net  br0 172.18.0.1/16
  svclab-tnNNNN-0    eth0 172.18.0.2/16, cni0 10.244.0.1/24, 10.244.1.0/24 via 172.18.0.3
  svclab-tnNNNN-1    eth0 172.18.0.3/16, cni0 10.244.1.1/24, 10.244.0.0/24 via 172.18.0.2
Dual stack (cluster ``tdNNNN``, pod subnet 10.244.0.0/16,fd00:10:244::/56) adds:
  svclab-tdNNNN-net  br0 fc00:f853:ccd:e793::1/64
  svclab-tdNNNN-0    eth0 fc00:f853:ccd:e793::2/64, cni0 fd00:10:244::1/64,
                     fd00:10:244:1::/64 via fc00:f853:ccd:e793::3, default via ...::1
  svclab-tdNNNN-1    eth0 fc00:f853:ccd:e793::3/64, cni0 fd00:10:244:1::1/64
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from svclab.testbed.local import naming, network, nsexec
from svclab.testbed.local.record import ClusterInfo, choose_loopback_port, describe_cluster
from svclab.testbed.local.supervisor import Backoff, ChildSpec, Supervisor, plan_children
from svclab.testbed.spec import load_spec

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def test_node_names_follow_kind() -> None:
    assert naming.node_names("c", ["control-plane", "worker", "worker", "worker"]) == [
        "c-control-plane",
        "c-worker",
        "c-worker2",
        "c-worker3",
    ]


@pytest.mark.parametrize(
    ("subnet", "index", "expected"),
    [
        ("10.244.0.0/16", 0, "10.244.0.0/24"),
        ("10.244.0.0/16", 2, "10.244.2.0/24"),
        ("192.168.0.0/23", 1, "192.168.1.0/24"),
    ],
)
def test_pod_cidr_is_the_ith_slash24(subnet: str, index: int, expected: str) -> None:
    assert naming.pod_cidr(subnet, index) == expected


def test_pod_cidr_out_of_range() -> None:
    with pytest.raises(ValueError):
        naming.pod_cidr("192.168.0.0/23", 2)


DUAL_PODS = "10.244.0.0/16,fd00:10:244::/56"


@pytest.mark.parametrize(
    ("subnet", "index", "expected"),
    [
        pytest.param("fd00:10:244::/56", 0, "fd00:10:244::/64", id="first-64"),
        pytest.param("fd00:10:244::/56", 2, "fd00:10:244:2::/64", id="third-64"),
        pytest.param("fd00:10:244::/56", 255, "fd00:10:244:ff::/64", id="last-64-of-a-56"),
        pytest.param("2001:db8:0:100::/60", 15, "2001:db8:0:10f::/64", id="last-64-of-a-60"),
    ],
)
def test_ipv6_pod_cidr_is_the_ith_slash64(subnet: str, index: int, expected: str) -> None:
    # kube-controller-manager's --node-cidr-mask-size-ipv6 default: /64 per node, in order
    assert naming.pod_cidr(subnet, index) == expected


@pytest.mark.parametrize(("subnet", "index"), [("fd00:10:244::/56", 256), ("fd00:10:244::/64", 1), ("fd00::/72", 0)])
def test_ipv6_pod_cidr_out_of_range(subnet: str, index: int) -> None:
    with pytest.raises(ValueError):
        naming.pod_cidr(subnet, index)


def test_dual_node_addresses_and_pod_cidrs_keep_the_subnets_order() -> None:
    assert naming.node_ips(DUAL_PODS, 1) == ("172.18.0.3", "fc00:f853:ccd:e793::3")
    assert naming.pod_cidrs(DUAL_PODS, 1) == ("10.244.1.0/24", "fd00:10:244:1::/64")
    assert naming.node_ips("10.244.0.0/16", 0) == ("172.18.0.2",)  # single stack: one of each
    assert naming.pod_cidrs("10.244.0.0/16", 0) == ("10.244.0.0/24",)


def test_plan_dual_network_and_routes_per_family() -> None:
    net = network.plan_network("c", ["c-control-plane", "c-worker"], DUAL_PODS)
    first, second = net.nodes
    assert (second.ips, second.pod_cidrs, second.pod_gateways) == (
        ("172.18.0.3", "fc00:f853:ccd:e793::3"),
        ("10.244.1.0/24", "fd00:10:244:1::/64"),
        ("10.244.1.1", "fd00:10:244:1::1"),
    )
    assert (second.ip, second.pod_cidr, second.pod_gateway) == ("172.18.0.3", "10.244.1.0/24", "10.244.1.1")
    assert network.node_routes(net, first) == [
        ("10.244.1.0/24", "172.18.0.3"),
        ("fd00:10:244:1::/64", "fc00:f853:ccd:e793::3"),
        ("default", "172.18.0.1"),
        ("::/0", "fc00:f853:ccd:e793::1"),
    ]


@pytest.mark.parametrize(
    ("pods", "ips", "routes"),
    [
        pytest.param(
            "fd00:10:244::/56",
            ("fc00:f853:ccd:e793::3",),
            [("fd00:10:244::/64", "fc00:f853:ccd:e793::2"), ("::/0", "fc00:f853:ccd:e793::1")],
            id="ipv6-only",
        ),
        pytest.param(
            "fd00:10:244::/56,10.244.0.0/16",
            ("fc00:f853:ccd:e793::3", "172.18.0.3"),
            [
                ("fd00:10:244::/64", "fc00:f853:ccd:e793::2"),
                ("10.244.0.0/24", "172.18.0.2"),
                ("::/0", "fc00:f853:ccd:e793::1"),
                ("default", "172.18.0.1"),
            ],
            id="dual-ipv6-primary",
        ),
    ],
)
def test_ipv6_primary_plans(pods: str, ips: tuple[str, ...], routes: list[tuple[str, str]]) -> None:
    net = network.plan_network("c", ["c-control-plane", "c-worker"], pods)
    assert net.nodes[1].ips == ips
    assert network.node_routes(net, net.nodes[1]) == routes


def test_single_stack_routes_stay_ipv4() -> None:
    net = network.plan_network("c", ["c-control-plane", "c-worker"], "10.244.0.0/16")
    assert network.node_routes(net, net.nodes[1]) == [("10.244.0.0/24", "172.18.0.2"), ("default", "172.18.0.1")]


def test_plan_network() -> None:
    net = network.plan_network("c", ["c-control-plane", "c-worker"], "10.244.0.0/16")
    assert net.netns == "svclab-c-net"
    assert [(n.netns, n.ip, n.pod_cidr, n.pod_gateway) for n in net.nodes] == [
        ("svclab-c-0", "172.18.0.2", "10.244.0.0/24", "10.244.0.1"),
        ("svclab-c-1", "172.18.0.3", "10.244.1.0/24", "10.244.1.1"),
    ]


@pytest.fixture
def cluster_network() -> Iterator[network.ClusterNetwork]:
    name = f"tn{os.getpid() % 100000}"
    net = network.plan_network(name, [f"{name}-control-plane", f"{name}-worker"], "10.244.0.0/16")
    try:
        network.create_network(net)
        yield net
    finally:
        network.teardown(name)


def _run(node: network.NodeNetwork, *argv: str) -> str:
    return str(nsexec.run_in_netns(argv, node.netns, capture_output=True, text=True, check=True).stdout)


@needs_root
def test_topology_is_created_idempotently(cluster_network: network.ClusterNetwork) -> None:
    network.create_network(cluster_network)  # a second run completes nothing and fails nowhere
    first, second = cluster_network.nodes
    assert network.list_netns(naming.cluster_netns_prefix(cluster_network.cluster)) == sorted(
        [cluster_network.netns, first.netns, second.netns]
    )
    assert "172.18.0.2/16" in _run(first, "ip", "-br", "addr", "show", "eth0")
    assert "10.244.0.1/24" in _run(first, "ip", "-br", "addr", "show", "cni0")
    assert "10.244.1.0/24 via 172.18.0.3 dev eth0" in _run(first, "ip", "route")
    assert "default via 172.18.0.1" in _run(second, "ip", "route")
    assert _run(second, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert _run(second, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").strip() == "1"


@pytest.fixture
def dual_network() -> Iterator[network.ClusterNetwork]:
    name = f"td{os.getpid() % 100000}"
    net = network.plan_network(name, [f"{name}-control-plane", f"{name}-worker"], DUAL_PODS)
    try:
        network.create_network(net)
        yield net
    finally:
        network.teardown(name)


@needs_root
def test_dual_topology_has_both_families_usable_at_once(dual_network: network.ClusterNetwork) -> None:
    first, second = dual_network.nodes
    eth0 = _run(first, "ip", "-6", "addr", "show", "eth0")
    assert "fc00:f853:ccd:e793::2/64" in eth0 and "tentative" not in eth0  # nodad: no DAD wait
    assert "fd00:10:244::1/64" in _run(first, "ip", "-6", "addr", "show", "cni0")
    routes = _run(first, "ip", "-6", "route")
    assert "fd00:10:244:1::/64 via fc00:f853:ccd:e793::3 dev eth0" in routes
    assert "default via fc00:f853:ccd:e793::1 dev eth0" in routes
    assert _run(second, "cat", "/proc/sys/net/ipv6/conf/all/forwarding").strip() == "1"
    assert "10.244.0.0/24 via 172.18.0.2" in _run(second, "ip", "route")  # IPv4 as before
    with nsexec.socket_in_netns(first.netns, socket.AF_INET6) as server:
        server.bind((first.ips[1], 6443))
        server.listen()
        with nsexec.socket_in_netns(second.netns, socket.AF_INET6) as client:
            client.settimeout(5)
            client.connect((first.ips[1], 6443))
            peer, _ = server.accept()
            peer.close()
            assert client.getsockname()[0] == second.ips[1]


@needs_root
def test_ipv6_only_nodes_forward_ipv6_and_br0_is_their_gateway() -> None:
    name = f"t6{os.getpid() % 100000}"
    net = network.plan_network(name, [f"{name}-control-plane", f"{name}-worker"], "fd00:10:244::/56")
    try:
        network.create_network(net)
        node = net.nodes[1]
        assert _run(node, "cat", "/proc/sys/net/ipv6/conf/all/forwarding").strip() == "1"
        assert "172.18" not in _run(node, "ip", "-br", "addr", "show", "eth0")  # no IPv4 on the node
        bridge = nsexec.run_in_netns(["ip", "-6", "addr", "show", "br0"], net.netns, capture_output=True, text=True)
        assert "fc00:f853:ccd:e793::1/64" in bridge.stdout
    finally:
        network.teardown(name)


@needs_root
def test_nodes_reach_each_other_through_the_bridge(cluster_network: network.ClusterNetwork) -> None:
    first, second = cluster_network.nodes
    with nsexec.socket_in_netns(first.netns) as server:
        server.bind((first.ip, 6443))
        server.listen()
        with nsexec.socket_in_netns(second.netns) as client:
            client.settimeout(5)
            client.connect((first.ip, 6443))
            peer, _ = server.accept()
            peer.close()
            assert client.getsockname()[0] == second.ip
    # The caller's thread came back: 172.18.0.2 is not an address of the root namespace.
    with socket.socket() as probe, pytest.raises(OSError):
        probe.bind((first.ip, 0))


@needs_root
def test_child_gets_its_own_hostname(cluster_network: network.ClusterNetwork) -> None:
    node = cluster_network.nodes[1]
    child = nsexec.popen_in_netns(["hostname"], node.netns, hostname=node.name, stdout=subprocess.PIPE, text=True)
    assert child.communicate(timeout=5)[0].strip() == node.name
    assert socket.gethostname() != node.name


@needs_root
def test_teardown_kills_leftovers_and_is_idempotent(cluster_network: network.ClusterNetwork) -> None:
    leftover = nsexec.popen_in_netns(["sleep", "600"], cluster_network.nodes[0].netns)
    assert leftover.pid in network.pids_in_netns([cluster_network.nodes[0].netns])
    removed = network.teardown(cluster_network.cluster)
    assert len(removed) == 3
    assert leftover.wait(timeout=5) == -9
    assert network.teardown(cluster_network.cluster) == []
    assert network.list_netns(naming.cluster_netns_prefix(cluster_network.cluster)) == []


# --- cluster description and process plan (pure, no root) -------------------------------

REPO = Path(__file__).resolve().parents[3]


def _iptables_cluster(state: Path = Path("/run/svclab/iptables")) -> ClusterInfo:
    return describe_cluster(load_spec(REPO / "clusters" / "iptables.yaml"), state)


def test_describe_cluster_kind_style_nodes() -> None:
    info = _iptables_cluster()
    assert [(n.name, n.netns, n.ip, n.pod_cidr) for n in info.nodes] == [
        ("iptables-control-plane", "svclab-iptables-0", "172.18.0.2", "10.244.0.0/24"),
        ("iptables-worker", "svclab-iptables-1", "172.18.0.3", "10.244.1.0/24"),
        ("iptables-worker2", "svclab-iptables-2", "172.18.0.4", "10.244.2.0/24"),
    ]
    control_plane = info.nodes[0]
    assert dict(control_plane.labels) == {
        "topology.kubernetes.io/zone": "zone-a",
        "node-role.kubernetes.io/control-plane": "",
    }
    assert [t.flag() for t in control_plane.taints] == ["node-role.kubernetes.io/control-plane:NoSchedule"]
    assert info.nodes[1].taints == ()
    assert ClusterInfo.from_json(info.to_json()) == info


def test_describe_dual_cluster_gives_each_node_both_families() -> None:
    info = describe_cluster(load_spec(REPO / "clusters" / "dual-iptables.yaml"), Path("/run/svclab/dual-iptables"))
    assert [(n.ips, n.pod_cidrs) for n in info.nodes] == [
        (("172.18.0.2", "fc00:f853:ccd:e793::2"), ("10.244.0.0/24", "fd00:10:244::/64")),
        (("172.18.0.3", "fc00:f853:ccd:e793::3"), ("10.244.1.0/24", "fd00:10:244:1::/64")),
        (("172.18.0.4", "fc00:f853:ccd:e793::4"), ("10.244.2.0/24", "fd00:10:244:2::/64")),
    ]
    assert info.advertise_address == "172.18.0.2"  # the primary (IPv4) address
    assert ClusterInfo.from_json(info.to_json()) == info
    agent = next(c for c in plan_children(info, base=["svclab"]) if c.name == "node-agent-dual-iptables-worker")
    assert agent.argv[agent.argv.index("--node-ip") + 1] == "172.18.0.3,fc00:f853:ccd:e793::3"
    assert agent.argv[agent.argv.index("--pod-cidr") + 1] == "10.244.1.0/24,fd00:10:244:1::/64"
    single = _iptables_cluster()
    assert "secondaryIP" not in single.to_json()["nodes"][0]  # single-stack records stay as they were


def test_plan_children_places_each_process() -> None:
    info = _iptables_cluster()
    children = plan_children(info, base=["svclab"])
    by_name = {child.name: child for child in children}
    assert list(by_name) == [
        "apiserver",
        "scheduler",
        "controller-manager",
        "node-agent-iptables-control-plane",
        "proxy-iptables-control-plane",
        "node-agent-iptables-worker",
        "proxy-iptables-worker",
        "node-agent-iptables-worker2",
        "proxy-iptables-worker2",
    ]
    apiserver = by_name["apiserver"]
    assert apiserver.netns is None and not apiserver.needs_apiserver
    assert "svclab-iptables-0=172.18.0.2:6443" in apiserver.argv
    agent = by_name["node-agent-iptables-worker2"]
    assert agent.netns == "svclab-iptables-2" and agent.hostname == "iptables-worker2"
    assert agent.argv[agent.argv.index("--pod-cidr") + 1] == "10.244.2.0/24"
    assert agent.argv[agent.argv.index("--labels") + 1] == "topology.kubernetes.io/zone=zone-b"
    proxy = by_name["proxy-iptables-worker"]
    assert proxy.argv[1:5] == ("proxy", "--kubeconfig", "/run/svclab/iptables/kubeconfig.internal", "--mode")
    assert by_name["controller-manager"].netns == "svclab-iptables-0"
    assert "--no-mode-fallback" in proxy.argv  # no fallback asked for: the proxy refuses instead


def test_plan_children_publishes_components_as_mirror_pods_where_they_run() -> None:
    by_name = {child.name: child for child in plan_children(_iptables_cluster(), base=["svclab"])}

    def static_pods(node: str) -> str:
        argv = by_name[f"node-agent-{node}"].argv
        return argv[argv.index("--static-pods") + 1]

    assert static_pods("iptables-control-plane") == (
        "kube-apiserver=apiserver,kube-scheduler=scheduler,kube-controller-manager=controller-manager,"
        "kube-proxy=proxy-iptables-control-plane"
    )
    assert static_pods("iptables-worker2") == "kube-proxy=proxy-iptables-worker2"


def test_the_apiserver_keeps_its_recorded_loopback_port_across_restarts() -> None:
    # Chosen once at `svclab up` and recorded: every (re)start of the API server binds it,
    # so the scheduler's loopback kubeconfig stays valid (issue 15).
    info = describe_cluster(load_spec(REPO / "clusters" / "iptables.yaml"), Path("/x"), loopback_port=23456)
    assert ClusterInfo.from_json(info.to_json()).loopback_port == 23456
    apiserver = plan_children(info, base=["svclab"])[0]
    assert apiserver.argv[apiserver.argv.index("--listen") + 1] == "127.0.0.1:23456"
    legacy = info.to_json()
    del legacy["apiserver"]["loopbackPort"]
    assert ClusterInfo.from_json(legacy).loopback_port == 0  # a record from before: a free port each start


def test_choose_loopback_port_is_free_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = choose_loopback_port()
    assert 10000 <= port < low
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free indeed


def test_plan_children_lets_the_proxies_fall_back_when_the_spec_asks() -> None:
    info = describe_cluster(load_spec(REPO / "clusters" / "ipvs-fallback.yaml"), Path("/run/svclab/ipvs-fallback"))
    assert info.proxy_fallback == "iptables"
    assert ClusterInfo.from_json(info.to_json()) == info
    proxies = [child for child in plan_children(info, base=["svclab"]) if child.name.startswith("proxy-")]
    assert len(proxies) == 3
    for proxy in proxies:
        assert proxy.argv[proxy.argv.index("--mode") + 1] == "ipvs"
        assert "--no-mode-fallback" not in proxy.argv


def test_backoff_doubles_to_a_cap_and_resets_after_stable_run() -> None:
    backoff = Backoff()
    assert [backoff.next_delay(0.1) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(60.0) == 0.5


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_supervisor_restarts_a_crashed_child_after_backoff(tmp_path: Path) -> None:
    clock = FakeClock()
    info = _iptables_cluster(tmp_path)
    supervisor = Supervisor(
        info, [ChildSpec("crasher", ("false",), needs_apiserver=False), ChildSpec("waiter", ("true",))], clock=clock
    )
    supervisor.step()
    crasher, waiter = supervisor.children
    assert crasher.process is not None and waiter.process is None  # no API server yet
    crasher.process.wait()
    supervisor.step()
    assert crasher.process is None and crasher.restarts == 1
    supervisor.step()
    assert crasher.process is None  # backoff not over
    clock.now += 0.5
    supervisor.step()
    assert crasher.process is not None
    supervisor.stop_children(grace=5)
    log = (tmp_path / "logs" / "crasher.log").read_text()
    assert "crasher exited with 1; restarting in 0.5s" in log


def test_supervisor_stops_children_with_sigterm(tmp_path: Path) -> None:
    supervisor = Supervisor(_iptables_cluster(tmp_path), [ChildSpec("sleeper", ("sleep", "60"), needs_apiserver=False)])
    supervisor.step()
    process = supervisor.children[0].process
    assert process is not None
    supervisor.stop_children(grace=5)
    assert process.returncode == -15
