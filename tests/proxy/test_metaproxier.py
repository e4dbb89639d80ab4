"""Dual-stack: which families a node runs, the MetaProxier's dispatch, and ``svclab proxy`` over both.

Address plan: see ``builders.py`` (IPv4: upstream's; IPv6: its ``V6`` twin);
a dual-stack Service carries ClusterIPs 172.30.0.41 and fd00:172:30::41.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import pytest
from lightkube.models.core_v1 import NodeAddress, NodeStatus
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node

from svclab.kube.testing import FakeClient
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.command import add_arguments
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.metaproxier import MetaProxier, family_node_options
from svclab.proxy.provider import Provider, Proxier, ProxierOptions
from svclab.proxy.service import serve
from svclab.proxy.service_port import IPFamily

from .builders import TEST_NODE, TEST_NODE_OPTIONS, TEST_NODE_OPTIONS_V6, endpoint, endpoint_slice, service, until
from .helpers import ManualClock

V4, V6 = IPFamily.IPV4, IPFamily.IPV6


@pytest.mark.parametrize(
    "node_ips,supported,runs,skipped",
    [
        (("192.168.0.2",), (V4, V6), [V4], [V6]),
        (("2001:db8::2",), (V4, V6), [V6], [V4]),
        (("192.168.0.2", "2001:db8::2"), (V4, V6), [V4, V6], []),
        (("2001:db8::2", "192.168.0.2"), (V4, V6), [V6, V4], []),  # the first address is the primary family
        (("192.168.0.2", "2001:db8::2"), (V4,), [V4], [V6]),  # a mode that only programs IPv4
        ((), (V4, V6), [V4], []),  # addresses unknown: IPv4 as before dual-stack, nothing to say
    ],
    ids=["v4-only", "v6-only", "dual", "dual-v6-primary", "mode-v4-only", "unknown"],
)
def test_family_node_options(
    node_ips: tuple[str, ...], supported: tuple[IPFamily, ...], runs: list[IPFamily], skipped: list[IPFamily]
) -> None:
    run, skip = family_node_options(node_ips, cluster_cidrs="10.0.0.0/8,fd00:10::/32", supported=supported)
    assert [o.family for o in run] == runs
    assert [f for f, _ in skip] == skipped
    for opts in run:
        assert all(opts.family.owns(ip) for ip in opts.node_ips)
        assert opts.cluster_cidr == ("10.0.0.0/8" if opts.family is V4 else "fd00:10::/32")


def dual_service() -> object:
    svc = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0), protocol="UDP")
    svc.spec.clusterIPs = ["172.30.0.41", "fd00:172:30::41"]
    svc.spec.ipFamilies = ["IPv4", "IPv6"]
    return svc


def dual_slices(v4: str = "10.180.0.1", v6: str = "fd00:10:180::1") -> list[object]:
    return [
        endpoint_slice("ns1", "svc1", endpoint(v4), protocol="UDP", suffix="v4"),
        endpoint_slice("ns1", "svc1", endpoint(v6), protocol="UDP", suffix="v6", address_type="IPv6"),
    ]


def dual_meta() -> tuple[MetaProxier, FakeIptables, FakeIptables]:
    fakes = FakeIptables(), FakeIptables()
    proxiers = [
        Proxier(
            IptablesProxier(fake, PlanOptions(node=opts)),
            ProxierOptions(TEST_NODE, family=opts.family, clock=ManualClock()),
        )
        for fake, opts in zip(fakes, (TEST_NODE_OPTIONS, TEST_NODE_OPTIONS_V6), strict=True)
    ]
    return MetaProxier(proxiers), *fakes


def dnat_targets(fake: FakeIptables) -> list[str]:
    return sorted(
        r.split()[-1]
        for c, rules in fake.tables["nat"].items()
        if c.startswith("KUBE-SEP-")
        for r in rules
        if "DNAT" in r
    )


async def test_meta_proxier_sends_each_family_its_own_objects() -> None:
    meta, v4, v6 = dual_meta()
    assert isinstance(meta, Provider)
    meta.on_service(None, dual_service())
    for eps in dual_slices():
        meta.on_endpoint_slice(eps)
    await meta.sync()
    assert dnat_targets(v4) == ["10.180.0.1:80"] and dnat_targets(v6) == ["[fd00:10:180::1]:80"]
    cluster_ips = [r for r in v6.tables["nat"]["KUBE-SERVICES"] if "cluster IP" in r]
    assert len(cluster_ips) == 1 and "-d fd00:172:30::41 " in cluster_ips[0]


async def test_serve_runs_a_proxier_per_family_with_conntrack_per_family() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--hostname-override", TEST_NODE, "--min-sync-period", "0"])
    client = FakeClient()
    addresses = [NodeAddress(type="InternalIP", address=ip) for ip in ("192.168.0.2", "2001:db8::2")]
    client.seed(
        Node(metadata=ObjectMeta(name=TEST_NODE), status=NodeStatus(addresses=addresses)),
        dual_service(),
        *dual_slices(),
    )
    v4, v6 = FakeIptables(), FakeIptables()
    backends = {
        V4: IptablesProxier(v4, PlanOptions(node=TEST_NODE_OPTIONS)),
        V6: IptablesProxier(v6, PlanOptions(node=TEST_NODE_OPTIONS_V6)),
    }
    ran: list[Sequence[str]] = []

    def conntrack(cmd: Sequence[str]) -> int:
        ran.append(list(cmd))
        return 0

    task = asyncio.create_task(
        serve(args, client=client, backends=backends, conntrack_runner=conntrack, serve_http=False)
    )
    try:
        assert await until(
            lambda: dnat_targets(v4) == ["10.180.0.1:80"] and dnat_targets(v6) == ["[fd00:10:180::1]:80"]
        )
        await client.delete(type(dual_slices()[1]), "svc1-v6", namespace="ns1")
        assert await until(lambda: dnat_targets(v6) == [])
        assert dnat_targets(v4) == ["10.180.0.1:80"]
        stale_v6 = [cmd for cmd in ran if "fd00:10:180::1" in cmd]
        assert stale_v6 and all(cmd[-2:] == ["-f", "ipv6"] for cmd in stale_v6)
        assert not [cmd for cmd in ran if "-f" in cmd and "10.180.0.1" in cmd]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_skipped_families_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A family without a node address, or one the mode cannot program (an IPv4-only mode), is said
    once in the log; every built-in mode programs both families."""
    import dataclasses
    import logging

    from svclab.proxy import modes
    from svclab.proxy.service import _family_options

    v4_only = modes.register(dataclasses.replace(modes.get("iptables"), name="v4-only", families=(V4,)))
    args = argparse.Namespace(cluster_cidr="10.0.0.0/8,fd00:10::/32", masquerade_all=False)
    try:
        with caplog.at_level(logging.INFO, logger="svclab.proxy.service"):
            assert [o.family for o in _family_options(args, "iptables", ("192.168.0.2",))] == [V4]
            assert [o.family for o in _family_options(args, "v4-only", ("192.168.0.2", "2001:db8::2"))] == [V4]
            assert [o.family for o in _family_options(args, "ipvs", ("192.168.0.2", "2001:db8::2"))] == [V4, V6]
    finally:
        modes.unregister(v4_only.name)
    assert [r.getMessage() for r in caplog.records] == [
        "event=family_skipped family=IPv6 mode=iptables reason='node has no IPv6 InternalIP'",
        "event=running stack=single-stack primary_family=IPv4",
        "event=family_skipped family=IPv6 mode=v4-only reason='the proxy mode cannot program IPv6'",
        "event=running stack=single-stack primary_family=IPv4",
        "event=running stack=dual-stack primary_family=IPv4",
    ]


def test_a_family_without_usable_iptables_falls_back_to_single_stack(caplog: pytest.LogCaptureFixture) -> None:
    """Upstream's platformCheckSupported: no ip6tables here means the dual-stack node runs IPv4 only,
    and says why once; the IPv6 family is never built."""
    import dataclasses
    import logging

    from svclab.proxy import modes
    from svclab.proxy.service import _family_options

    def no_ip6tables(family: IPFamily) -> str | None:
        return "ip6tables: No such file or directory" if family is V6 else None

    probed = modes.register(dataclasses.replace(modes.get("iptables"), name="no-ip6", family_unusable=no_ip6tables))
    args = argparse.Namespace(cluster_cidr="10.0.0.0/8,fd00:10::/32", masquerade_all=False)
    try:
        with caplog.at_level(logging.INFO, logger="svclab.proxy.service"):
            run = _family_options(args, "no-ip6", ("192.168.0.2", "2001:db8::2"))
    finally:
        modes.unregister(probed.name)
    assert [o.family for o in run] == [V4]
    assert [r.getMessage() for r in caplog.records] == [
        "event=family_skipped family=IPv6 mode=no-ip6 "
        "reason='no iptables support for family: ip6tables: No such file or directory'",
        "event=running stack=single-stack primary_family=IPv4",
    ]


def test_without_the_primary_familys_iptables_the_proxy_cannot_run() -> None:
    from svclab.proxy.metaproxier import PrimaryFamilyUnsupported

    with pytest.raises(PrimaryFamilyUnsupported, match="no support for primary IP family IPv6: ip6tables: gone"):
        family_node_options(("2001:db8::2", "192.168.0.2"), unusable={V6: "ip6tables: gone"})
    run, skipped = family_node_options(("192.168.0.2",), unusable={V6: "ip6tables: gone"})
    assert [o.family for o in run] == [V4]
    assert skipped == [(V6, "node has no IPv6 InternalIP")]


@pytest.mark.parametrize("mode", ["iptables", "ipvs", "userspace"])
def test_iptables_based_modes_probe_each_family_and_nftables_assumes_both(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from svclab.proxy import modes
    from svclab.proxy.adapters import iptables as adapter

    asked: list[str] = []
    monkeypatch.setattr(adapter.subprocess, "run", lambda argv, **_: asked.append(argv[0]) or _failed())
    spec = modes.get(mode)
    assert spec.family_unusable(V6) is not None and spec.family_unusable(V4) is not None
    assert [name.removesuffix("-legacy") for name in asked] == ["ip6tables", "iptables"]
    assert modes.get("nftables").family_unusable(V6) is None


def _failed() -> object:
    import subprocess

    return subprocess.CompletedProcess([], 3, "", "can't initialize ip6tables table `nat'")


def test_the_proxy_says_why_it_cannot_run_its_primary_family(caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses
    import logging

    from svclab.proxy import modes
    from svclab.proxy.service import _family_options

    broken = modes.register(
        dataclasses.replace(modes.get("iptables"), name="no-iptables", family_unusable=lambda f: "iptables: gone")
    )
    try:
        with caplog.at_level(logging.INFO, logger="svclab.proxy.service"):
            assert _family_options(argparse.Namespace(), "no-iptables", ("192.168.0.2", "2001:db8::2")) == []
    finally:
        modes.unregister(broken.name)
    assert [r.getMessage() for r in caplog.records] == [
        "event=unsupported mode=no-iptables error='no support for primary IP family IPv4: iptables: gone'"
    ]
