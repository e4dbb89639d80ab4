"""A big nftables full sync split into bounded transactions (``svclab.proxy.nftables.batches``).

Pure checks of the split (the union is the single transaction, each
transaction applies on its own, no service port is cut in two, the budget
holds), then the packet view through the fake: while a live table is
resynced from one state to another, every packet after every transaction
meets either its old path or its new one. Address plan: see ``builders.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.adapters.testing.trace_nft import NftTracer
from svclab.proxy.nftables.base import assemble
from svclab.proxy.nftables.batches import full_sync_transactions
from svclab.proxy.nftables.plan import TABLE, NftRuleset, NftServiceRules
from svclab.proxy.nftables.proxier import NftablesProxier, transaction
from svclab.proxy.plan_cache import sorted_plans

from ..builders import TEST_NODE, TEST_NODE_IP, endpoint, endpoint_slice, service
from ..helpers import load_overall, nftables_proxier, synced_overall

#: a chain and an affinity set left in the table by an earlier state
STALE_CHAINS = ("service-AAAAAAAA-old/svc/tcp/p",)
STALE_SETS = ("affinity-AAAAAAAA-old/svc/tcp/p__10.1.1.1/80",)


async def _overall_plan() -> tuple[NftablesProxier, NftRuleset, list[NftServiceRules]]:
    _, backend, _ = await synced_overall(nftables_proxier)
    services = sorted_plans(backend._cache)
    return backend, assemble(services, backend.options), services


def _as_add_rules(lines: Sequence[str]) -> list[str]:
    """``add chain P NAME { R1 ; R2 ; }`` spelled as ``add rule P NAME R1``, ``add rule P NAME R2``."""
    out = []
    for line in lines:
        head, brace, body = line.partition(" { ")
        if line.startswith("add chain ") and brace and not body.startswith(("type ", "comment ")):
            rules = body.removesuffix(" ; }").split(" ; ")
            out += [head.replace("add chain ", "add rule ", 1) + " " + rule for rule in rules]
        else:
            out.append(line)
    return out


@pytest.mark.parametrize("budget", [1, 12, 40, 10_000])
async def test_the_transactions_together_are_the_single_transaction(budget: int) -> None:
    _, ruleset, services = await _overall_plan()
    txs = full_sync_transactions(ruleset, services, STALE_CHAINS, STALE_SETS, line_budget=budget)
    single = transaction(ruleset, None, STALE_CHAINS, STALE_SETS)
    assert Counter(_as_add_rules([line for tx in txs for line in tx])) == Counter(single)
    assert len(txs) == 3 if budget == 10_000 else len(txs) > 3  # base, service groups, dispatch


@pytest.mark.parametrize("budget", [1, 12, 40])
async def test_each_transaction_applies_alone_in_order(budget: int) -> None:
    """The fake rejects a rule naming a missing chain or set, and an element naming a missing chain."""
    _, ruleset, services = await _overall_plan()
    fake = FakeNft(TABLE)
    for tx in full_sync_transactions(ruleset, services, line_budget=budget):
        fake.run("\n".join(tx) + "\n")
    single = FakeNft(TABLE)
    single.run("\n".join(transaction(ruleset, None)) + "\n")
    assert fake.dump() == single.dump()


async def test_a_service_port_is_never_cut_and_the_budget_holds() -> None:
    _, ruleset, services = await _overall_plan()
    budget = 40
    groups = [_as_add_rules(tx) for tx in full_sync_transactions(ruleset, services, line_budget=budget)[1:-1]]
    for svc in services:
        holding = {i for i, tx in enumerate(groups) for line in tx for name, _ in svc.chains if name in line.split()}
        assert len(holding) <= 1, f"{svc.chains[0][0]} spread over transactions {holding}"
    sizes = [len(g) for g in groups]
    port_sizes = {len(svc.chains) * 2 + sum(len(r) for _, r in svc.chains) + len(svc.sets) for svc in services}
    assert all(size <= budget or size in port_sizes for size in sizes), sizes  # only a lone big port exceeds it
    assert 1 < len(groups) < len(services)  # ports are packed together up to the budget


async def test_maps_change_only_in_the_last_transaction() -> None:
    _, ruleset, services = await _overall_plan()
    txs = full_sync_transactions(ruleset, services, STALE_CHAINS, STALE_SETS, line_budget=12)
    for tx in txs[:-1]:
        assert not [line for line in tx if line.startswith(("add element", "flush map", "flush set", "delete"))]
    assert f"flush chain ip {TABLE} {STALE_CHAINS[0]}" in txs[-1]
    assert not [line for line in txs[-1] if line.startswith(("add rule", "add chain"))]


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="line_budget"):
        full_sync_transactions(NftRuleset(), [], line_budget=0)


def _flows() -> list[tuple[str, str, int]]:
    """(source, destination, port): pod and outside clients to every VIP and NodePort of both states."""
    vips = [f"172.30.0.{n}" for n in range(41, 48)] + ["1.2.3.4", "5.6.7.8", "192.168.99.22", "192.168.99.33"]
    flows = [(src, vip, 80) for vip in vips for src in ("10.0.0.2", "203.0.113.7")]
    return flows + [("203.0.113.7", TEST_NODE_IP, port) for port in (3001, 3002, 3003, 3004)]


def _verdicts(fake: FakeNft, flows: Sequence[tuple[str, str, int]]) -> list[str]:
    tracer = NftTracer(fake, (TEST_NODE_IP,))
    return [tracer(src, dst, port).verdict for src, dst, port in flows]


class _Recording(FakeNft):
    """A ``FakeNft`` that traces every flow after each transaction it applies."""

    flows: Sequence[tuple[str, str, int]] = ()
    seen: list[list[str]]

    def run(self, transaction: str) -> None:
        super().run(transaction)
        self.seen.append(_verdicts(self, self.flows))


async def test_a_packet_meets_its_old_or_its_new_path_between_transactions() -> None:
    """A full resync of a live table, split in many transactions, while Services change under it."""
    proxier, backend, _ = nftables_proxier()
    recording = _Recording(TABLE)
    recording.flows, recording.seen = _flows(), []
    backend.executor = recording
    load_overall(proxier)
    await proxier.sync()
    before = _verdicts(recording, recording.flows)
    # the new state: svc1's endpoint moves, svc3 goes, svc7 arrives, svc6 gets an endpoint
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    proxier.on_service(service("ns3", "svc3", "172.30.0.43", ("p80", 80, 3003), type="NodePort"), None)
    proxier.on_service(None, service("ns7", "svc7", "172.30.0.47", ("p80", 80, 3004), type="NodePort"))
    proxier.on_endpoint_slice(endpoint_slice("ns7", "svc7", endpoint("10.180.0.7", node=TEST_NODE)))
    proxier.on_endpoint_slice(endpoint_slice("ns6", "svc6", endpoint("10.180.0.6")))
    backend.need_full_sync, backend.full_sync_line_budget = True, 8
    recording.seen = []
    await proxier.sync()
    after = _verdicts(recording, recording.flows)
    assert len(backend.last_transactions) > 4 and len(recording.seen) == len(backend.last_transactions)
    assert before != after
    for step, verdicts in enumerate(recording.seen):
        for flow, old, new, now in zip(recording.flows, before, after, verdicts, strict=True):
            assert now in (old, new), f"after transaction {step}, {flow}: {now!r}, neither {old!r} nor {new!r}"
    assert recording.seen[-1] == after


async def test_a_full_sync_splits_only_past_its_budget() -> None:
    proxier, backend, fake = await synced_overall(nftables_proxier)
    assert len(backend.last_transactions) == 1
    want = fake.dump()
    backend.need_full_sync, backend.full_sync_line_budget = True, 20
    await proxier.sync()
    assert len(backend.last_transactions) > 3 and fake.dump() == want
