"""Deployment arithmetic and the rollout planner, pinned to upstream's values.

Plan: Deployment ``web`` (``builders.deployment``) with image ``img:2`` is
the new template; ``old`` ReplicaSets run ``img:1``.  ReplicaSets carry the
``desired-replicas`` annotation of the Deployment's size (no scaling event)
unless a test says otherwise.  Fencepost and reconcile cases are upstream's
``deployment_util_test.go`` / ``rolling_test.go`` tables.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from lightkube.models.apps_v1 import DeploymentStatus, ReplicaSetSpec, ReplicaSetStatus
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment, ReplicaSet

from svclab.controllers.workloads.deployments import (
    SAFE_ALPHABET,
    calculate_status,
    equal_ignore_hash,
    fnv32a,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    pod_template_hash,
    resolve_fenceposts,
    safe_encode,
    scaled_value,
)
from svclab.controllers.workloads.rollout import plan_deployment_sync
from svclab.controllers.workloads.scaling import proportional_sizes, round_half_away

from .builders import NAMESPACE, NOW, deployment, template

pytestmark = pytest.mark.timeout(2)


def rs(
    name: str,
    replicas: int,
    *,
    available: int | None = None,
    image: str = "img:1",
    owner: Deployment | None = None,
    desired: int | None = None,
    revision: int = 1,
    max_replicas: int | None = None,
    created: datetime.datetime | None = None,
) -> ReplicaSet:
    tpl = template(image, labels={"app": "web", "pod-template-hash": name})
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if desired is not None:
        annotations["deployment.kubernetes.io/desired-replicas"] = str(desired)
    if max_replicas is not None:
        annotations["deployment.kubernetes.io/max-replicas"] = str(max_replicas)
    refs = None
    if owner is not None:
        refs = [
            OwnerReference(apiVersion="apps/v1", kind="Deployment", name="web", uid=owner.metadata.uid, controller=True)
        ]
    count = replicas if available is None else available
    return ReplicaSet(
        metadata=ObjectMeta(
            name=name,
            namespace=NAMESPACE,
            uid=f"uid-{name}",
            annotations=annotations,
            ownerReferences=refs,
            generation=1,
            creationTimestamp=created,
        ),
        spec=ReplicaSetSpec(replicas=replicas, selector=LabelSelector(matchLabels={"app": "web"}), template=tpl),
        status=ReplicaSetStatus(replicas=replicas, readyReplicas=count, availableReplicas=count, observedGeneration=1),
    )


def steady(d: Deployment) -> Deployment:
    """``d`` with the status of a finished rollout of its current size."""
    n = d.spec.replicas
    d.metadata.generation = 1
    d.status = DeploymentStatus(
        observedGeneration=1, replicas=n, updatedReplicas=n, readyReplicas=n, availableReplicas=n
    )
    return d


def sizes(plan: Any) -> dict[str, int]:
    return {u.metadata.name: u.spec.replicas for u in plan.updates}


# -- fenceposts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        ("0%", "0%", 0, (0, 1)),  # both zero: one may be unavailable
        ("39%", "39%", 10, (4, 3)),
        ("0%", "1%", 2, (0, 1)),
        (2, 0, 10, (2, 0)),
        (0, 0, 5, (0, 1)),
        (None, None, 3, (0, 1)),
    ],
)
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize("bad", ["oops", "5", "%", "1.5%"])
def test_scaled_value_rejects_what_is_not_an_int_or_percentage(bad: str) -> None:
    with pytest.raises(ValueError, match="IntOrString"):
        scaled_value(bad, 10, round_up=True)


def test_max_unavailable_is_capped_by_replicas_and_zero_without_rolling() -> None:
    assert max_unavailable(deployment(replicas=3, surge=0, unavailable=5)) == 3
    assert max_unavailable(deployment(replicas=0)) == 0
    assert (max_surge(deployment(strategy="Recreate")), max_unavailable(deployment(strategy="Recreate"))) == (0, 0)
    defaulted = deployment(replicas=10)
    defaulted.spec.strategy = None  # read with the API defaults: RollingUpdate 25%/25%
    assert (max_surge(defaulted), max_unavailable(defaulted)) == (3, 2)


@pytest.mark.parametrize(
    ("strategy", "replicas", "new", "surge", "old", "expected"),
    [("RollingUpdate", 1, 5, 1, 5, 5), ("RollingUpdate", 6, 2, 10, 4, 6), ("Recreate", 3, 1, 1, 1, 3)],
    ids=["cannot-scale-up", "scale-up-to-replicas", "recreate-to-replicas"],
)
def test_new_rs_new_replicas(strategy: str, replicas: int, new: int, surge: int, old: int, expected: int) -> None:
    d = deployment(replicas=replicas, surge=surge, unavailable=0, strategy=strategy)
    new_rs, old_rs = rs("new", new), rs("old", old)
    assert new_rs_new_replicas(d, [new_rs, old_rs], new_rs) == expected


# -- the pod-template hash -------------------------------------------------------


def test_fnv32a_and_safe_encoding_vectors() -> None:
    assert (fnv32a(b""), fnv32a(b"a"), fnv32a(b"foobar")) == (0x811C9DC5, 0xE40C292C, 0xBF9CF968)
    assert safe_encode("0123456789") == "456789bcdf"


def test_pod_template_hash_is_stable_and_changes_with_template_and_collisions() -> None:
    tpl = template("img:1").to_dict()
    first = pod_template_hash(tpl)
    assert first == pod_template_hash(template("img:1").to_dict())
    assert set(first) <= set(SAFE_ALPHABET) and 1 <= len(first) <= 10
    assert pod_template_hash(template("img:2").to_dict()) != first
    assert (
        len(
            {
                pod_template_hash(tpl),
                pod_template_hash(tpl, 1),
                pod_template_hash(tpl, 2),
                pod_template_hash(tpl, 2**31 - 1),
            }
        )
        == 4
    )


def test_equal_ignore_hash() -> None:
    plain = template("img:1").to_dict()
    hashed = template("img:1", labels={"app": "web", "pod-template-hash": "abc"}).to_dict()
    assert equal_ignore_hash(plain, hashed)
    assert not equal_ignore_hash(plain, template("img:2").to_dict())
    assert not equal_ignore_hash(plain, template("img:1", labels={"app": "other"}).to_dict())


# -- rolling updates (upstream rolling_test.go) ------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "old", "new", "expected"),
    [(10, 0, 10, 0, None), (10, 2, 10, 0, 2), (10, 2, 5, 0, 7), (10, 2, 10, 2, None), (10, 2, 2, 11, 10)],
    ids=["no-surge", "surge-2", "room-for-7", "at-max", "too-big"],
)
def test_reconcile_new_replica_set(replicas: int, surge: int, old: int, new: int, expected: int | None) -> None:
    d = deployment(replicas=replicas, image="img:2", surge=surge, unavailable=0)
    sets = [
        rs("old", old, owner=d, desired=replicas),
        rs("new", new, image="img:2", owner=d, desired=replicas, revision=2),
    ]
    plan = plan_deployment_sync(d, sets, [], NOW)
    assert sizes(plan).get("new") == expected


@pytest.mark.parametrize(
    ("unavailable", "old", "new", "old_ready", "expected_old"),
    [(0, 10, 0, 10, 9), (2, 10, 0, 10, 8), (2, 10, 0, 8, 8), (2, 10, 0, 9, 8), (2, 8, 2, 8, None)],
    ids=["one-at-a-time", "two-at-a-time", "unhealthy-first", "unhealthy-then-ready", "new-unavailable-blocks"],
)
def test_reconcile_old_replica_sets(
    unavailable: int, old: int, new: int, old_ready: int, expected_old: int | None
) -> None:
    d = deployment(replicas=10, image="img:2", surge=0, unavailable=unavailable)
    sets = [
        rs("old", old, available=old_ready, owner=d, desired=10),
        rs("new", new, available=0, image="img:2", owner=d, desired=10, revision=2),
    ]
    plan = plan_deployment_sync(d, sets, [], NOW)
    assert sizes(plan).get("old") == expected_old


def test_first_sync_creates_the_new_replica_set_with_hash_annotations_and_owner() -> None:
    d = steady(deployment(replicas=10, image="img:2"))
    d.metadata.annotations = {"team": "a", "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    plan = plan_deployment_sync(d, [rs("old", 10, owner=d, desired=10, revision=4)], [], NOW)
    new = plan.create
    assert new is not None
    hash_ = new.spec.template.metadata.labels["pod-template-hash"]
    assert new.metadata.name == f"web-{hash_}" and new.metadata.labels == {"app": "web", "pod-template-hash": hash_}
    assert new.spec.selector.matchLabels == {"app": "web", "pod-template-hash": hash_}
    assert new.spec.replicas == 3, "maxSurge 25% of 10 rounds up to 3"
    assert new.metadata.annotations == {
        "team": "a",
        "deployment.kubernetes.io/revision": "5",
        "deployment.kubernetes.io/desired-replicas": "10",
        "deployment.kubernetes.io/max-replicas": "13",
    }
    [ref] = new.metadata.ownerReferences
    assert (ref.kind, ref.name, ref.controller, ref.blockOwnerDeletion) == ("Deployment", "web", True, True)
    assert plan.revision == "5"
    # As upstream, the same sync then scales the old ReplicaSet down: 13 pods - 8 to keep available
    # - 3 new ones not yet available leaves 2 to remove.
    assert plan.events == [
        ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{hash_} from 0 to 3"),
        ("Normal", "ScalingReplicaSet", "Scaled down replica set old from 10 to 8"),
    ]
    progressing = [c for c in plan.status["conditions"] if c["type"] == "Progressing"]
    assert [(c["status"], c["reason"], c["message"]) for c in progressing] == [
        ("True", "NewReplicaSetCreated", f'Created new replica set "web-{hash_}"')
    ]


def test_template_back_to_an_old_revision_reuses_its_replica_set_with_a_new_revision() -> None:
    d = deployment(replicas=2, image="img:1")
    sets = [
        rs("first", 0, image="img:1", owner=d, desired=2, revision=1),
        rs("second", 2, image="img:2", owner=d, desired=2, revision=2),
    ]
    plan = plan_deployment_sync(d, sets, [], NOW)
    assert plan.create is None
    reused = next(u for u in plan.updates if u.metadata.name == "first")
    assert reused.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert reused.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert reused.spec.replicas == 1, "grows by maxSurge (25% of 2 rounds up to 1)"
    assert plan.revision == "3"


def test_complete_rollout_cleans_up_empty_old_replica_sets_past_the_history_limit() -> None:
    d = steady(deployment(replicas=1, image="img:9", history=1))
    old = [rs(f"old{n}", 0, image=f"img:{n}", owner=d, desired=1, revision=n) for n in range(1, 4)]
    new = rs("new", 1, image="img:9", owner=d, desired=1, revision=4)
    plan = plan_deployment_sync(d, [*old, new], [], NOW)
    assert [r.metadata.name for r in plan.delete] == ["old1", "old2"]


def test_recreate_scales_old_down_then_waits_for_their_pods() -> None:
    d = deployment(replicas=2, image="img:2", strategy="Recreate")
    plan = plan_deployment_sync(d, [rs("old", 2, owner=d, desired=2)], [], NOW)
    assert sizes(plan) == {"old": 0} and plan.create is None
    still_running = rs("old", 0, owner=d, desired=2)
    still_running.status.replicas = 2
    assert plan_deployment_sync(d, [still_running], [], NOW).create is None
    gone = rs("old", 0, owner=d, desired=2)
    gone.status = ReplicaSetStatus(replicas=0)
    plan = plan_deployment_sync(d, [gone], [], NOW)
    assert plan.create is not None and plan.create.spec.replicas == 2


# -- status --------------------------------------------------------------------------


def test_status_counts_and_available_condition() -> None:
    d = deployment(replicas=10, image="img:2")
    d.metadata.generation = 4
    sets = [rs("old", 8, available=8), rs("new", 3, available=1, image="img:2")]
    status = calculate_status(d, sets, sets[1], {}, "2026-01-01T12:00:00Z")
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4,
        "replicas": 11,
        "updatedReplicas": 3,
        "readyReplicas": 9,
        "availableReplicas": 9,
        "unavailableReplicas": 2,
    }
    [available] = status["conditions"]
    assert (available["type"], available["status"], available["reason"]) == (
        "Available",
        "True",
        "MinimumReplicasAvailable",
    )
    short = calculate_status(d, [rs("new", 10, available=7, image="img:2")], None, {}, "2026-01-01T12:00:00Z")
    assert short["conditions"][0]["reason"] == "MinimumReplicasUnavailable", "7 < 10 - maxUnavailable 2"


# -- proportional scaling ---------------------------------------------------------------


def test_proportional_scaling_mid_rollout() -> None:
    # Upstream's "proportional scaling: 5 -> 10" style: an old RS of 5 and a new RS of 1 (max-replicas 6)
    # of a Deployment now at 10 with maxSurge 1: 11 allowed, 5 to add, shared by size, leftover to the largest.
    d = deployment(replicas=10, image="img:2", surge=1, unavailable=0)
    older = rs("old", 5, max_replicas=6, created=NOW)
    newer = rs("new", 1, image="img:2", max_replicas=6, created=NOW + datetime.timedelta(minutes=1))
    result = {r.metadata.name: size for r, size in proportional_sizes(d, [newer, older])}
    assert result == {"old": 9, "new": 2}
    assert sum(result.values()) == 11


def test_round_half_away_from_zero() -> None:
    assert [round_half_away(x) for x in (0.5, 1.5, 2.4, -0.5, -1.5)] == [1, 2, 2, -1, -2]
