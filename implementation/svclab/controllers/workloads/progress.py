"""Progress of a Deployment rollout: the ``Progressing`` condition and its deadline.

Upstream ``pkg/controller/deployment/progress.go`` (``syncRolloutStatus``,
``requeueStuckDeployment``) and ``DeploymentTimedOut``: a rollout that has
finished gets ``NewReplicaSetAvailable``; one that moved (more updated,
ready or available pods, fewer old ones) ``ReplicaSetUpdated`` with a fresh
``lastUpdateTime``; one that has not moved for ``progressDeadlineSeconds``
``ProgressDeadlineExceeded`` (status False), which ``kubectl rollout
status`` reports as a failure.  Side-effect-free.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from lightkube.resources.apps_v1 import Deployment, ReplicaSet

from svclab.kube.models import meta

from .deployments import deployment_complete, deployment_progressing, set_condition

__all__ = [
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "has_progress_deadline",
    "progress_check_after",
    "progress_deadline",
    "rollout_conditions",
    "timed_out",
    "timestamp",
]

DEFAULT_PROGRESS_DEADLINE_SECONDS = 600


def timestamp(moment: datetime.datetime) -> str:
    """An RFC 3339 timestamp at second precision, as ``metav1.Time`` serialises."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def has_progress_deadline(deployment: Deployment) -> bool:
    deadline = deployment.spec.progressDeadlineSeconds
    return deadline is None or deadline != 2**31 - 1  # absent: the API default, 600


def progress_deadline(deployment: Deployment) -> int:
    deadline = deployment.spec.progressDeadlineSeconds
    return DEFAULT_PROGRESS_DEADLINE_SECONDS if deadline is None else deadline


def rollout_conditions(
    deployment: Deployment,
    status: dict[str, Any],
    before: Mapping[str, Any],
    new: ReplicaSet | None,
    now: datetime.datetime,
    replica_sets: Sequence[ReplicaSet] = (),
) -> dict[str, Any]:
    """The ``Progressing`` and ``ReplicaFailure`` conditions of upstream ``syncRolloutStatus``.

    ``status`` is the newly calculated status, ``before`` the status so far
    (with the conditions this sync already set); ``replica_sets`` all of the
    Deployment's, whose ``ReplicaFailure`` (the new one's first) is copied.
    """
    conditions = list(status.get("conditions") or [])
    if not has_progress_deadline(deployment):
        conditions = [c for c in conditions if c.get("type") != "Progressing"]
    current = next((c for c in before.get("conditions") or [] if c.get("type") == "Progressing"), None)
    complete_before = (
        status.get("replicas") == status.get("updatedReplicas")
        and (current or {}).get("reason") == "NewReplicaSetAvailable"
    )
    subject = f'ReplicaSet "{meta(new).name}"' if new is not None else f'Deployment "{meta(deployment).name}"'
    stamp = timestamp(now)

    def condition(state: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": "Progressing",
            "status": state,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    if has_progress_deadline(deployment) and not complete_before:
        if deployment_complete(deployment, status):
            wanted = condition("True", "NewReplicaSetAvailable", f"{subject} has successfully progressed.")
            conditions = set_condition(conditions, wanted)
        elif deployment_progressing(before, status):
            wanted = condition("True", "ReplicaSetUpdated", f"{subject} is progressing.")
            if current is not None and current.get("status") == "True":
                wanted["lastTransitionTime"] = current.get("lastTransitionTime")
            conditions = [c for c in conditions if c.get("type") != "Progressing"] + [wanted]
        elif timed_out(deployment, conditions, now):
            wanted = condition("False", "ProgressDeadlineExceeded", f"{subject} has timed out progressing.")
            conditions = set_condition(conditions, wanted)
    failure = _replica_failure(new, replica_sets)
    if failure is not None:
        conditions = set_condition(conditions, failure)
    else:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    return {**status, "conditions": conditions}


def _replica_failure(new: ReplicaSet | None, replica_sets: Sequence[ReplicaSet]) -> dict[str, Any] | None:
    """Upstream ``getReplicaFailures``: the new ReplicaSet's failure first, else any other's."""
    for rs in [*([new] if new is not None else []), *replica_sets]:
        for found in rs.status.conditions or [] if rs.status else []:
            if found.type == "ReplicaFailure":
                since = found.to_dict().get("lastTransitionTime")
                return {
                    "type": "ReplicaFailure",
                    "status": found.status,
                    "lastUpdateTime": since,
                    "lastTransitionTime": since,
                    "reason": found.reason,
                    "message": found.message,
                }
    return None


def _parse_time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def timed_out(deployment: Deployment, conditions: Sequence[Mapping[str, Any]], now: datetime.datetime) -> bool:
    """Upstream ``DeploymentTimedOut``."""
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if progressing is None or progressing.get("reason") == "NewReplicaSetAvailable":
        return False
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = _parse_time(progressing.get("lastUpdateTime"))
    return since is not None and since + datetime.timedelta(seconds=progress_deadline(deployment)) < now


def progress_check_after(
    deployment: Deployment, status: Mapping[str, Any], before: Mapping[str, Any], now: datetime.datetime
) -> float | None:
    """Upstream ``requeueStuckDeployment``: seconds until the deadline check (None: not needed)."""
    current = next((c for c in before.get("conditions") or [] if c.get("type") == "Progressing"), None)
    if (
        current is None
        or deployment_complete(deployment, status)
        or current.get("reason") == "ProgressDeadlineExceeded"
    ):
        return None
    since = _parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    after = (since + datetime.timedelta(seconds=progress_deadline(deployment)) - now).total_seconds()
    return max(after, 0.0) + 1.0
