"""What a Job sync wants: the pure core of the Job controller (upstream ``pkg/controller/job``).

``plan_job(job, pods, now)`` for a non-indexed Job:

* ``parallelism`` (default 1) pods run at once, never more than the
  ``completions`` still missing; without ``completions`` (a work queue) no
  new pod starts once one has succeeded;
* more failed pods than ``backoffLimit`` (default 6), or a Job active longer
  than ``activeDeadlineSeconds``, fails the Job: ``FailureTarget`` is set,
  the running pods are deleted, then ``Failed`` (reason
  ``BackoffLimitExceeded`` / ``DeadlineExceeded``) with a Warning event;
* enough succeeded pods complete it: ``SuccessCriteriaMet`` then ``Complete``
  (reason ``CompletionsReached``), ``completionTime`` and a ``Completed``
  event;
* ``spec.suspend`` deletes the running pods and starts none;
* a finished Job is left alone.

Simplified: pods carry no ``batch.kubernetes.io/job-tracking`` finalizer;
succeeded and failed pods are counted from the pods present and never below
the counts already in the status.  Pods are recreated without upstream's
exponential backoff.  Side-effect-free.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightkube.models.batch_v1 import JobSpec
from lightkube.models.core_v1 import PodTemplateSpec
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from ..pods_and_services import is_pod_ready, pod_status
from .pods import deletion_order, is_pod_active
from .progress import timestamp

__all__ = ["DEFAULT_BACKOFF_LIMIT", "JobPlan", "is_job_finished", "plan_job"]

DEFAULT_BACKOFF_LIMIT = 6
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


@dataclass(slots=True)
class JobPlan:
    """Pods to create (a count), pods to delete, the new status (None: unchanged), events,
    and the seconds until the active deadline is due (None: no deadline)."""

    create: int = 0
    delete: list[Pod] = field(default_factory=list)
    status: dict[str, Any] | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def _spec(job: Job) -> JobSpec:
    return job.spec or JobSpec(template=PodTemplateSpec())


def _conditions(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(c) for c in status.get("conditions") or []]


def _has(conditions: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind and c.get("status") == "True"), None)


def is_job_finished(job: Job) -> bool:
    """A ``Complete`` or ``Failed`` condition is True (upstream ``IsJobFinished``)."""
    conditions = _conditions(job.status.to_dict() if job.status else {})
    return bool(_has(conditions, "Complete") or _has(conditions, "Failed"))


def _add(conditions: list[dict[str, Any]], kind: str, reason: tuple[str, str], now: str) -> None:
    if not _has(conditions, kind):
        conditions.append(
            {
                "type": kind,
                "status": "True",
                "lastProbeTime": now,
                "lastTransitionTime": now,
                "reason": reason[0],
                "message": reason[1],
            }
        )


def _failure(job: Job, failed: int, start: datetime.datetime, now: datetime.datetime) -> tuple[str, str] | None:
    backoff_limit = _spec(job).backoffLimit
    limit = DEFAULT_BACKOFF_LIMIT if backoff_limit is None else backoff_limit
    if failed > limit:
        return BACKOFF_LIMIT_EXCEEDED
    deadline = _spec(job).activeDeadlineSeconds
    if deadline is not None and now - start >= datetime.timedelta(seconds=deadline):
        return DEADLINE_EXCEEDED
    return None


def _wanted_active(job: Job, active: int, succeeded: int) -> int:
    spec = _spec(job)
    if spec.suspend:
        return 0
    parallelism = 1 if spec.parallelism is None else spec.parallelism
    if spec.completions is None:
        return active if succeeded > 0 else parallelism  # a work queue: no new pod after a success
    return max(min(parallelism, spec.completions - succeeded), 0)


def plan_job(job: Job, pods: Sequence[Pod], now: datetime.datetime) -> JobPlan:
    """Plan one sync of ``job`` over the pods it owns; see the module docstring."""
    plan = JobPlan()
    if is_job_finished(job):
        return plan
    current = job.status.to_dict() if job.status else {}
    conditions = _conditions(current)
    stamp = timestamp(now)
    active = [p for p in pods if is_pod_active(p)]
    succeeded = max(sum(1 for p in pods if pod_status(p).phase == "Succeeded"), current.get("succeeded") or 0)
    failed = max(sum(1 for p in pods if pod_status(p).phase == "Failed"), current.get("failed") or 0)
    start_text = current.get("startTime") or (None if _spec(job).suspend else stamp)
    start = _parse(start_text) if start_text else now
    target = _has(conditions, "FailureTarget")
    failure = _failure(job, failed, start, now) if target is None else None
    reason = (str(target.get("reason")), str(target.get("message"))) if target is not None else failure
    completions = _spec(job).completions
    if reason is not None:
        _finish(plan, conditions, active, ("FailureTarget", "Failed"), reason, stamp)
    elif succeeded >= completions if completions is not None else succeeded > 0 and not active:
        _finish(plan, conditions, active, ("SuccessCriteriaMet", "Complete"), COMPLETIONS_REACHED, stamp)
    else:
        wanted = _wanted_active(job, len(active), succeeded)
        if len(active) > wanted:
            plan.delete = deletion_order(active, now=now)[: len(active) - wanted]
        plan.create = max(wanted - len(active), 0)
        deadline = _spec(job).activeDeadlineSeconds
        if deadline is not None and start_text:
            remaining = (start + datetime.timedelta(seconds=deadline) - now).total_seconds()
            plan.requeue_after = max(remaining, 0.0)
    remaining_active = [p for p in active if p not in plan.delete]
    status: dict[str, Any] = {
        "active": len(remaining_active) + plan.create,
        "succeeded": succeeded,
        "failed": failed,
        "ready": sum(1 for p in remaining_active if is_pod_ready(p)),
        "startTime": start_text,
        "conditions": conditions,
        "completionTime": stamp if _has(conditions, "Complete") else current.get("completionTime"),
    }
    plan.status = _status_if_changed(current, status)
    return plan


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _finish(
    plan: JobPlan,
    conditions: list[dict[str, Any]],
    active: list[Pod],
    kinds: tuple[str, str],
    reason: tuple[str, str],
    now: str,
) -> None:
    """Set the interim condition, delete the running pods, and the final one once none run."""
    interim, final = kinds
    _add(conditions, interim, reason, now)
    plan.delete = list(active)
    if not active:
        _add(conditions, final, reason, now)
        if final == "Complete":
            plan.events.append(("Normal", "Completed", "Job completed"))
        else:
            plan.events.append(("Warning", reason[0], reason[1]))


def _status_if_changed(current: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any] | None:
    managed = ("active", "succeeded", "failed", "ready", "startTime", "conditions", "completionTime")
    wanted = {k: v for k, v in current.items() if k not in managed}
    wanted.update({k: v for k, v in status.items() if v or k == "ready"})  # the rest is omitempty
    return wanted if wanted != current else None
