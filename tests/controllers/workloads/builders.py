"""Builders for the workload controller tests.

Plan: namespace ``test``; ReplicaSet / ReplicationController / Deployment
``web`` select ``app: web`` and run image ``img:1`` (container ``c``); pods
are ``pod<n>`` (uid ``uid-pod<n>``) on node ``node-1`` unless told otherwise.
``kubelet_run`` plays the node agent: it marks every pending pod of the
namespace Running and Ready, as a kubelet would once containers start.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from lightkube.models.apps_v1 import (
    DeploymentSpec,
    DeploymentStrategy,
    ReplicaSetSpec,
    RollingUpdateDeployment,
)
from lightkube.models.core_v1 import (
    Container,
    ContainerStatus,
    PodCondition,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    ReplicationControllerSpec,
)
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import Pod, ReplicationController

from svclab.kube.models import meta
from svclab.kube.testing import FakeClient

NAMESPACE = "test"
LABELS = {"app": "web"}
NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def template(image: str = "img:1", labels: Mapping[str, str] | None = None) -> PodTemplateSpec:
    return PodTemplateSpec(
        metadata=ObjectMeta(labels=dict(labels or LABELS)),
        spec=PodSpec(containers=[Container(name="c", image=image)]),
    )


def replica_set(name: str = "web", replicas: int = 3, *, uid: str | None = None, min_ready: int = 0) -> ReplicaSet:
    return ReplicaSet(
        metadata=ObjectMeta(name=name, namespace=NAMESPACE, uid=uid or f"uid-rs-{name}"),
        spec=ReplicaSetSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=dict(LABELS)),
            template=template(),
            minReadySeconds=min_ready or None,
        ),
    )


def replication_controller(name: str = "web", replicas: int = 2) -> ReplicationController:
    return ReplicationController(
        metadata=ObjectMeta(name=name, namespace=NAMESPACE, uid=f"uid-rc-{name}"),
        spec=ReplicationControllerSpec(replicas=replicas, selector=dict(LABELS), template=template()),
    )


def deployment(
    name: str = "web",
    replicas: int = 1,
    *,
    image: str = "img:1",
    surge: int | str | None = "25%",
    unavailable: int | str | None = "25%",
    strategy: str = "RollingUpdate",
    history: int | None = 10,
) -> Deployment:
    rolling = (
        RollingUpdateDeployment(maxSurge=surge, maxUnavailable=unavailable) if strategy == "RollingUpdate" else None
    )
    return Deployment(
        metadata=ObjectMeta(name=name, namespace=NAMESPACE, uid=f"uid-deploy-{name}"),
        spec=DeploymentSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=dict(LABELS)),
            template=template(image),
            strategy=DeploymentStrategy(type=strategy, rollingUpdate=rolling),
            revisionHistoryLimit=history,
            progressDeadlineSeconds=600,
        ),
    )


def pod(
    n: int,
    *,
    node: str | None = "node-1",
    phase: str = "Running",
    ready: bool = True,
    ready_since: datetime.datetime | None = None,
    created: datetime.datetime | None = None,
    restarts: int = 0,
    labels: Mapping[str, str] | None = None,
    owner: Any = None,
    annotations: Mapping[str, str] | None = None,
) -> Pod:
    refs = None
    if owner is not None:
        refs = [
            OwnerReference(
                apiVersion=owner.apiVersion or "apps/v1",
                kind=owner.kind or "ReplicaSet",
                name=meta(owner).name or "",
                uid=meta(owner).uid or "",
                controller=True,
                blockOwnerDeletion=True,
            )
        ]
    conditions = [PodCondition(type="Ready", status="True" if ready else "False", lastTransitionTime=ready_since)]
    return Pod(
        metadata=ObjectMeta(
            name=f"pod{n}",
            namespace=NAMESPACE,
            uid=f"uid-pod{n}",
            labels=dict(LABELS if labels is None else labels),
            annotations=dict(annotations) if annotations else None,
            creationTimestamp=created,
            ownerReferences=refs,
        ),
        spec=PodSpec(containers=[Container(name="c")], nodeName=node),
        status=PodStatus(
            phase=phase,
            conditions=conditions,
            containerStatuses=[ContainerStatus(name="c", image="img", imageID="", ready=ready, restartCount=restarts)],
        ),
    )


async def kubelet_run(client: FakeClient, *, ready: bool = True) -> int:
    """Mark every pod without a Ready condition Running (and Ready); return how many changed."""
    changed = 0
    for found in client.objects(Pod):
        status = found.status or PodStatus()
        if any(c.type == "Ready" for c in status.conditions or []):
            continue
        found.spec.nodeName = found.spec.nodeName or "node-1"
        found.status = PodStatus(
            phase="Running",
            conditions=[PodCondition(type="Ready", status="True" if ready else "False", lastTransitionTime=NOW)],
        )
        await client.replace(found)
        changed += 1
    return changed
