"""Unit tests of ``plan_slices`` and ``apply_slice_plan`` (upstream staging endpointslice reconciler_test).

Address plan: see ``..builders`` (pod n = ``1.2.3.<4+n>`` on ``node-1``, Service
``foo`` port 80 -> 8080, IPv4).  ``NODES`` holds ``node-1`` in zone
``us-central1-a``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import pytest
from lightkube.models.core_v1 import ContainerPort, ObjectReference
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.slices.reconciler import SlicePlan, apply_slice_plan, plan_slices
from svclab.controllers.slices.service_slices import address_types_for_service
from svclab.controllers.slices.tracker import EndpointSliceTracker
from svclab.kube.models import deep_copy, meta
from svclab.kube.testing import FakeClient

from ..builders import (
    T0,
    endpoints_of,
    headless,
    labels_of,
    must,
    owner_of,
    pod,
    ports_of,
    service,
    service_port,
    target_name,
)
from .builders import CONTROLLER, NODES, ZONE, existing_slice, slice_port

pytestmark = pytest.mark.timeout(2)


def lengths(slices: Iterable[EndpointSlice]) -> list[int]:
    return sorted((len(s.endpoints or []) for s in slices), reverse=True)


def test_one_pod_gives_one_slice_with_the_upstream_shape() -> None:
    svc = service(labels={"app": "web"})
    plan = plan_slices(svc, [pod(1)], NODES, [], trigger_time=T0)
    assert (len(plan.create), plan.update, plan.delete) == (1, (), ())
    created = plan.create[0]
    assert meta(created).generateName == "foo-" and meta(created).name is None
    assert meta(created).labels == {
        "app": "web",
        "kubernetes.io/service-name": "foo",
        "endpointslice.kubernetes.io/managed-by": CONTROLLER,
    }
    assert meta(created).annotations == {"endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"}
    owner = owner_of(created)
    assert (owner.apiVersion, owner.kind, owner.name, owner.uid, owner.controller, owner.blockOwnerDeletion) == (
        "v1",
        "Service",
        "foo",
        "uid-svc-foo",
        True,
        True,
    )
    assert created.addressType == "IPv4"
    assert created.ports == [slice_port(8080)]
    assert created.endpoints == [
        Endpoint(
            addresses=["1.2.3.5"],
            conditions=EndpointConditions(ready=True, serving=True, terminating=False),
            nodeName="node-1",
            zone=ZONE,
            targetRef=ObjectReference(kind="Pod", namespace="test", name="pod1", uid="uid-pod1"),
        )
    ]


def test_terminating_pods_are_kept_but_terminal_ones_dropped() -> None:
    plan = plan_slices(service(), [pod(1, terminating=True), pod(2, phase="Succeeded")], NODES, [])
    assert [target_name(e) for e in endpoints_of(plan.create[0])] == ["pod1"]


def test_many_pods_fill_slices_of_100() -> None:
    # upstream TestReconcileManyPods
    plan = plan_slices(service(), [pod(i) for i in range(250)], NODES, [])
    assert lengths(plan.create) == [100, 100, 50]


@pytest.mark.parametrize(
    ("max_per_slice", "expected"),
    [
        (50, [50] * 5),
        (80, [80, 80, 80, 10]),
        (150, [150, 100]),
        (250, [250]),
        (500, [250]),
    ],
)
def test_max_endpoints_per_slice(max_per_slice: int, expected: Any) -> None:
    # upstream TestReconcileMaxEndpointsPerSlice
    pods = [pod(i, ready=i % 3 != 0) for i in range(250)]
    plan = plan_slices(service(), pods, NODES, [], max_endpoints_per_slice=max_per_slice)
    assert lengths(plan.create) == expected


def test_named_ports_group_slices_per_resolved_port() -> None:
    # upstream TestReconcileEndpointSlicesNamedPorts: 300 pods, 5 port numbers -> 5 x 60
    svc = service(ports=[service_port(80, "http")])
    pods = [pod(i, container_ports=[ContainerPort(name="http", containerPort=8080 + i % 5)]) for i in range(300)]
    plan = plan_slices(svc, pods, NODES, [])
    assert lengths(plan.create) == [60] * 5
    assert sorted(must(ports_of(s)[0].port) for s in plan.create) == [8080, 8081, 8082, 8083, 8084]


def test_unchanged_slices_cause_no_writes() -> None:
    svc = service()
    pods = [pod(i) for i in range(3)]
    existing = [existing_slice(1, svc, pods, node=NODES["node-1"])]
    assert plan_slices(svc, pods, NODES, existing).is_empty()


def test_some_preexisting_slices_are_updated_and_filled_first() -> None:
    # upstream TestReconcileEndpointSlicesSomePreexisting: 250 pods, slices with 62 and 83 of them plus extras
    svc = service()
    pods = [pod(i) for i in range(250)]
    extra = [pod(i) for i in range(400, 423)]
    slice1 = existing_slice(1, svc, pods[:62] + extra[:8], node=NODES["node-1"])
    slice2 = existing_slice(2, svc, pods[62:145] + extra[8:], node=NODES["node-1"])
    plan = plan_slices(svc, pods, NODES, [slice1, slice2])
    assert (len(plan.create), len(plan.update), len(plan.delete)) == (1, 2, 0)
    assert lengths(plan.update + plan.create) == [100, 100, 50]
    assert len(endpoints_of(slice1)) == 70, "the cached slice must not be mutated"


def test_update_packing_prefers_the_fuller_slice() -> None:
    # upstream TestReconcileEndpointSlicesUpdatePacking: slices of 80 and 20, every 10th pod
    # changed, 15 new pods -> [95, 20]
    svc = service()
    pods = [pod(i) for i in range(80)] + [pod(i) for i in range(100, 120)]
    existing = [
        existing_slice(1, svc, pods[:80], node=NODES["node-1"]),
        existing_slice(2, svc, pods[80:], node=NODES["node-1"]),
    ]
    changed = [pod(int(must(meta(p).name)[3:]), ready=False) if i % 10 == 0 else p for i, p in enumerate(pods)]
    plan = plan_slices(svc, changed + [pod(i) for i in range(120, 135)], NODES, existing)
    assert (len(plan.create), len(plan.update)) == (0, 2)
    assert lengths(plan.update) == [95, 20]


def test_leftovers_go_to_the_unchanged_slice_that_fits_best() -> None:
    svc = service()
    pods = [pod(i) for i in range(150)]
    a = existing_slice(1, svc, pods[:90], node=NODES["node-1"])
    b = existing_slice(2, svc, pods[90:140], node=NODES["node-1"])
    plan = plan_slices(svc, pods, NODES, [a, b])
    assert [meta(s).name for s in plan.update] == ["foo-1"] and lengths(plan.update) == [100]


def test_recycling_turns_creates_into_updates() -> None:
    # upstream TestReconcileEndpointSlicesRecycling: 10 slices of 30, target port changes -> 3 updates, 7 deletes
    svc = service()
    pods = [pod(i) for i in range(300)]
    existing = [existing_slice(n, svc, pods[n * 30 : (n + 1) * 30], node=NODES["node-1"]) for n in range(10)]
    must(must(svc.spec).ports)[0].targetPort = 81
    plan = plan_slices(svc, pods, NODES, existing)
    assert (len(plan.create), len(plan.update), len(plan.delete)) == (0, 3, 7)
    assert lengths(plan.update) == [100, 100, 100]
    assert all(s.ports == [slice_port(81)] for s in plan.update)


def test_deprecated_ip_address_type_is_replaced() -> None:
    # upstream TestReconcileEndpointSlicesReplaceDeprecated: 80 + 50 in "IP" slices -> [100, 30] IPv4
    svc = service()
    pods = [pod(i) for i in range(80)] + [pod(i) for i in range(100, 150)]
    existing = [
        existing_slice(1, svc, pods[:80], address_type="IP"),
        existing_slice(2, svc, pods[80:], address_type="IP"),
    ]
    plan = plan_slices(svc, pods, NODES, existing)
    assert len(plan.delete) == 2 and lengths(plan.create) == [100, 30]
    assert {s.addressType for s in plan.create} == {"IPv4"}


@pytest.mark.parametrize(("owned", "changes"), [(True, False), (False, True)])
def test_slices_of_a_recreated_service_are_replaced(owned: bool, changes: bool) -> None:
    # upstream TestReconcileEndpointSlicesRecreation
    svc = service()
    existing = [existing_slice(1, svc, [pod(1)], node=NODES["node-1"], owner_uid=None if owned else "different")]
    plan = plan_slices(svc, [pod(1)], NODES, existing)
    assert (len(plan.create), len(plan.delete)) == ((1, 1) if changes else (0, 0))


def test_placeholder_when_nothing_matches_and_kept_when_present() -> None:
    svc = service()
    plan = plan_slices(svc, [], NODES, [])
    assert len(plan.create) == 1
    placeholder = plan.create[0]
    assert placeholder.endpoints == [] and placeholder.ports == []
    meta(placeholder).name = "foo-abc"
    assert plan_slices(svc, [], NODES, [placeholder]).is_empty()


def test_last_pod_gone_replaces_slice_with_placeholder_by_update() -> None:
    svc = service()
    plan = plan_slices(svc, [], NODES, [existing_slice(1, svc, [pod(1)], node=NODES["node-1"])])
    assert (len(plan.create), len(plan.update), len(plan.delete)) == (0, 1, 0)
    assert meta(plan.update[0]).name == "foo-1" and plan.update[0].endpoints == []


def test_label_change_alone_updates() -> None:
    svc = service()
    existing = [existing_slice(1, svc, [pod(1)], node=NODES["node-1"])]
    relabelled = service(labels={"tier": "web"})
    plan = plan_slices(relabelled, [pod(1)], NODES, existing)
    assert len(plan.update) == 1 and labels_of(plan.update[0])["tier"] == "web"


def test_headless_label_and_dual_stack_headless_without_families() -> None:
    svc = headless(families=None)
    assert address_types_for_service(svc) == {"IPv4", "IPv6"}
    plan = plan_slices(svc, [pod(1, ips=["1.2.3.5", "fd00::5"])], NODES, [])
    assert sorted(s.addressType for s in plan.create) == ["IPv4", "IPv6"]
    assert all(labels_of(s)["service.kubernetes.io/headless"] == "" for s in plan.create)


def test_pod_on_unknown_node_is_skipped_and_reported() -> None:
    plan = plan_slices(service(), [pod(1, node="gone"), pod(2)], NODES, [])
    assert plan.pods_without_node == ("pod1",)
    assert [target_name(e) for e in endpoints_of(plan.create[0])] == ["pod2"]
    published = plan_slices(service(publish_not_ready=True), [pod(1, node="gone")], NODES, [])
    assert published.pods_without_node == () and len(endpoints_of(published.create[0])) == 1


def test_service_being_deleted_gets_no_new_slices() -> None:
    assert plan_slices(service(deleting=True), [pod(1)], NODES, []).create == ()


def test_trigger_time_on_updates_and_cleared_without_one() -> None:
    svc = service()
    existing = [existing_slice(1, svc, [pod(1)], node=NODES["node-1"])]
    meta(existing[0]).annotations = {"endpoints.kubernetes.io/last-change-trigger-time": "old"}
    later = T0 + datetime.timedelta(seconds=1)
    plan = plan_slices(svc, [pod(1), pod(2)], NODES, existing, trigger_time=later)
    assert meta(plan.update[0]).annotations == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:01Z"
    }
    plan = plan_slices(svc, [pod(1), pod(2)], NODES, existing)
    assert meta(plan.update[0]).annotations is None


async def test_apply_creates_updates_deletes_in_that_order_and_tracks_each() -> None:
    # upstream finalize: creates, updates, then deletes; a slice already gone is not an error
    svc = service()
    kept = existing_slice(1, svc, [pod(1)], node=NODES["node-1"])
    gone = existing_slice(2, svc, [pod(2)], node=NODES["node-1"])  # never stored: its delete meets a 404
    client = FakeClient()
    client.seed(kept)
    stored = client.objects(EndpointSlice)[0]
    relabelled = deep_copy(stored)
    meta(relabelled).labels = {**labels_of(stored), "tier": "web"}
    plan = SlicePlan(create=plan_slices(svc, [pod(3)], NODES, []).create, update=(relabelled,), delete=(gone,))
    tracker = EndpointSliceTracker()
    await apply_slice_plan(client, tracker, plan)
    assert [(a.verb, a.kind) for a in client.writes()] == [
        ("create", "EndpointSlice"),
        ("replace", "EndpointSlice"),
        ("delete", "EndpointSlice"),
    ]
    written = client.objects(EndpointSlice)
    assert len(written) == 2 and all(tracker.has(s) and not tracker.should_sync(s) for s in written)
    assert not tracker.stale_slices(svc, written)
    assert tracker.stale_slices(svc, [*written, gone]), "a slice we deleted is still listed"
