"""The ReplicaSet planner: create/delete counts, which pods go, slow start, status and claims.

Pods ``pod<n>`` of ReplicaSet ``web`` (selector ``app: web``), see ``builders``.
"""

from __future__ import annotations

import datetime

import pytest

from svclab.controllers.workloads.ownership import adoption_patch, plan_claims, release_patch
from svclab.controllers.workloads.replicas import (
    BURST_REPLICAS,
    plan_replicas,
    replica_status,
    slow_start_batches,
    status_differs,
)

from .builders import LABELS, NOW, pod, replica_set

pytestmark = pytest.mark.timeout(2)


@pytest.mark.parametrize(
    ("desired", "have", "create", "delete"),
    [(3, 0, 3, 0), (3, 3, 0, 0), (1, 3, 0, 2), (0, 2, 0, 2), (BURST_REPLICAS + 7, 0, BURST_REPLICAS, 0)],
    ids=["scale-up", "steady", "scale-down", "to-zero", "burst-capped"],
)
def test_plan_replicas_counts(desired: int, have: int, create: int, delete: int) -> None:
    plan = plan_replicas(desired, [pod(n) for n in range(have)])
    assert (plan.create, len(plan.delete)) == (create, delete)


def test_scale_down_deletes_the_least_established_pods_first() -> None:
    pods = [
        pod(0, ready_since=NOW - datetime.timedelta(days=3)),
        pod(1, node=None, phase="Pending", ready=False),
        pod(2, ready=False),
        pod(3, ready_since=NOW - datetime.timedelta(minutes=1)),
    ]
    plan = plan_replicas(1, pods, now=NOW)
    assert [p.metadata.name for p in plan.delete] == ["pod1", "pod2", "pod3"]


def test_scale_down_prefers_pods_on_crowded_nodes() -> None:
    # pod0 shares node-1 with two pods of a sibling ReplicaSet; pod1 is alone on node-2.
    mine = [pod(0, node="node-1"), pod(1, node="node-2")]
    related = [*mine, pod(10, node="node-1"), pod(11, node="node-1")]
    assert [p.metadata.name for p in plan_replicas(1, mine, related, now=NOW).delete] == ["pod0"]
    mine_flipped = [pod(0, node="node-2"), pod(1, node="node-1")]
    related_flipped = [*mine_flipped, pod(10, node="node-1"), pod(11, node="node-1")]
    assert [p.metadata.name for p in plan_replicas(1, mine_flipped, related_flipped, now=NOW).delete] == ["pod1"]


@pytest.mark.parametrize(
    ("count", "sizes"), [(0, []), (1, [1]), (5, [1, 2, 2]), (10, [1, 2, 4, 3]), (15, [1, 2, 4, 8])]
)
def test_slow_start_batches(count: int, sizes: list[int]) -> None:
    assert slow_start_batches(count) == sizes


def test_status_counts_ready_available_and_fully_labeled() -> None:
    pods = [
        pod(0, ready_since=NOW - datetime.timedelta(seconds=30)),
        pod(1, ready_since=NOW - datetime.timedelta(seconds=5)),
        pod(2, ready=False),
        pod(3, labels={**LABELS, "extra": "x"}),
        pod(4, labels={"other": "y"}),  # claimed through a selector wider than the template
    ]
    status = replica_status(
        template_labels=LABELS, min_ready_seconds=10, pods=pods, current=None, desired=5, manage_error=None, now=NOW
    )
    assert status == {"replicas": 5, "fullyLabeledReplicas": 4, "readyReplicas": 4, "availableReplicas": 1}


def test_status_replica_failure_condition_comes_and_goes() -> None:
    failing = replica_status(
        template_labels=LABELS,
        min_ready_seconds=0,
        pods=[pod(0)],
        current=None,
        desired=3,
        manage_error="quota exceeded",
        now=NOW,
    )
    [condition] = failing["conditions"]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "ReplicaFailure",
        "True",
        "FailedCreate",
        "quota exceeded",
    )
    again = replica_status(
        template_labels=LABELS,
        min_ready_seconds=0,
        pods=[pod(0)],
        current=failing,
        desired=3,
        manage_error="other",
        now=NOW + datetime.timedelta(minutes=1),
    )
    assert again["conditions"] == failing["conditions"], "an existing failure condition is kept as it is"
    healed = replica_status(
        template_labels=LABELS,
        min_ready_seconds=0,
        pods=[pod(0)],
        current=failing,
        desired=1,
        manage_error=None,
        now=NOW,
    )
    assert "conditions" not in healed


def test_status_differs_on_counts_generation_and_conditions() -> None:
    current = {
        "replicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "fullyLabeledReplicas": 2,
        "observedGeneration": 3,
    }
    same = {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "fullyLabeledReplicas": 2}
    assert not status_differs(current, same, generation=3)
    assert status_differs(current, same, generation=4)
    assert status_differs(current, {**same, "readyReplicas": 1}, generation=3)
    assert status_differs(current, {**same, "conditions": [{"type": "ReplicaFailure"}]}, generation=3)


def test_claims_adopt_orphans_keep_own_release_unselected_ignore_foreign() -> None:
    owner = replica_set()
    other = replica_set("other", uid="uid-other")
    candidates = [
        pod(0, owner=owner),
        pod(1),
        pod(2, owner=owner, labels={"app": "moved"}),
        pod(3, owner=other),
        pod(4, labels={"app": "unrelated"}),
    ]
    selects = lambda p: p.metadata.labels.get("app") == "web"  # noqa: E731
    claims = plan_claims(owner, candidates, selects)
    names = lambda pods: [p.metadata.name for p in pods]  # noqa: E731
    assert (names(claims.owned), names(claims.adopt), names(claims.release)) == (["pod0"], ["pod1"], ["pod2"])
    deleting = plan_claims(owner, candidates, selects, owner_deleting=True)
    assert (names(deleting.owned), deleting.adopt, deleting.release) == (["pod0"], (), ())
    terminating = pod(5)
    terminating.metadata.deletionTimestamp = NOW
    assert plan_claims(owner, [terminating], selects).adopt == ()


def test_adoption_and_release_patches_keep_other_references() -> None:
    owner = replica_set()
    orphan = pod(1)
    orphan.metadata.resourceVersion = "7"
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "uid-rs-web",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    from svclab.controllers.workloads.ownership import new_controller_ref

    patch = adoption_patch(orphan, new_controller_ref(owner, api_version="apps/v1", kind="ReplicaSet"))
    assert patch == {"metadata": {"ownerReferences": [ref], "resourceVersion": "7"}}
    owned = pod(2, owner=owner)
    owned.metadata.resourceVersion = "9"
    assert release_patch(owned, "uid-rs-web") == {"metadata": {"ownerReferences": None, "resourceVersion": "9"}}
