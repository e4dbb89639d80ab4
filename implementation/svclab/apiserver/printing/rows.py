"""Row cells of every kind but Pod, as upstream's printers compute them (side-effect-free).

Each ``*_row(obj, now)`` returns the cells of one object in the order of its
kind's columns (:mod:`.columns`), "wide" columns included.
"""

from __future__ import annotations

import datetime as dt

from .cells import NONE, UNKNOWN, UNSET, Cells, Obj, format_labels, join_host_port, list_with_more, parse_time, since

__all__ = [
    "default_row",
    "endpoint_slice_row",
    "endpoints_row",
    "event_row",
    "lease_row",
    "namespace_row",
    "node_row",
    "service_cidr_row",
    "service_row",
]


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


def service_row(svc: Obj, now: dt.datetime) -> Cells:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    cluster_ips = spec.get("clusterIPs") or []
    return [
        svc["metadata"].get("name", ""),
        spec.get("type", ""),
        cluster_ips[0] if cluster_ips else NONE,
        _service_external_ip(spec, status),
        _service_ports(spec.get("ports") or []),
        since(svc["metadata"].get("creationTimestamp"), now),
        format_labels(spec.get("selector")),
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
            shown += [join_host_port(ip, port.get("port")) for ip in addresses]
    return list_with_more(shown, total, "")


def endpoints_row(endpoints: Obj, now: dt.datetime) -> Cells:
    meta = endpoints["metadata"]
    return [meta.get("name", ""), _format_endpoints(endpoints), since(meta.get("creationTimestamp"), now)]


def endpoint_slice_row(eps: Obj, now: dt.datetime) -> Cells:
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
        list_with_more(ports, len(ports), UNSET),
        list_with_more(addresses, len(addresses), UNSET),
        since(meta.get("creationTimestamp"), now),
    ]


def namespace_row(ns: Obj, now: dt.datetime) -> Cells:
    return [
        ns["metadata"].get("name", ""),
        (ns.get("status") or {}).get("phase", ""),
        since(ns["metadata"].get("creationTimestamp"), now),
    ]


def lease_row(lease: Obj, now: dt.datetime) -> Cells:
    return [
        lease["metadata"].get("name", ""),
        (lease.get("spec") or {}).get("holderIdentity") or "",
        since(lease["metadata"].get("creationTimestamp"), now),
    ]


def service_cidr_row(cidr: Obj, now: dt.datetime) -> Cells:
    return [
        cidr["metadata"].get("name", ""),
        ",".join((cidr.get("spec") or {}).get("cidrs") or []),
        since(cidr["metadata"].get("creationTimestamp"), now),
    ]


def node_row(node: Obj, now: dt.datetime) -> Cells:
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
        since(node["metadata"].get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or UNKNOWN,
        info.get("kernelVersion") or UNKNOWN,
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def event_row(event: Obj, now: dt.datetime) -> Cells:
    first = since(event.get("firstTimestamp"), now)
    if not parse_time(event.get("firstTimestamp")):
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
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


def default_row(obj: Obj, now: dt.datetime) -> Cells:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), meta.get("creationTimestamp")]
