"""Defaulting for the kinds other than Service (see services/), as upstream's
pkg/apis/*/v1/defaults.go and the admission plugins a default cluster runs.

Side-effect free: each function returns a new object.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .storage import clone

__all__ = ["apply_defaults", "default_pod_spec", "register_defaulter"]

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"
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


def default_pod_spec(spec: Obj) -> None:
    """Upstream SetDefaults_PodSpec and the container defaults, in place (pods and templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if isinstance(container, dict):
            _default_container(container)


def _default_pod(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    # Pods only (SetDefaults_Pod and the Priority / DefaultTolerationSeconds admission plugins).
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = spec.setdefault("tolerations", [])
    for toleration in _DEFAULT_TOLERATIONS:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == "NoExecute" for t in tolerations):
            tolerations.append(dict(toleration))


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


def _default_secret(secret: Obj) -> None:
    """Type Opaque; stringData is write-only: merged into data (base64) and never stored."""
    secret.setdefault("type", "Opaque")
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data: Obj = secret["data"] if isinstance(secret.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


def _default_replication_controller(rc: Obj) -> None:
    """Upstream SetDefaults_ReplicationController: selector and labels from the template's labels."""
    spec = rc.setdefault("spec", {})
    template = spec.get("template")
    labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        if not rc["metadata"].get("labels"):
            rc["metadata"]["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    if isinstance(template, dict):
        default_pod_spec(template.setdefault("spec", {}))


def _template_spec(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(template.setdefault("spec", {}))


def _rolling(strategy: Obj, rolling_type: str, defaults: dict[str, Any]) -> None:
    """A strategy of type ``rolling_type`` (the default type) gets its rollingUpdate defaults."""
    strategy.setdefault("type", rolling_type)
    if strategy["type"] == rolling_type:
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        for key, value in defaults.items():
            rolling.setdefault(key, value)


def _default_deployment(deployment: Obj) -> None:
    """apps/v1 SetDefaults_Deployment: 1 replica, RollingUpdate 25%/25%, history 10, deadline 600 s."""
    spec = deployment.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _rolling(spec.setdefault("strategy", {}), "RollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template_spec(spec)


def _default_replica_set(replica_set: Obj) -> None:
    spec = replica_set.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template_spec(spec)


def _default_daemon_set(daemon_set: Obj) -> None:
    """apps/v1 SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1, maxSurge 0; history 10."""
    spec = daemon_set.setdefault("spec", {})
    _rolling(spec.setdefault("updateStrategy", {}), "RollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    _template_spec(spec)


def _default_stateful_set(stateful_set: Obj) -> None:
    """apps/v1 SetDefaults_StatefulSet (StatefulSetAutoDeletePVC is GA: the retention policy too)."""
    spec = stateful_set.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template_spec(spec)


def _default_job(job: Obj) -> None:
    """batch/v1 SetDefaults_Job; the selector is generated later (registry, needs the uid)."""
    spec = job.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels")
    if labels and not job["metadata"].get("labels"):
        job["metadata"]["labels"] = dict(labels)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("manualSelector", False)
    # JobPodReplacementPolicy: Failed when a podFailurePolicy is set, else TerminatingOrFailed.
    spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    _template_spec(spec)


def _default_binding(binding: Obj) -> None:
    """rbac/v1 defaults: roleRef.apiGroup, and each subject's apiGroup by its kind."""
    role_ref = binding.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = RBAC_GROUP
    for subject in binding.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


def _default_network_policy(policy: Obj) -> None:
    """Upstream ``SetDefaults_NetworkPolicy`` and ``SetDefaults_NetworkPolicyPort``: Ingress is
    always a policy type, Egress when egress rules are given; a rule's port protocol is TCP."""
    spec = policy.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule.get("ports") or []) if isinstance(rule, dict) else []:
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _default_pod,
    "Namespace": _default_namespace,
    "Endpoints": _default_endpoints,
    "EndpointSlice": _default_endpoint_slice,
    "Secret": _default_secret,
    "ReplicationController": _default_replication_controller,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replica_set,
    "DaemonSet": _default_daemon_set,
    "StatefulSet": _default_stateful_set,
    "Job": _default_job,
    "RoleBinding": _default_binding,
    "ClusterRoleBinding": _default_binding,
    "NetworkPolicy": _default_network_policy,
}


def register_defaulter(kind: str, defaulter: Callable[[Obj], None] | None) -> None:
    """Default ``kind`` with ``defaulter`` (in place, on a copy) from now on; None forgets
    it. For kinds served at run time (custom resources: pruning and schema defaults)."""
    if defaulter is None:
        _DEFAULTERS.pop(kind, None)
    else:
        _DEFAULTERS[kind] = defaulter


def apply_defaults(kind: str, obj: Obj) -> Obj:
    """`obj` with upstream's defaults for its kind filled in (Service excluded)."""
    defaulter = _DEFAULTERS.get(kind)
    if defaulter is None:
        return obj
    result = clone(obj)
    defaulter(result)
    return result
