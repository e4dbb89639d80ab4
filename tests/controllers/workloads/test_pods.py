"""Pod rules: the deletion order pinned to upstream's controller_utils tests.

Pods as upstream's ``TestSortingActivePodsWithRanks`` builds them: "now" is
``NOW``; "then" is one month (30 days) earlier; ranks are the number of
sibling pods on the pod's node.
"""

from __future__ import annotations

import datetime
import random

import pytest
from lightkube.models.core_v1 import PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference

from svclab.controllers.workloads.pods import (
    ANNOTATION_DELETION_COST,
    deletion_order,
    is_pod_active,
    is_pod_available,
    pod_from_template,
)

from .builders import NOW, pod, template

pytestmark = pytest.mark.timeout(2)

MONTH_AGO = NOW - datetime.timedelta(days=30)
HOURS = {h: NOW - datetime.timedelta(hours=h) for h in (2, 5, 8)}


def named(name: str, node: str, phase: str, ready: bool, restarts: int, since, created, cost=None):  # type: ignore[no-untyped-def]
    found = pod(
        0,
        node=node or None,
        phase=phase,
        ready=ready,
        ready_since=since,
        created=created,
        restarts=restarts,
        annotations={ANNOTATION_DELETION_COST: cost} if cost else None,
    )
    found.metadata.name = name
    found.metadata.uid = ""  # upstream's test pods carry no UID
    return found


UNSCHEDULED = named("unscheduled", "", "Pending", False, 0, None, None)
PENDING = named("pending", "node", "Pending", False, 0, None, None)
UNKNOWN = named("unknown-phase", "node", "Unknown", False, 0, None, None)
NOT_READY = named("not-ready", "node", "Running", False, 0, None, None)
READY_NO_TIME = named("ready-no-last-transition-time", "node", "Running", True, 0, None, None)
READY_NOW = named("ready-now", "node", "Running", True, 0, NOW, NOW)
READY_THEN = named("ready-then", "node", "Running", True, 0, MONTH_AGO, MONTH_AGO)
HIGH_RESTARTS = named("ready-high-restarts", "node", "Running", True, 9001, NOW, NOW)
NOW_CREATED_THEN = named("ready-now-created-then", "node", "Running", True, 0, NOW, MONTH_AGO)
LOW_COST = named("low-deletion-cost", "node", "Running", True, 0, NOW, MONTH_AGO, "10")
HIGH_COST = named("high-deletion-cost", "node", "Running", True, 0, NOW, MONTH_AGO, "100")
UNSCHEDULED_5H = named("unscheduled-5-hours", "", "Pending", False, 0, HOURS[5], HOURS[5])
UNSCHEDULED_8H = named("unscheduled-8-hours", "", "Pending", False, 0, HOURS[8], HOURS[8])
READY_2H = named("ready-2-hours", "", "Running", True, 0, HOURS[2], MONTH_AGO)
READY_5H = named("ready-5-hours", "", "Running", True, 0, HOURS[5], MONTH_AGO)
READY_8H = named("ready-8-hours", "", "Running", True, 0, HOURS[8], MONTH_AGO)

# (lesser, its rank, greater, its rank): upstream's inequality table, the deletion-cost gate on.
LESS = [
    (UNSCHEDULED, 1, PENDING, 2),
    (UNSCHEDULED, 2, PENDING, 1),
    (PENDING, 1, UNKNOWN, 2),
    (UNKNOWN, 1, NOT_READY, 2),
    (NOT_READY, 1, READY_NO_TIME, 1),
    (READY_NO_TIME, 1, READY_NOW, 1),
    (READY_NOW, 2, READY_NO_TIME, 1),
    (READY_NOW, 1, READY_THEN, 1),
    (READY_NOW, 2, READY_THEN, 1),
    (HIGH_RESTARTS, 1, READY_NOW, 1),
    (READY_NOW, 2, HIGH_RESTARTS, 1),
    (READY_NOW, 1, NOW_CREATED_THEN, 1),
    (NOW_CREATED_THEN, 2, READY_NOW, 1),
    (LOW_COST, 2, HIGH_COST, 1),
    (READY_2H, 1, READY_5H, 1),
]


def _name(p) -> str:  # type: ignore[no-untyped-def]
    return str(p.metadata.name)


@pytest.mark.parametrize(
    ("lesser", "lesser_rank", "greater", "greater_rank"),
    LESS,
    ids=[f"{_name(a)}@{ra}<{_name(b)}@{rb}" for a, ra, b, rb in LESS],
)
def test_deletion_order_matches_upstream_inequalities(lesser, lesser_rank, greater, greater_rank) -> None:  # type: ignore[no-untyped-def]
    assert deletion_order([greater, lesser], [greater_rank, lesser_rank], now=NOW) == [lesser, greater]
    assert deletion_order([lesser, greater], [lesser_rank, greater_rank], now=NOW) == [lesser, greater]


EQUAL = [
    (UNSCHEDULED, UNSCHEDULED),
    (READY_NOW, READY_NOW),
    (NOW_CREATED_THEN, NOW_CREATED_THEN),
    (UNSCHEDULED_5H, UNSCHEDULED_8H),  # same log2 rank of age
    (READY_5H, READY_8H),
]


@pytest.mark.parametrize(("first", "second"), EQUAL, ids=[f"{_name(a)}={_name(b)}" for a, b in EQUAL])
def test_deletion_order_keeps_upstream_equivalents_in_place(first, second) -> None:  # type: ignore[no-untyped-def]
    assert deletion_order([first, second], [1, 1], now=NOW) == [first, second]
    assert deletion_order([second, first], [1, 1], now=NOW) == [second, first]


def test_deletion_order_of_upstream_sorting_active_pods() -> None:
    # Upstream TestSortingActivePods: nine pods whose listed order is the deletion order.
    expected = [
        pod(0, node=None, phase="Pending", ready=False),
        pod(1, node="bar", phase="Pending", ready=False),
        pod(2, node="foo", phase="Unknown", ready=False),
        pod(3, node="foo", phase="Running", ready=False),
        pod(4, node="foo", ready=True, ready_since=None, restarts=3),
        pod(5, node="foo", ready=True, ready_since=NOW, restarts=3),
        pod(6, node="foo", ready=True, ready_since=MONTH_AGO, restarts=3),
        pod(7, node="foo", ready=True, ready_since=MONTH_AGO, restarts=2, created=NOW),
        pod(8, node="foo", ready=True, ready_since=MONTH_AGO, restarts=2, created=MONTH_AGO),
    ]
    shuffler = random.Random(7)
    for _ in range(20):
        shuffled = list(expected)
        shuffler.shuffle(shuffled)
        assert [p.metadata.name for p in deletion_order(shuffled)] == [p.metadata.name for p in expected]


def test_active_and_available() -> None:
    assert is_pod_active(pod(0))
    assert not is_pod_active(pod(0, phase="Succeeded")) and not is_pod_active(pod(0, phase="Failed"))
    terminating = pod(0)
    terminating.metadata.deletionTimestamp = NOW
    assert not is_pod_active(terminating)
    ready_10s = pod(0, ready_since=NOW - datetime.timedelta(seconds=10))
    assert is_pod_available(ready_10s, 0, NOW) and is_pod_available(ready_10s, 9, NOW)
    assert not is_pod_available(ready_10s, 10, NOW), "ready + minReadySeconds must be strictly before now"
    assert not is_pod_available(pod(0, ready=False), 0, NOW)


def test_pod_from_template_copies_the_template_and_sets_the_owner() -> None:
    tpl: PodTemplateSpec = template("img:9")
    tpl.metadata.annotations = {"a": "b"}
    ref = OwnerReference(apiVersion="apps/v1", kind="ReplicaSet", name="web", uid="u", controller=True)
    made = pod_from_template(tpl, ref, namespace="test", generate_name="web-")
    assert made.metadata == ObjectMeta(
        namespace="test", generateName="web-", labels={"app": "web"}, annotations={"a": "b"}, ownerReferences=[ref]
    )
    assert made.spec.containers[0].image == "img:9"
    made.spec.containers[0].image = "changed"
    assert tpl.spec.containers[0].image == "img:9", "the template must not share its spec"
