"""Pod status as kubelet writes it, computed from the agent's view of its containers.

Everything here is side-effect-free: :func:`pod_status` takes the pod's spec
and previous status, the sandbox facts (IPs) and one :class:`ContainerView` per
container, and returns the ``status`` dict to PUT on ``pods/status``.

Phase follows kubelet's ``getPhase``: a container that has never run keeps the
pod ``Pending``; running containers make it ``Running``; when all have stopped
the restart policy decides (``Always`` stays ``Running``, ``OnFailure`` stays
``Running`` while one failed, otherwise ``Succeeded`` or ``Failed``).
Conditions keep their ``lastTransitionTime`` until their status changes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ContainerView", "Phase", "RunState", "SandboxFacts", "container_status", "pod_phase", "pod_status"]


class RunState(str, enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class ContainerView:
    """What the agent knows about one container at one moment."""

    name: str
    image: str
    state: RunState
    reason: str = ""  # waiting/terminated reason
    message: str = ""
    exit_code: int = 0
    pid: int = 0
    started_at: str = ""  # RFC 3339
    finished_at: str = ""
    restart_count: int = 0
    ready: bool = False
    last_terminated: tuple[int, str, str, str] | None = None  # exit code, reason, start, finish


@dataclass(frozen=True, slots=True)
class SandboxFacts:
    pod_ip: str
    host_ip: str
    start_time: str
    # status.podIPs / hostIPs, primary first (two on a dual-stack node); () means the one above
    pod_ips: tuple[str, ...] = ()
    host_ips: tuple[str, ...] = ()


class Phase(str, enum.Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def pod_phase(containers: Sequence[ContainerView], restart_policy: str) -> Phase:
    """kubelet's getPhase for pods without init containers."""
    pending = running = stopped = succeeded = 0
    for view in containers:
        if view.state is RunState.RUNNING:
            running += 1
        elif view.state is RunState.TERMINATED:
            stopped += 1
            succeeded += view.exit_code == 0
        elif view.last_terminated is not None:
            stopped += 1
            succeeded += view.last_terminated[0] == 0
        else:
            pending += 1
    failed = stopped - succeeded
    if pending or not containers:
        return Phase.PENDING
    if running:
        return Phase.RUNNING
    if restart_policy == "Always":
        return Phase.RUNNING
    if stopped == succeeded:
        return Phase.SUCCEEDED
    if restart_policy == "OnFailure" and failed:
        return Phase.RUNNING
    return Phase.FAILED


def container_status(view: ContainerView) -> dict[str, Any]:
    """One ``containerStatuses`` entry (kubelet's field set and names)."""
    if view.state is RunState.RUNNING:
        state: dict[str, Any] = {"running": {"startedAt": view.started_at}}
    elif view.state is RunState.TERMINATED:
        state = {"terminated": _terminated(view.exit_code, view.reason, view.started_at, view.finished_at, view.pid)}
    else:
        state = {"waiting": {k: v for k, v in (("reason", view.reason), ("message", view.message)) if v}}
    status: dict[str, Any] = {
        "name": view.name,
        "image": view.image,
        "imageID": _image_id(view.image),
        "ready": view.ready,
        "started": view.state is RunState.RUNNING,
        "restartCount": view.restart_count,
        "state": state,
        "lastState": {},
    }
    if view.pid:
        status["containerID"] = f"svclab://{view.pid}"
    if view.last_terminated is not None and view.state is not RunState.TERMINATED:
        code, reason, started, finished = view.last_terminated
        status["lastState"] = {"terminated": _terminated(code, reason, started, finished, 0)}
    return status


def _terminated(code: int, reason: str, started: str, finished: str, pid: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "exitCode": code,
        "reason": reason or ("Completed" if code == 0 else "Error"),
        "startedAt": started or None,
        "finishedAt": finished or None,
    }
    if pid:
        entry["containerID"] = f"svclab://{pid}"
    return {k: v for k, v in entry.items() if v is not None}


def _image_id(image: str) -> str:
    return f"svclab://{image}"


def _condition(
    previous: Mapping[str, Mapping[str, Any]], kind: str, ok: bool, now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    old = previous.get(kind)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else None
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since or now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def pod_status(
    pod: Mapping[str, Any], containers: Sequence[ContainerView], sandbox: SandboxFacts | None, now: str
) -> dict[str, Any]:
    """The whole ``status`` kubelet would write for ``pod`` (side-effect-free)."""
    spec = pod.get("spec") or {}
    old_status = pod.get("status") or {}
    previous = {c.get("type", ""): c for c in old_status.get("conditions") or []}
    phase = pod_phase(containers, spec.get("restartPolicy", "Always"))
    unready = [v.name for v in containers if not v.ready]
    done = phase in (Phase.SUCCEEDED, Phase.FAILED)
    if done:
        ready_reason, ready_message = "PodCompleted", ""
    elif unready:
        ready_reason = "ContainersNotReady"
        ready_message = f"containers with unready status: [{' '.join(unready)}]"
    else:
        ready_reason = ready_message = ""
    all_ready = not unready and not done
    conditions = [
        _condition(previous, "PodReadyToStartContainers", sandbox is not None and not done, now),
        _condition(previous, "Initialized", True, now),
        _condition(previous, "Ready", all_ready, now, ready_reason, ready_message),
        _condition(previous, "ContainersReady", all_ready, now, ready_reason, ready_message),
        _condition(previous, "PodScheduled", True, now),
    ]
    status: dict[str, Any] = {
        "phase": phase.value,
        "conditions": conditions,
        "qosClass": old_status.get("qosClass", "BestEffort"),
        "containerStatuses": [container_status(v) for v in containers],
    }
    if sandbox is not None:
        status.update(
            hostIP=sandbox.host_ip,
            hostIPs=[{"ip": ip} for ip in sandbox.host_ips or (sandbox.host_ip,)],
            podIP=sandbox.pod_ip,
            podIPs=[{"ip": ip} for ip in sandbox.pod_ips or (sandbox.pod_ip,)],
            startTime=sandbox.start_time,
        )
    return status
