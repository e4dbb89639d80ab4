"""The local scheduler: kube-scheduler's filters that matter for Service tests.

:func:`choose_node` is the pure core. A node fits a pod when it is Ready, not
``spec.unschedulable``, matches ``spec.nodeName`` (if set), the pod's
``nodeSelector`` and required node affinity, every ``NoSchedule``/``NoExecute``
taint is tolerated, and it has room for another pod. Among fitting nodes the
one with the fewest pods wins (spreading), ties broken by name. When none fits
it returns a :class:`FitError` whose message has upstream's format::

    0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
    2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available:
    3 Preemption is not helpful for scheduling.

:class:`Scheduler` is the shell: pod and node informers, binding through
``pods/binding``, and the ``PodScheduled=False/Unschedulable`` condition.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError
from lightkube.models.core_v1 import ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod, PodBinding
from lightkube.types import PatchType

from svclab.kube import RECONNECT_BACKOFF, FuncHandler, Informer, ReflectorOptions

__all__ = ["FitError", "Scheduler", "choose_node", "node_fit_failure"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER = "default-scheduler"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
# Upstream's per-plugin reasons (the part after "N ").
REASON_NODE_NAME = "node(s) didn't match the requested node name"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TOO_MANY_PODS = "Too many pods"


@dataclass(frozen=True, slots=True)
class FitError:
    """No node fits; ``reasons`` maps each reason to its node count."""

    num_nodes: int
    reasons: tuple[tuple[str, int], ...]

    @property
    def message(self) -> str:
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.reasons, key=lambda item: item[0]))
        head = f"0/{self.num_nodes} nodes are available"
        summary = f"{head}: {parts}." if parts else f"{head}."
        return f"{summary} preemption: {head}: {self.num_nodes} Preemption is not helpful for scheduling."


def _is_ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if toleration.get("operator") == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated_taint(pod_spec: Mapping[str, Any], taints: Sequence[Mapping[str, Any]]) -> str:
    tolerations = pod_spec.get("tolerations") or []
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in tolerations):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"
    return ""


def _expression_matches(expression: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "")
    wanted = [str(v) for v in expression.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and wanted:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if operator == "Gt" else have < limit
    return False


def _affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    fields = {"metadata.name": meta.get("name", "")}
    for term in required.get("nodeSelectorTerms") or []:
        expressions = term.get("matchExpressions") or []
        field_expressions = term.get("matchFields") or []
        if not expressions and not field_expressions:
            continue  # an empty term matches nothing
        if all(_expression_matches(e, labels) for e in expressions) and all(
            _expression_matches(e, fields) for e in field_expressions
        ):
            return True
    return False


def node_fit_failure(pod: Mapping[str, Any], node: Mapping[str, Any], pods_on_node: int) -> str:
    """Why ``node`` cannot take ``pod`` ("" when it fits); side-effect-free."""
    spec = pod.get("spec") or {}
    node_spec = node.get("spec") or {}
    name = (node.get("metadata") or {}).get("name", "")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return REASON_NODE_NAME
    if node_spec.get("unschedulable"):
        unschedulable = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        if _untolerated_taint(spec, [unschedulable]):
            return REASON_UNSCHEDULABLE
    if not _affinity_matches(spec, node):
        return REASON_AFFINITY
    taints = list(node_spec.get("taints") or [])
    if not _is_ready(node):
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
    untolerated = _untolerated_taint(spec, taints)
    if untolerated:
        return untolerated
    capacity = ((node.get("status") or {}).get("allocatable") or {}).get("pods")
    if capacity is not None and pods_on_node >= int(capacity):
        return REASON_TOO_MANY_PODS
    return ""


def choose_node(
    pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], pods_per_node: Mapping[str, int]
) -> str | FitError:
    """The node to bind ``pod`` to, or why there is none (side-effect-free)."""
    reasons: Counter[str] = Counter()
    fitting: list[tuple[int, str]] = []
    for node in nodes:
        name = (node.get("metadata") or {}).get("name", "")
        count = pods_per_node.get(name, 0)
        reason = node_fit_failure(pod, node, count)
        if reason:
            reasons[reason] += 1
        else:
            fitting.append((count, name))
    if fitting:
        return min(fitting)[1]
    return FitError(len(nodes), tuple(sorted(reasons.items())))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod_dict(pod: Any) -> dict[str, Any]:
    return pod if isinstance(pod, dict) else pod.to_dict()


def _unscheduled(pod: Mapping[str, Any]) -> bool:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and not meta.get("deletionTimestamp")
        and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


class Scheduler:
    """Binds unscheduled pods; retries unschedulable ones when pods or nodes change."""

    def __init__(self, client: Any) -> None:
        self._client = client
        # A lost API server is retried every second or so (issue 15).
        self.pods: Any = Informer(client, Pod, ReflectorOptions(backoff=RECONNECT_BACKOFF))
        self.nodes: Any = Informer(client, Node, ReflectorOptions(backoff=RECONNECT_BACKOFF))
        self._kick = asyncio.Event()
        self._assumed: dict[str, str] = {}  # pod uid -> node, until the watch shows the binding
        self._reported: dict[str, str] = {}  # pod uid -> last Unschedulable message written
        kick: FuncHandler[Any] = FuncHandler(
            on_add=lambda _o: self._kick.set(),
            on_update=lambda _o, _n: self._kick.set(),
            on_delete=lambda _o: self._kick.set(),
        )
        self.pods.add_handler(kick)
        self.nodes.add_handler(kick)

    async def run(self) -> None:
        tasks = [asyncio.ensure_future(self.pods.run()), asyncio.ensure_future(self.nodes.run())]
        try:
            await self.pods.wait_synced()
            await self.nodes.wait_synced()
            while True:
                await self._kick.wait()
                self._kick.clear()
                try:
                    await self.schedule_pending()
                except Exception:  # API trouble: log it and try again shortly
                    log.exception("scheduling pass failed")
                    await asyncio.sleep(1.0)
                    self._kick.set()
        finally:
            for task in tasks:
                task.cancel()

    def _pods_per_node(self, pods: Sequence[Mapping[str, Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName") or self._assumed.get(pod["metadata"]["uid"])
            if node and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                counts[node] += 1
        return counts

    async def schedule_pending(self) -> None:
        """One pass over every unscheduled pod, oldest first."""
        pods = [_pod_dict(p) for p in self.pods.store.list()]
        nodes = [_pod_dict(n) for n in self.nodes.store.list()]
        self._assumed = {
            uid: node
            for uid, node in self._assumed.items()
            if any(p["metadata"]["uid"] == uid and _unscheduled(p) for p in pods)
        }
        counts = self._pods_per_node(pods)
        pending = sorted(
            (p for p in pods if _unscheduled(p) and p["metadata"]["uid"] not in self._assumed),
            key=lambda p: (str(p["metadata"].get("creationTimestamp")), p["metadata"]["name"]),
        )
        for pod in pending:
            choice = choose_node(pod, nodes, counts)
            if isinstance(choice, FitError):
                await self._report_unschedulable(pod, choice.message)
                continue
            if await self._bind(pod, choice):
                counts[choice] += 1
                self._assumed[pod["metadata"]["uid"]] = choice

    async def _bind(self, pod: Mapping[str, Any], node: str) -> bool:
        meta = pod["metadata"]
        binding = PodBinding(
            metadata=ObjectMeta(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"]),
            target=ObjectReference(apiVersion="v1", kind="Node", name=node),
        )
        try:
            await self._client.create(binding, meta["name"], namespace=meta["namespace"])
        except ValueError:
            pass  # bound: the API server answers a Status, which lightkube cannot read as a Binding
        except ApiError as exc:
            log.warning("binding failed pod=%s/%s node=%s error=%s", meta["namespace"], meta["name"], node, exc)
            return False
        log.info("bound pod=%s/%s node=%s", meta["namespace"], meta["name"], node)
        return True

    async def _report_unschedulable(self, pod: Mapping[str, Any], message: str) -> None:
        meta = pod["metadata"]
        if self._reported.get(meta["uid"]) == message:
            return
        old = next(
            (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        since = old.get("lastTransitionTime") if old and old.get("status") == "False" else None
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": since or _now(),
        }
        try:
            await self._client.patch(
                Pod.Status,
                meta["name"],
                {"status": {"phase": "Pending", "conditions": [condition]}},
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )
            self._reported[meta["uid"]] = message
        except ApiError as exc:
            log.warning("unschedulable status not written pod=%s/%s error=%s", meta["namespace"], meta["name"], exc)
