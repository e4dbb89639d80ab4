"""Builds proxiers through their real constructors with fake executors injected."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import IPFamily

if TYPE_CHECKING:
    from svclab.proxy.adapters.testing.nft import FakeNft
    from svclab.proxy.ipvs.proxier import IpvsProxier
    from svclab.proxy.ipvs.testing import IpvsFakes
    from svclab.proxy.nftables.proxier import NftablesProxier
    from svclab.proxy.userspace.proxier import UserspaceProxier

from .builders import TEST_NODE, TEST_NODE_IP, TEST_NODE_IPS, TEST_NODE_OPTIONS, overall_scenario


class ManualClock:
    """A clock tests advance by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def iptables_proxier(**plan: object) -> tuple[Proxier, IptablesProxier, FakeIptables]:
    fake = FakeIptables()
    backend = IptablesProxier(fake, PlanOptions(**{"node": TEST_NODE_OPTIONS, "nfacct": True, **plan}))  # type: ignore[arg-type]
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock()))
    return proxier, backend, fake


def load_overall(proxier: Proxier, family: IPFamily = IPFamily.IPV4) -> None:
    services, slices = overall_scenario(family)
    for svc in services:
        proxier.on_service(None, svc)
    for eps in slices:
        proxier.on_endpoint_slice(eps)


Subject = TypeVar("Subject", bound=tuple[Proxier, object, object])


async def synced_overall(build: Callable[[], Subject]) -> Subject:
    """A (proxier, backend, fake) from ``build`` after one sync of the overall scenario."""
    subject = build()
    load_overall(subject[0])
    await subject[0].sync()
    return subject


def age(backend: NftablesProxier, seconds: float = 2.0) -> None:
    """Let ``seconds`` pass on the backend's clock (upstream's ``ageStaleChains``)."""
    clock = backend.clock
    assert isinstance(clock, ManualClock)
    clock.now += seconds


def nftables_proxier() -> tuple[Proxier, NftablesProxier, FakeNft]:
    from svclab.proxy.adapters.testing.nft import FakeNft
    from svclab.proxy.nftables.plan import TABLE, NftOptions
    from svclab.proxy.nftables.proxier import NftablesProxier

    fake = FakeNft(TABLE)
    clock = ManualClock()  # one clock: tests age the backend's stale chains with it
    backend = NftablesProxier(
        fake,
        NftOptions(node=TEST_NODE_OPTIONS, service_cidrs=("172.30.0.0/16",), node_port_ips=(TEST_NODE_IP,)),
        clock=clock,
    )
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=clock))
    return proxier, backend, fake


def ipvs_proxier() -> tuple[Proxier, IpvsProxier, IpvsFakes]:
    """NodePort virtual servers on every node IP, as in the ipvs golden plan."""
    from svclab.proxy.ipvs.plan import IpvsOptions
    from svclab.proxy.ipvs.testing import IpvsFakes

    fakes = IpvsFakes()
    backend = fakes.backend(IpvsOptions(node=TEST_NODE_OPTIONS, node_port_ips=TEST_NODE_IPS))
    return Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock())), backend, fakes


def userspace_proxier() -> tuple[Proxier, UserspaceProxier, FakeIptables]:
    """Proxy sockets on 127.0.0.1 (kernel-chosen ports, NodePorts not claimed); close them afterwards."""
    from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

    fake = FakeIptables()
    options = UserspaceOptions(node=TEST_NODE_OPTIONS, listen_ip="127.0.0.1", claim_node_ports=False)
    backend = UserspaceProxier(fake, options)
    return Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock())), backend, fake
