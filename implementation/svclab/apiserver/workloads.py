"""What the write path does for workload kinds beyond defaulting and validation.

Workloads (apps/v1 Deployment, ReplicaSet, DaemonSet, StatefulSet; v1
ReplicationController; batch/v1 Job) keep ``metadata.generation`` in step with
their spec and leave ``status`` (with ``observedGeneration``) to their
controllers. A Job without ``manualSelector`` gets its selector generated from
its uid, as upstream's job strategy does before validation: the template gains
``job-name`` / ``controller-uid`` labels (old and ``batch.kubernetes.io/``
spellings) and the selector matches the uid label. Side-effect-free apart from
the in-place edit :func:`generate_job_selector` documents.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTROLLER_UID_LABEL", "JOB_NAME_LABEL", "SCALED_KINDS", "WORKLOAD_KINDS", "generate_job_selector"]

WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "ReplicationController", "Job"})
# Kinds with an autoscaling/v1 Scale subresource.
SCALED_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"})

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
_LEGACY_JOB_NAME_LABEL = "job-name"
_LEGACY_CONTROLLER_UID_LABEL = "controller-uid"


def generate_job_selector(job: dict[str, Any]) -> None:
    """In place: a Job's generated selector and template labels (unless ``manualSelector``).

    Labels the user set are kept; a wrong one then fails validation (the selector
    no longer matches the template), as upstream.
    """
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector") is True:
        return
    meta = job["metadata"]
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key in (_LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, meta.get("name", ""))
    for key in (_LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, meta.get("uid", ""))
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    spec["selector"] = selector
    selector.setdefault("matchLabels", {}).setdefault(CONTROLLER_UID_LABEL, meta.get("uid", ""))
