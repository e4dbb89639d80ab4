"""LeaderElector: one active replica, chosen through a coordination.k8s.io/v1 Lease.

As client-go's ``leaderelection`` with a ``LeaseLock``:

* a candidate tries every ``retry_period`` (jittered by up to 20 %) to acquire
  the Lease: it creates it if missing, takes it if its holder is empty
  (released) or has not renewed for ``leaseDurationSeconds`` *as observed on the
  candidate's own clock* (no cross-host clock comparison), and otherwise waits;
* every write is a ``replace`` carrying the ``resourceVersion`` it read, so
  when two candidates race the API server accepts one and answers 409 to the
  other: two candidates never both hold the Lease;
* the leader renews every ``retry_period``; if it cannot renew for
  ``renew_deadline`` seconds it stops leading (its work is cancelled first);
* on cancellation the leader releases the Lease (``ReleaseOnCancel``): empty
  holder, ``leaseDurationSeconds`` 1, so another candidate takes over at once.

``acquireTime`` changes and ``leaseTransitions`` increments only when the
holder changes.  ``try_acquire_or_renew`` is one attempt, usable on its own.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from .clock import Clock, LoopClock
from .reflector import error_status_code

__all__ = ["LeaderElectionConfig", "LeaderElector"]

log = logging.getLogger(__name__)

# client-go's retry jitter factor (JitterUntil with 1.2).
RETRY_JITTER = 1.2


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    """Where the Lease lives, who we are, and client-go's default timings."""

    lease_name: str
    lease_namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("leader election identity must not be empty")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= RETRY_JITTER * self.retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")


@dataclass(frozen=True, slots=True)
class _Observed:
    """The holder record last read and when (our clock) it last changed."""

    holder: str
    renew_time: Any
    lease_duration: int
    observed_at: float


class LeaderElector:
    """Runs a callback only while holding the Lease; see the module docstring."""

    def __init__(
        self,
        client: Any,
        config: LeaderElectionConfig,
        *,
        clock: Clock | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self._client = client
        self.config = config
        self._clock: Clock = clock or LoopClock()
        self._random = random
        self._observed: _Observed | None = None
        self._lease: Lease | None = None
        self.is_leader = False

    @property
    def observed_holder(self) -> str:
        """The holder identity last read from the Lease ("" if none)."""
        return self._observed.holder if self._observed else ""

    async def run(
        self,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], None],
    ) -> None:
        """Acquire, lead (running ``on_started_leading``), renew; return when leadership is lost.

        ``on_started_leading`` runs as a task that is cancelled when leadership
        ends; ``on_stopped_leading`` is called after that (only if we led).
        When ``run`` itself is cancelled the Lease is released.
        """
        await self._acquire()
        work: asyncio.Task[None] = asyncio.create_task(
            _await(on_started_leading()), name=f"leading-{self.config.identity}"
        )
        try:
            await self._renew_until_lost()
        finally:
            self.is_leader = False
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            try:
                if self.config.release_on_cancel:
                    await asyncio.shield(self.release())
            finally:
                on_stopped_leading()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the Lease; True if we hold it now."""
        now = self._clock.now()
        try:
            lease = await self._client.get(Lease, self.config.lease_name, namespace=self.config.lease_namespace)
        except Exception as error:
            if error_status_code(error) != 404:
                log.warning("leader election: get lease failed lease=%s error=%r", self._lease_key(), error)
                return False
            return await self._create(now)
        self._observe(lease, now)
        spec = lease.spec or LeaseSpec()
        observed = self._observed
        assert observed is not None
        held_by_other = bool(observed.holder) and observed.holder != self.config.identity
        if held_by_other and observed.observed_at + observed.lease_duration > now:
            return False
        return await self._update(lease, spec, now)

    async def release(self) -> bool:
        """Give the Lease up if we hold it (empty holder, duration 1 s)."""
        lease = self._lease
        if lease is None or lease.spec is None or lease.spec.holderIdentity != self.config.identity:
            return False
        wall = self._clock.utcnow()
        lease.spec = LeaseSpec(
            holderIdentity=None,
            leaseDurationSeconds=1,
            acquireTime=wall,
            renewTime=wall,
            leaseTransitions=lease.spec.leaseTransitions,
        )
        try:
            self._lease = await self._client.replace(lease)
        except Exception as error:
            log.warning("leader election: release failed lease=%s error=%r", self._lease_key(), error)
            return False
        log.info("leader election: released lease=%s identity=%s", self._lease_key(), self.config.identity)
        return True

    # -- internals -------------------------------------------------------------

    async def _acquire(self) -> None:
        while not await self.try_acquire_or_renew():
            await self._clock.sleep(self.config.retry_period * (1.0 + (RETRY_JITTER - 1.0) * self._random()))
        self.is_leader = True
        log.info("leader election: acquired lease=%s identity=%s", self._lease_key(), self.config.identity)

    async def _renew_until_lost(self) -> None:
        last_renew = self._clock.now()
        while True:
            await self._clock.sleep(self.config.retry_period)
            if await self.try_acquire_or_renew():
                last_renew = self._clock.now()
            elif self._clock.now() - last_renew >= self.config.renew_deadline or self._lost_to_other():
                log.warning("leader election: lost lease=%s identity=%s", self._lease_key(), self.config.identity)
                return

    def _lost_to_other(self) -> bool:
        return bool(self.observed_holder) and self.observed_holder != self.config.identity

    def _observe(self, lease: Lease, now: float) -> None:
        spec = lease.spec or LeaseSpec()
        record = (spec.holderIdentity or "", spec.renewTime, spec.leaseDurationSeconds or 0)
        if (
            self._observed is None
            or (self._observed.holder, self._observed.renew_time, self._observed.lease_duration) != record
        ):
            self._observed = _Observed(*record, observed_at=now)

    async def _create(self, now: float) -> bool:
        wall = self._clock.utcnow()
        lease = Lease(
            metadata=ObjectMeta(name=self.config.lease_name, namespace=self.config.lease_namespace),
            spec=LeaseSpec(
                holderIdentity=self.config.identity,
                leaseDurationSeconds=int(self.config.lease_duration),
                acquireTime=wall,
                renewTime=wall,
                leaseTransitions=0,
            ),
        )
        try:
            self._lease = await self._client.create(lease)
        except Exception as error:
            log.info("leader election: create lease failed lease=%s error=%r", self._lease_key(), error)
            return False
        self._observe(self._lease, now)
        return True

    async def _update(self, lease: Lease, spec: LeaseSpec, now: float) -> bool:
        wall = self._clock.utcnow()
        already_ours = spec.holderIdentity == self.config.identity
        lease.spec = LeaseSpec(
            holderIdentity=self.config.identity,
            leaseDurationSeconds=int(self.config.lease_duration),
            acquireTime=spec.acquireTime if already_ours and spec.acquireTime else wall,
            renewTime=wall,
            leaseTransitions=(spec.leaseTransitions or 0) + (0 if already_ours else 1),
        )
        try:
            # replace sends metadata.resourceVersion as read: a concurrent
            # writer makes this fail with 409 instead of overwriting it.
            self._lease = await self._client.replace(lease)
        except Exception as error:
            log.info("leader election: update lease failed lease=%s error=%r", self._lease_key(), error)
            return False
        self._observe(self._lease, now)
        return True

    def _lease_key(self) -> str:
        return f"{self.config.lease_namespace}/{self.config.lease_name}"


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
