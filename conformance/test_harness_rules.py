"""The harness's ipvs rule reader on a golden ``ipvsadm-save -n`` dump (no cluster needed).

The convergence test trusts ``harness.rules`` to tell converged from not, so
the ipvs reading is pinned here: virtual servers by protocol and address,
weighted real servers as the targets, draining (weight 0) ones ignored.
"""

from __future__ import annotations

from harness.rules import DesiredPort, NodeRules, converged, service_absent

GOLDEN = """\
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
-A -t 10.96.7.9:80 -s rr -p 10800
-a -t 10.96.7.9:80 -r 10.244.1.2:8080 -m -w 1
-a -t 10.96.7.9:80 -r 10.244.2.2:8080 -m -w 0
-A -u 10.96.7.9:80 -s rr
-A --sctp-service 10.96.7.9:7777 -s rr
"""


def _port(protocol: str, vip: str, *endpoints: str) -> DesiredPort:
    pairs = tuple((ip, 8080) for ip in endpoints)
    return DesiredPort("ns", "web", "http", protocol, vip, 80, pairs)


def test_ipvs_dump_is_read_as_virtual_servers_and_weighted_real_servers() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert rules.chains == {"TCP:10.96.0.1:443", "TCP:10.96.7.9:80", "UDP:10.96.7.9:80", "SCTP:10.96.7.9:7777"}
    assert rules.endpoint_targets("TCP:10.96.7.9:80") == {"10.244.1.2:8080"}
    assert rules.endpoint_targets("UDP:10.96.7.9:80") == frozenset()


def test_ipvs_convergence_compares_real_servers_and_protocol() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert converged(rules, [_port("TCP", "10.96.7.9", "10.244.1.2")])
    assert not converged(rules, [_port("TCP", "10.96.7.9", "10.244.1.2", "10.244.2.2")])
    assert not converged(rules, [_port("TCP", "10.96.7.9")])
    assert converged(rules, [_port("UDP", "10.96.7.9")])  # no endpoints: empty virtual server
    assert not converged(rules, [_port("TCP", "10.96.7.10")])


def test_ipvs_service_absent_only_without_its_virtual_server() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert not service_absent(rules, [_port("TCP", "10.96.7.9", "10.244.1.2")])
    assert service_absent(rules, [_port("TCP", "10.96.7.10", "10.244.1.2")])
