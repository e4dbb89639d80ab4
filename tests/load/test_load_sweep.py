"""The Service-count sweep against the in-memory FakeClient.

Plan: namespace ``sweep``, every dummy's endpoint 10.244.1.5:8080, Service
port 80; counts 0, 3, 5 stand in for 0, 1,000, 5,000.  A Service without the
sweep label (``keep-me``) must survive the clean-up.  The names: ``web`` must
sort after every dummy, ``svclab-sweep-middle`` after half of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.testing import FakeClient
from svclab.load import Measurement, Scenario, TargetKind, WorkerStats
from svclab.load.sweep import DummyServices, dummy_objects, run_sweep

SPEC = DummyServices(namespace="sweep", endpoint_ip="10.244.1.5", concurrency=2)


def names(client: FakeClient, kind: type[Service] | type[EndpointSlice]) -> list[str]:
    return sorted(o.metadata.name for o in client.objects(kind))


def fake_measurement(count: int) -> Measurement:
    return Measurement(
        mode="m",
        target=TargetKind.CLUSTER_IP,
        scenario=Scenario.KEEPALIVE,
        services=count,
        users=1,
        proxy_cpu_s=None,
        stats=WorkerStats(requests=1, failures=0, duration_s=1.0, response_times_ms={1: 1}),
    )


def test_dummy_is_a_selectorless_service_with_its_own_endpoint_slice() -> None:
    service: Any
    endpoint_slice: Any
    service, endpoint_slice = dummy_objects(SPEC, 7)
    assert service.metadata.name == endpoint_slice.metadata.name == "svclab-sweep-z-00007"
    assert service.spec.selector is None
    assert (service.spec.ports[0].port, service.spec.ports[0].targetPort) == (80, 8080)
    # the proxy finds a slice by this label; a slice without it belongs to no Service
    assert endpoint_slice.metadata.labels["kubernetes.io/service-name"] == service.metadata.name
    assert endpoint_slice.addressType == "IPv4"
    assert endpoint_slice.endpoints[0].addresses == ["10.244.1.5"]
    assert endpoint_slice.endpoints[0].conditions.ready is True
    assert endpoint_slice.ports[0].name == service.spec.ports[0].name
    assert endpoint_slice.ports[0].port == 8080


@pytest.mark.parametrize("count", [0, 1, 2, 3, 1000, 5001, 10_000, 30_000], ids=lambda c: f"{c}-dummies")
def test_middle_name_sorts_after_half_the_dummies_and_web_after_all(count: int) -> None:
    dummies = sorted([SPEC.name(i) for i in range(count)] + [SPEC.middle_name, "web"])
    assert dummies.index(SPEC.middle_name) == DummyServices.before_middle(count)
    assert DummyServices.before_middle(count) in (count // 2, count // 2 + 1)
    assert dummies[-1] == "web"


def test_new_dummies_keep_the_middle_in_the_middle_as_the_sweep_grows() -> None:
    # each step creates only the difference: the names added must split evenly too
    added = [SPEC.name(i) for i in range(1000, 5000)]
    assert sum(name < SPEC.middle_name for name in added) == 2000


async def test_sweep_grows_in_place_measures_each_count_and_cleans_up() -> None:
    client = FakeClient()
    client.seed(Service(metadata=ObjectMeta(name="keep-me", namespace="sweep")))
    programmed: list[int] = []
    present_at_measure: dict[int, int] = {}

    async def wait_programmed(count: int) -> None:
        programmed.append(count)

    def measure(count: int) -> Sequence[Measurement]:
        present_at_measure[count] = len(client.objects(EndpointSlice))
        return [fake_measurement(count)]

    created: list[tuple[int, float]] = []
    ticks = iter(range(0, 100, 2))  # the fake clock advances 2 s per reading
    results = await run_sweep(
        client=client,
        spec=SPEC,
        counts=[0, 3, 5],
        wait_programmed=wait_programmed,
        measure=measure,
        on_created=lambda count, seconds: created.append((count, seconds)),
        clock=lambda: float(next(ticks)),
    )
    assert [m.services for m in results] == [0, 3, 5]
    assert created == [(3, 2.0), (5, 2.0)]  # count 0 creates nothing
    assert programmed == [0, 3, 5]
    assert present_at_measure == {0: 0, 3: 3, 5: 5}
    creates = [a.name for a in client.writes() if a.verb == "create" and a.kind == "Service"]
    assert len(creates) == len(set(creates)) == 5  # only the difference is created per step
    assert names(client, Service) == ["keep-me"]
    assert names(client, EndpointSlice) == []


async def test_sweep_deletes_the_dummies_when_a_measurement_fails() -> None:
    client = FakeClient()

    async def ready(count: int) -> None:
        return None

    def broken(count: int) -> Sequence[Measurement]:
        raise RuntimeError("load generator died")

    with pytest.raises(RuntimeError, match="died"):
        await run_sweep(client=client, spec=SPEC, counts=[2], wait_programmed=ready, measure=broken)
    assert names(client, Service) == [] and names(client, EndpointSlice) == []


async def test_counts_must_ascend() -> None:
    async def ready(count: int) -> None:
        return None

    with pytest.raises(ValueError, match="ascending"):
        await run_sweep(client=FakeClient(), spec=SPEC, counts=[5, 1], wait_programmed=ready, measure=lambda count: [])
