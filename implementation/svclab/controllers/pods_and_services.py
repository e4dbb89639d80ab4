"""How the controllers read pods and Services: the rules shared by all three.

Spec and status accessors that tolerate unset fields, the Service predicates
(selector, headless), the pod rules that decide endpoint membership (ready,
IPs, terminal or terminating, hostname, named targetPort lookup) and the
references written into endpoints and slices.  Everything here is a
side-effect-free helper over lightkube models; names follow upstream's
``endpointslice/util`` and ``pkg/api/v1/pod`` helpers so a reader can put the
two side by side.
"""

from __future__ import annotations

from typing import Any

from lightkube.models.core_v1 import ObjectReference, PodSpec, PodStatus, ServiceSpec
from lightkube.models.meta_v1 import OwnerReference
from lightkube.resources.core_v1 import Pod, Service

from svclab.kube.models import meta, name_of

from .well_known import CLUSTER_IP_NONE

__all__ = [
    "controller_ref",
    "find_port",
    "has_selector",
    "is_headless",
    "is_pod_ready",
    "pod_ips",
    "pod_reference",
    "pod_spec",
    "pod_status",
    "should_pod_be_in_endpoints",
    "should_set_hostname",
    "svc_spec",
]


def svc_spec(service: Service) -> ServiceSpec:
    """A Service's spec (an empty one when unset)."""
    return service.spec or ServiceSpec()


def pod_spec(pod: Pod) -> PodSpec:
    """A pod's spec (an empty one when unset)."""
    return pod.spec or PodSpec(containers=[])


def pod_status(pod: Pod) -> PodStatus:
    """A pod's status (an empty one when unset)."""
    return pod.status or PodStatus()


def has_selector(service: Service) -> bool:
    """True when the Service selects pods.

    An empty selector is treated as none: the API omits empty maps on the
    wire, so upstream sees ``nil`` for it too.
    """
    return bool(svc_spec(service).selector)


def is_headless(service: Service) -> bool:
    """True when ``spec.clusterIP`` is ``None`` (upstream ``IsServiceIPSet`` negated)."""
    cluster_ip = svc_spec(service).clusterIP
    return not cluster_ip or cluster_ip == CLUSTER_IP_NONE


def is_pod_ready(pod: Pod) -> bool:
    """True when the pod's ``Ready`` condition is ``True``."""
    for condition in pod_status(pod).conditions or []:
        if condition.type == "Ready":
            return condition.status == "True"
    return False


def pod_ips(pod: Pod) -> list[str]:
    """The pod's IPs: ``status.podIPs``, falling back to ``status.podIP``."""
    status = pod_status(pod)
    ips = [entry.ip for entry in status.podIPs or [] if entry.ip]
    if not ips and status.podIP:
        ips = [status.podIP]
    return ips


def should_pod_be_in_endpoints(pod: Pod, *, include_terminating: bool) -> bool:
    """Upstream ``ShouldPodBeInEndpoints``: not terminal, has an IP, terminating only if asked."""
    phase = pod_status(pod).phase
    if phase in ("Failed", "Succeeded"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or meta(pod).deletionTimestamp is None


def should_set_hostname(pod: Pod, service: Service) -> bool:
    """``hostname`` is published only when set and the pod's subdomain is the Service."""
    spec = pod_spec(pod)
    return bool(
        spec.hostname and spec.subdomain == meta(service).name and meta(pod).namespace == meta(service).namespace
    )


def find_port(pod: Pod, service_port: Any) -> int | None:
    """Upstream ``podutil.FindPort``: resolve a Service port's targetPort on one pod.

    A numeric (or absent) targetPort is used as is; a named one is looked up
    among the pod's container ports with the same protocol.  ``None`` when the
    pod has no such named port.
    """
    target = service_port.targetPort
    if target is None or target == "":
        return int(service_port.port)
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    protocol = service_port.protocol or "TCP"
    containers = list(pod_spec(pod).containers or [])
    # Restartable init containers (sidecars) serve traffic too (KEP-753).
    for init in pod_spec(pod).initContainers or []:
        if init.restartPolicy == "Always":
            containers.append(init)
    for container in containers:
        for port in container.ports or []:
            if port.name == target and (port.protocol or "TCP") == protocol:
                return int(port.containerPort)
    return None


def controller_ref(owner: Any, kind: str, api_version: str = "v1") -> OwnerReference:
    """Upstream ``metav1.NewControllerRef``: controller and blockOwnerDeletion set."""
    return OwnerReference(
        apiVersion=api_version,
        kind=kind,
        name=name_of(owner),
        uid=meta(owner).uid or "",
        controller=True,
        blockOwnerDeletion=True,
    )


def pod_reference(pod: Pod) -> ObjectReference:
    """The ``targetRef`` naming a pod (kind, namespace, name, uid)."""
    return ObjectReference(
        kind="Pod",
        namespace=meta(pod).namespace,
        name=meta(pod).name,
        uid=meta(pod).uid,
    )
