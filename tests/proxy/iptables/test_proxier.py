"""iptables proxier against the fake: partial syncs, stale chains, canary, packet flows.

Address plan: see ``builders.py`` (upstream conventions).
"""

from __future__ import annotations

import pytest

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.iptables.plan import endpoint_chain_name, service_chain_name
from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName

from ..builders import TEST_NODE, endpoint, endpoint_slice, service
from ..helpers import iptables_proxier, load_overall, synced_overall


def spn(ns: str, name: str, port: str = "p80") -> ServicePortName:
    return ServicePortName(ServiceName(ns, name), port, Protocol.TCP)


def test_hash_vectors() -> None:
    assert service_chain_name("KUBE-SVC-", spn("ns1", "svc1")) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert endpoint_chain_name(spn("ns1", "svc1"), "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"


async def test_first_sync_installs_jumps_canaries_and_rules() -> None:
    proxier, _backend, fake = iptables_proxier()
    load_overall(proxier)
    report = await proxier.sync()
    assert report.full
    assert "KUBE-SVC-XPGD46QRK7WJZT7O" in fake.tables["nat"]
    assert all(fake.chain_exists(t, "KUBE-PROXY-CANARY") for t in ("mangle", "nat", "filter"))
    assert any("-j KUBE-SERVICES" in r for r in fake.tables["nat"]["PREROUTING"])
    assert report.rules_by_table["nat"] == fake.count_rules("nat") - 3  # minus the 3 jump rules


async def test_endpoint_move_rewrites_only_that_service() -> None:
    proxier, backend, fake = await synced_overall(iptables_proxier)
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    report = await proxier.sync()
    assert not report.full
    text = backend.last_restore
    assert ":KUBE-SERVICES" not in text  # only endpoints moved
    assert ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]" in text
    assert "-X KUBE-SEP-SXIVWICOYRO3J4NJ" in text
    assert "KUBE-SVC-4SW47YFZTEDKD3PK" not in text
    assert "KUBE-SEP-SXIVWICOYRO3J4NJ" not in fake.tables["nat"]
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.9:80"


async def test_losing_all_endpoints_turns_into_reject_and_deletes_chains() -> None:
    proxier, _backend, fake = await synced_overall(iptables_proxier)
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1")), removed=True)
    await proxier.sync()
    assert "KUBE-SVC-XPGD46QRK7WJZT7O" not in fake.tables["nat"]
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "REJECT"


async def test_deleted_service_goes_and_nothing_else_changes() -> None:
    proxier, backend, fake = iptables_proxier()
    svc = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0))
    proxier.on_service(None, svc)
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1")))
    await proxier.sync()
    proxier.on_service(svc, None)
    await proxier.sync()
    assert not [c for c in fake.tables["nat"] if c.startswith(("KUBE-SVC", "KUBE-SEP"))]
    await proxier.sync()
    assert backend.chains_touched == 0  # an idle sync asks the kernel for nothing


async def test_flush_is_detected_by_the_canary() -> None:
    proxier, backend, fake = await synced_overall(iptables_proxier)
    fake.flush_all()
    report = await proxier.sync()
    assert report.full
    assert backend.need_full_sync is False
    assert "KUBE-SVC-XPGD46QRK7WJZT7O" in fake.tables["nat"]
    assert fake.chain_exists("mangle", "KUBE-PROXY-CANARY")


async def test_failed_restore_forces_full_resync() -> None:
    proxier, backend, fake = await synced_overall(iptables_proxier)
    fake.fail_next_restore = True
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    with pytest.raises(IptablesRestoreError):
        await proxier.sync()
    assert backend.need_full_sync
    await proxier.sync()
    assert ":KUBE-SERVICES - [0:0]" in backend.last_restore
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.9:80"


async def test_full_sync_deletes_stale_chains_left_in_the_kernel() -> None:
    proxier, _backend, fake = iptables_proxier()
    fake.tables["nat"]["KUBE-SVC-AAAAAAAAAAAAAAAA"] = ["-j RETURN"]
    fake.tables["nat"]["OTHER-CHAIN"] = []
    await proxier.sync()
    assert "KUBE-SVC-AAAAAAAAAAAAAAAA" not in fake.tables["nat"]
    assert "OTHER-CHAIN" in fake.tables["nat"]


async def test_internal_traffic_policy_local_uses_svl_chain() -> None:
    proxier, _, fake = iptables_proxier()
    proxier.on_service(None, service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0), internalTrafficPolicy="Local"))
    proxier.on_endpoint_slice(
        endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"), endpoint("10.180.0.2", node=TEST_NODE))
    )
    await proxier.sync()
    assert service_chain_name("KUBE-SVL-", spn("ns1", "svc1")) in fake.tables["nat"]
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.2:80"


async def test_terminating_endpoints_are_a_fallback_only() -> None:
    proxier, _, fake = iptables_proxier()
    proxier.on_service(None, service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)))
    proxier.on_endpoint_slice(
        endpoint_slice(
            "ns1",
            "svc1",
            endpoint("10.180.0.1", ready=False, serving=True, terminating=True),
            endpoint("10.180.0.2", ready=False, serving=False),
        )
    )
    await proxier.sync()
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80"
    proxier.on_endpoint_slice(
        endpoint_slice(
            "ns1", "svc1", endpoint("10.180.0.1", ready=False, serving=True, terminating=True), endpoint("10.180.0.3")
        )
    )
    await proxier.sync()
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.3:80"


async def test_udp_endpoint_removal_is_reported_for_conntrack() -> None:
    proxier, _, _ = iptables_proxier()
    proxier.on_service(None, service("ns1", "dns", "172.30.0.10", ("dns", 53, 0), protocol="UDP"))
    first = await proxier.sync()
    proxier.on_endpoint_slice(endpoint_slice("ns1", "dns", endpoint("10.180.0.1"), port=("dns", 53), protocol="UDP"))
    second = await proxier.sync()
    assert "172.30.0.10" in second.stale_udp_cluster_ips and not first.stale_udp_endpoints
    proxier.on_endpoint_slice(endpoint_slice("ns1", "dns", endpoint("10.180.0.2"), port=("dns", 53), protocol="UDP"))
    third = await proxier.sync()
    assert [str(ep) for _, ep in third.stale_udp_endpoints] == ["10.180.0.1:53"]


async def test_node_zone_change_replans_topology() -> None:
    from lightkube.models.discovery_v1 import EndpointHints, ForZone
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Node

    from svclab.proxy.topology import ZONE_LABEL

    proxier, _, fake = iptables_proxier()
    svc = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0))
    assert svc.metadata is not None
    svc.metadata.annotations = {"service.kubernetes.io/topology-mode": "Auto"}
    proxier.on_service(None, svc)
    zoned = [endpoint("10.180.0.1"), endpoint("10.180.0.2")]
    zoned[0].hints = EndpointHints(forZones=[ForZone(name="a")])
    zoned[1].hints = EndpointHints(forZones=[ForZone(name="b")])
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", *zoned))
    await proxier.sync()
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80, 10.180.0.2:80"
    proxier.on_node(Node(metadata=ObjectMeta(name=TEST_NODE, labels={ZONE_LABEL: "b"})))
    await proxier.sync()
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.2:80"
