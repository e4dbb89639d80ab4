"""Reading ``nft list table``: a flushed chain awaiting deletion (upstream's staleChains) holds no rules."""

from __future__ import annotations

from svclab.proxy.nftables.dump import NftDump

LISTING = """table ip kube-proxy {
\tmap service-ips {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\telements = { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
\t}

\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tjump services
\t}

\tchain service-ULMVA6XW-ns1/svc1/tcp/p80 {
\t\tip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
\t\tnumgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
\t}

\tchain service-42NFTM6N-ns2/svc2/tcp/p80 {
\t}
}
"""


def test_a_chain_without_rules_is_not_listed_and_targets_stay_with_their_chain() -> None:
    dumped = NftDump().parse(LISTING)
    assert dumped.chains == frozenset({"nat-prerouting", "service-ULMVA6XW-ns1/svc1/tcp/p80"})
    assert dumped.targets["nat-prerouting"] == frozenset({"services"})
    assert dumped.targets["service-ULMVA6XW-ns1/svc1/tcp/p80"] == frozenset(
        {"mark-for-masquerade", "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"}
    )
