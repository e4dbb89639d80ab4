"""ServiceAccounts and RBAC for our components, equal to what upstream grants.

Upstream's bootstrap policy (``plugin/pkg/auth/authorizer/rbac/bootstrappolicy``)
gives each endpoints and workload controller a ClusterRole ``system:controller:<name>``
bound to the ServiceAccount ``kube-system/<name>``, and kube-proxy the
ClusterRole ``system:node-proxier``. We render the same ClusterRoles with the
same rules (so the manifests work on a cluster that lacks them, and an
existing cluster's copies are left as they are: the rules are identical), and
bind them to our own ServiceAccounts:

* ``kube-system/svclab-controller-manager``: one ClusterRole per controller the
  testbed runs (and ``svclab:controller:<upstream name>-extras`` where ours needs more
  than upstream's, ``CONTROLLER_EXTRA_RULES``), plus a Role for its leader-election Lease (as upstream's
  ``system:kube-controller-manager``: ``create`` any Lease, ``get``/``update``
  only its own);
* ``kube-system/svclab-proxy``: ``system:node-proxier``.

All functions here are side-effect-free and return plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CONTROLLER_EXTRA_RULES",
    "CONTROLLER_MANAGER_ACCOUNT",
    "CONTROLLER_ROLES",
    "LEADER_ELECTION_LEASE",
    "NAMESPACE",
    "NODE_PROXIER_ROLE",
    "PROXY_ACCOUNT",
    "controller_manager_rbac",
    "proxy_rbac",
]

NAMESPACE = "kube-system"
CONTROLLER_MANAGER_ACCOUNT = "svclab-controller-manager"
PROXY_ACCOUNT = "svclab-proxy"
# The Lease `svclab controller-manager --leader-elect` takes (its default name).
LEADER_ELECTION_LEASE = "svclab-controller-manager"
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
# Labels and annotation upstream puts on its bootstrap roles.
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
COMPONENT_LABEL = "app.kubernetes.io/part-of"

_LEGACY = ""
_APPS = "apps"
_EXTENSIONS = "extensions"
_BATCH = "batch"
_DISCOVERY = "discovery.k8s.io"
_EVENTS = "events.k8s.io"
_COORDINATION = "coordination.k8s.io"


def _rule(
    verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str], names: Iterable[str] = ()
) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def _events_rule() -> dict[str, Any]:
    """Upstream's eventsRule(): write Events in both event API groups."""
    return _rule(("create", "update", "patch"), (_LEGACY, _EVENTS), ("events",))


# spec.controllers value -> (upstream ClusterRole, its rules), from controller_policy.go.
CONTROLLER_ROLES: dict[str, tuple[str, tuple[dict[str, Any], ...]]] = {
    "endpoints": (
        "system:controller:endpoint-controller",
        (
            _rule(("get", "list", "watch"), (_LEGACY,), ("services", "pods")),
            _rule(("get", "list", "watch", "create", "update", "delete"), (_LEGACY,), ("endpoints",)),
            _rule(("create",), (_LEGACY,), ("endpoints/restricted",)),
            _events_rule(),
        ),
    ),
    "endpointslice": (
        "system:controller:endpointslice-controller",
        (
            _rule(("get", "list", "watch"), (_LEGACY,), ("services", "pods", "nodes")),
            _rule(("update",), (_LEGACY,), ("services/finalizers",)),
            _rule(("get", "list", "watch", "create", "update", "delete"), (_DISCOVERY,), ("endpointslices",)),
            _events_rule(),
        ),
    ),
    "endpointslice-mirroring": (
        "system:controller:endpointslicemirroring-controller",
        (
            _rule(("get", "list", "watch"), (_LEGACY,), ("services", "endpoints")),
            _rule(("update",), (_LEGACY,), ("services/finalizers",)),
            _rule(("update",), (_LEGACY,), ("endpoints/finalizers",)),
            _rule(("get", "list", "watch", "create", "update", "delete"), (_DISCOVERY,), ("endpointslices",)),
            _events_rule(),
        ),
    ),
    "replicaset": (
        "system:controller:replicaset-controller",
        (
            _rule(("get", "list", "watch", "update"), (_APPS, _EXTENSIONS), ("replicasets",)),
            _rule(("update",), (_APPS, _EXTENSIONS), ("replicasets/status",)),
            _rule(("update",), (_APPS, _EXTENSIONS), ("replicasets/finalizers",)),
            _rule(("list", "watch", "patch", "create", "delete"), (_LEGACY,), ("pods",)),
            _events_rule(),
        ),
    ),
    "replicationcontroller": (
        "system:controller:replication-controller",
        (
            _rule(("get", "list", "watch", "update"), (_LEGACY,), ("replicationcontrollers",)),
            _rule(("update",), (_LEGACY,), ("replicationcontrollers/status",)),
            _rule(("update",), (_LEGACY,), ("replicationcontrollers/finalizers",)),
            _rule(("list", "watch", "patch", "create", "delete"), (_LEGACY,), ("pods",)),
            _events_rule(),
        ),
    ),
    "deployment": (
        "system:controller:deployment-controller",
        (
            _rule(("get", "list", "watch", "update"), (_EXTENSIONS, _APPS), ("deployments",)),
            _rule(("update",), (_EXTENSIONS, _APPS), ("deployments/status",)),
            _rule(("update",), (_EXTENSIONS, _APPS), ("deployments/finalizers",)),
            _rule(
                ("get", "list", "watch", "create", "update", "patch", "delete"), (_APPS, _EXTENSIONS), ("replicasets",)
            ),
            _rule(("get", "list", "watch", "update"), (_LEGACY,), ("pods",)),
            _events_rule(),
        ),
    ),
    "daemonset": (
        "system:controller:daemon-set-controller",
        (
            _rule(("get", "list", "watch"), (_EXTENSIONS, _APPS), ("daemonsets",)),
            _rule(("update",), (_EXTENSIONS, _APPS), ("daemonsets/status",)),
            _rule(("update",), (_EXTENSIONS, _APPS), ("daemonsets/finalizers",)),
            _rule(("list", "watch"), (_LEGACY,), ("nodes",)),
            _rule(("list", "watch", "create", "delete", "patch"), (_LEGACY,), ("pods",)),
            _rule(("create",), (_LEGACY,), ("pods/binding",)),
            _rule(("get", "list", "watch", "create", "delete", "update", "patch"), (_APPS,), ("controllerrevisions",)),
            _events_rule(),
        ),
    ),
    "job": (
        "system:controller:job-controller",
        (
            _rule(("get", "list", "watch", "update", "patch"), (_BATCH,), ("jobs",)),
            _rule(("update",), (_BATCH,), ("jobs/status",)),
            _rule(("update",), (_BATCH,), ("jobs/finalizers",)),
            _rule(("list", "watch", "create", "delete", "patch"), (_LEGACY,), ("pods",)),
            _events_rule(),
        ),
    ),
}

# What our controllers do beyond their upstream role, granted in a ClusterRole
# of our own so that upstream's roles stay exactly as upstream has them: our
# Deployment controller writes the revision annotation with a merge patch
# (upstream updates the whole object).
CONTROLLER_EXTRA_RULES: dict[str, tuple[dict[str, Any], ...]] = {
    "deployment": (_rule(("patch",), (_APPS,), ("deployments",)),),
}

# policy.go's system:node-proxier (as of Kubernetes 1.33).
NODE_PROXIER_ROLE: tuple[str, tuple[dict[str, Any], ...]] = (
    "system:node-proxier",
    (
        _rule(("list", "watch"), (_LEGACY,), ("services", "endpoints")),
        _rule(("get", "list", "watch"), (_LEGACY,), ("nodes",)),
        _events_rule(),
        _rule(("list", "watch"), (_DISCOVERY,), ("endpointslices",)),
    ),
)


def _labels(component: str) -> dict[str, str]:
    return {COMPONENT_LABEL: "svclab", "app.kubernetes.io/component": component}


def _service_account(name: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(component)},
    }


def _cluster_role(name: str, rules: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS), "annotations": dict(BOOTSTRAP_ANNOTATIONS)},
        "rules": [dict(rule) for rule in rules],
    }


def _extra_role(controller: str, rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our own ClusterRole (not a bootstrap one) with ``rules``, bound to the controller-manager."""
    upstream_role = CONTROLLER_ROLES[controller][0]
    name = "svclab:controller:" + upstream_role.removeprefix("system:controller:") + "-extras"
    role = {
        "apiVersion": RBAC_API,
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": _labels("controller-manager")},
        "rules": [dict(rule) for rule in rules],
    }
    binding = _binding(
        "ClusterRoleBinding", name, "ClusterRole", name, CONTROLLER_MANAGER_ACCOUNT, "controller-manager"
    )
    return [role, binding]


def _binding(kind: str, name: str, role_kind: str, role: str, account: str, component: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": _labels(component)}
    if kind == "RoleBinding":
        metadata["namespace"] = NAMESPACE
    return {
        "apiVersion": RBAC_API,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
    }


def _leader_election_role() -> dict[str, Any]:
    # As upstream's system:kube-controller-manager: create cannot be limited by
    # name (the object has none yet), get/update only touch our own Lease.
    return {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": {
            "name": "svclab:leader-locking-controller-manager",
            "namespace": NAMESPACE,
            "labels": _labels("controller-manager"),
        },
        "rules": [
            _rule(("create",), (_COORDINATION,), ("leases",)),
            _rule(("get", "update"), (_COORDINATION,), ("leases",), (LEADER_ELECTION_LEASE,)),
        ],
    }


def controller_manager_rbac(controllers: Sequence[str]) -> list[dict[str, Any]]:
    """ServiceAccount, the upstream ClusterRoles of ``controllers`` with bindings, Lease Role."""
    objects = [_service_account(CONTROLLER_MANAGER_ACCOUNT, "controller-manager")]
    for controller in controllers:
        role, rules = CONTROLLER_ROLES[controller]
        objects.append(_cluster_role(role, rules))
        objects.append(
            _binding(
                "ClusterRoleBinding",
                f"svclab:{controller}-controller",
                "ClusterRole",
                role,
                CONTROLLER_MANAGER_ACCOUNT,
                "controller-manager",
            )
        )
        if controller in CONTROLLER_EXTRA_RULES:
            objects += _extra_role(controller, CONTROLLER_EXTRA_RULES[controller])
    objects.append(_leader_election_role())
    objects.append(
        _binding(
            "RoleBinding",
            "svclab:leader-locking-controller-manager",
            "Role",
            "svclab:leader-locking-controller-manager",
            CONTROLLER_MANAGER_ACCOUNT,
            "controller-manager",
        )
    )
    return objects


def proxy_rbac() -> list[dict[str, Any]]:
    """ServiceAccount, ``system:node-proxier`` and its binding for our proxy."""
    role, rules = NODE_PROXIER_ROLE
    return [
        _service_account(PROXY_ACCOUNT, "proxy"),
        _cluster_role(role, rules),
        _binding("ClusterRoleBinding", "svclab:node-proxier", "ClusterRole", role, PROXY_ACCOUNT, "proxy"),
    ]
