"""Proportional scaling: a Deployment resized in the middle of a rollout.

Upstream ``DeploymentController.scale`` with ``GetProportion``: when several
ReplicaSets are active, the replicas added or removed (up to ``replicas +
maxSurge`` in all) are shared in proportion to each ReplicaSet's size, read
against the ``max-replicas`` annotation it was last scaled for; the largest
ReplicaSet takes the rounding leftover.  Scaling up visits larger, then newer
ReplicaSets first; scaling down larger, then older ones.  Side-effect-free.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence

from lightkube.resources.apps_v1 import Deployment, ReplicaSet

from svclab.kube.models import meta

from .deployments import ANNOTATION_MAX_REPLICAS, deployment_replicas, max_surge, rs_replicas

__all__ = ["proportional_sizes", "round_half_away"]


def round_half_away(value: float) -> int:
    """Go's ``math.Round`` (upstream ``integer.RoundToInt32``): halves away from zero."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _fraction(rs: ReplicaSet, deployment: Deployment) -> int:
    """Upstream ``getReplicaSetFraction``: this ReplicaSet's share of the new total, minus its size."""
    replicas = deployment_replicas(deployment)
    if replicas == 0:
        return -rs_replicas(rs)
    allowed = replicas + max_surge(deployment)
    try:
        annotated = int((meta(rs).annotations or {}).get(ANNOTATION_MAX_REPLICAS, ""))
    except ValueError:
        annotated = deployment.status.replicas if deployment.status and deployment.status.replicas else 0
    if annotated == 0:
        return 0
    return round_half_away(rs_replicas(rs) * allowed / annotated) - rs_replicas(rs)


def _proportion(rs: ReplicaSet, deployment: Deployment, to_add: int, added: int) -> int:
    """Upstream ``GetProportion``: the fraction, bounded by what is still to add or remove."""
    if rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, deployment)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _creation(rs: ReplicaSet) -> tuple[datetime.datetime, str]:
    never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return meta(rs).creationTimestamp or never, meta(rs).name or ""


def proportional_sizes(deployment: Deployment, active: Sequence[ReplicaSet]) -> list[tuple[ReplicaSet, int]]:
    """The new size of every active ReplicaSet, in the order upstream writes them."""
    replicas = deployment_replicas(deployment)
    allowed = replicas + max_surge(deployment) if replicas > 0 else 0
    to_add = allowed - sum(rs_replicas(rs) for rs in active)
    ordered = sorted(active, key=_creation)
    if to_add > 0:  # larger first; among equals the newer first
        ordered = sorted(reversed(ordered), key=lambda rs: -rs_replicas(rs))
    elif to_add < 0:  # larger first; among equals the older first
        ordered = sorted(ordered, key=lambda rs: -rs_replicas(rs))
    sizes: list[int] = []
    added = 0
    for rs in ordered:
        proportion = _proportion(rs, deployment, to_add, added) if to_add else 0
        sizes.append(rs_replicas(rs) + proportion)
        added += proportion
    if ordered and to_add:
        sizes[0] = max(sizes[0] + to_add - added, 0)
    return list(zip(ordered, sizes, strict=True))
