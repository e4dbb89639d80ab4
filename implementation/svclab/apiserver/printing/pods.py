"""A Pod's row: upstream ``printPod``'s walk over init and app container statuses (side-effect-free).

The Status cell is the reason that walk settles on (``Init:1/2``,
``CrashLoopBackOff``, ``Completed``, ``Terminating`` ...); Restarts counts
every container's restarts (sidecars included once the pod is initialized) and
says how long ago the last one ended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .cells import NONE, Cells, Obj, human_duration, parse_time, since

__all__ = ["pod_conditions", "pod_row"]


def _latest(first: dt.datetime | None, second: dt.datetime | None) -> dt.datetime | None:
    if first is None or (second is not None and second > first):
        return second
    return first


@dataclass(slots=True)
class _Restarts:
    """A restart count and when the last restart ended."""

    count: int = 0
    last: dt.datetime | None = None

    def add(self, status: Obj) -> None:
        self.count += int(status.get("restartCount") or 0)
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        self.last = _latest(self.last, parse_time(terminated.get("finishedAt")))


@dataclass(slots=True)
class _PodTally:
    """What upstream printPod accumulates while walking the container statuses."""

    reason: str
    ready: int = 0
    restarts: _Restarts = field(default_factory=_Restarts)
    # Sidecars (restartable init containers) keep counting once the pod is initialized.
    sidecar_restarts: _Restarts = field(default_factory=_Restarts)


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _is_sidecar(container: Obj | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _walk_init_containers(pod: Obj, tally: _PodTally) -> bool:
    """Upstream's init-container pass; True while the pod is still initializing."""
    init_specs = {c.get("name"): c for c in (pod.get("spec") or {}).get("initContainers") or []}
    statuses = (pod.get("status") or {}).get("initContainerStatuses") or []
    for index, status in enumerate(statuses):
        tally.restarts.add(status)
        sidecar = _is_sidecar(init_specs.get(status.get("name")))
        if sidecar:
            tally.sidecar_restarts.add(status)
        state = status.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and (terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and status.get("started"):
            tally.ready += bool(status.get("ready"))
            continue
        if terminated is not None:
            tally.reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            tally.reason = "Init:" + waiting["reason"]
        else:
            tally.reason = f"Init:{index}/{len(init_specs)}"
        return True
    return False


def _walk_containers(pod: Obj, tally: _PodTally) -> None:
    """Upstream's container pass: last container first, its state wins the reason."""
    status = pod.get("status") or {}
    tally.restarts = _Restarts(tally.sidecar_restarts.count, tally.sidecar_restarts.last)
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        tally.restarts.add(container)
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            tally.reason = waiting["reason"]
        elif terminated is not None:
            tally.reason = _terminated_reason(terminated)
        elif container.get("ready") and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _condition_true(status, "Ready") else "NotReady"


def _condition_true(status: Obj, kind: str) -> bool:
    """Whether the first condition of type ``kind`` is True (upstream's lookups)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return bool(condition.get("status") == "True")
    return False


def _pod_status_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return NONE
    true_gates = sum(_condition_true(status, g.get("conditionType")) for g in gates)
    return f"{true_gates}/{len(gates)}"


def pod_row(pod: Obj, now: dt.datetime) -> Cells:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    status = pod.get("status") or {}
    tally = _PodTally(reason=_pod_status_reason(pod))
    initializing = _walk_init_containers(pod, tally)
    if not initializing or _condition_true(status, "Initialized"):
        _walk_containers(pod, tally)
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            tally.reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            tally.reason = "Terminating"
    restarts = str(tally.restarts.count)
    if tally.restarts.count and tally.restarts.last is not None:
        restarts = f"{tally.restarts.count} ({human_duration(now - tally.restarts.last)} ago)"
    total = len(spec.get("containers") or []) + sum(_is_sidecar(c) for c in spec.get("initContainers") or [])
    pod_ips = status.get("podIPs") or []
    return [
        meta.get("name", ""),
        f"{tally.ready}/{total}",
        tally.reason,
        restarts,
        since(meta.get("creationTimestamp"), now),
        (pod_ips[0].get("ip") if pod_ips else "") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        _readiness_gates(spec, status),
    ]


def pod_conditions(pod: Obj) -> list[Obj] | None:
    """Row conditions upstream sets for finished pods (kubectl uses them)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None
