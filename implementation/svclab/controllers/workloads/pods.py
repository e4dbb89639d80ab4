"""Pod rules shared by the workload controllers (upstream ``pkg/controller/controller_utils.go``).

* ``is_pod_active`` / ``is_pod_available``: which pods count as replicas, and
  which of those as available after ``minReadySeconds``;
* ``deletion_order``: upstream's ``ActivePodsWithRanks`` ordering, the pods a
  scale-down removes first;
* ``pod_from_template``: the pod a controller creates from its template
  (``GetPodFromTemplate``): the template's labels, annotations, finalizers
  and spec, ``generateName: <owner>-`` and a controller ownerReference.

Everything here is side-effect-free.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from lightkube.models.core_v1 import PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Pod

from svclab.kube.models import deep_copy, meta

from ..pods_and_services import is_pod_ready, pod_spec, pod_status

__all__ = [
    "ANNOTATION_DELETION_COST",
    "deletion_order",
    "is_pod_active",
    "is_pod_available",
    "pod_from_template",
    "ready_since",
]

# Pods with a lower cost are deleted first (KEP-2255, GA in 1.22's feature set).
ANNOTATION_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

# Upstream's podPhaseToOrdinal: Pending < Unknown < Running (others count as Pending).
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_pod_active(pod: Pod) -> bool:
    """Not Succeeded, not Failed, not being deleted (upstream ``IsPodActive``)."""
    return pod_status(pod).phase not in ("Succeeded", "Failed") and meta(pod).deletionTimestamp is None


def ready_since(pod: Pod) -> datetime.datetime | None:
    """The ``lastTransitionTime`` of a True Ready condition, None when not ready or unset."""
    for condition in pod_status(pod).conditions or []:
        if condition.type == "Ready" and condition.status == "True":
            return condition.lastTransitionTime
    return None


def is_pod_available(pod: Pod, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``podutil.IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) < now


def _deletion_cost(pod: Pod) -> int:
    text = (meta(pod).annotations or {}).get(ANNOTATION_DELETION_COST)
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _max_restarts(pod: Pod) -> int:
    return max((status.restartCount or 0 for status in pod_status(pod).containerStatuses or []), default=0)


def _log_rank(moment: datetime.datetime, now: datetime.datetime) -> int:
    # Upstream's logarithmicRankDiff: floor(log2(age in ns)), -1 for no age.
    age_ns = (now - moment) / datetime.timedelta(microseconds=1) * 1000
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _compare_times(
    first: datetime.datetime | None, second: datetime.datetime | None, now: datetime.datetime | None
) -> int:
    """-1 when ``first`` (a different time) goes first: unset, then newer (log2-scaled with ``now``)."""
    if first is None or second is None:
        return -1 if first is None else 1
    if now is None:
        return -1 if first > second else 1
    diff = _log_rank(first, now) - _log_rank(second, now)
    return 0 if diff == 0 else (-1 if diff < 0 else 1)


def _compare(first: tuple[Pod, int], second: tuple[Pod, int], now: datetime.datetime | None) -> int:
    """Upstream ``ActivePodsWithRanks.Less`` as a three-way comparison; see ``deletion_order``."""
    (a, rank_a), (b, rank_b) = first, second
    node_a, node_b = pod_spec(a).nodeName or "", pod_spec(b).nodeName or ""
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    phase_a, phase_b = (_PHASE_ORDINAL.get(pod_status(p).phase or "", 0) for p in (a, b))
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    if is_pod_ready(a) != is_pod_ready(b):
        return -1 if not is_pod_ready(a) else 1
    if _deletion_cost(a) != _deletion_cost(b):
        return -1 if _deletion_cost(a) < _deletion_cost(b) else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    if is_pod_ready(a) and is_pod_ready(b) and ready_since(a) != ready_since(b):
        return _compare_times(ready_since(a), ready_since(b), now) or _by_uid(a, b)
    if _max_restarts(a) != _max_restarts(b):
        return -1 if _max_restarts(a) > _max_restarts(b) else 1
    created_a, created_b = meta(a).creationTimestamp, meta(b).creationTimestamp
    if created_a != created_b:
        return _compare_times(created_a, created_b, now) or _by_uid(a, b)
    return 0


def _by_uid(a: Pod, b: Pod) -> int:
    # Equal logarithmic ranks: upstream orders by UID, a pseudo-random but stable order.
    uid_a, uid_b = meta(a).uid or "", meta(b).uid or ""
    return (uid_a > uid_b) - (uid_a < uid_b)


def deletion_order(
    pods: Sequence[Pod], ranks: Sequence[int] | None = None, *, now: datetime.datetime | None = None
) -> list[Pod]:
    """``pods`` sorted so that those to delete first come first (upstream ``ActivePodsWithRanks``).

    In order: unscheduled before scheduled; Pending < Unknown < Running; not
    ready before ready; lower ``pod-deletion-cost`` first; higher rank first
    (rank = pods of the same owner family on the pod's node); ready for less
    time first; more container restarts first; created more recently first.
    With ``now`` the two times compare on a log2 scale, ties broken by UID,
    as upstream's LogarithmicScaleDown.  The sort is stable.
    """
    ranked = list(zip(pods, ranks if ranks is not None else [0] * len(pods), strict=True))
    key: Callable[[tuple[Pod, int]], Any] = functools.cmp_to_key(lambda x, y: _compare(x, y, now))
    return [pod for pod, _ in sorted(ranked, key=key)]


def pod_from_template(
    template: PodTemplateSpec, owner_ref: OwnerReference, *, namespace: str, generate_name: str
) -> Pod:
    """A new pod from a controller's template (upstream ``GetPodFromTemplate``)."""
    template_meta = template.metadata or ObjectMeta()
    spec = deep_copy(template.spec) if template.spec is not None else None
    return Pod(
        metadata=ObjectMeta(
            namespace=namespace,
            generateName=generate_name,
            labels=dict(template_meta.labels or {}) or None,
            annotations=dict(template_meta.annotations or {}) or None,
            finalizers=list(template_meta.finalizers or []) or None,
            ownerReferences=[owner_ref],
        ),
        spec=spec,
    )
