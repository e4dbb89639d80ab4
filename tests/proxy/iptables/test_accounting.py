"""The iptables mode's nfacct objects and the counters /metrics reads from them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from svclab.proxy.adapters.testing.nfacct import FakeNfacct
from svclab.proxy.iptables.accounting import NfacctCollector, prepare
from svclab.proxy.iptables.plan import NFACCT_INVALID, NFACCT_LOCALHOST_NODEPORTS


def test_prepare_creates_both_objects_and_needs_the_match() -> None:
    fake = FakeNfacct()
    assert prepare(fake, match_available=lambda: True)
    assert fake.counters == {NFACCT_LOCALHOST_NODEPORTS: 0, NFACCT_INVALID: 0}
    assert not prepare(FakeNfacct(), match_available=lambda: False)
    assert not prepare(FakeNfacct(broken=True), match_available=lambda: True)


def test_the_counters_are_exported_under_upstreams_names() -> None:
    fake = FakeNfacct({NFACCT_LOCALHOST_NODEPORTS: 12, NFACCT_INVALID: 3})
    registry = CollectorRegistry()
    registry.register(NfacctCollector(fake))
    text = generate_latest(registry).decode()
    assert "kubeproxy_iptables_localhost_nodeports_accepted_packets_total 12.0" in text
    assert "kubeproxy_iptables_ct_state_invalid_dropped_packets_total 3.0" in text
    fake.counters[NFACCT_LOCALHOST_NODEPORTS] += 1  # read at each scrape
    assert "kubeproxy_iptables_localhost_nodeports_accepted_packets_total 13.0" in generate_latest(registry).decode()


def test_an_unreadable_counter_is_left_out() -> None:
    registry = CollectorRegistry()
    registry.register(NfacctCollector(FakeNfacct(broken=True)))
    assert "kubeproxy_iptables" not in generate_latest(registry).decode()
