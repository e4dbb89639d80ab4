"""What a DaemonSet sync wants: one pod per eligible node (upstream ``pkg/controller/daemon``).

* ``node_should_run(ds, node)``: the node passes the template's
  ``nodeName``, ``nodeSelector`` and required node affinity (``matchExpressions``
  and ``matchFields`` on ``metadata.name``) and its NoSchedule / NoExecute
  taints are tolerated, counting the tolerations every daemon pod gets
  (``daemon_tolerations``, upstream ``AddOrUpdateDaemonPodTolerations``);
* ``plan_daemon_set(ds, nodes, pods)``: pods to create (one per node
  without one), pods to delete (failed ones, duplicates beyond the oldest,
  pods on nodes that no longer qualify, and, for ``RollingUpdate``, old-
  template pods within ``maxUnavailable``), and the status counts.

Simplified: upstream sets a node affinity on ``metadata.name`` and lets the
scheduler bind; here the pod gets ``spec.nodeName`` directly (as upstream
did before 1.12), and the template hash stands in for the ControllerRevision
hash (no ControllerRevision objects are written).  Side-effect-free.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube.resources.apps_v1 import DaemonSet
from lightkube.resources.core_v1 import Node, Pod

from svclab.apimachinery.labels import ValidatedSetSelector, label_selector_from_api
from svclab.apimachinery.selection import SelectorError
from svclab.kube.models import meta

from ..pods_and_services import is_pod_ready, pod_spec, pod_status
from .deployments import pod_template_hash, scaled_value
from .pods import is_pod_available

__all__ = [
    "DaemonPlan",
    "LABEL_CONTROLLER_REVISION_HASH",
    "LABEL_POD_TEMPLATE_GENERATION",
    "daemon_template_hash",
    "daemon_tolerations",
    "node_should_run",
    "plan_daemon_set",
]

LABEL_CONTROLLER_REVISION_HASH = "controller-revision-hash"
LABEL_POD_TEMPLATE_GENERATION = "pod-template-generation"
_OMIT_EMPTY = ("updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def daemon_tolerations(host_network: bool) -> list[dict[str, Any]]:
    """The tolerations upstream adds to every daemon pod."""
    tolerations = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    if host_network:
        tolerations.append(
            {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}
        )
    return tolerations


def daemon_template_hash(ds: DaemonSet) -> str:
    return pod_template_hash(ds.spec.template.to_dict(), ds.status.collisionCount if ds.status else None)


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key, operator = toleration.get("key"), toleration.get("operator") or "Equal"
        if key and key != taint.get("key"):
            continue
        if not key and operator != "Exists":
            continue
        if operator == "Exists" or toleration.get("value", "") == (taint.get("value") or ""):
            return True
    return False


def _node_affinity_matches(template_spec: Mapping[str, Any], node: Node) -> bool:
    required = ((template_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    labels = meta(node).labels or {}
    for term in required.get("nodeSelectorTerms") or []:
        try:
            label_match = label_selector_from_api({"matchExpressions": term.get("matchExpressions") or []})
            field_match = label_selector_from_api({"matchExpressions": term.get("matchFields") or []})
        except SelectorError:
            continue
        if label_match.matches(labels) and field_match.matches({"metadata.name": meta(node).name or ""}):
            return True
    return False


def node_should_run(ds: DaemonSet, node: Node) -> tuple[bool, bool]:
    """(should run a new pod, may keep a running one) on ``node`` (upstream ``NodeShouldRunDaemonPod``)."""
    spec = ds.spec.template.spec.to_dict() if ds.spec.template.spec else {}
    if spec.get("nodeName") and spec["nodeName"] != meta(node).name:
        return False, False
    if not ValidatedSetSelector(dict(spec.get("nodeSelector") or {})).matches(meta(node).labels):
        return False, False
    if not _node_affinity_matches(spec, node):
        return False, False
    tolerations = [*(spec.get("tolerations") or []), *daemon_tolerations(bool(spec.get("hostNetwork")))]
    taints = [t.to_dict() for t in (node.spec.taints or [] if node.spec else [])]
    should_run = keep = True
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute") or _tolerates(tolerations, taint):
            continue
        should_run = False
        if taint.get("effect") == "NoExecute":
            keep = False
    return should_run, keep


@dataclass(frozen=True, slots=True)
class DaemonPlan:
    """Nodes to create a pod on, pods to delete, and the status counts (JSON, no observedGeneration)."""

    create_on: tuple[str, ...]
    delete: tuple[Pod, ...]
    status: dict[str, Any]


def _is_updated(pod: Pod, ds: DaemonSet, hash_: str) -> bool:
    labels = meta(pod).labels or {}
    return labels.get(LABEL_CONTROLLER_REVISION_HASH) == hash_


def plan_daemon_set(ds: DaemonSet, nodes: Sequence[Node], pods: Sequence[Pod], *, now: datetime.datetime) -> DaemonPlan:
    """Plan one DaemonSet sync over its (claimed, not terminating) ``pods``; see the module docstring."""
    by_node: dict[str, list[Pod]] = {}
    for pod in pods:
        by_node.setdefault(pod_spec(pod).nodeName or "", []).append(pod)
    create_on: list[str] = []
    delete: list[Pod] = []
    kept: list[Pod] = []
    desired = 0
    for node in nodes:
        name = meta(node).name or ""
        should_run, keep = node_should_run(ds, node)
        on_node = by_node.pop(name, [])
        desired += int(should_run)
        if not keep:  # e.g. an untolerated NoExecute taint: the pods must go
            delete += on_node
            continue
        failed = [p for p in on_node if pod_status(p).phase == "Failed"]
        running = sorted((p for p in on_node if p not in failed), key=_age_key)
        delete += failed + running[1:]
        kept += running[:1]
        if should_run and not running:
            create_on.append(name)
    delete += [p for unscheduled in by_node.values() for p in unscheduled]  # on no known node
    delete += _rolling_update_deletions(ds, kept, desired, now)
    return DaemonPlan(tuple(create_on), tuple(delete), _status(ds, kept, desired, nodes, now))


def _age_key(pod: Pod) -> tuple[datetime.datetime, str]:
    never = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    return meta(pod).creationTimestamp or never, meta(pod).name or ""


def _rolling_update_deletions(ds: DaemonSet, kept: list[Pod], desired: int, now: datetime.datetime) -> list[Pod]:
    """Old-template pods to replace now: unavailable ones first, then up to ``maxUnavailable``."""
    strategy = ds.spec.updateStrategy
    if strategy is not None and strategy.type == "OnDelete":
        return []
    rolling = strategy.rollingUpdate if strategy is not None else None
    raw = rolling.maxUnavailable if rolling is not None and rolling.maxUnavailable is not None else 1
    budget = max(scaled_value(raw, desired, round_up=True), 1)
    hash_ = daemon_template_hash(ds)
    min_ready = ds.spec.minReadySeconds or 0
    old = [p for p in kept if not _is_updated(p, ds, hash_)]
    unavailable = [p for p in kept if not is_pod_available(p, min_ready, now)]
    chosen = [p for p in old if p in unavailable]  # replacing them costs no availability
    room = budget - len(unavailable)
    for pod in old:
        if room <= 0:
            break
        if pod not in chosen:
            chosen.append(pod)
            room -= 1
    return chosen


def _status(
    ds: DaemonSet, kept: list[Pod], desired: int, nodes: Sequence[Node], now: datetime.datetime
) -> dict[str, Any]:
    hash_ = daemon_template_hash(ds)
    min_ready = ds.spec.minReadySeconds or 0
    eligible = {meta(n).name for n in nodes if node_should_run(ds, n)[0]}
    scheduled = [p for p in kept if pod_spec(p).nodeName in eligible]
    available = sum(1 for p in scheduled if is_pod_available(p, min_ready, now))
    status = {
        "currentNumberScheduled": len(scheduled),
        "numberMisscheduled": len(kept) - len(scheduled),
        "desiredNumberScheduled": desired,
        "numberReady": sum(1 for p in scheduled if is_pod_ready(p)),
        "updatedNumberScheduled": sum(1 for p in scheduled if _is_updated(p, ds, hash_)),
        "numberAvailable": available,
        "numberUnavailable": desired - available,
    }
    # The last three are omitempty in the API type: zero is left out, as upstream writes it.
    return {k: v for k, v in status.items() if v or k not in _OMIT_EMPTY}
