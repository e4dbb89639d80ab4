"""Unit tests of ``desired_endpoints`` and friends (upstream endpoints_controller_test).

Address plan: see ``builders`` (pod n = ``1.2.3.<4+n>`` on ``node-1``,
Service ``foo`` port 80 -> 8080).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from lightkube.models.core_v1 import ContainerPort, EndpointSubset
from lightkube.resources.core_v1 import Endpoints, Pod, Service

from svclab.controllers.endpoints import (
    desired_endpoints,
    endpoints_equal_for_write,
    repack_subsets,
    truncate_subsets,
)
from svclab.controllers.well_known import format_trigger_time
from svclab.kube.models import meta

from .builders import (
    address,
    endpoint_port,
    endpoints,
    headless,
    labels_of,
    must,
    pod,
    pod_ip,
    raw_address,
    ready_ips,
    service,
    service_port,
    subset,
)

HEADLESS = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"

pytestmark = pytest.mark.timeout(2)


def desired(svc: Service, pods: list[Pod], **kwargs: Any) -> Endpoints:
    """``desired_endpoints`` for a Service the controller handles (never None)."""
    result = desired_endpoints(svc, pods, **kwargs)
    assert result is not None
    return result


def only_subsets(svc: Service, pods: list[Pod]) -> list[EndpointSubset]:
    return desired(svc, pods).subsets or []


def test_one_ready_pod_gives_one_address_on_the_target_port() -> None:
    got = desired(service(), [pod(0)])
    assert meta(got).name == "foo" and meta(got).namespace == "test"
    assert got.subsets == [subset([address(0)], ports=[endpoint_port(8080)])]


@pytest.mark.parametrize(
    "svc",
    [
        pytest.param(service(selector={}), id="selector-less"),
        pytest.param(service(type_="ExternalName"), id="external-name"),
    ],
)
def test_services_the_controller_ignores(svc: Service) -> None:
    assert desired_endpoints(svc, [pod(0)]) is None


@pytest.mark.parametrize(
    ("the_pod", "publish", "expected"),
    [
        (pod(0, ready=False), False, subset(not_ready=[address(0)], ports=[endpoint_port()])),
        (pod(0, ready=False), True, subset([address(0)], ports=[endpoint_port()])),
        (pod(0, terminating=True), False, None),
        (pod(0, terminating=True), True, subset([address(0)], ports=[endpoint_port()])),
        (pod(0, phase="Failed"), True, None),
        (pod(0, phase="Succeeded"), False, None),
        (pod(0, ips=[]), False, None),
    ],
    ids=["not-ready", "not-ready-published", "terminating", "terminating-published", "failed", "succeeded", "no-ip"],
)
def test_pod_state_decides_where_the_address_goes(the_pod: Pod, publish: bool, expected: Any) -> None:
    got = only_subsets(service(publish_not_ready=publish), [the_pod])
    assert got == ([expected] if expected else [])


def test_named_target_port_resolves_per_pod_and_skips_pods_without_it() -> None:
    svc = service(ports=[service_port(80, "http", name="http"), service_port(81, 9000, name="raw")])
    with_http = pod(0, container_ports=[ContainerPort(name="http", containerPort=8081)])
    other_number = pod(1, container_ports=[ContainerPort(name="http", containerPort=8082)])
    without = pod(2, container_ports=[])
    got = only_subsets(svc, [with_http, other_number, without])
    raw = endpoint_port(9000, name="raw")
    # Repacking groups by address set: all three serve "raw", one each "http".
    assert got == [
        subset([address(0)], ports=[endpoint_port(8081, name="http")]),
        subset([address(1)], ports=[endpoint_port(8082, name="http")]),
        subset([address(0), address(1), address(2)], ports=[raw]),
    ]


def test_named_port_must_match_the_protocol() -> None:
    svc = service(ports=[service_port(53, "dns", name="dns", protocol="UDP")])
    tcp_only = pod(0, container_ports=[ContainerPort(name="dns", containerPort=5353, protocol="TCP")])
    assert only_subsets(svc, [tcp_only]) == []


def test_multi_port_multi_protocol_service_gets_one_subset() -> None:
    svc = service(ports=[service_port(80, 8080, name="http"), service_port(53, 5353, name="dns", protocol="UDP")])
    got = only_subsets(svc, [pod(0), pod(1)])
    assert got == [
        subset(
            [address(0), address(1)],
            ports=[
                endpoint_port(5353, name="dns", protocol="UDP"),
                endpoint_port(8080, name="http"),
            ],
        )
    ]


@pytest.mark.parametrize(
    ("hostname", "subdomain", "published"),
    [
        ("web", "foo", "web"),
        ("web", "other", None),
        (None, "foo", None),
    ],
)
def test_hostname_only_with_matching_subdomain(
    hostname: str | None, subdomain: str | None, published: str | None
) -> None:
    got = only_subsets(service(), [pod(0, hostname=hostname, subdomain=subdomain)])
    assert must(got[0].addresses)[0].hostname == published


def test_headless_service_without_ports_lists_addresses_without_ports() -> None:
    assert only_subsets(headless(ports=[]), [pod(0)]) == [subset([address(0)])]
    assert only_subsets(service(ports=[]), [pod(0)]) == []


def test_labels_are_copied_and_headless_label_added() -> None:
    got = desired_endpoints(headless(labels={"app": "x"}), [pod(0)])
    assert meta(got).labels == {"app": "x", HEADLESS: ""}
    assert labels_of(desired(service(labels={"app": "x"}), [])) == {"app": "x"}


def test_ready_and_not_ready_mix_in_one_subset_sorted_by_ip() -> None:
    got = only_subsets(service(), [pod(2, ready=False), pod(1), pod(0)])
    assert got == [subset([address(0), address(1)], [address(2)], ports=[endpoint_port()])]


def test_pod_on_other_family_is_skipped() -> None:
    svc = service(families=["IPv6"], cluster_ip="fd00::10")
    dual = pod(0, ips=["1.2.3.4", "fd00::4"])
    v4_only = pod(1)
    got = only_subsets(svc, [dual, v4_only])
    assert ready_ips(got) == ["fd00::4"]


def test_repack_merges_ports_of_identical_address_sets_and_ready_wins() -> None:
    a, b = raw_address("10.0.0.1"), raw_address("10.0.0.2")
    got = repack_subsets(
        [
            subset([a], ports=[endpoint_port(80)]),
            subset([b], ports=[endpoint_port(80)]),
            subset([a, b], ports=[endpoint_port(443)]),
            subset([], [a], ports=[endpoint_port(443)]),
        ]
    )
    assert got == [subset([a, b], ports=[endpoint_port(80), endpoint_port(443)])]


def test_repack_drops_empty_ips_and_keeps_portless_subsets() -> None:
    got = repack_subsets([subset([raw_address(""), raw_address("10.0.0.1")])])
    assert got == [subset([raw_address("10.0.0.1")])]


# Upstream TestTruncateEndpoints: addresses per subset (ready, not ready) before
# and after truncation to 1000, ready kept first, shares rounded up.
@pytest.mark.parametrize(
    ("ready", "not_ready", "want_ready", "want_not_ready"),
    [
        ([], [], [], []),
        ([50, 100, 100, 100, 100], [50, 100, 100, 100, 100], [50, 100, 100, 100, 100], [50, 100, 100, 100, 100]),
        ([100] * 5, [100] * 5, [100] * 5, [100] * 5),
        ([90, 110, 50, 10, 20], [101, 200, 200, 201, 298], [90, 110, 50, 10, 20], [73, 144, 144, 145, 214]),
        ([205, 400, 402, 400, 693], [100, 200, 200, 200, 300], [98, 191, 192, 191, 328], [0] * 5),
    ],
    ids=["empty", "under", "at-capacity", "not-ready-cut", "ready-cut"],
)
def test_truncation(ready: Any, not_ready: Any, want_ready: list[int], want_not_ready: list[int]) -> None:
    counter = iter(range(100000))
    subsets = [
        subset(
            [raw_address(f"10.{next(counter)}.0.1") for _ in range(r)],
            [raw_address(f"10.{next(counter)}.0.1") for _ in range(nr)],
            ports=[endpoint_port()],
        )
        for r, nr in zip(ready, not_ready)
    ]
    got, truncated = truncate_subsets(subsets)
    assert truncated == (sum(ready) + sum(not_ready) > 1000)
    assert [len(s.addresses or []) for s in got] == want_ready
    assert [len(s.notReadyAddresses or []) for s in got] == want_not_ready


# Upstream TestSyncServiceOverCapacity: (starting annotation, existing ready
# addresses, desired ready, desired not ready) -> (ready, not ready, annotated?)
@pytest.mark.parametrize(
    ("start", "existing", "ready", "not_ready", "want"),
    [
        (None, 0, 0, 0, (0, 0, False)),
        (None, 999, 997, 4, (997, 3, True)),
        (None, 999, 1000, 10, (1000, 0, True)),
        ("truncated", 999, 999, 0, (999, 0, False)),
        ("warning", 1000, 1000, 0, (1000, 0, False)),
        ("warning", 1001, 1001, 0, (1000, 0, True)),
        ("truncated", 1000, 1000, 0, (1000, 0, False)),
        ("invalid", 1001, 1001, 0, (1000, 0, True)),
    ],
    ids=[
        "empty",
        "added-not-ready-cut",
        "added-ready-cut",
        "removed-below",
        "warning-removed-at",
        "warning-still-over",
        "removed-at",
        "value-corrected",
    ],
)
def test_sync_over_capacity(
    start: str | None, existing: int, ready: Any, not_ready: Any, want: tuple[int, int, bool]
) -> None:
    svc = service(ports=[service_port(80, None)])
    pods = [pod(n) for n in range(ready)] + [pod(n, ready=False) for n in range(ready, ready + not_ready)]
    current = endpoints(
        "foo",
        subset([address(n) for n in range(existing)], ports=[endpoint_port(80)]),
        annotations={OVER_CAPACITY: start} if start else None,
        resource_version="1",
    )
    got = desired(svc, pods, current=current)
    annotations = meta(got).annotations or {}
    counts = (
        sum(len(s.addresses or []) for s in got.subsets or []),
        sum(len(s.notReadyAddresses or []) for s in got.subsets or []),
    )
    assert (*counts, annotations.get(OVER_CAPACITY) == "truncated") == want
    assert OVER_CAPACITY in annotations or not want[2]
    if start is not None:
        assert not endpoints_equal_for_write(current, got), "a stale annotation forces a write"


def test_over_capacity_annotation_set_and_removed() -> None:
    svc = service(ports=[service_port()])
    many = [pod(n) for n in range(1001)]
    got = desired(svc, many)
    assert meta(got).annotations == {OVER_CAPACITY: "truncated"}
    assert len(ready_ips(got.subsets)) == 1000
    back = desired(svc, many[:10], current=got)
    assert meta(back).annotations is None
    assert meta(got).annotations == {OVER_CAPACITY: "truncated"}, "current must not be mutated"


def test_trigger_time_annotation_and_other_annotations_kept() -> None:
    current = endpoints("foo", annotations={"keep": "me", TRIGGER: "old"}, resource_version="7")
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=datetime.UTC)
    got = desired_endpoints(service(), [pod(0)], current=current, trigger_time=moment)
    assert meta(got).annotations == {"keep": "me", TRIGGER: "2026-01-02T03:04:05.12Z"}
    assert meta(got).resourceVersion == "7"
    cleared = desired_endpoints(service(), [pod(0)], current=current)
    assert meta(cleared).annotations == {"keep": "me"}


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), "2026-01-01T00:00:00Z"),
        (datetime.datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=datetime.UTC), "2026-01-01T00:00:00.0005Z"),
        (
            datetime.datetime(2026, 1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
            "2026-01-01T00:00:00Z",
        ),
    ],
)
def test_rfc3339nano_format(moment: datetime.datetime, text: str) -> None:
    assert format_trigger_time(moment) == text


class TestEqualForWrite:
    def desired(self, svc: Service | None = None, pods: list[Pod] | None = None) -> Endpoints:
        return desired(svc or service(), pods if pods is not None else [pod(0)])

    def test_same_content_needs_no_write(self) -> None:
        current = self.desired()
        must(must(must(current.subsets)[0].addresses)[0].targetRef).resourceVersion = "42"
        assert endpoints_equal_for_write(current, self.desired())

    def test_trigger_time_alone_is_not_a_change(self) -> None:
        current = self.desired()
        meta(current).annotations = {TRIGGER: "2020-01-01T00:00:00Z"}
        assert endpoints_equal_for_write(current, self.desired())

    def test_address_change_is_a_change(self) -> None:
        assert not endpoints_equal_for_write(self.desired(), self.desired(pods=[pod(1)]))

    def test_label_change_is_a_change(self) -> None:
        assert not endpoints_equal_for_write(self.desired(), self.desired(svc=service(labels={"a": "b"})))

    def test_headless_label_alone_is_ignored_as_upstream_does(self) -> None:
        current = self.desired()
        meta(current).labels = {HEADLESS: ""}
        assert endpoints_equal_for_write(current, self.desired())

    def test_truncated_objects_are_always_rewritten(self) -> None:
        current = self.desired()
        meta(current).annotations = {OVER_CAPACITY: "truncated"}
        assert not endpoints_equal_for_write(current, self.desired())


def test_addresses_sort_by_ip_text_like_go() -> None:
    # Go compares IP strings bytewise: "1.2.3.104" < "1.2.3.14" < "1.2.3.5".
    got = only_subsets(service(), [pod(1), pod(10), pod(100)])
    assert ready_ips(got) == [pod_ip(100), pod_ip(10), pod_ip(1)]
