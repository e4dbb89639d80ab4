"""Unit tests of ``plan_mirrored_slices`` (upstream endpointslicemirroring reconciler_test).

Address plan: custom Endpoints ``foo`` in ``test`` list hand-written addresses
``10.0.0.<n>`` / ``2001:db8::<n>`` on port 80 (name ``http``).
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.models.core_v1 import EndpointAddress, EndpointSubset
from lightkube.resources.core_v1 import Endpoints, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers import SlicePlan
from svclab.controllers.mirroring import EventReason, plan_mirrored_slices, should_mirror
from svclab.kube.models import meta

from .builders import (
    conditions_of,
    endpoint_port,
    endpoints,
    endpoints_of,
    must,
    owner_of,
    ports_of,
    raw_address,
    service,
    subset,
)

MIRRORING = "endpointslicemirroring-controller.k8s.io"
HTTP = endpoint_port(80, name="http")

pytestmark = pytest.mark.timeout(2)


def v4(n: int) -> EndpointAddress:
    return raw_address(f"10.0.{n // 250}.{n % 250}")


def custom(*subsets: EndpointSubset, **kwargs: Any) -> Endpoints:
    return endpoints("foo", *subsets, **kwargs)


def apply(plan: SlicePlan) -> list[EndpointSlice]:
    """What the API would hold after the plan, as objects named like the server would."""
    result = []
    for n, created in enumerate(plan.create):
        meta(created).name = f"foo-mirror{n}"
        meta(created).uid = f"uid-mirror{n}"
        result.append(created)
    return result + list(plan.update)


@pytest.mark.parametrize(
    ("eps", "svc", "mirrored"),
    [
        (custom(), service(selector={}), True),
        (custom(), service(), False),
        (custom(labels={"endpointslice.kubernetes.io/skip-mirror": "true"}), service(selector={}), False),
        (custom(annotations={"control-plane.alpha.kubernetes.io/leader": "{}"}), service(selector={}), False),
        (custom(), None, False),
    ],
    ids=["selector-less", "with-selector", "skip-mirror", "leader-lock", "no-service"],
)
def test_should_mirror(eps: Endpoints, svc: Service, mirrored: bool) -> None:
    assert should_mirror(eps, svc) is mirrored


def test_one_address_becomes_one_owned_slice() -> None:
    eps = custom(
        subset([raw_address("10.0.0.1")], [raw_address("10.0.0.2")], ports=[HTTP]),
        labels={"app": "db"},
        annotations={
            "note": "x",
            "endpoints.kubernetes.io/last-change-trigger-time": "t",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
    )
    plan = plan_mirrored_slices(eps, [])
    assert (len(plan.create), plan.update, plan.delete, plan.events) == (1, (), (), ())
    created = plan.create[0]
    assert meta(created).generateName == "foo-"
    assert meta(created).labels == {
        "app": "db",
        "kubernetes.io/service-name": "foo",
        "endpointslice.kubernetes.io/managed-by": MIRRORING,
    }
    assert meta(created).annotations == {"note": "x"}
    owner = owner_of(created)
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Endpoints", "foo", "uid-ep-foo", True)
    assert (ports_of(created)[0].port, ports_of(created)[0].name) == (80, "http")
    assert [(e.addresses, conditions_of(e)[0]) for e in endpoints_of(created)] == [
        (["10.0.0.1"], True),
        (["10.0.0.2"], False),
    ]


def test_dual_stack_subset_gives_one_slice_per_family() -> None:
    eps = custom(subset([raw_address("10.0.0.1"), raw_address("2001:db8::1")], ports=[HTTP]))
    plan = plan_mirrored_slices(eps, [])
    assert sorted(s.addressType for s in plan.create) == ["IPv4", "IPv6"]


def test_subsets_with_different_ports_give_separate_slices() -> None:
    eps = custom(subset([v4(1)], ports=[HTTP]), subset([v4(2)], ports=[endpoint_port(443, name="https")]))
    assert len(plan_mirrored_slices(eps, []).create) == 2


def test_invalid_ips_are_skipped_with_an_event() -> None:
    eps = custom(subset([raw_address("10.0.0.1"), raw_address("not-an-ip"), raw_address("10.0.0.999")], ports=[HTTP]))
    plan = plan_mirrored_slices(eps, [])
    assert [e.addresses for e in endpoints_of(plan.create[0])] == [["10.0.0.1"]]
    assert [(e.type, e.reason, e.message) for e in plan.events] == [
        ("Warning", EventReason.INVALID_IP_ADDRESS, "Skipped 2 invalid IP addresses when mirroring to EndpointSlices")
    ]


def test_at_most_1000_addresses_per_subset_ready_first() -> None:
    eps = custom(subset([v4(n) for n in range(1000)], [v4(n) for n in range(1000, 1002)], ports=[HTTP]))
    plan = plan_mirrored_slices(eps, [])
    assert len(endpoints_of(plan.create[0])) == 1000
    assert all(conditions_of(e)[0] for e in endpoints_of(plan.create[0]))
    assert [(e.reason, e.message) for e in plan.events] == [
        (
            EventReason.TOO_MANY_ADDRESSES_TO_MIRROR,
            "A max of 1000 addresses can be mirrored to EndpointSlices per Endpoints subset. 2 addresses were skipped",
        )
    ]


def test_resync_of_mirrored_state_changes_nothing() -> None:
    eps = custom(subset([v4(1), v4(2)], ports=[HTTP]), labels={"a": "b"}, annotations={"c": "d"})
    existing = apply(plan_mirrored_slices(eps, []))
    assert plan_mirrored_slices(eps, existing).is_empty()


@pytest.mark.parametrize("change", ["address", "label", "annotation"])
def test_changes_update_the_first_slice_in_place(change: str) -> None:
    eps = custom(subset([v4(1)], ports=[HTTP]))
    existing = apply(plan_mirrored_slices(eps, []))
    if change == "address":
        must(must(eps.subsets)[0].addresses).append(v4(2))
    elif change == "label":
        meta(eps).labels = {"new": "label"}
    else:
        meta(eps).annotations = {"new": "annotation"}
    plan = plan_mirrored_slices(eps, existing)
    assert (len(plan.create), len(plan.update), len(plan.delete)) == (0, 1, 0)
    assert meta(plan.update[0]).name == "foo-mirror0"


def test_duplicate_slices_are_deleted_and_emptied_groups_recycled() -> None:
    eps = custom(subset([v4(1)], ports=[HTTP]))
    first = apply(plan_mirrored_slices(eps, []))
    duplicate = apply(plan_mirrored_slices(eps, []))
    meta(duplicate[0]).name = "foo-dup"
    plan = plan_mirrored_slices(eps, first + duplicate)
    assert [meta(s).name for s in plan.delete] == ["foo-dup"] and plan.update == ()
    moved = custom(subset([v4(1)], ports=[endpoint_port(8080, name="http")]))
    plan = plan_mirrored_slices(moved, first)
    assert (len(plan.create), len(plan.update), len(plan.delete)) == (0, 1, 0)
    assert meta(plan.update[0]).name == "foo-mirror0" and ports_of(plan.update[0])[0].port == 8080


def test_empty_endpoints_delete_all_mirrored_slices() -> None:
    eps = custom(subset([v4(1)], ports=[HTTP]))
    existing = apply(plan_mirrored_slices(eps, []))
    plan = plan_mirrored_slices(custom(), existing)
    assert [meta(s).name for s in plan.delete] == ["foo-mirror0"] and not plan.create
