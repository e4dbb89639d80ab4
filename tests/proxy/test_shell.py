"""Shell pieces: metrics, /healthz, conntrack commands, CLI arguments, Provider typing.

Address plan: see ``builders.py``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import pytest

from svclab.proxy import modes
from svclab.proxy.command import add_arguments, parse_duration
from svclab.proxy.conntrack import cleanup_commands, run_cleanup
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.healthz import ProxyHealth
from svclab.proxy.metrics import ProxyMetrics
from svclab.proxy.provider import Provider, SyncReport
from svclab.proxy.service_port import Protocol, ServiceName, ServicePort, ServicePortName

from .helpers import ManualClock, iptables_proxier, load_overall, nftables_proxier

DNS = ServicePortName(ServiceName("kube-system", "dns"), "dns", Protocol.UDP)


def test_every_proxier_is_a_provider() -> None:
    assert isinstance(iptables_proxier()[0], Provider)
    assert isinstance(nftables_proxier()[0], Provider)


async def test_metrics_use_upstream_names_and_trigger_times() -> None:
    clock = ManualClock()
    metrics = ProxyMetrics(wall_clock=clock)
    proxier, _, _ = iptables_proxier()
    load_overall(proxier)
    report = await proxier.sync()
    metrics.record_sync(
        SyncReport(
            full=True,
            duration_seconds=0.01,
            rules_by_table=report.rules_by_table,
            trigger_times={DNS.service: (clock.now - 2.0,)},
        ),
        "iptables",
    )
    text = metrics.exposition().decode()
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count 1.0" in text
    assert "kubeproxy_sync_full_proxy_rules_duration_seconds_count 1.0" in text
    assert "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1000.0" in text
    assert 'kubeproxy_network_programming_duration_seconds_bucket{le="2.0"} 1.0' in text
    assert 'kubeproxy_network_programming_duration_seconds_bucket{le="1.0"} 0.0' in text
    assert f'kubeproxy_sync_proxy_rules_iptables_total{{table="nat"}} {float(report.rules_by_table["nat"])}' in text


def test_healthz_reports_stale_queue() -> None:
    clock = ManualClock()
    health = ProxyHealth(timeout=60.0, clock=clock)
    status, body = health.response()
    assert status == 200 and set(json.loads(body)) >= {"lastUpdated", "currentTime"}
    health.queued()
    clock.now += 61
    assert health.response()[0] == 503
    health.updated()
    status, body = health.response()
    assert status == 200 and json.loads(body)["lastUpdated"].endswith("Z")


def test_conntrack_commands_for_stale_udp() -> None:
    port = ServicePort(name=DNS, cluster_ip="172.30.0.10", port=53, protocol=Protocol.UDP, node_port=30053)
    report = SyncReport(
        full=False,
        duration_seconds=0,
        stale_udp_cluster_ips=frozenset({"172.30.0.11"}),
        stale_udp_endpoints=((DNS, Endpoint("10.180.0.1", 53)),),
    )
    commands = cleanup_commands(report, {DNS: port})
    assert commands == [
        ["conntrack", "-D", "--orig-dst", "172.30.0.11", "-p", "udp"],
        ["conntrack", "-D", "--orig-dst", "172.30.0.10", "--dst-nat", "10.180.0.1", "-p", "udp"],
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.180.0.1"],
    ]
    ran: list[list[str]] = []

    def runner(cmd: Sequence[str]) -> int:
        ran.append(list(cmd))
        return 1 if len(ran) == 1 else 2

    failed = run_cleanup(report, {DNS: port}, runner)
    assert len(ran) == 3 and len(failed) == 2  # exit 1 = nothing matched, not a failure


@pytest.mark.parametrize("text,seconds", [("1s", 1.0), ("500ms", 0.5), ("1m30s", 90.0), ("2", 2.0)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("1 minute")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_are_upstreams() -> None:
    args = _args("--hostname-override", "n1")
    assert (args.min_sync_period, args.sync_period, args.mode) == (1.0, 30.0, "iptables")
    assert args.metrics_bind_address == "127.0.0.1:10249" and args.healthz_bind_address == "0.0.0.0:10256"


@pytest.mark.parametrize("mode", modes.mode_names())
def test_every_mode_has_a_backend(mode: str) -> None:
    if (reason := modes.get(mode).supported()) is not None:
        pytest.skip(f"{mode} {reason}")  # e.g. ipvs without IPVS in this kernel
    backend = modes.build_backend(mode, _args("--mode", mode, "--hostname-override", "n1"), ("10.0.0.1",))
    assert hasattr(backend, "sync_rules") and hasattr(backend, "cleanup")


def test_dual_stack_health_needs_every_family() -> None:
    """Upstream's health server tracks each family's proxier: one stale family makes /healthz 503."""
    from svclab.proxy.healthz import FamilyHealth
    from svclab.proxy.service_port import IPFamily

    clock = ManualClock()
    health = FamilyHealth({f: ProxyHealth(timeout=60.0, clock=clock) for f in IPFamily})
    health.queued()
    clock.now += 30
    health.updated(IPFamily.IPV4)
    clock.now += 31
    assert health.response()[0] == 503  # IPv6 has waited 61 s
    health.updated(IPFamily.IPV6)
    assert health.response()[0] == 200


def test_conntrack_commands_of_the_ipv6_proxier_name_the_family() -> None:
    from svclab.proxy.service_port import IPFamily

    port = ServicePort(name=DNS, cluster_ip="fd00:172:30::10", port=53, protocol=Protocol.UDP)
    report = SyncReport(
        full=False,
        duration_seconds=0,
        stale_udp_cluster_ips=frozenset({"fd00:172:30::11"}),
        stale_udp_endpoints=((DNS, Endpoint("fd00:10:180::1", 53)),),
    )
    assert cleanup_commands(report, {DNS: port}, IPFamily.IPV6) == [
        ["conntrack", "-D", "--orig-dst", "fd00:172:30::11", "-p", "udp", "-f", "ipv6"],
        ["conntrack", "-D", "--orig-dst", "fd00:172:30::10", "--dst-nat", "fd00:10:180::1", "-p", "udp", "-f", "ipv6"],
    ]
