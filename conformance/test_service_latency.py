"""Service endpoints latency: from creating a Service to its Endpoints listing the pod.

Upstream e2e conformance test "Service endpoints latency should not be very
high" (test/e2e/network/service_latency.go), with its numbers: one running pod
labelled ``name=svc-latency-rc``; one warm-up Service thrown away; then 200
Services (``generateName: latency-svc-``, port 80, selecting the pod) created
15 at a time; each one's latency is the time from the create call to the first
Endpoints event of that name with an address, seen by one watch on the
namespace (as a proxy consumes them). At least 100 samples, at most 5 % failed
trials, median under 20 s and 99th percentile under 50 s. The percentiles are
also recorded as the test's properties (``p50_seconds``, ``p90_seconds``,
``p99_seconds``, ``samples``) so reports can show the figure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from lightkube import Client, KubeConfig
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Service

from harness.builders import make_pod, meta, wait_pods
from harness.cluster import ClusterUnderTest
from harness.waiting import scaled_seconds

pytestmark = [pytest.mark.endpoints, pytest.mark.needs_controllers]

TOTAL_TRIALS = 200
PARALLEL_TRIALS = 15
MIN_SAMPLE_SIZE = 100
ACCEPTABLE_FAILURE_RATIO = 0.05
LIMIT_MEDIAN = 20.0  # seconds
LIMIT_TAIL = 50.0
TRIAL_TIMEOUT = 60.0  # a trial waiting longer than this counts as failed
SELECTOR = {"name": "svc-latency-rc"}


class EndpointsSeen:
    """First time each Endpoints name was seen with an address (one watch)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._changed = threading.Condition()

    def record(self, name: str) -> None:
        with self._changed:
            self._seen.setdefault(name, time.monotonic())
            self._changed.notify_all()

    def wait(self, name: str, timeout: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: name in self._seen, timeout=timeout)
            return self._seen.get(name)


@contextmanager
def endpoints_watch(cluster: ClusterUnderTest, namespace: str) -> Iterator[EndpointsSeen]:
    """Watch the namespace's Endpoints on a client of its own (closed to stop the watch)."""
    config = KubeConfig.from_file(str(cluster.kubeconfig))
    watcher = Client(config.get(context_name=cluster.context) if cluster.context else config)
    seen = EndpointsSeen()

    def run() -> None:
        try:
            for _, endpoints in watcher.watch(Endpoints, namespace=namespace):
                if any(subset.addresses for subset in endpoints.subsets or []):
                    seen.record(str(meta(endpoints).name))
        except Exception:  # the client was closed: the watch is over
            return

    thread = threading.Thread(target=run, name="endpoints-watch", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        watcher.close()


def one_trial(client: Client, namespace: str, seen: EndpointsSeen) -> float | None:
    """Seconds from creating a Service to its Endpoints with an address (None: never)."""
    service = Service(
        metadata=ObjectMeta(generateName="latency-svc-", namespace=namespace),
        spec=ServiceSpec(ports=[ServicePort(port=80, protocol="TCP")], selector=SELECTOR, sessionAffinity="None"),
    )
    start = time.monotonic()
    name = str(meta(client.create(service)).name)
    seen_at = seen.wait(name, scaled_seconds(TRIAL_TIMEOUT))
    return None if seen_at is None else max(seen_at - start, 0.0)


def percentile(ordered: list[float], p: int) -> float:
    """Upstream's percentile: the element at index n*p/100 of the sorted samples."""
    return ordered[min(len(ordered) * p // 100, len(ordered) - 1)]


@pytest.mark.timeout(600)
def test_service_endpoints_latency_is_not_very_high(
    cluster: ClusterUnderTest, client: Client, namespace: str, record_property: Callable[[str, object], None]
) -> None:
    """Upstream conformance: latency percentiles of 200 Services' Endpoints."""
    client.create(make_pod("svc-latency-rc", namespace, labels=SELECTOR))
    wait_pods(client, namespace, ["svc-latency-rc"])
    with endpoints_watch(cluster, namespace) as seen:
        assert one_trial(client, namespace, seen) is not None, "the warm-up Service never got its Endpoints"
        with ThreadPoolExecutor(max_workers=PARALLEL_TRIALS) as pool:
            results = list(pool.map(lambda _: one_trial(client, namespace, seen), range(TOTAL_TRIALS)))

    samples = sorted(r for r in results if r is not None)
    failed = TOTAL_TRIALS - len(samples)
    figures = {f"p{p}_seconds": round(percentile(samples, p), 3) for p in (50, 90, 99)} if samples else {}
    for key, value in {**figures, "samples": len(samples), "failed_trials": failed}.items():
        record_property(key, value)
    assert failed / TOTAL_TRIALS <= ACCEPTABLE_FAILURE_RATIO, f"{failed} of {TOTAL_TRIALS} trials failed"
    assert len(samples) >= MIN_SAMPLE_SIZE, f"only {len(samples)} samples"
    assert figures["p50_seconds"] < LIMIT_MEDIAN, figures
    assert figures["p99_seconds"] < LIMIT_TAIL, figures
