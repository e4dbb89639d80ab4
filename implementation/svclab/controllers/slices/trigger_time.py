"""When the change a Service's endpoints objects now show was triggered.

Upstream ``k8s.io/endpointslice/util`` ``TriggerTimeTracker``: the
last-change-trigger-time to publish for a Service, i.e. the earliest pod
Ready transition (or Service creation) not yet reflected.  Used by the
Endpoints and the EndpointSlice controllers alike.

No I/O; callers hold no lock because asyncio runs one sync step at a time
and the work queue never hands one key to two workers.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from lightkube.resources.core_v1 import Pod, Service

from svclab.kube.models import meta, name_of, namespace_of

__all__ = [
    "TriggerTimeTracker",
]

_ServiceKey = tuple[str, str]  # (namespace, name); kept internal to this module


def _pod_trigger_time(pod: Pod) -> datetime.datetime | None:
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "Ready":
            return condition.lastTransitionTime
    return None


@dataclass(slots=True)
class _ServiceState:
    service_time: datetime.datetime | None = None
    pod_times: dict[str, datetime.datetime] = field(default_factory=dict)


def _earlier(a: datetime.datetime | None, b: datetime.datetime) -> datetime.datetime:
    return b if a is None or b < a else a


class TriggerTimeTracker:
    """Computes the last-change-trigger-time of a Service's endpoints objects."""

    def __init__(self) -> None:
        self._states: dict[_ServiceKey, _ServiceState] = {}

    def compute(self, service: Service, pods: Iterable[Pod]) -> datetime.datetime | None:
        """Trigger time to publish now, and remember what this sync saw.

        A Service seen for the first time gets its creation time; later, the
        earliest Ready transition (or Service creation time) that moved since
        the previous call; ``None`` when nothing moved.
        """
        key = (namespace_of(service), name_of(service))
        state = self._states.get(key)
        known = state is not None
        state = state or _ServiceState()
        earliest: datetime.datetime | None = None
        pod_times = {}
        for pod in pods:
            moment = _pod_trigger_time(pod)
            if moment is None:
                continue
            pod_times[name_of(pod)] = moment
            previous = state.pod_times.get(name_of(pod))
            if previous is None or moment > previous:
                earliest = _earlier(earliest, moment)
        created = meta(service).creationTimestamp
        if created is not None and (state.service_time is None or created > state.service_time):
            earliest = _earlier(earliest, created)
        self._states[key] = _ServiceState(created, pod_times)
        return earliest if known else created

    def delete_service(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)
