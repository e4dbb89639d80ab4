"""Real-kernel check of the nftables mode: its transactions load into nft, partial and full syncs apply.

Runs only as root, inside a throwaway network namespace (the ``netns`` fixture
of ``tests/proxy/conftest.py``), deleted afterwards. Never touches the root
namespace. Address plan: see ``builders.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from svclab.proxy.adapters.nft import SubprocessNft
from svclab.proxy.nftables.plan import NftOptions
from svclab.proxy.nftables.proxier import NftablesProxier
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_IP, TEST_NODE_OPTIONS, TEST_NODE_OPTIONS_V6, endpoint, endpoint_slice
from ..helpers import ManualClock, load_overall

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"),
]


def _in_ns(ns: str, *cmd: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not shutil.which("nft"), reason="no nft")
async def test_nftables_transactions_load(netns: str) -> None:
    executor = SubprocessNft("kube-proxy", prefix=("ip", "netns", "exec", netns))
    clock = ManualClock()
    backend = NftablesProxier(
        executor,
        NftOptions(node=TEST_NODE_OPTIONS, service_cidrs=("172.30.0.0/16",), node_port_ips=(TEST_NODE_IP,)),
        clock=clock,
    )
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=clock))
    load_overall(proxier)
    await proxier.sync()
    listing = _in_ns(netns, "nft", "list", "table", "ip", "kube-proxy")
    assert "service-ULMVA6XW-ns1/svc1/tcp/p80" in listing
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    await proxier.sync()
    old = "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert "10.180.0.9:80" in _in_ns(netns, "nft", "list", "table", "ip", "kube-proxy")
    assert "10.180.0.1:80" not in _in_ns(netns, "nft", "list", "chain", "ip", "kube-proxy", old)  # flushed
    clock.now += 2  # the stale chain is deleted, in a transaction of its own, by the next sync
    await proxier.sync()
    assert old not in _in_ns(netns, "nft", "list", "table", "ip", "kube-proxy")
    backend.need_full_sync = True  # a full sync over an existing table must work too
    await proxier.sync()
    backend.cleanup()
    assert "kube-proxy" not in _in_ns(netns, "nft", "list", "tables")


@pytest.mark.skipif(not shutil.which("nft"), reason="no nft")
@pytest.mark.parametrize("outsider", [("delete", "table", "ip", "kube-proxy"), ("flush", "table", "ip", "kube-proxy")])
async def test_a_deleted_or_flushed_table_is_noticed_and_rebuilt(netns: str, outsider: tuple[str, ...]) -> None:
    executor = SubprocessNft("kube-proxy", prefix=("ip", "netns", "exec", netns))
    backend = NftablesProxier(
        executor,
        NftOptions(node=TEST_NODE_OPTIONS, service_cidrs=("172.30.0.0/16",), node_port_ips=(TEST_NODE_IP,)),
    )
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock()))
    load_overall(proxier)
    await proxier.sync()
    assert not proxier.check_rules()
    _in_ns(netns, "nft", *outsider)
    assert proxier.check_rules()  # no event arrived: only the check can tell
    report = await proxier.sync()
    assert report.full
    service_ips = _in_ns(netns, "nft", "list", "map", "ip", "kube-proxy", "service-ips")
    assert "goto service-ULMVA6XW-ns1/svc1/tcp/p80" in service_ips
    assert not proxier.check_rules()
    backend.cleanup()


@pytest.mark.skipif(not shutil.which("nft"), reason="no nft")
async def test_ipv6_table_loads(netns: str, golden_dir: Path) -> None:
    """The IPv6 proxier programs ``ip6 kube-proxy`` (and no ``ip`` table); ``nft -c`` accepts our
    IPv6 overall golden; partial syncs and cleanup work on the IPv6 table."""
    golden = (golden_dir / "nftables" / "overall-ipv6.nft").read_text()
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-c", "-f", "-"], input=golden, text=True, check=True)
    executor = SubprocessNft("kube-proxy", family="ip6", prefix=("ip", "netns", "exec", netns))
    clock = ManualClock()
    options = NftOptions(
        node=TEST_NODE_OPTIONS_V6, service_cidrs=("fd00:172:30::/112",), node_port_ips=TEST_NODE_OPTIONS_V6.node_ips
    )
    backend = NftablesProxier(executor, options, clock=clock)
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, family=IPFamily.IPV6, clock=clock))
    load_overall(proxier, IPFamily.IPV6)
    await proxier.sync()
    listing = _in_ns(netns, "nft", "list", "table", "ip6", "kube-proxy")
    assert "dnat to [fd00:10:180::1]:80" in listing and "ip6 saddr != fd00:10::/32" in listing
    assert "table ip kube-proxy" not in _in_ns(netns, "nft", "list", "tables")
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("fd00:10:180::9"), address_type="IPv6"))
    await proxier.sync()
    assert "[fd00:10:180::9]:80" in _in_ns(netns, "nft", "list", "table", "ip6", "kube-proxy")
    clock.now += 2
    await proxier.sync()
    backend.cleanup()
    assert "kube-proxy" not in _in_ns(netns, "nft", "list", "tables")


@pytest.mark.skipif(not shutil.which("nft"), reason="no nft")
async def test_a_split_full_sync_lists_as_the_single_transaction(netns: str) -> None:
    """The kernel holds the same table after one transaction as after many (``batches``, budget 1:
    one service port each), on an empty node and when a live table is resynced."""
    listings = []
    for budget in (10_000, 1):
        clock = ManualClock()
        backend = NftablesProxier(
            SubprocessNft("kube-proxy", prefix=("ip", "netns", "exec", netns)),
            NftOptions(node=TEST_NODE_OPTIONS, service_cidrs=("172.30.0.0/16",), node_port_ips=(TEST_NODE_IP,)),
            clock=clock,
            full_sync_line_budget=budget,
        )
        proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=clock))
        try:
            load_overall(proxier)
            await proxier.sync()
            fresh = _in_ns(netns, "nft", "list", "table", "ip", "kube-proxy")
            proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
            backend.need_full_sync = True
            await proxier.sync()
            transactions = len(backend.last_transactions)
            listings.append((fresh, _in_ns(netns, "nft", "list", "table", "ip", "kube-proxy"), transactions > 1))
        finally:
            backend.cleanup()
    assert [split for *_, split in listings] == [False, True]
    assert listings[0][:2] == listings[1][:2]
    assert "10.180.0.9:80" in listings[1][1]
