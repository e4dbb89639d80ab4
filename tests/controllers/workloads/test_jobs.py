"""Jobs: the planner and the shell.

Plan: Job ``pi`` in ``test`` selects ``job-name: pi`` (as the API server's
defaulting sets it) and runs image ``img:1`` with restartPolicy Never.
``finish`` plays the kubelet for a Job's pods: it moves running pods to
Succeeded or Failed.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from lightkube.models.batch_v1 import JobSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from svclab.controllers.workloads.jobs import plan_job

from .builders import NAMESPACE, NOW, kubelet_run, pod, template

pytestmark = pytest.mark.timeout(10)

PI = {"job-name": "pi"}


def job(
    *,
    completions: int | None = 3,
    parallelism: int | None = 2,
    backoff: int | None = 1,
    deadline: int | None = None,
    suspend: bool | None = None,
) -> Job:
    tpl = template(labels=PI)
    tpl.spec.restartPolicy = "Never"
    return Job(
        metadata=ObjectMeta(name="pi", namespace=NAMESPACE, uid="uid-job-pi", generation=1),
        spec=JobSpec(
            template=tpl,
            selector=LabelSelector(matchLabels=dict(PI)),
            completions=completions,
            parallelism=parallelism,
            backoffLimit=backoff,
            activeDeadlineSeconds=deadline,
            suspend=suspend,
        ),
    )


def job_pod(n: int, owner: Job, phase: str = "Running") -> Pod:
    return pod(n, labels=PI, owner=owner, phase=phase, ready=phase == "Running")


def conditions(status: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(c["type"], c["reason"]) for c in (status or {}).get("conditions") or []]


@pytest.mark.parametrize(
    ("completions", "parallelism", "phases", "create"),
    [
        (3, 2, [], 2),
        (3, 2, ["Succeeded", "Running"], 1),
        (3, 2, ["Succeeded", "Succeeded", "Running"], 0),  # one more completion needed, one running
        (None, 2, [], 2),
        (None, 2, ["Succeeded", "Running"], 0),  # a work queue: no new pod after a success
        (5, 1, ["Failed"], 1),
    ],
    ids=["start", "refill", "last-one-running", "queue-start", "queue-draining", "replace-failed"],
)
def test_pods_to_create(completions: int | None, parallelism: int, phases: list[str], create: int) -> None:
    owner = job(completions=completions, parallelism=parallelism, backoff=3)
    plan = plan_job(owner, [job_pod(n, owner, phase) for n, phase in enumerate(phases)], NOW)
    assert (plan.create, plan.delete) == (create, [])


def test_completion_sets_success_criteria_then_complete() -> None:
    owner = job(completions=2, parallelism=2)
    plan = plan_job(owner, [job_pod(0, owner, "Succeeded"), job_pod(1, owner, "Succeeded")], NOW)
    assert conditions(plan.status) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert plan.status["succeeded"] == 2 and "active" not in plan.status
    assert plan.status["completionTime"] == plan.status["startTime"] == "2026-01-01T12:00:00Z"
    assert plan.events == [("Normal", "Completed", "Job completed")]


def test_backoff_limit_fails_the_job_after_its_pods_are_gone() -> None:
    owner = job(completions=5, parallelism=2, backoff=1)
    pods = [job_pod(0, owner, "Failed"), job_pod(1, owner, "Failed"), job_pod(2, owner, "Running")]
    plan = plan_job(owner, pods, NOW)
    assert conditions(plan.status) == [("FailureTarget", "BackoffLimitExceeded")]
    assert [p.metadata.name for p in plan.delete] == ["pod2"] and plan.create == 0
    owner.status = Job.from_dict({**owner.to_dict(), "status": plan.status}).status
    final = plan_job(owner, pods[:2], NOW)
    assert conditions(final.status) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert final.events == [("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]


def test_active_deadline() -> None:
    owner = job(deadline=30)
    started = Job.from_dict({**owner.to_dict(), "status": {"startTime": "2026-01-01T12:00:00Z"}})
    assert plan_job(started, [], NOW).requeue_after == 30.0
    late = plan_job(started, [job_pod(0, started)], NOW + datetime.timedelta(seconds=31))
    assert conditions(late.status) == [("FailureTarget", "DeadlineExceeded")] and len(late.delete) == 1


def test_suspended_job_starts_nothing_and_stops_its_pods() -> None:
    owner = job(suspend=True)
    plan = plan_job(owner, [job_pod(0, owner)], NOW)
    assert (plan.create, [p.metadata.name for p in plan.delete]) == (0, ["pod0"])
    assert "startTime" not in (plan.status or {})


async def finish(client: Any, phase: str) -> int:
    changed = 0
    for found in client.objects(Pod):
        if found.status and found.status.phase == "Running":
            found.status.phase = phase
            await client.replace(found)
            changed += 1
    return changed


async def test_job_runs_to_completion(make_harness: Any) -> None:
    h = await make_harness(job(completions=3, parallelism=2), controllers=["job"])
    for _ in range(6):
        await h.drain("job")
        await kubelet_run(h.client)
        await h.settle()
        assert len([p for p in h.client.objects(Pod) if p.status.phase == "Running"]) <= 2, "parallelism 2"
        await finish(h.client, "Succeeded")
        await h.settle()
    await h.drain("job")
    [done] = h.client.objects(Job)
    assert (done.status.succeeded, done.status.active) == (3, None)
    assert [(c.type, c.status) for c in done.status.conditions] == [
        ("SuccessCriteriaMet", "True"),
        ("Complete", "True"),
    ]
    assert len(h.client.objects(Pod)) == 3
    created = h.client.objects(Pod)[0]
    assert created.metadata.generateName == "pi-" and created.metadata.ownerReferences[0].kind == "Job"
    assert ("Normal", "Completed", "Job completed") in h.controllers["job"].recorder.triples()


async def test_job_fails_past_its_backoff_limit(make_harness: Any) -> None:
    h = await make_harness(job(completions=1, parallelism=1, backoff=1), controllers=["job"])
    for _ in range(4):
        await h.drain("job")
        await kubelet_run(h.client)
        await h.settle()
        await finish(h.client, "Failed")
        await h.settle()
    await h.drain("job")
    [failed] = h.client.objects(Job)
    assert failed.status.failed == 2
    assert [(c.type, c.reason) for c in failed.status.conditions] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert h.client.verbs().count(("create", "Pod")) == 2, "backoffLimit 1: one retry, then no more pods"
    assert len(h.client.objects(Pod)) == 2
