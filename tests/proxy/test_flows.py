"""One table of packet flows through upstream's overall scenario, traced on every mode.

Each mode syncs ``overall_scenario()`` into its fakes through its real
backend; the same tracer call (``PacketTracer``: the adapters' netfilter and
nft tracers over the fakes) then follows each row's packet. A row says where
upstream's iptables and nftables tests send the packet; ``differs`` names the
modes that legitimately send it elsewhere, each with why. The userspace
proxy dials every endpoint from the node itself, so everything it delivers
reaches the endpoint with the node's address (``masquerade``).

Address plan (``builders.py``, upstream ``proxier_test.go`` conventions):
pod IPs 10.0.0.0/8 (endpoints 10.180.0.0/16, 10.180.0.5 on this node),
ClusterIPs 172.30.0.41-46, this node 192.168.0.2 (also 192.168.1.2 and
192.168.99.11), external IPs 192.168.99.22/.33, LoadBalancer IPs 1.2.3.4
(ETP Local) and 5.6.7.8 (source range 203.0.113.0/25), clients 203.0.113.2
(inside the range) and 203.0.113.130 (outside), NodePorts 3001-3003.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import pytest

from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.adapters.testing.trace import PacketTracer
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.adapters.testing.trace_nft import NftTracer
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.ipvs.plan import IpvsOptions
from svclab.proxy.ipvs.testing import IpvsFakes
from svclab.proxy.modes import mode_names
from svclab.proxy.nftables.plan import TABLE, NftOptions
from svclab.proxy.nftables.proxier import NftablesProxier
from svclab.proxy.provider import ModeBackend, Proxier, ProxierOptions
from svclab.proxy.service_port import IPFamily
from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier
from svclab.proxy.userspace.testing import portal_tracer

from .builders import (
    EXTERNAL_CLIENT,
    EXTERNAL_CLIENT_BLOCKED,
    TEST_NODE,
    TEST_NODE_IP,
    TEST_NODE_IP_V6,
    TEST_NODE_IPS,
    TEST_NODE_OPTIONS_V6,
    V6,
)
from .helpers import (
    ManualClock,
    iptables_proxier,
    ipvs_proxier,
    load_overall,
    nftables_proxier,
    synced_overall,
    userspace_proxier,
)

#: modes whose endpoints always see the node's address (a proxy dialling them)
ALWAYS_MASQUERADED = {"userspace"}
#: ETP Local is not honoured: ipvs falls back to every endpoint when none is local (kubernetes#97081),
#: userspace predates the field and balances external traffic like its ClusterIP
NO_LOCAL_ENDPOINT_FALLBACK = {"ipvs": ("10.180.0.2:80", False), "userspace": ("10.180.0.2:80", True)}


@dataclass(frozen=True, slots=True)
class Flow:
    """A new connection and where it ends up: ``"REJECT"``, ``"DROP"``, endpoints, or ``""`` (not ours)."""

    name: str
    src: str
    dst: str
    port: int
    verdict: str
    masquerade: bool
    differs: Mapping[str, tuple[str, bool]] = field(default_factory=dict)

    def expected(self, mode: str) -> tuple[str, bool]:
        verdict, masquerade = self.differs.get(mode, (self.verdict, self.masquerade))
        if mode in ALWAYS_MASQUERADED and verdict not in ("", "DROP", "REJECT"):
            masquerade = True
        return verdict, masquerade


FLOWS = [
    Flow("pod to cluster IP", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80", False),
    Flow("external to cluster IP", EXTERNAL_CLIENT, "172.30.0.41", 80, "10.180.0.1:80", True),
    Flow(
        "hairpin",
        "10.180.0.1",
        "172.30.0.41",
        80,
        "10.180.0.1:80",
        True,
        # ipvs masquerades hairpin traffic only for local endpoints (KUBE-LOOP-BACK); 10.180.0.1 is remote
        {"ipvs": ("10.180.0.1:80", False)},
    ),
    Flow("two endpoints", "10.0.0.2", "172.30.0.44", 80, "10.180.0.4:80, 10.180.0.5:80", False),
    Flow("no endpoints rejects", "10.0.0.2", "172.30.0.46", 80, "REJECT", False),
    Flow("external to nodeport", EXTERNAL_CLIENT, TEST_NODE_IP, 3003, "10.180.0.3:80", True),
    Flow("external IP, cluster policy", EXTERNAL_CLIENT, "192.168.99.33", 80, "10.180.0.4:80, 10.180.0.5:80", True),
    Flow("ETP Local, no local endpoints", EXTERNAL_CLIENT, "1.2.3.4", 80, "DROP", False, NO_LOCAL_ENDPOINT_FALLBACK),
    Flow(
        "ETP Local nodeport, no local endpoints",
        EXTERNAL_CLIENT,
        TEST_NODE_IP,
        3001,
        "DROP",
        False,
        NO_LOCAL_ENDPOINT_FALLBACK,
    ),
    Flow("ETP Local, pod short-circuit", "10.0.0.2", "1.2.3.4", 80, "10.180.0.2:80", False),
    Flow(
        "ETP Local, from the node",
        TEST_NODE_IP,
        "1.2.3.4",
        80,
        "10.180.0.2:80",
        True,
        # ipvs returns from KUBE-LOAD-BALANCER-LOCAL before marking; the node's address is routable anyway
        {"ipvs": ("10.180.0.2:80", False)},
    ),
    Flow("LB source range allowed", EXTERNAL_CLIENT, "5.6.7.8", 80, "10.180.0.3:80", True),
    Flow(
        "LB source range blocked",
        EXTERNAL_CLIENT_BLOCKED,
        "5.6.7.8",
        80,
        "DROP",
        False,
        {"userspace": ("10.180.0.3:80", True)},  # the historic mode had no loadBalancerSourceRanges
    ),
    Flow(
        "wrong port of a cluster IP",
        "10.0.0.2",
        "172.30.0.41",
        81,
        "",
        False,
        # nftables' cluster-ips-check and ipvs' KUBE-IPVS-FILTER reject it; iptables and userspace let it be
        {"nftables": ("REJECT", False), "ipvs": ("REJECT", False)},
    ),
    Flow(
        "localhost nodeport",
        "127.0.0.1",
        "127.0.0.1",
        3003,
        "10.180.0.3:80",
        True,
        # only the iptables-based portals accept NodePorts on 127.0.0.1 (upstream's nftables and ipvs do not)
        {"nftables": ("", False), "ipvs": ("", False)},
    ),
]


@pytest.fixture(params=["iptables", "nftables", "ipvs", "userspace"])
async def traced(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, PacketTracer]]:
    """A mode (the parameter) after one sync of the overall scenario, and its tracer."""
    mode: str = request.param
    if mode == "iptables":
        _, _, iptables = await synced_overall(iptables_proxier)
        yield mode, NetfilterTracer(iptables, TEST_NODE_IPS)
    elif mode == "nftables":
        _, _, nft = await synced_overall(nftables_proxier)
        yield mode, NftTracer(nft, TEST_NODE_IPS)
    elif mode == "ipvs":
        _, _, fakes = await synced_overall(ipvs_proxier)
        yield mode, fakes.tracer(TEST_NODE_IPS)
    else:
        proxier, backend, fake = userspace_proxier()
        try:
            load_overall(proxier)
            await proxier.sync()
            yield mode, portal_tracer(backend, fake, TEST_NODE_IPS)
        finally:
            backend.close_sockets()


def test_every_builtin_mode_is_traced() -> None:
    assert set(mode_names()) == {"iptables", "nftables", "ipvs", "userspace"}


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: flow.name)
async def test_packet_flows(traced: tuple[str, PacketTracer], flow: Flow) -> None:
    mode, trace = traced
    result = trace(flow.src, flow.dst, flow.port)
    assert (result.verdict, result.masquerade) == flow.expected(mode)


# -- the same table over IPv6 (issue 18) -------------------------------------------------------
#: the addresses the IPv4 rows use beyond builders.V6: a pod client, the host's loopback
FLOW_V6 = {**V6, "10.0.0.2": "fd00:10::2", "127.0.0.1": "::1"}
#: modes with an IPv6 proxier: every built-in one
IPV6_MODES = ("iptables", "nftables", "ipvs", "userspace")


def _v6_endpoints(verdict: str) -> str:
    if verdict in ("", "DROP", "REJECT"):
        return verdict
    return ", ".join(f"[{FLOW_V6[ep.rsplit(':', 1)[0]]}]:80" for ep in verdict.split(", "))


def _v6_flow(flow: Flow) -> Flow:
    """The IPv4 row with every address swapped for its twin; IPv6 has no localhost NodePorts."""
    verdict, masquerade = _v6_endpoints(flow.verdict), flow.masquerade
    differs = {mode: (_v6_endpoints(v), m) for mode, (v, m) in flow.differs.items() if mode in IPV6_MODES}
    if flow.src == "127.0.0.1":
        # upstream's iptables: "localhost NodePorts are not supported on IPv6"; the historic userspace
        # portals DNAT the node's own NodePort traffic, ::1 included, to its proxy socket on the node IP
        differs["userspace"] = (verdict, masquerade)
        verdict, masquerade = "", False
    return Flow(flow.name, FLOW_V6[flow.src], FLOW_V6[flow.dst], flow.port, verdict, masquerade, differs)


FLOWS_V6 = [_v6_flow(flow) for flow in FLOWS]


async def synced_v6(mode: str) -> tuple[PacketTracer, ModeBackend, FakeIptables | FakeNft | IpvsFakes]:
    """An IPv6 proxier of ``mode`` after one sync of the overall scenario's IPv6 twin: its tracer,
    backend (close a userspace one's sockets) and fake(s)."""
    node_ips = (TEST_NODE_IP_V6,)
    fake: FakeIptables | FakeNft | IpvsFakes
    if mode == "iptables":
        fake = FakeIptables()
        backend: ModeBackend = IptablesProxier(fake, PlanOptions(node=TEST_NODE_OPTIONS_V6, nfacct=True))
        tracer: PacketTracer = NetfilterTracer(fake, node_ips)
    elif mode == "userspace":
        fake = FakeIptables()
        options = UserspaceOptions(node=TEST_NODE_OPTIONS_V6, listen_ip="::1", claim_node_ports=False)
        backend = userspace = UserspaceProxier(fake, options)
        tracer = portal_tracer(userspace, fake, node_ips)
    elif mode == "ipvs":
        fake = IpvsFakes()
        backend = fake.backend(IpvsOptions(node=TEST_NODE_OPTIONS_V6, node_port_ips=node_ips))
        tracer = fake.tracer(node_ips)
    else:
        fake = FakeNft(TABLE, family="ip6")
        options = NftOptions(node=TEST_NODE_OPTIONS_V6, service_cidrs=("fd00:172:30::/112",), node_port_ips=node_ips)
        backend = NftablesProxier(fake, options, clock=ManualClock())
        tracer = NftTracer(fake, node_ips)
    proxier = Proxier(backend, ProxierOptions(TEST_NODE, family=IPFamily.IPV6, clock=ManualClock()))
    load_overall(proxier, IPFamily.IPV6)
    await proxier.sync()
    return tracer, backend, fake


@pytest.fixture(params=IPV6_MODES)
async def traced_v6(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, PacketTracer]]:
    """An IPv6 proxier of the mode (the parameter) after one sync of the overall scenario's IPv6 twin."""
    mode: str = request.param
    tracer, backend, _ = await synced_v6(mode)
    try:
        yield mode, tracer
    finally:
        if isinstance(backend, UserspaceProxier):
            backend.close_sockets()


@pytest.mark.parametrize("flow", FLOWS_V6, ids=lambda flow: flow.name)
async def test_packet_flows_over_ipv6(traced_v6: tuple[str, PacketTracer], flow: Flow) -> None:
    mode, trace = traced_v6
    result = trace(flow.src, flow.dst, flow.port)
    assert (result.verdict, result.masquerade) == flow.expected(mode)
