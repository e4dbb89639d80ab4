"""Defaulting for the kinds other than Service (see services/), as upstream's
pkg/apis/*/v1/defaults.go and the admission plugins a default cluster runs.

Side-effect free: each function returns a new object.
"""

from __future__ import annotations

from typing import Any

from .storage import clone

__all__ = ["apply_defaults"]

Obj = dict[str, Any]

_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
# DefaultTolerationSeconds admission: pods tolerate not-ready/unreachable nodes 300 s.
_DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def _default_ports(ports: list[Obj] | None) -> None:
    for port in ports or []:
        port.setdefault("protocol", "TCP")


def _default_container(container: Obj) -> None:
    image = container.get("image", "")
    latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    _default_ports(container.get("ports"))
    for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if probe is None:
            continue
        for key, value in _PROBE_DEFAULTS.items():
            probe.setdefault(key, value)
        http_get = probe.get("httpGet")
        if http_get is not None:
            http_get.setdefault("path", "/")
            http_get.setdefault("scheme", "HTTP")


def _default_pod(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = spec.setdefault("tolerations", [])
    for toleration in _DEFAULT_TOLERATIONS:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == "NoExecute" for t in tolerations):
            tolerations.append(dict(toleration))
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        _default_container(container)


def _default_namespace(ns: Obj) -> None:
    name = ns["metadata"].get("name", "")
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    ns.setdefault("status", {}).setdefault("phase", "Active")


def _default_endpoints(ep: Obj) -> None:
    for subset in ep.get("subsets") or []:
        _default_ports(subset.get("ports"))


def _default_endpoint_slice(slice_: Obj) -> None:
    _default_ports(slice_.get("ports"))


_DEFAULTERS = {
    "Pod": _default_pod,
    "Namespace": _default_namespace,
    "Endpoints": _default_endpoints,
    "EndpointSlice": _default_endpoint_slice,
}


def apply_defaults(kind: str, obj: Obj) -> Obj:
    """`obj` with upstream's defaults for its kind filled in (Service excluded)."""
    defaulter = _DEFAULTERS.get(kind)
    if defaulter is None:
        return obj
    result = clone(obj)
    defaulter(result)
    return result
