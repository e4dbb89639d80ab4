"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl does not format objects itself: it asks the server for a Table (columns plus
one row of cells per object) and prints it. A plain List gets only ``NAME AGE``, so
to look like a real cluster the server must produce the same columns and cell text as
upstream's printers (``pkg/printers/internalversion/printers.go``). Like the real API
server, every column is computed (the server prints "wide"); columns with priority 1
are the ones kubectl shows only with ``-o wide``.

Ages use upstream's ``HumanDuration`` (``5s``, ``3m20s``, ``2d3h``); the clock is
injected (``now``) so output is reproducible. All functions here are side-effect-free.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .resources import by_kind

__all__ = ["Column", "column_definitions", "human_duration", "to_table"]

Obj = dict[str, Any]
Cells = list[Any]

# What upstream prints for missing values, and its list truncation.
NONE = "<none>"
UNKNOWN = "<unknown>"
UNSET = "<unset>"
LIST_MAX = 3  # formatEndpoints & co. show three entries, then "+ N more..."


@dataclass(frozen=True, slots=True)
class Column:
    """One TableColumnDefinition; kubectl shows the name upper-cased as header."""

    name: str
    description: str
    type: str = "string"
    format: str = ""
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


_NAME = Column("Name", "Name of the object, unique within its namespace.", format="name")
_AGE = Column("Age", "Time since the object was created (metadata.creationTimestamp).")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "Service": (
        _NAME,
        Column("Type", "How the Service is exposed (spec.type)."),
        Column("Cluster-IP", "The virtual IP of the Service (spec.clusterIPs[0])."),
        Column("External-IP", "External IPs, load-balancer ingress or external name."),
        Column("Port(s)", "Service ports as port[:nodePort]/protocol."),
        _AGE,
        Column("Selector", "Label selector of the backing pods.", priority=1),
    ),
    "Endpoints": (
        _NAME,
        Column("Endpoints", "Ready addresses with their ports."),
        _AGE,
    ),
    "EndpointSlice": (
        _NAME,
        Column("AddressType", "Address family of the endpoints."),
        Column("Ports", "Port numbers of the slice."),
        Column("Endpoints", "Addresses of the endpoints."),
        _AGE,
    ),
    "Pod": (
        _NAME,
        Column("Ready", "Ready containers out of all containers."),
        Column("Status", "The aggregate status of the containers in this pod."),
        Column("Restarts", "Container restarts, and how long ago the last one was."),
        _AGE,
        Column("IP", "The pod's primary IP.", priority=1),
        Column("Node", "The node the pod is bound to.", priority=1),
        Column("Nominated Node", "The node the scheduler nominated for preemption.", priority=1),
        Column("Readiness Gates", "Readiness gates that are true out of all.", priority=1),
    ),
    "Node": (
        _NAME,
        Column("Status", "Readiness and schedulability of the node."),
        Column("Roles", "Roles from node-role.kubernetes.io/* labels."),
        _AGE,
        Column("Version", "Kubelet version."),
        Column("Internal-IP", "First InternalIP address.", priority=1),
        Column("External-IP", "First ExternalIP address.", priority=1),
        Column("OS-Image", "Operating system image.", priority=1),
        Column("Kernel-Version", "Kernel version.", priority=1),
        Column("Container-Runtime", "Container runtime version.", priority=1),
    ),
    "Namespace": (
        _NAME,
        Column("Status", "Phase of the namespace."),
        _AGE,
    ),
    "Event": (
        Column("Last Seen", "Time since the event was last observed."),
        Column("Type", "Normal or Warning."),
        Column("Reason", "Machine-readable reason."),
        Column("Object", "The object the event is about, as kind/name."),
        Column("Subobject", "Field path within the object.", priority=1),
        Column("Source", "Component (and host) that reported the event.", priority=1),
        Column("Message", "Human-readable description."),
        Column("First Seen", "Time since the event was first observed.", priority=1),
        Column("Count", "How often the event was observed.", priority=1),
        Column("Name", "Name of the event object.", format="name", priority=1),
    ),
    "Lease": (
        _NAME,
        Column("Holder", "Identity of the current holder."),
        _AGE,
    ),
}

# Upstream's DefaultTableConvertor, for kinds without a printer.
_DEFAULT_COLUMNS = (_NAME, Column("Created At", "Creation time.", type="date"))


def column_definitions(kind: str) -> list[dict[str, Any]]:
    """The Table columnDefinitions for ``kind`` (upstream's order and priorities)."""
    return [column.to_dict() for column in COLUMNS.get(kind, _DEFAULT_COLUMNS)]


# --- time -------------------------------------------------------------------------------


def human_duration(delta: dt.timedelta) -> str:
    """Upstream ``duration.HumanDuration``: about two significant figures."""
    seconds = int(delta.total_seconds())  # truncates toward zero, as Go's int() does
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _since(value: Any, now: dt.datetime) -> str:
    """Upstream translateTimestampSince: ``<unknown>`` for a missing timestamp."""
    when = _parse_time(value)
    return UNKNOWN if when is None else human_duration(now - when)


# --- shared helpers --------------------------------------------------------------------


def _format_labels(labels: dict[str, str] | None) -> str:
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def _join_host_port(host: str, port: Any) -> str:
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = ":" in host
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"


def _list_with_more(items: list[str], total: int, empty: str) -> str:
    text = ",".join(items[:LIST_MAX])
    if total > LIST_MAX:
        return f"{text} + {total - LIST_MAX} more..."
    return text or empty


# --- per-kind rows -----------------------------------------------------------------------


def _service_external_ip(spec: Obj, status: Obj) -> str:
    """Upstream getServiceExternalIP, wide (the server never clips the LB column)."""
    kind = spec.get("type")
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else NONE
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        lb = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return UNKNOWN


def _service_ports(ports: list[Obj]) -> str:
    pieces = []
    for port in ports:
        node_port = port.get("nodePort") or 0
        prefix = f"{port.get('port')}:{node_port}" if node_port > 0 else f"{port.get('port')}"
        pieces.append(f"{prefix}/{port.get('protocol', '')}")
    return ",".join(pieces) or NONE


def _service_row(svc: Obj, now: dt.datetime) -> Cells:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    cluster_ips = spec.get("clusterIPs") or []
    return [
        svc["metadata"].get("name", ""),
        spec.get("type", ""),
        cluster_ips[0] if cluster_ips else NONE,
        _service_external_ip(spec, status),
        _service_ports(spec.get("ports") or []),
        _since(svc["metadata"].get("creationTimestamp"), now),
        _format_labels(spec.get("selector")),
    ]


def _format_endpoints(endpoints: Obj) -> str:
    """Upstream formatEndpoints: ready addresses only, per port, three then '+ N more'."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return NONE
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:  # headless Services may have no ports
            total += len(addresses)
            shown += addresses
            continue
        for port in ports:
            total += len(addresses)
            shown += [_join_host_port(ip, port.get("port")) for ip in addresses]
    return _list_with_more(shown, total, "")


def _endpoints_row(endpoints: Obj, now: dt.datetime) -> Cells:
    meta = endpoints["metadata"]
    return [meta.get("name", ""), _format_endpoints(endpoints), _since(meta.get("creationTimestamp"), now)]


def _endpoint_slice_row(eps: Obj, now: dt.datetime) -> Cells:
    ports = []
    for port in eps.get("ports") or []:
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        elif port.get("name") is not None:
            ports.append(port["name"])
        else:
            ports.append("*")
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    meta = eps["metadata"]
    return [
        meta.get("name", ""),
        eps.get("addressType", ""),
        _list_with_more(ports, len(ports), UNSET),
        _list_with_more(addresses, len(addresses), UNSET),
        _since(meta.get("creationTimestamp"), now),
    ]


def _namespace_row(ns: Obj, now: dt.datetime) -> Cells:
    return [
        ns["metadata"].get("name", ""),
        (ns.get("status") or {}).get("phase", ""),
        _since(ns["metadata"].get("creationTimestamp"), now),
    ]


def _lease_row(lease: Obj, now: dt.datetime) -> Cells:
    return [
        lease["metadata"].get("name", ""),
        (lease.get("spec") or {}).get("holderIdentity") or "",
        _since(lease["metadata"].get("creationTimestamp"), now),
    ]


def _node_row(node: Obj, now: dt.datetime) -> Cells:
    status, spec = node.get("status") or {}, node.get("spec") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    states = ["Ready" if ready[-1].get("status") == "True" else "NotReady"] if ready else ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in (node["metadata"].get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        found = [a.get("address") for a in status.get("addresses") or [] if a.get("type") == kind]
        return found[0] if found else NONE

    return [
        node["metadata"].get("name", ""),
        ",".join(states),
        ",".join(sorted(roles)) or NONE,
        _since(node["metadata"].get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or UNKNOWN,
        info.get("kernelVersion") or UNKNOWN,
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def _event_row(event: Obj, now: dt.datetime) -> Cells:
    first = _since(event.get("firstTimestamp"), now)
    if not _parse_time(event.get("firstTimestamp")):
        first = _since(event.get("eventTime"), now)
    last = _since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = event.get("involvedObject") or {}
    target = (involved.get("kind") or "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingController") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        (event.get("message") or "").strip(),
        first,
        count,
        event["metadata"].get("name", ""),
    ]


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
        self.last = _latest(self.last, _parse_time(terminated.get("finishedAt")))


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


def _pod_row(pod: Obj, now: dt.datetime) -> Cells:
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
        _since(meta.get("creationTimestamp"), now),
        (pod_ips[0].get("ip") if pod_ips else "") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        _readiness_gates(spec, status),
    ]


def _pod_conditions(pod: Obj) -> list[Obj] | None:
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


def _default_row(obj: Obj, now: dt.datetime) -> Cells:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), meta.get("creationTimestamp")]


_ROW_PRINTERS: dict[str, Callable[[Obj, dt.datetime], Cells]] = {
    "Service": _service_row,
    "Endpoints": _endpoints_row,
    "EndpointSlice": _endpoint_slice_row,
    "Pod": _pod_row,
    "Node": _node_row,
    "Namespace": _namespace_row,
    "Event": _event_row,
    "Lease": _lease_row,
}


# --- the Table -------------------------------------------------------------------------


def _row_object(kind: str, obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        full = dict(obj)
        if "kind" not in full or "apiVersion" not in full:
            try:
                resource = by_kind(kind)
                full.setdefault("apiVersion", resource.api_version)
                full.setdefault("kind", kind)
            except KeyError:
                pass
        return full
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(
    kind: str,
    objects: list[Obj],
    *,
    resource_version: str,
    continue_token: str | None = None,
    include_object: str = "Metadata",
    now: dt.datetime | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """Render ``objects`` of ``kind`` as a meta.k8s.io/v1 Table (side-effect-free).

    ``include_object`` is the ``includeObject`` query parameter: ``Metadata`` (the
    default; rows carry PartialObjectMetadata, which ``-A``/``--show-labels`` need),
    ``Object`` (the full object, for ``--sort-by``) or ``None``. ``no_headers`` leaves
    out the column definitions, as upstream does for ``?noHeaders=true``.
    """
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(f"includeObject must be None, Metadata or Object, not {include_object!r}")
    now = now or dt.datetime.now(dt.UTC)
    printer = _ROW_PRINTERS.get(kind, _default_row)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if kind == "Pod" and (conditions := _pod_conditions(obj)):
            row["conditions"] = conditions
        embedded = _row_object(kind, obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [] if no_headers else column_definitions(kind),
        "rows": rows,
    }
