"""The resource types the local API server serves, with their REST names."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESOURCES", "ResourceType", "VIRTUAL_KINDS", "by_kind", "by_path"]


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # e.g. "status", "binding"
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


_RBAC = "rbac.authorization.k8s.io"
_AUTHZ = "authorization.k8s.io"
_SCALED = ("status", "scale")  # workloads with a status and an autoscaling/v1 Scale subresource

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        False,
        ("ns",),
        (),
        ("status", "finalize"),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",)),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        True,
        ("po",),
        ("all",),
        ("status", "binding", "log", "exec", "attach", "portforward"),
    ),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        "service",
        True,
        ("svc",),
        ("all",),
        ("status",),
        ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    ResourceType("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",)),
    ResourceType("", "v1", "Event", "events", "event", True, ("ev",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    ResourceType("", "v1", "Secret", "secrets", "secret", True),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), (), ("token",)),
    ResourceType(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        "replicationcontroller",
        True,
        ("rc",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
    # kube-proxy >= 1.33 lists and watches ServiceCIDRs (issue 19)
    ResourceType("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", False, (), (), ("status",)),
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",), _SCALED),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",), _SCALED),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",), ("status",)),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",), _SCALED),
    ResourceType("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    ResourceType("batch", "v1", "Job", "jobs", "job", True, (), ("all",), ("status",)),
    ResourceType(_RBAC, "v1", "Role", "roles", "role", True),
    ResourceType(_RBAC, "v1", "RoleBinding", "rolebindings", "rolebinding", True),
    ResourceType(_RBAC, "v1", "ClusterRole", "clusterroles", "clusterrole", False),
    ResourceType(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False),
    # Virtual, create-only kinds: answered, never stored (see authn.py and authz.py).
    *(
        ResourceType(_AUTHZ, "v1", kind, kind.lower() + "s", kind.lower(), kind.startswith("Local"), verbs=("create",))
        for kind in (
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
            "LocalSubjectAccessReview",
        )
    ),
    ResourceType("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", False, verbs=("create",)),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        "selfsubjectreview",
        False,
        verbs=("create",),
    ),
)

# Kinds that are answered but never stored (create-only reviews).
VIRTUAL_KINDS = frozenset(
    {
        "TokenReview",
        "SelfSubjectReview",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
    }
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {r.kind: r for r in RESOURCES}


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource served at /api(s)/<group>/<version>/<plural>, or None."""
    return _BY_PATH.get((group, version, plural))


def by_kind(kind: str) -> ResourceType:
    """The resource type of a kind; KeyError for a kind this server does not serve."""
    return _BY_KIND[kind]
