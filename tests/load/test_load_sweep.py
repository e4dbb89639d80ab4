"""The Service-count sweep against the in-memory FakeClient.

Plan: namespace ``sweep``, every dummy's endpoint 10.244.1.5:8080, Service
port 80; counts 0, 3, 5 stand in for 0, 1,000, 5,000.  A Service without the
sweep label (``keep-me``) must survive the clean-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Service

from svclab.kube.testing import FakeClient
from svclab.load import Measurement, Scenario, TargetKind, WorkerStats
from svclab.load.sweep import DummyServices, dummy_objects, run_sweep

SPEC = DummyServices(namespace="sweep", endpoint_ip="10.244.1.5", concurrency=2)


def names(client: FakeClient, kind: type[Service] | type[Endpoints]) -> list[str]:
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


def test_dummy_is_a_selectorless_service_with_manual_endpoints() -> None:
    service: Any
    endpoints: Any
    service, endpoints = dummy_objects(SPEC, 7)
    assert service.metadata.name == endpoints.metadata.name == "svclab-sweep-00007"
    assert service.spec.selector is None
    assert (service.spec.ports[0].port, service.spec.ports[0].targetPort) == (80, 8080)
    assert endpoints.subsets[0].addresses[0].ip == "10.244.1.5"
    assert endpoints.subsets[0].ports[0].name == service.spec.ports[0].name


async def test_sweep_grows_in_place_measures_each_count_and_cleans_up() -> None:
    client = FakeClient()
    client.seed(Service(metadata=ObjectMeta(name="keep-me", namespace="sweep")))
    programmed: list[int] = []
    present_at_measure: dict[int, int] = {}

    async def wait_programmed(count: int) -> None:
        programmed.append(count)

    def measure(count: int) -> Sequence[Measurement]:
        present_at_measure[count] = len(client.objects(Endpoints))
        return [fake_measurement(count)]

    results = await run_sweep(
        client=client, spec=SPEC, counts=[0, 3, 5], wait_programmed=wait_programmed, measure=measure
    )
    assert [m.services for m in results] == [0, 3, 5]
    assert programmed == [0, 3, 5]
    assert present_at_measure == {0: 0, 3: 3, 5: 5}
    creates = [a.name for a in client.writes() if a.verb == "create" and a.kind == "Service"]
    assert len(creates) == len(set(creates)) == 5  # only the difference is created per step
    assert names(client, Service) == ["keep-me"]
    assert names(client, Endpoints) == []


async def test_sweep_deletes_the_dummies_when_a_measurement_fails() -> None:
    client = FakeClient()

    async def ready(count: int) -> None:
        return None

    def broken(count: int) -> Sequence[Measurement]:
        raise RuntimeError("load generator died")

    with pytest.raises(RuntimeError, match="died"):
        await run_sweep(client=client, spec=SPEC, counts=[2], wait_programmed=ready, measure=broken)
    assert names(client, Service) == [] and names(client, Endpoints) == []


async def test_counts_must_ascend() -> None:
    async def ready(count: int) -> None:
        return None

    with pytest.raises(ValueError, match="ascending"):
        await run_sweep(client=FakeClient(), spec=SPEC, counts=[5, 1], wait_programmed=ready, measure=lambda count: [])
