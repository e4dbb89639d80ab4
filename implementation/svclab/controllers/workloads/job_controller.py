"""The Job controller (imperative shell of ``jobs.plan_job``).

Upstream ``pkg/controller/job``: a Job key is queued when the Job or one of
its pods changes.  A sync claims the namespace's pods (finished ones too:
they count), and, unless earlier writes are still unobserved, deletes and
creates pods as planned (``generateName: <job>-``, the template's labels,
which the API server's defaulting gives the ``job-name`` and
``controller-uid`` labels), writes the status and records the plan's events
(``Completed``, ``BackoffLimitExceeded``, ``DeadlineExceeded``).  An active
deadline requeues the Job when it is due.
"""

from __future__ import annotations

from lightkube.models.core_v1 import PodTemplateSpec
from lightkube.resources.batch_v1 import Job, JobStatus

from svclab.kube.models import meta
from svclab.kube.names import NamespacedName

from ..errors import ControllerError
from .jobs import is_job_finished, plan_job
from .owner_controller import PodOwnerController
from .pods import pod_from_template

__all__ = ["JobController"]


class JobController(PodOwnerController):
    """Runs Jobs' pods to completion; see the module docstring."""

    name = "job"
    owner_resource = Job
    status_resource = JobStatus
    owner_kind = "Job"
    owner_api_version = "batch/v1"

    async def sync(self, key: NamespacedName) -> None:
        job = self.owners.store.get(key)
        if job is None:
            self.expectations.forget(key)
            return
        if is_job_finished(job) or meta(job).deletionTimestamp is not None:
            return
        pods = await self.claim_pods(job, self.namespace_pods(key.namespace))
        if not self.expectations.satisfied(key):
            return  # our last creates or deletes are not in the cache yet: counting now would be wrong
        plan = plan_job(job, pods, self.clock.utcnow())
        error = None
        if plan.delete:
            error = await self.delete_pods(job, plan.delete)
        if plan.create and error is None:
            ref = self.controller_ref(job)
            new = [
                pod_from_template(
                    job.spec.template if job.spec else PodTemplateSpec(),
                    ref,
                    namespace=key.namespace,
                    generate_name=f"{key.name}-",
                )
                for _ in range(plan.create)
            ]
            error = await self.create_pods(job, new)
        if error is not None:
            raise ControllerError(f"failed to manage pods of Job {key}: {error}")
        if plan.status is not None:
            await self.write_status(job, plan.status)
        for type_, reason, message in plan.events:
            self.recorder.eventf(job, type_, reason, message)
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after + 1.0)
