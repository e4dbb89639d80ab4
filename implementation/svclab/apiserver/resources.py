"""The resource types the local API server serves, with their REST names."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "RESOURCES",
    "ResourceType",
    "VIRTUAL_KINDS",
    "all_resources",
    "by_kind",
    "by_path",
    "custom_versions",
    "serve_custom",
    "served_generation",
    "stop_serving_custom",
]


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
    custom: bool = False  # served for a CustomResourceDefinition (apiextensions/), JSON only
    view: bool = False  # another group's view of a kind stored once (events.k8s.io Events: event_views.py)

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
    ResourceType("events.k8s.io", "v1", "Event", "events", "event", True, ("ev",), view=True),
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
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        False,
        ("crd", "crds"),
        (),
        ("status",),
    ),
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
    # Stored and served, acted on by nothing (validation/inert.py): what a kind cluster lists.
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",), (), ("status",)),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", True, ("netpol",)),
    ResourceType(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "certificatesigningrequest",
        False,
        ("csr",),
        (),
        ("status",),
    ),
    ResourceType("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", "csistoragecapacity", True),
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
_BY_KIND = {r.kind: r for r in RESOURCES if not r.view}
# Kinds served for CustomResourceDefinitions, changed as CRDs come and go (apiextensions/).
# The store keys objects by kind, so a custom kind is refused when its kind is taken.
_CUSTOM_BY_PATH: dict[tuple[str, str, str], ResourceType] = {}
_CUSTOM_BY_KIND: dict[str, ResourceType] = {}
_generation = [0]  # bumped on every change of the custom table: cached documents key on it


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource served at /api(s)/<group>/<version>/<plural>, or None."""
    key = (group, version, plural)
    return _BY_PATH.get(key) or _CUSTOM_BY_PATH.get(key)


def by_kind(kind: str) -> ResourceType:
    """The resource type of a kind; KeyError for a kind this server does not serve."""
    found = _BY_KIND.get(kind) or _CUSTOM_BY_KIND.get(kind)
    if found is None:
        raise KeyError(kind)
    return found


def all_resources() -> tuple[ResourceType, ...]:
    """Built-in resources, then every served version of the custom ones."""
    return RESOURCES + tuple(_CUSTOM_BY_PATH.values())


def served_generation() -> int:
    """A number that changes whenever the set of custom resources changes."""
    return _generation[0]


def serve_custom(versions: list[ResourceType]) -> None:
    """Serve a custom kind from now on, one entry per served version, the storage
    version first (it is what ``by_kind`` answers); replaces what the kind had."""
    kind = versions[0].kind
    stop_serving_custom(kind)
    _CUSTOM_BY_KIND[kind] = versions[0]
    for r in versions:
        _CUSTOM_BY_PATH[(r.group, r.version, r.plural)] = r
    _generation[0] += 1


def stop_serving_custom(kind: str) -> None:
    if _CUSTOM_BY_KIND.pop(kind, None) is None:
        return
    for key in [key for key, r in _CUSTOM_BY_PATH.items() if r.kind == kind]:
        del _CUSTOM_BY_PATH[key]
    _generation[0] += 1


def custom_versions(kind: str) -> list[ResourceType]:
    """Every served version of a custom kind (empty for a built-in or unknown kind)."""
    return [r for r in _CUSTOM_BY_PATH.values() if r.kind == kind]
