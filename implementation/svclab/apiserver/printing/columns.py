"""The Table columns of each kind: names, descriptions and priorities as upstream prints them.

Columns with priority 1 are the ones kubectl shows only with ``-o wide``; a kind
without a printer gets upstream's default table convertor (name, creation time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["COLUMNS", "Column", "column_definitions"]


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

_WIDE_POD_TEMPLATE = (
    Column("Containers", "Names of the template's containers.", priority=1),
    Column("Images", "Images of the template's containers.", priority=1),
    Column("Selector", "The label selector.", priority=1),
)
_REPLICA_COLUMNS = (
    _NAME,
    Column("Desired", "Desired replicas (spec.replicas).", type="integer"),
    Column("Current", "Observed replicas (status.replicas).", type="integer"),
    Column("Ready", "Ready replicas.", type="integer"),
)

_BINDING_COLUMNS = (
    _NAME,
    Column("Role", "The role bound, as Kind/name."),
    _AGE,
    Column("Users", "Users in the binding.", priority=1),
    Column("Groups", "Groups in the binding.", priority=1),
    Column("ServiceAccounts", "ServiceAccounts in the binding, as namespace/name.", priority=1),
)

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
    "ServiceCIDR": (_NAME, Column("CIDRs", "The CIDRs of this ServiceCIDR, comma-separated."), _AGE),
    "ConfigMap": (_NAME, Column("Data", "Number of keys (data and binaryData).", type="integer"), _AGE),
    "Secret": (
        _NAME,
        Column("Type", "The type of the secret."),
        Column("Data", "Number of keys in data.", type="integer"),
        _AGE,
    ),
    "ServiceAccount": (_NAME, Column("Secrets", "Number of listed secrets.", type="integer"), _AGE),
    "Deployment": (
        _NAME,
        Column("Ready", "Ready replicas out of desired."),
        Column("Up-to-date", "Replicas updated to the latest template.", type="integer"),
        Column("Available", "Replicas available to users.", type="integer"),
        _AGE,
        *_WIDE_POD_TEMPLATE,
    ),
    "ReplicaSet": (*_REPLICA_COLUMNS, _AGE, *_WIDE_POD_TEMPLATE),
    "ReplicationController": (*_REPLICA_COLUMNS, _AGE, *_WIDE_POD_TEMPLATE),
    "DaemonSet": (
        _NAME,
        Column("Desired", "Nodes that should run the daemon pod.", type="integer"),
        Column("Current", "Nodes running at least one daemon pod.", type="integer"),
        Column("Ready", "Nodes whose daemon pod is ready.", type="integer"),
        Column("Up-to-date", "Nodes running the updated daemon pod.", type="integer"),
        Column("Available", "Nodes whose daemon pod is available.", type="integer"),
        Column("Node Selector", "The template's node selector."),
        _AGE,
        *_WIDE_POD_TEMPLATE,
    ),
    "StatefulSet": (_NAME, Column("Ready", "Ready replicas out of desired."), _AGE, *_WIDE_POD_TEMPLATE[:2]),
    "Job": (
        _NAME,
        Column("Status", "Complete, Failed, Suspended, Terminating or Running."),
        Column("Completions", "Succeeded pods out of the desired completions."),
        Column("Duration", "How long the job ran or has been running."),
        _AGE,
        *_WIDE_POD_TEMPLATE,
    ),
    "ControllerRevision": (
        _NAME,
        Column("Controller", "The owning controller, as kind.group/name."),
        Column("Revision", "The revision number.", type="integer"),
        _AGE,
    ),
    "RoleBinding": _BINDING_COLUMNS,
    "ClusterRoleBinding": _BINDING_COLUMNS,
}

# Upstream's DefaultTableConvertor, for kinds without a printer.
_DEFAULT_COLUMNS = (_NAME, Column("Created At", "Creation time.", type="date"))


def column_definitions(kind: str) -> list[dict[str, Any]]:
    """The Table columnDefinitions for ``kind`` (upstream's order and priorities)."""
    return [column.to_dict() for column in COLUMNS.get(kind, _DEFAULT_COLUMNS)]
