"""The explain core against the packet tracers: the same flows, the same answers, on every mode.

Each mode syncs upstream's overall scenario into its fakes through its real
backend (``tests/proxy/helpers.py``); the fakes are dumped in the node
tools' formats (``dumps.py``) and explained, and for every row of
``tests/proxy/test_flows.py``'s table the endpoints the explanation names
(or its REJECT/DROP, or nothing) and whether any endpoint sees the node's
address must be what the tracer over the fakes says. The tracer is the
oracle: it was written against upstream's packet-flow tests. The IPv6 twin
of the table (``FLOWS_V6``) is explained the same way over each mode's IPv6
proxier: ``ip6tables-save``, ``KUBE-6-`` ipsets, the ``ip6 kube-proxy``
table. Address plan: ``tests/proxy/test_flows.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest

from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.adapters.testing.trace import PacketTracer
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.adapters.testing.trace_nft import NftTracer
from svclab.proxy.explain import (
    Explanation,
    Outcome,
    Probe,
    explain_iptables,
    explain_ipvs,
    explain_nftables,
    explain_userspace,
)
from svclab.proxy.ipvs.testing import IpvsFakes
from svclab.proxy.userspace.proxier import UserspaceProxier
from svclab.proxy.userspace.testing import portal_tracer

from ..builders import TEST_NODE_IP_V6, TEST_NODE_IPS
from ..helpers import (
    iptables_proxier,
    ipvs_proxier,
    load_overall,
    nftables_proxier,
    synced_overall,
    userspace_proxier,
)
from ..test_flows import FLOWS, FLOWS_V6, IPV6_MODES, Flow, synced_v6
from .dumps import ipset_save, iptables_save, ipvsadm_save

Explain = Callable[[Probe], Explanation]


def _probe(flow: Flow, local: frozenset[str]) -> Probe:
    from_node = flow.src in local or flow.src.startswith("127.")
    return Probe(flow.src, flow.dst, flow.port, "tcp", from_node, local)


@pytest.fixture(params=["iptables", "nftables", "ipvs", "userspace"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PacketTracer, Explain, frozenset[str]]]:
    """(the tracer over the mode's fakes, an explainer over their dumps, the node's addresses)."""
    mode: str = request.param
    local = frozenset(TEST_NODE_IPS)
    if mode == "iptables":
        _, _, iptables = await synced_overall(iptables_proxier)
        save = iptables_save(iptables)
        yield (
            NetfilterTracer(iptables, TEST_NODE_IPS),
            lambda p: explain_iptables(save, p, service="s", node="n"),
            local,
        )
    elif mode == "nftables":
        _, _, nft = await synced_overall(nftables_proxier)
        listing = "\n".join(nft.dump())
        yield NftTracer(nft, TEST_NODE_IPS), lambda p: explain_nftables(listing, p, service="s", node="n"), local
    elif mode == "ipvs":
        _, _, fakes = await synced_overall(ipvs_proxier)
        texts = (iptables_save(fakes.iptables), ipset_save(fakes.ipset), ipvsadm_save(fakes.ipvs))
        local = local | fakes.ipvs.addresses()
        yield fakes.tracer(TEST_NODE_IPS), lambda p: explain_ipvs(*texts, p, service="s", node="n"), local
    else:
        proxier, backend, fake = userspace_proxier()
        try:
            load_overall(proxier)
            await proxier.sync()
            save, served = iptables_save(fake), json.loads(json.dumps(backend.debug_state()))
            explain: Explain = lambda p: explain_userspace(save, served, p, service="s", node="n")  # noqa: E731
            yield portal_tracer(backend, fake, TEST_NODE_IPS), explain, local
        finally:
            backend.close_sockets()


def _as_trace(explanation: Explanation) -> tuple[str, bool]:
    if explanation.outcome in (Outcome.REJECT, Outcome.DROP):
        return explanation.outcome.value.upper(), False
    if explanation.outcome is Outcome.UNTOUCHED:
        return "", False
    return ", ".join(explanation.endpoints()), any(c.masquerade for c in explanation.choices)


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: flow.name)
async def test_explanation_names_what_the_tracer_finds(
    subject: tuple[PacketTracer, Explain, frozenset[str]], flow: Flow
) -> None:
    trace, explain, local = subject
    oracle = trace(flow.src, flow.dst, flow.port)
    assert _as_trace(explain(_probe(flow, local))) == (oracle.verdict, oracle.masquerade)


@pytest.fixture(params=IPV6_MODES)
async def subject_v6(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PacketTracer, Explain, frozenset[str]]]:
    """Like ``subject``, over the mode's IPv6 proxier (``test_flows.synced_v6``)."""
    tracer, backend, fake = await synced_v6(request.param)
    local = frozenset({TEST_NODE_IP_V6})
    try:
        if isinstance(fake, FakeNft):
            listing = "\n".join(fake.dump())
            yield tracer, lambda p: explain_nftables(listing, p, service="s", node="n"), local
        elif isinstance(fake, IpvsFakes):
            texts = (iptables_save(fake.iptables), ipset_save(fake.ipset), ipvsadm_save(fake.ipvs))
            yield tracer, lambda p: explain_ipvs(*texts, p, service="s", node="n"), local | fake.ipvs.addresses()
        elif isinstance(backend, UserspaceProxier):
            save, served = iptables_save(fake), json.loads(json.dumps(backend.debug_state()))
            yield tracer, lambda p: explain_userspace(save, served, p, service="s", node="n"), local
        else:
            save = iptables_save(fake)
            yield tracer, lambda p: explain_iptables(save, p, service="s", node="n"), local
    finally:
        if isinstance(backend, UserspaceProxier):
            backend.close_sockets()


@pytest.mark.parametrize("flow", FLOWS_V6, ids=lambda flow: flow.name)
async def test_ipv6_explanation_names_what_the_tracer_finds(
    subject_v6: tuple[PacketTracer, Explain, frozenset[str]], flow: Flow
) -> None:
    trace, explain, local = subject_v6
    oracle = trace(flow.src, flow.dst, flow.port)
    from_node = flow.src in local or flow.src == "::1"
    probe = Probe(flow.src, flow.dst, flow.port, "tcp", from_node, local)
    assert _as_trace(explain(probe)) == (oracle.verdict, oracle.masquerade)


def test_an_ipv6_destination_is_printed_bracketed() -> None:
    from svclab.proxy.explain import render_text

    probe = Probe("fd00:10::2", "fd00:172:30::41", 80, "tcp", False, frozenset())
    text = render_text(Explanation("iptables", "s", "n", probe, Outcome.UNTOUCHED, ()))
    assert "packet fd00:10::2 -> [fd00:172:30::41]:80/tcp" in text
