"""Leader election on a Lease in kube-system named "svclab-controller-manager".

Candidates "one" and "two" share a FakeClient and a FakeClock (defaults:
lease 15 s, renew deadline 10 s, retry 2 s; jitter fixed at 0).
"""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from svclab.kube import LeaderElectionConfig, LeaderElector
from svclab.kube.testing import FakeClient, FakeClock, api_error

LEASE, NAMESPACE = "svclab-controller-manager", "kube-system"


def _elector(client: Any, clock: FakeClock, identity: str, *, release: bool = True) -> LeaderElector:
    config = LeaderElectionConfig(LEASE, NAMESPACE, identity, release_on_cancel=release)
    return LeaderElector(client, config, clock=clock, random=lambda: 0.0)


class Candidate:
    """Runs an elector and records when it starts and stops leading."""

    def __init__(self, elector: LeaderElector) -> None:
        self.elector = elector
        self.log: list[str] = []
        self.task = asyncio.create_task(elector.run(self._lead, lambda: self.log.append("stopped")))

    async def _lead(self) -> None:
        self.log.append("started")
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _lease(client: FakeClient) -> LeaseSpec:
    lease: Lease = await client.get(Lease, LEASE, namespace=NAMESPACE)
    assert lease.spec is not None
    return lease.spec


async def test_only_one_of_two_candidates_leads(client: FakeClient, clock: FakeClock) -> None:
    one = Candidate(_elector(client, clock, "one"))
    two = Candidate(_elector(client, clock, "two"))
    await clock.advance_async(60.0)
    assert (one.log, two.log) == (["started"], [])
    spec = await _lease(client)
    assert (spec.holderIdentity, spec.leaseDurationSeconds, spec.leaseTransitions) == ("one", 15, 0)
    assert spec.renewTime is not None and spec.acquireTime is not None and spec.renewTime > spec.acquireTime
    await one.stop()
    await two.stop()


async def test_takeover_only_after_the_lease_expires(client: FakeClient, clock: FakeClock) -> None:
    one = Candidate(_elector(client, clock, "one", release=False))
    await clock.advance_async(1.0)
    two = Candidate(_elector(client, clock, "two"))
    await clock.advance_async(1.0)
    await one.stop()  # crashes: no release, renewals stop
    await clock.advance_async(12.0)
    assert two.log == []  # 15 s have not passed since two saw the last renewal
    await clock.advance_async(6.0)
    assert two.log == ["started"]
    spec = await _lease(client)
    assert (spec.holderIdentity, spec.leaseTransitions) == ("two", 1)
    await two.stop()


async def test_release_on_cancel_lets_the_other_take_over_at_once(client: FakeClient, clock: FakeClock) -> None:
    one = Candidate(_elector(client, clock, "one"))
    await clock.advance_async(1.0)
    two = Candidate(_elector(client, clock, "two"))
    await clock.advance_async(1.0)
    await one.stop()
    assert one.log == ["started", "stopped"]
    assert (await _lease(client)).holderIdentity is None
    await clock.advance_async(2.0)
    assert two.log == ["started"]
    await two.stop()


async def test_leader_stops_when_it_cannot_renew_within_the_deadline(client: FakeClient, clock: FakeClock) -> None:
    one = Candidate(_elector(client, clock, "one"))
    await clock.advance_async(1.0)
    for _ in range(10):
        client.fail_next("get", "Lease", api_error(500, "etcd timeout"))
    await clock.advance_async(8.0)  # renewals fail at 1002..1008; last success at 1000
    assert not one.task.done()
    await clock.advance_async(1.0)  # 1010: renew_deadline (10 s) without a renewal
    assert one.task.done() and one.log == ["started", "stopped"]


class RacingClient:
    """Lets a rival complete a whole acquisition between our get and our replace."""

    def __init__(self, inner: FakeClient, rival: LeaderElector) -> None:
        self._inner = inner
        self._rival = rival
        self.rival_won: bool | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def replace(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if self.rival_won is None:
            self.rival_won = await self._rival.try_acquire_or_renew()
        return await self._inner.replace(obj, *args, **kwargs)


async def test_concurrent_acquisition_is_decided_by_resource_version(client: FakeClient, clock: FakeClock) -> None:
    client.seed(Lease(metadata=ObjectMeta(name=LEASE, namespace=NAMESPACE), spec=LeaseSpec(leaseTransitions=3)))
    two = _elector(client, clock, "two")
    racing = RacingClient(client, two)
    one = _elector(racing, clock, "one")
    assert await one.try_acquire_or_renew() is False
    assert racing.rival_won is True
    spec = await _lease(client)
    assert (spec.holderIdentity, spec.leaseTransitions) == ("two", 4)
    assert [a.verb for a in client.writes()] == ["replace", "replace"]
