"""nftables proxier against the fake: transactions, partial syncs, packet flows.

Address plan: see ``builders.py`` (upstream conventions).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.proxy.adapters.errors import NftError
from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.adapters.testing.trace_nft import NftTracer
from svclab.proxy.nftables.plan import TABLE

from ..builders import TEST_NODE, endpoint, endpoint_slice, service
from ..helpers import age, load_overall, nftables_proxier, synced_overall
from .test_plan_golden import canonical


async def test_fake_table_after_first_sync_is_upstreams(golden_dir: Path) -> None:
    _proxier, _, fake = await synced_overall(nftables_proxier)
    want = canonical((golden_dir / "nftables" / "overall.nft").read_text().splitlines())
    assert canonical(fake.dump()) == want


async def test_endpoint_move_touches_only_that_service() -> None:
    proxier, backend, fake = await synced_overall(nftables_proxier)
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    await proxier.sync()
    tx = backend.last_transaction
    assert all("ns1/svc1" in line for line in tx), tx
    assert "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80" in tx
    old_chain = "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert f"flush chain ip kube-proxy {old_chain}" in tx  # emptied now, deleted a sync later
    assert not any(line.startswith("delete chain") for line in tx)
    assert NftTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.9:80"
    await proxier.sync()
    assert backend.last_transaction == []  # idle sync: nothing sent
    assert fake.model.chains[old_chain] == ("", [])  # not a second old yet
    age(backend)
    await proxier.sync()
    assert backend.last_transaction == [] and old_chain not in fake.model.chains


async def test_service_without_endpoints_then_with() -> None:
    proxier, _, fake = nftables_proxier()
    proxier.on_service(None, service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)))
    await proxier.sync()
    assert NftTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "REJECT"
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1", node=TEST_NODE)))
    await proxier.sync()
    assert NftTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80"


async def test_deleting_service_removes_its_objects() -> None:
    proxier, backend, fake = await synced_overall(nftables_proxier)
    svc5 = service(
        "ns5",
        "svc5",
        "172.30.0.45",
        ("p80", 80, 3002),
        type="LoadBalancer",
        lb_ip="5.6.7.8",
        loadBalancerSourceRanges=["203.0.113.0/25"],
        affinity_seconds=10800,
    )
    proxier.on_service(svc5, None)
    await proxier.sync()
    left = [line for line in fake.dump() if "ns5/svc5" in line or "172.30.0.45" in line]
    assert left and all(line.startswith("add chain ") for line in left)  # emptied, not yet deleted
    age(backend)
    await proxier.sync()
    assert not [line for line in fake.dump() if "ns5/svc5" in line or "172.30.0.45" in line]


async def test_failure_forces_full_sync_and_stale_objects_go() -> None:
    proxier, backend, fake = await synced_overall(nftables_proxier)
    fake.run("add chain ip kube-proxy service-AAAAAAAA-old/svc/tcp/p\n")
    fake.fail_next = True
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    with pytest.raises(NftError):
        await proxier.sync()
    assert backend.need_full_sync
    await proxier.sync()
    assert fake.model.chains["service-AAAAAAAA-old/svc/tcp/p"] == ("", [])
    age(backend)
    await proxier.sync()
    assert "service-AAAAAAAA-old/svc/tcp/p" not in fake.model.chains
    assert NftTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.9:80"


def test_fake_rejects_dangling_references() -> None:
    fake = FakeNft(TABLE)
    with pytest.raises(NftError, match="missing chain"):
        fake.run("add table ip kube-proxy\nadd chain ip kube-proxy a\nadd rule ip kube-proxy a goto b\n")
    assert fake.dump() == []  # atomic: nothing applied


async def test_rule_count_tracks_the_table() -> None:
    proxier, _, fake = nftables_proxier()
    load_overall(proxier)
    first = await proxier.sync()
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9"), endpoint("10.180.0.8")))
    second = await proxier.sync()
    in_table = sum(len(rules) for _, rules in fake.model.chains.values())
    assert second.rules_by_table["kube-proxy"] == in_table == first.rules_by_table["kube-proxy"] + 2


async def test_a_deleted_table_is_rebuilt_without_any_change_arriving() -> None:
    proxier, backend, fake = await synced_overall(nftables_proxier)
    assert not backend.rules_missing()
    fake.delete_table()
    assert backend.rules_missing()
    report = await proxier.sync()
    assert report.full
    assert NftTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80"


async def test_a_flushed_table_counts_as_missing() -> None:
    _proxier, backend, fake = await synced_overall(nftables_proxier)
    for name, (declaration, _rules) in list(fake.model.chains.items()):
        fake.model.chains[name] = (declaration, [])
    assert backend.rules_missing()
