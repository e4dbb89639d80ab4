"""One Deployment sync, planned: the pure core of the Deployment controller.

``plan_deployment_sync(deployment, replica_sets, pods, now)`` follows
upstream's ``syncDeployment`` step for step and returns the writes it would
make as a ``RolloutPlan``:

* a deleted Deployment only gets its status;
* a scaling event (the active ReplicaSets' ``desired-replicas`` annotation
  differs from ``spec.replicas``) or a paused Deployment scales the
  ReplicaSets proportionally (``scale``);
* ``Recreate`` scales every old ReplicaSet to 0, waits until their pods are
  gone, then creates / scales up the new one;
* ``RollingUpdate`` grows the new ReplicaSet up to ``replicas + maxSurge``
  pods in all, else shrinks the old ones (unhealthy replicas first) while
  ``replicas - maxUnavailable`` stay available;
* a complete rollout deletes old, empty ReplicaSets beyond
  ``revisionHistoryLimit``;
* the status and its ``Progressing`` condition (``NewReplicaSetCreated``,
  ``FoundNewReplicaSet``, ``ReplicaSetUpdated``, ``NewReplicaSetAvailable``,
  ``ProgressDeadlineExceeded``) as ``syncRolloutStatus`` computes them.

Upstream writes as it goes and returns after a scale-up or scale-down; the
plan holds the same writes, one per ReplicaSet (a ReplicaSet updated twice in
one sync is written once, with both changes), and the shell makes them.
Side-effect-free.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lightkube.models.apps_v1 import ReplicaSetSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import Pod

from svclab.kube.models import deep_copy, from_dict, meta

from ..pods_and_services import pod_status
from .deployments import (
    ANNOTATION_DESIRED_REPLICAS,
    ANNOTATION_MAX_REPLICAS,
    ANNOTATION_REVISION,
    ANNOTATION_REVISION_HISTORY,
    LABEL_POD_TEMPLATE_HASH,
    calculate_status,
    deployment_complete,
    deployment_replicas,
    find_new_replica_set,
    is_rolling_update,
    is_saturated,
    max_revision,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    pod_template_hash,
    rs_replicas,
    rs_status_count,
    set_condition,
    sorted_by_creation,
)
from .ownership import new_controller_ref
from .progress import has_progress_deadline, progress_check_after, rollout_conditions, timestamp
from .scaling import proportional_sizes

__all__ = ["ANNOTATIONS_NOT_COPIED", "RolloutPlan", "plan_deployment_sync"]

# Deployment annotations never copied onto its ReplicaSets (upstream annotationsToSkip).
ANNOTATIONS_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        ANNOTATION_REVISION,
        ANNOTATION_REVISION_HISTORY,
        ANNOTATION_DESIRED_REPLICAS,
        ANNOTATION_MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
DEFAULT_REVISION_HISTORY_LIMIT = 10
# Upstream maxRevHistoryLengthInChars.
MAX_REVISION_HISTORY_CHARS = 2000


@dataclass(slots=True)
class RolloutPlan:
    """The writes of one Deployment sync.

    ``create``: the new ReplicaSet; ``updates``: ReplicaSets to replace (new
    size, annotations, minReadySeconds), in order; ``delete``: old
    ReplicaSets past the history limit; ``revision``: the Deployment's new
    revision annotation (None: unchanged); ``status``: the new status (None:
    unchanged); ``events``: (type, reason, message) about the Deployment;
    ``requeue_after``: seconds until a progress-deadline check is due.
    """

    create: ReplicaSet | None = None
    updates: list[ReplicaSet] = field(default_factory=list)
    delete: list[ReplicaSet] = field(default_factory=list)
    revision: str | None = None
    status: dict[str, Any] | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def plan_deployment_sync(
    deployment: Deployment,
    replica_sets: Sequence[ReplicaSet],
    pods: Sequence[Pod],
    now: datetime.datetime,
) -> RolloutPlan:
    """Plan one sync of ``deployment`` owning ``replica_sets`` (and, through them, ``pods``)."""
    return _Planner(deployment, replica_sets, pods, now).run()


class _Planner:
    """Upstream's sync functions over in-memory copies; every write lands in ``plan``."""

    def __init__(
        self, deployment: Deployment, replica_sets: Sequence[ReplicaSet], pods: Sequence[Pod], now: datetime.datetime
    ) -> None:
        self.d = deployment
        self.replica_sets = list(replica_sets)
        self.pods = list(pods)
        self.now = now
        self.plan = RolloutPlan()
        self.original_status = deployment.status.to_dict() if deployment.status else {}
        # The status as the sync goes (conditions set on the way, as upstream's d.Status).
        self.status: dict[str, Any] = dict(self.original_status)

    def run(self) -> RolloutPlan:
        spec = self.d.spec
        self.paused_conditions()
        if meta(self.d).deletionTimestamp is not None:
            new, old = self.all_replica_sets(create=False)
            self.finish_status([*old, new], new, rollout=False)
        elif spec.paused or self.is_scaling_event():
            self.sync_scale()
        elif not is_rolling_update(self.d):
            self.rollout_recreate()
        else:
            self.rollout_rolling()
        return self.plan

    def paused_conditions(self) -> None:
        """Upstream ``checkPausedConditions``: Progressing Unknown while paused, then resumed."""
        current = next((c for c in self.status.get("conditions") or [] if c.get("type") == "Progressing"), None)
        reason = (current or {}).get("reason")
        if reason == "ProgressDeadlineExceeded":
            return
        if self.d.spec.paused and reason != "DeploymentPaused":
            self.set_progressing("Unknown", "DeploymentPaused", "Deployment is paused")
        elif not self.d.spec.paused and reason == "DeploymentPaused":
            self.set_progressing("Unknown", "DeploymentResumed", "Deployment is resumed")

    # -- ReplicaSets --------------------------------------------------------------

    def event(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.plan.events.append((type_, reason, message))

    def record_update(self, rs: ReplicaSet) -> None:
        name = meta(rs).name
        self.plan.updates = [u for u in self.plan.updates if meta(u).name != name] + [rs]
        if self.plan.create is not None and meta(self.plan.create).name == name:
            self.plan.create, self.plan.updates = rs, self.plan.updates[:-1]

    def all_replica_sets(self, *, create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """Upstream ``getAllReplicaSetsAndSyncRevision``: (new or None, all old)."""
        existing = find_new_replica_set(self.d, self.replica_sets)
        old = [rs for rs in self.replica_sets if existing is None or meta(rs).uid != meta(existing).uid]
        new_revision = str(max_revision(old) + 1)
        if existing is not None:
            return self.sync_existing_new(existing, new_revision), old
        if not create:
            return None, old
        return self.create_new(old, new_revision), old

    def sync_existing_new(self, existing: ReplicaSet, new_revision: str) -> ReplicaSet:
        copy = deep_copy(existing)
        changed = _set_new_rs_annotations(self.d, copy, new_revision, exists=True)
        if changed or (copy.spec.minReadySeconds or 0) != (self.d.spec.minReadySeconds or 0):
            copy.spec.minReadySeconds = self.d.spec.minReadySeconds
            self.record_update(copy)
        self.set_revision((meta(copy).annotations or {}).get(ANNOTATION_REVISION, new_revision))
        if not any(c.get("type") == "Progressing" for c in self.status.get("conditions") or []):
            self.set_progressing("True", "FoundNewReplicaSet", f'Found new replica set "{meta(copy).name}"')
        return copy

    def create_new(self, old: list[ReplicaSet], new_revision: str) -> ReplicaSet:
        template = self.d.spec.template.to_dict()
        collisions = self.status.get("collisionCount")
        hash_ = pod_template_hash(template, collisions)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), LABEL_POD_TEMPLATE_HASH: hash_}
        template.setdefault("metadata", {})["labels"] = labels
        selector = self.d.spec.selector.to_dict() if self.d.spec.selector else {}
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), LABEL_POD_TEMPLATE_HASH: hash_}
        name = f"{meta(self.d).name}-{hash_}"
        spec = {"selector": selector, "template": template, "replicas": 0}
        if self.d.spec.minReadySeconds:
            spec["minReadySeconds"] = self.d.spec.minReadySeconds
        new = ReplicaSet(
            metadata=ObjectMeta(
                name=name,
                namespace=meta(self.d).namespace,
                labels=labels,
                ownerReferences=[new_controller_ref(self.d, api_version="apps/v1", kind="Deployment")],
            ),
            spec=from_dict(ReplicaSetSpec, spec),
        )
        new.spec.replicas = new_rs_new_replicas(self.d, [*old, new], new)
        _set_new_rs_annotations(self.d, new, new_revision, exists=False)
        self.plan.create = new
        if new.spec.replicas > 0:
            self.event("ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {new.spec.replicas}")
        self.set_revision(new_revision)
        self.set_progressing("True", "NewReplicaSetCreated", f'Created new replica set "{name}"')
        return new

    def set_revision(self, revision: str) -> None:
        if (meta(self.d).annotations or {}).get(ANNOTATION_REVISION) != revision:
            self.plan.revision = revision

    def set_progressing(self, status: str, reason: str, message: str) -> None:
        if not has_progress_deadline(self.d):
            return
        stamp = timestamp(self.now)
        condition = {
            "type": "Progressing",
            "status": status,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
        self.status["conditions"] = set_condition(list(self.status.get("conditions") or []), condition)

    def scale(self, rs: ReplicaSet, size: int, *, force: bool = False) -> tuple[bool, ReplicaSet]:
        """Upstream ``scaleReplicaSetAndRecordEvent`` (``force``: ``scaleReplicaSet``, annotations too)."""
        if rs_replicas(rs) == size and not force:
            return False, rs
        replicas = deployment_replicas(self.d)
        wanted = {
            ANNOTATION_DESIRED_REPLICAS: str(replicas),
            ANNOTATION_MAX_REPLICAS: str(replicas + max_surge(self.d)),
        }
        annotations = dict(meta(rs).annotations or {})
        if rs_replicas(rs) == size and all(annotations.get(k) == v for k, v in wanted.items()):
            return False, rs
        copy = deep_copy(rs)
        before = rs_replicas(rs)
        copy.spec.replicas = size
        meta(copy).annotations = {**annotations, **wanted}
        self.record_update(copy)
        if before != size:
            direction = "up" if before < size else "down"
            self.event("ScalingReplicaSet", f"Scaled {direction} replica set {meta(rs).name} from {before} to {size}")
        return before != size, copy

    # -- scaling events and paused Deployments ------------------------------------

    def is_scaling_event(self) -> bool:
        """Upstream ``isScalingEvent``: an active ReplicaSet was sized for another ``replicas``."""
        replicas = str(deployment_replicas(self.d))
        for rs in _active(self.replica_sets):
            desired = (meta(rs).annotations or {}).get(ANNOTATION_DESIRED_REPLICAS)
            if desired is not None and desired != replicas:
                return True
        return False

    def sync_scale(self) -> None:
        """Upstream ``sync``: proportional scaling, cleanup when paused, plain status."""
        new, old = self.all_replica_sets(create=False)
        self.proportional_scale(new, old)
        if self.d.spec.paused:
            self.cleanup(old)
        self.finish_status([*old, new], new, rollout=False)

    def proportional_scale(self, new: ReplicaSet | None, old: list[ReplicaSet]) -> None:
        active = _active([*old, new])
        if len(active) <= 1:
            candidates = active or ([new] if new is not None else sorted_by_creation(old)[-1:])
            if candidates and rs_replicas(candidates[0]) != deployment_replicas(self.d):
                self.scale(candidates[0], deployment_replicas(self.d))
            return
        if is_saturated(self.d, new):
            for rs in _active(old):
                self.scale(rs, 0)
            return
        if is_rolling_update(self.d):
            for rs, size in proportional_sizes(self.d, active):
                self.scale(rs, size, force=True)

    # -- Recreate -----------------------------------------------------------------

    def rollout_recreate(self) -> None:
        new, old = self.all_replica_sets(create=False)
        all_sets = [*old, new]
        scaled_down = False
        for rs in _active(old):
            scaled_down |= self.scale(rs, 0)[0]
        if scaled_down or self.old_pods_running(new):
            self.finish_status(all_sets, new)
            return
        if new is None:
            new, old = self.all_replica_sets(create=True)
            all_sets = [*old, new]
        assert new is not None  # created when missing
        self.scale(new, deployment_replicas(self.d))
        if deployment_complete(self.d, self.original_status):
            self.cleanup(old)
        self.finish_status(all_sets, new)

    def old_pods_running(self, new: ReplicaSet | None) -> bool:
        new_uid = meta(new).uid if new is not None else None
        for pod in self.pods:
            ref = next((r for r in meta(pod).ownerReferences or [] if r.controller), None)
            if ref is None or (new_uid is not None and ref.uid == new_uid):
                continue
            if pod_status(pod).phase not in ("Failed", "Succeeded"):
                return True
        return any(rs_status_count(rs, "replicas") for rs in self.replica_sets if meta(rs).uid != new_uid)

    # -- RollingUpdate ------------------------------------------------------------

    def rollout_rolling(self) -> None:
        new, old = self.all_replica_sets(create=True)
        assert new is not None
        all_sets: list[ReplicaSet] = [*old, new]
        if self.reconcile_new(all_sets, new) or self.reconcile_old(all_sets, _active(old), new):
            self.finish_status(all_sets, new)
            return
        if deployment_complete(self.d, self.original_status):
            self.cleanup(old)
        self.finish_status(all_sets, new)

    def reconcile_new(self, all_sets: list[ReplicaSet], new: ReplicaSet) -> bool:
        replicas = deployment_replicas(self.d)
        if rs_replicas(new) == replicas:
            return False
        if rs_replicas(new) > replicas:
            return self.scale(new, replicas)[0]
        return self.scale(new, new_rs_new_replicas(self.d, all_sets, new))[0]

    def reconcile_old(self, all_sets: list[ReplicaSet], old: list[ReplicaSet], new: ReplicaSet) -> bool:
        if sum(rs_replicas(rs) for rs in old) == 0:
            return False
        min_available = deployment_replicas(self.d) - max_unavailable(self.d)
        new_unavailable = rs_replicas(new) - rs_status_count(new, "availableReplicas")
        max_scaled_down = sum(rs_replicas(rs) for rs in all_sets) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old, cleaned = self.cleanup_unhealthy(old, max_scaled_down)
        scaled = self.scale_down_old(old + [new], old, min_available)
        return cleaned + scaled > 0

    def cleanup_unhealthy(self, old: list[ReplicaSet], limit: int) -> tuple[list[ReplicaSet], int]:
        """Scale old ReplicaSets down by their unavailable replicas first (upstream #16737)."""
        result, total = sorted_by_creation(old), 0
        for index, rs in enumerate(result):
            if total >= limit:
                break
            unhealthy = rs_replicas(rs) - rs_status_count(rs, "availableReplicas")
            if rs_replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(limit - total, unhealthy)
            result[index] = self.scale(rs, rs_replicas(rs) - count)[1]
            total += count
        return result, total

    def scale_down_old(self, all_sets: list[ReplicaSet], old: list[ReplicaSet], min_available: int) -> int:
        available = sum(rs_status_count(rs, "availableReplicas") for rs in all_sets)
        if available <= min_available:
            return 0
        budget, total = available - min_available, 0
        for rs in sorted_by_creation(old):
            if total >= budget:
                break
            if rs_replicas(rs) == 0:
                continue
            count = min(rs_replicas(rs), budget - total)
            self.scale(rs, rs_replicas(rs) - count)
            total += count
        return total

    # -- cleanup and status -------------------------------------------------------

    def cleanup(self, old: list[ReplicaSet]) -> None:
        """Upstream ``cleanupDeployment``: delete the oldest empty ReplicaSets past the limit."""
        limit = self.d.spec.revisionHistoryLimit
        limit = DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit
        alive = [rs for rs in old if meta(rs).deletionTimestamp is None]
        excess = len(alive) - limit
        if excess <= 0:
            return
        by_revision = sorted(sorted_by_creation(alive), key=_revision_number)
        for rs in by_revision[:excess]:
            observed = rs.status.observedGeneration if rs.status else None
            if rs_status_count(rs, "replicas") or rs_replicas(rs) or (meta(rs).generation or 0) > (observed or 0):
                continue
            self.plan.delete.append(rs)

    def finish_status(
        self, all_sets: Sequence[ReplicaSet | None], new: ReplicaSet | None, *, rollout: bool = True
    ) -> None:
        """Upstream ``syncRolloutStatus`` (``rollout``) or ``syncDeploymentStatus``."""
        present = [rs for rs in all_sets if rs is not None]
        status = calculate_status(self.d, present, new, self.status, timestamp(self.now))
        if rollout:
            status = rollout_conditions(self.d, status, self.status, new, self.now, present)
            self.plan.requeue_after = progress_check_after(self.d, status, self.status, self.now)
        if status != self.original_status:
            self.plan.status = status


def _active(replica_sets: Sequence[ReplicaSet | None]) -> list[ReplicaSet]:
    return [rs for rs in replica_sets if rs is not None and rs_replicas(rs) > 0]


def _revision_number(rs: ReplicaSet) -> int:
    try:
        return int((meta(rs).annotations or {}).get(ANNOTATION_REVISION, "0"))
    except ValueError:
        return 0


def _set_new_rs_annotations(deployment: Deployment, rs: ReplicaSet, new_revision: str, *, exists: bool) -> bool:
    """Upstream ``SetNewReplicaSetAnnotations``; True when the annotations changed."""
    annotations = dict(meta(rs).annotations or {})
    changed = False
    for key, value in (meta(deployment).annotations or {}).items():
        if key not in ANNOTATIONS_NOT_COPIED and annotations.get(key) != value:
            annotations[key], changed = value, True
    old_text = annotations.get(ANNOTATION_REVISION)
    old_revision = _revision_number(rs)
    if old_revision < int(new_revision):
        annotations[ANNOTATION_REVISION], changed = new_revision, True
        if old_text is not None:  # rolling back to this ReplicaSet: keep the revisions it served
            history = annotations.get(ANNOTATION_REVISION_HISTORY)
            entries = [*history.split(","), old_text] if history else [old_text]
            while len(",".join(entries)) > MAX_REVISION_HISTORY_CHARS and len(entries) > 1:
                entries.pop(0)
            annotations[ANNOTATION_REVISION_HISTORY] = ",".join(entries)
    if not exists:
        replicas = deployment_replicas(deployment)
        annotations[ANNOTATION_DESIRED_REPLICAS] = str(replicas)
        annotations[ANNOTATION_MAX_REPLICAS] = str(replicas + max_surge(deployment))
        changed = True
    meta(rs).annotations = annotations
    return changed
