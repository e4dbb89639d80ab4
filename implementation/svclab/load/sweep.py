"""The Service-count sweep: the same measurement with K extra Services.

A proxy's cost grows with the number of Services it programs (iptables walks
``KUBE-SERVICES`` rule by rule; ipvs and nftables look up hash tables).  To
show it, the sweep adds dummy Services step by step (0 -> 1,000 -> 5,000 ...,
creating only the difference each time), waits until the proxy has programmed
them (a caller-supplied readiness callback, e.g. "the ruleset holds N+K
service chains" or the proxy's sync metrics), measures, and finally deletes
them all, also when a step fails.

Each dummy is a selector-less Service with one port plus a hand-written
EndpointSlice holding one ready address, so every dummy costs the proxy what
a real one-endpoint Service costs without starting any pod.  The slice is
written directly rather than as an Endpoints object for the mirroring
controller to copy: the proxy reads only EndpointSlices, and mirroring cost a
third API write per dummy plus the controller's CPU while the sweep was
timed (issue 17).  All carry the label ``svclab.dev/sweep=true`` so that
leftovers of a killed run can be found.

Names place a measured Service in the middle of the dummies at every count:
even-numbered dummies are ``<prefix>-a-NNNNN``, odd ones ``<prefix>-z-NNNNN``,
so ``<prefix>-middle`` (``DummyServices.middle_name``, not a dummy) sorts after
``(count + 1) // 2`` of them and before the rest.  A proxy that orders its
dispatch by name (the reference iptables mode) then tests about half of them
before it, the typical place among Services written in Go map order by
upstream kube-proxy; a name sorting after ``<prefix>-z`` (e.g. ``web``) is
matched last, the worst case.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from .model import Measurement

__all__ = [
    "DummyServices",
    "SWEEP_LABEL",
    "create_dummy_services",
    "delete_dummy_services",
    "dummy_objects",
    "run_sweep",
]

SWEEP_LABEL = "svclab.dev/sweep"
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # ties a slice to its Service (upstream label)
_CONFLICT = 409
_NOT_FOUND = 404


@dataclass(frozen=True, slots=True)
class DummyServices:
    """Where and how the dummy Services are made."""

    namespace: str
    endpoint_ip: str  # the one address of every dummy (any pod IP will do)
    port: int = 80
    target_port: int = 8080
    prefix: str = "svclab-sweep"
    concurrency: int = 32  # API calls in flight

    def name(self, index: int) -> str:
        """Dummy ``index``'s name: even ones sort before ``middle_name``, odd ones after it."""
        return f"{self.prefix}-{'a' if index % 2 == 0 else 'z'}-{index:05d}"

    @property
    def middle_name(self) -> str:
        """A name (for a measured Service, not a dummy) sorting in the middle of the dummies."""
        return f"{self.prefix}-middle"

    @staticmethod
    def before_middle(count: int) -> int:
        """How many of ``count`` dummies sort before ``middle_name`` (side-effect-free)."""
        return (count + 1) // 2


def dummy_objects(spec: DummyServices, index: int) -> tuple[Service, EndpointSlice]:
    """The Service and EndpointSlice of dummy number ``index`` (side-effect-free)."""
    name = spec.name(index)
    service = Service(
        metadata=ObjectMeta(name=name, namespace=spec.namespace, labels={SWEEP_LABEL: "true"}),
        spec=ServiceSpec(ports=[ServicePort(name="http", port=spec.port, targetPort=spec.target_port, protocol="TCP")]),
    )
    family = "IPv6" if ":" in spec.endpoint_ip else "IPv4"
    endpoint_slice = EndpointSlice(
        metadata=ObjectMeta(
            name=name, namespace=spec.namespace, labels={SWEEP_LABEL: "true", _SERVICE_NAME_LABEL: name}
        ),
        addressType=family,
        endpoints=[Endpoint(addresses=[spec.endpoint_ip], conditions=EndpointConditions(ready=True))],
        ports=[EndpointPort(name="http", port=spec.target_port, protocol="TCP")],
    )
    return service, endpoint_slice


async def _bounded(jobs: Iterator[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Run jobs with at most ``concurrency`` in flight; the first error cancels the rest."""

    async def drain() -> None:
        for job in jobs:  # the iterator is shared: each job is taken once
            await job()

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, concurrency)):
            group.create_task(drain())


async def create_dummy_services(client: Any, spec: DummyServices, *, start: int, stop: int) -> None:
    """Create dummies ``start..stop-1`` (a lightkube AsyncClient); existing ones are kept."""

    async def create(index: int) -> None:
        for obj in dummy_objects(spec, index):
            try:
                await client.create(obj, namespace=spec.namespace)
            except ApiError as err:
                if err.status.code != _CONFLICT:
                    raise

    await _bounded((functools.partial(create, i) for i in range(start, stop)), spec.concurrency)


async def delete_dummy_services(client: Any, spec: DummyServices) -> int:
    """Delete every labelled dummy Service and EndpointSlice in the namespace; return the count."""
    names = [
        svc.metadata.name async for svc in client.list(Service, namespace=spec.namespace, labels={SWEEP_LABEL: "true"})
    ]
    labelled = {"namespace": spec.namespace, "labels": {SWEEP_LABEL: "true"}}
    slices = [s.metadata.name async for s in client.list(EndpointSlice, **labelled)]

    async def delete(kind: type[Any], name: str) -> None:
        try:
            await client.delete(kind, name, namespace=spec.namespace)
        except ApiError as err:
            if err.status.code != _NOT_FOUND:
                raise

    jobs = [functools.partial(delete, Service, n) for n in names]
    jobs += [functools.partial(delete, EndpointSlice, n) for n in slices]
    await _bounded(iter(jobs), spec.concurrency)
    return len(names)


async def run_sweep(
    *,
    client: Any,
    spec: DummyServices,
    counts: Sequence[int],
    wait_programmed: Callable[[int], Awaitable[None]],
    measure: Callable[[int], Sequence[Measurement]],
    progress: Callable[[str], None] | None = None,
    cleanup: bool = True,
    on_created: Callable[[int, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Measurement]:
    """Measure at each Service count, growing the dummies in place.

    ``wait_programmed(count)`` must return once the proxy has programmed
    ``count`` extra Services (it is called for count 0 too).  ``measure(count)``
    is blocking (it runs the load generator) and runs in a thread so the
    client's event loop stays free.  The dummies are deleted at the end,
    also on error or cancellation, unless ``cleanup`` is False (the caller
    removes the whole namespace or cluster anyway).  ``on_created(count,
    seconds)`` hears how long each step's creates took (``clock`` seconds).
    """
    if list(counts) != sorted(counts):
        raise ValueError(f"sweep counts must be ascending, got {list(counts)}")
    results: list[Measurement] = []
    made = 0
    try:
        for count in counts:
            if count > made:
                if progress:
                    progress(f"creating Services {made}..{count - 1}")
                started = clock()
                await create_dummy_services(client, spec, start=made, stop=count)
                if on_created:
                    on_created(count, clock() - started)
                made = count
            await wait_programmed(count)
            results.extend(await asyncio.to_thread(measure, count))
    finally:
        if made and cleanup:
            if progress:
                progress(f"deleting {made} sweep Services")
            await delete_dummy_services(client, spec)
    return results
