"""The Progressing condition (upstream progress.go / DeploymentTimedOut) and the paused conditions.

Plan: Deployment ``web`` of 2 replicas with the default 600 s progress
deadline; its new ReplicaSet is ``web-new``; "now" is ``NOW``.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from lightkube.models.apps_v1 import ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import ReplicaSet

from svclab.controllers.workloads.progress import progress_check_after, rollout_conditions, timed_out
from svclab.controllers.workloads.rollout import plan_deployment_sync

from .builders import NAMESPACE, NOW, deployment

pytestmark = pytest.mark.timeout(2)

NEW = ReplicaSet(metadata=ObjectMeta(name="web-new", namespace=NAMESPACE), spec=ReplicaSetSpec(selector={}))  # type: ignore[arg-type]


def progressing(reason: str, *, status: str = "True", updated: datetime.datetime = NOW) -> dict[str, Any]:
    stamp = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "Progressing",
        "status": status,
        "reason": reason,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
    }


def counts(replicas: int, updated: int, available: int, *, generation: int = 1) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
    }


def reasons(status: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]


def test_progress_is_reported_with_a_fresh_update_time_and_the_old_transition_time() -> None:
    d = deployment(replicas=2)
    before = {
        **counts(2, 0, 2),
        "conditions": [progressing("NewReplicaSetCreated", updated=NOW - datetime.timedelta(minutes=5))],
    }
    after = rollout_conditions(d, counts(3, 1, 2), before, NEW, NOW)
    [condition] = after["conditions"]
    assert (condition["reason"], condition["message"]) == ("ReplicaSetUpdated", 'ReplicaSet "web-new" is progressing.')
    assert condition["lastUpdateTime"] == "2026-01-01T12:00:00Z"
    assert condition["lastTransitionTime"] == "2026-01-01T11:55:00Z"


def test_complete_rollout() -> None:
    after = rollout_conditions(deployment(replicas=2), counts(2, 2, 2), {"conditions": []}, NEW, NOW)
    assert reasons(after) == [("Progressing", "True", "NewReplicaSetAvailable")]
    assert after["conditions"][0]["message"] == 'ReplicaSet "web-new" has successfully progressed.'


@pytest.mark.parametrize(("minutes", "expired"), [(9, False), (11, True)])
def test_no_progress_past_the_deadline_times_out(minutes: int, expired: bool) -> None:
    d = deployment(replicas=2)
    stuck = counts(3, 1, 2)
    before = {
        **stuck,
        "conditions": [progressing("ReplicaSetUpdated", updated=NOW - datetime.timedelta(minutes=minutes))],
    }
    # The calculated status carries the conditions so far, as upstream's calculateStatus copies them.
    after = rollout_conditions(d, {**stuck, "conditions": before["conditions"]}, before, NEW, NOW)
    expected = ("False", "ProgressDeadlineExceeded") if expired else ("True", "ReplicaSetUpdated")
    assert reasons(after)[0][1:] == expected
    assert timed_out(d, after["conditions"], NOW) is expired
    if not expired:
        assert progress_check_after(d, stuck, before, NOW) == pytest.approx(60.0 + 1.0)


def test_replica_failure_of_the_new_replica_set_is_copied() -> None:
    failing = ReplicaSet(
        metadata=ObjectMeta(name="web-new", namespace=NAMESPACE),
        spec=ReplicaSetSpec(selector={}),  # type: ignore[arg-type]
        status=ReplicaSetStatus(
            replicas=0,
            conditions=[
                ReplicaSetCondition(
                    type="ReplicaFailure", status="True", reason="FailedCreate", message="quota", lastTransitionTime=NOW
                )
            ],
        ),
    )
    after = rollout_conditions(deployment(replicas=2), counts(2, 2, 2), {"conditions": []}, failing, NOW, [failing])
    assert ("ReplicaFailure", "True", "FailedCreate") in reasons(after)
    healed = rollout_conditions(deployment(replicas=2), counts(2, 2, 2), after, NEW, NOW, [NEW])
    assert "ReplicaFailure" not in [c["type"] for c in healed["conditions"]]


def test_pausing_and_resuming_set_unknown_progressing() -> None:
    d = deployment(replicas=1)
    d.spec.paused = True
    plan = plan_deployment_sync(d, [], [], NOW)
    assert ("Progressing", "Unknown", "DeploymentPaused") in reasons(plan.status)
    assert plan.create is None, "a paused Deployment starts no rollout"
    d.spec.paused = False
    d.status = type(d).from_dict({**d.to_dict(), "status": plan.status}).status
    resumed = plan_deployment_sync(d, [], [], NOW)
    assert resumed.create is not None
    assert ("Progressing", "True", "NewReplicaSetCreated") in reasons(resumed.status)
