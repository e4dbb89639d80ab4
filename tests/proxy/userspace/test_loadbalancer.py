"""Round robin, ClientIP affinity and the dial-retry order, with a fake clock and a scripted dialer.

Address plan: endpoints 10.180.0.1-3 port 80; clients 10.0.1.1 and 10.0.1.2.
The shuffle is the identity, so the round-robin order is the given order.
"""

from __future__ import annotations

import pytest

from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.dial import DialFailed, connect_backend
from svclab.proxy.userspace.loadbalancer import (
    ENDPOINT_DIAL_TIMEOUTS,
    EndpointAddress,
    MissingEndpoints,
    MissingServiceEntry,
    RoundRobinBalancer,
    dial_attempts,
)
from svclab.proxy.userspace.testing import ScriptedDialer

SVC = ServicePortName(ServiceName("ns1", "svc1"), "p80", Protocol.TCP)
EP1, EP2, EP3 = ("10.180.0.1", 80), ("10.180.0.2", 80), ("10.180.0.3", 80)
CLIENT, OTHER = "10.0.1.1", "10.0.1.2"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def balancer(*endpoints: EndpointAddress, affinity: int = 0) -> tuple[RoundRobinBalancer, Clock]:
    clock = Clock()
    lb = RoundRobinBalancer(clock=clock, shuffle=lambda eps: None)
    lb.set_service(SVC, affinity)
    lb.set_endpoints(SVC, list(endpoints))
    return lb, clock


def picks(lb: RoundRobinBalancer, n: int, client: str = CLIENT) -> list[EndpointAddress]:
    return [lb.next_endpoint(SVC, client) for _ in range(n)]


def test_round_robin_cycles_through_endpoints() -> None:
    lb, _ = balancer(EP1, EP2, EP3)
    assert picks(lb, 7) == [EP1, EP2, EP3, EP1, EP2, EP3, EP1]


def test_unknown_service_and_empty_endpoints_raise() -> None:
    lb, _ = balancer()
    with pytest.raises(MissingEndpoints):
        lb.next_endpoint(SVC, CLIENT)
    other = ServicePortName(ServiceName("ns1", "other"), "p80")
    with pytest.raises(MissingServiceEntry):
        lb.next_endpoint(other, CLIENT)


def test_unchanged_endpoint_set_keeps_position() -> None:
    lb, _ = balancer(EP1, EP2, EP3)
    picks(lb, 1)
    assert lb.set_endpoints(SVC, [EP3, EP2, EP1]) is False
    assert picks(lb, 1) == [EP2]


def test_changed_endpoint_set_reshuffles_and_restarts() -> None:
    lb, _ = balancer(EP1, EP2)
    picks(lb, 1)
    seen: list[list[EndpointAddress]] = []
    lb._shuffle = lambda eps: (seen.append(list(eps)), eps.reverse())  # type: ignore[assignment,func-returns-value]
    assert lb.set_endpoints(SVC, [EP1, EP2, EP3]) is True
    assert seen == [[EP1, EP2, EP3]]
    assert picks(lb, 3) == [EP3, EP2, EP1]


def test_client_ip_affinity_sticks_per_client() -> None:
    lb, _ = balancer(EP1, EP2, EP3, affinity=10800)
    assert picks(lb, 3) == [EP1, EP1, EP1]
    assert picks(lb, 2, OTHER) == [EP2, EP2]


@pytest.mark.parametrize(
    ("idle", "sticky"), [(9.9, True), (10.0, False), (30.0, False)], ids=["before-timeout", "at-timeout", "long-after"]
)
def test_affinity_expires_after_timeout(idle: float, sticky: bool) -> None:
    lb, clock = balancer(EP1, EP2, affinity=10)
    assert picks(lb, 1) == [EP1]
    clock.now += idle
    assert picks(lb, 1) == ([EP1] if sticky else [EP2])


def test_affinity_use_refreshes_the_record() -> None:
    lb, clock = balancer(EP1, EP2, affinity=10)
    picks(lb, 1)
    for _ in range(5):
        clock.now += 9
        assert picks(lb, 1) == [EP1]


def test_removed_endpoint_drops_its_affinity() -> None:
    lb, _ = balancer(EP1, EP2, affinity=10800)
    assert picks(lb, 1) == [EP1]
    lb.set_endpoints(SVC, [EP2, EP3])
    assert picks(lb, 2) == [EP2, EP2]


def test_cleanup_drops_only_expired_records() -> None:
    lb, clock = balancer(EP1, EP2, affinity=10)
    picks(lb, 1, CLIENT)
    clock.now += 6
    picks(lb, 1, OTHER)
    clock.now += 5
    assert lb.cleanup_stale_sessions() == 1
    assert picks(lb, 1, OTHER) == [EP2]


def test_dial_attempts_use_upstream_timeouts_and_skip_affinity_after_first() -> None:
    lb, _ = balancer(EP1, EP2, EP3, affinity=10800)
    picks(lb, 1)  # CLIENT is now sticky to EP1
    attempts = list(dial_attempts(lb, SVC, CLIENT))
    assert [t for _, t in attempts] == list(ENDPOINT_DIAL_TIMEOUTS) == [0.25, 0.5, 1.0, 2.0]
    assert [ep for ep, _ in attempts] == [EP1, EP2, EP3, EP1]


async def test_connect_moves_to_next_endpoint_on_refusal() -> None:
    lb, _ = balancer(EP1, EP2, EP3)
    dialer = ScriptedDialer({EP1: ConnectionRefusedError(), EP2: TimeoutError()})
    try:
        _, endpoint = await connect_backend(lb, SVC, CLIENT, dialer)
    finally:
        dialer.close()
    assert endpoint == EP3
    assert dialer.attempts == [(EP1, 0.25), (EP2, 0.5), (EP3, 1.0)]


async def test_connect_gives_up_after_four_attempts() -> None:
    lb, _ = balancer(EP1, EP2)
    dialer = ScriptedDialer({EP1: ConnectionRefusedError(), EP2: ConnectionRefusedError()})
    with pytest.raises(DialFailed) as failed:
        await connect_backend(lb, SVC, CLIENT, dialer)
    assert [ep for ep, _ in failed.value.failures] == [EP1, EP2, EP1, EP2]
    assert "ns1/svc1:p80" in str(failed.value)


async def test_failed_sticky_endpoint_moves_the_affinity() -> None:
    lb, _ = balancer(EP1, EP2, affinity=10800)
    picks(lb, 1)  # sticky to EP1, next round robin is EP2
    dialer = ScriptedDialer({EP1: ConnectionRefusedError()})
    try:
        _, endpoint = await connect_backend(lb, SVC, CLIENT, dialer)
    finally:
        dialer.close()
    assert endpoint == EP2
    assert picks(lb, 1) == [EP2]


@pytest.mark.parametrize(("idle", "listed"), [(9.9, True), (10.0, False)], ids=["before-timeout", "at-timeout"])
def test_live_sessions_are_the_ones_affinity_still_honours(idle: float, listed: bool) -> None:
    # what svclab explain shows as a returning client's endpoint
    lb, clock = balancer(EP1, EP2, affinity=10)
    picks(lb, 1)
    clock.now += idle
    assert lb.live_sessions(SVC) == ({CLIENT: EP1} if listed else {})
    assert balancer(EP1, EP2)[0].live_sessions(SVC) == {}  # no affinity, no sessions
