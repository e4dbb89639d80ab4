"""The kind provider's manifests: RBAC as upstream grants it, the workloads, validity.

Specs used: the shipped ``clusters/kind-iptables.yaml`` / ``kind-nftables.yaml``
(3 nodes, podSubnet 10.244.0.0/16) and variants built from them with
``parse_spec`` (proxy mode none, one controller, other sync periods).
Every rendered object is validated with kubernetes-validate in strict mode for
Kubernetes 1.33 and for the newest version the package ships.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from svclab.testbed import spec as spec_module
from svclab.testbed.kind.manifests import dump_manifests, render_manifests
from svclab.testbed.kind.rbac import CONTROLLER_ROLES, NODE_PROXIER_ROLE
from svclab.testbed.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parents[3]
IMAGE = "svclab:test"
K8S_VERSIONS = ["1.33", kubernetes_validate.latest_version()]


def _spec(file: str = "kind-iptables.yaml", **changes: Any) -> spec_module.Testbed:
    document = yaml.safe_load((REPO / "clusters" / file).read_text())
    document = copy.deepcopy(document)
    for key, value in changes.items():
        document["spec"][key] = value
    return parse_spec(document, file)


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = _by_kind(objects, kind)
    assert len(found) == 1, [o["metadata"]["name"] for o in found]
    return found[0]


def _proxy_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = _one(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
    return container


ALL_CONTROLLERS = [controller.value for controller in spec_module.Controller]
SPECS = {
    "kind-iptables": lambda: _spec("kind-iptables.yaml"),
    "kind-nftables": lambda: _spec("kind-nftables.yaml"),
    "proxy-none": lambda: _spec(proxy={"mode": "none"}),
    "only-endpointslice": lambda: _spec(controllers=["endpointslice"]),
    "no-controllers": lambda: _spec(controllers=[]),
    "all-controllers": lambda: _spec(controllers=ALL_CONTROLLERS),
}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("spec_id", list(SPECS))
def test_every_manifest_validates_strictly(spec_id: str, version: str) -> None:
    objects = render_manifests(SPECS[spec_id](), IMAGE, apiserver="x-control-plane:6443")
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The validator is really strict: the checks above can fail."""
    daemonset = _one(render_manifests(_spec(), IMAGE), "DaemonSet")
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, "1.33", strict=True)


# Upstream's rules (controller_policy.go, policy.go), as (groups, resources, verbs) sets.
EVENTS = (("", "events.k8s.io"), ("events",), ("create", "update", "patch"))
UPSTREAM_RULES = {
    "system:controller:endpoint-controller": {
        (("",), ("services", "pods"), ("get", "list", "watch")),
        (("",), ("endpoints",), ("get", "list", "watch", "create", "update", "delete")),
        (("",), ("endpoints/restricted",), ("create",)),
        EVENTS,
    },
    "system:controller:endpointslice-controller": {
        (("",), ("services", "pods", "nodes"), ("get", "list", "watch")),
        (("",), ("services/finalizers",), ("update",)),
        (("discovery.k8s.io",), ("endpointslices",), ("get", "list", "watch", "create", "update", "delete")),
        EVENTS,
    },
    "system:controller:endpointslicemirroring-controller": {
        (("",), ("services", "endpoints"), ("get", "list", "watch")),
        (("",), ("services/finalizers",), ("update",)),
        (("",), ("endpoints/finalizers",), ("update",)),
        (("discovery.k8s.io",), ("endpointslices",), ("get", "list", "watch", "create", "update", "delete")),
        EVENTS,
    },
    "system:controller:replicaset-controller": {
        (("apps", "extensions"), ("replicasets",), ("get", "list", "watch", "update")),
        (("apps", "extensions"), ("replicasets/status",), ("update",)),
        (("apps", "extensions"), ("replicasets/finalizers",), ("update",)),
        (("",), ("pods",), ("list", "watch", "patch", "create", "delete")),
        EVENTS,
    },
    "system:controller:replication-controller": {
        (("",), ("replicationcontrollers",), ("get", "list", "watch", "update")),
        (("",), ("replicationcontrollers/status",), ("update",)),
        (("",), ("replicationcontrollers/finalizers",), ("update",)),
        (("",), ("pods",), ("list", "watch", "patch", "create", "delete")),
        EVENTS,
    },
    "system:controller:deployment-controller": {
        (("extensions", "apps"), ("deployments",), ("get", "list", "watch", "update")),
        (("extensions", "apps"), ("deployments/status",), ("update",)),
        (("extensions", "apps"), ("deployments/finalizers",), ("update",)),
        (("apps", "extensions"), ("replicasets",), ("get", "list", "watch", "create", "update", "patch", "delete")),
        (("",), ("pods",), ("get", "list", "watch", "update")),
        EVENTS,
    },
    "system:controller:daemon-set-controller": {
        (("extensions", "apps"), ("daemonsets",), ("get", "list", "watch")),
        (("extensions", "apps"), ("daemonsets/status",), ("update",)),
        (("extensions", "apps"), ("daemonsets/finalizers",), ("update",)),
        (("",), ("nodes",), ("list", "watch")),
        (("",), ("pods",), ("list", "watch", "create", "delete", "patch")),
        (("",), ("pods/binding",), ("create",)),
        (("apps",), ("controllerrevisions",), ("get", "list", "watch", "create", "delete", "update", "patch")),
        EVENTS,
    },
    "system:controller:job-controller": {
        (("batch",), ("jobs",), ("get", "list", "watch", "update", "patch")),
        (("batch",), ("jobs/status",), ("update",)),
        (("batch",), ("jobs/finalizers",), ("update",)),
        (("",), ("pods",), ("list", "watch", "create", "delete", "patch")),
        EVENTS,
    },
    "system:node-proxier": {
        (("",), ("services", "endpoints"), ("list", "watch")),
        (("",), ("nodes",), ("get", "list", "watch")),
        EVENTS,
        (("discovery.k8s.io",), ("endpointslices",), ("list", "watch")),
    },
}


def _rule_set(role: dict[str, Any]) -> set[tuple[tuple[str, ...], ...]]:
    return {(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]}


def test_cluster_roles_equal_upstream() -> None:
    roles = {r["metadata"]["name"]: r for r in _by_kind(render_manifests(_spec(), IMAGE), "ClusterRole")}
    endpoint_roles = {name for name in UPSTREAM_RULES if "endpoint" in name} | {"system:node-proxier"}
    assert set(roles) == endpoint_roles
    for name in endpoint_roles:
        assert _rule_set(roles[name]) == UPSTREAM_RULES[name], name
        assert roles[name]["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}


def test_workload_cluster_roles_equal_upstream_plus_our_extras() -> None:
    objects = render_manifests(_spec(controllers=ALL_CONTROLLERS), IMAGE)
    roles = {r["metadata"]["name"]: r for r in _by_kind(objects, "ClusterRole")}
    assert {name for name, _ in CONTROLLER_ROLES.values()} | {NODE_PROXIER_ROLE[0]} == set(UPSTREAM_RULES)
    for name, rules in UPSTREAM_RULES.items():
        assert _rule_set(roles[name]) == rules, name
    # The one thing ours does beyond upstream's role, in a role of our own, bound to our account.
    extras = roles.pop("svclab:controller:deployment-controller-extras")
    assert _rule_set(extras) == {(("apps",), ("deployments",), ("patch",))}
    assert "kubernetes.io/bootstrapping" not in extras["metadata"]["labels"]
    assert set(roles) == set(UPSTREAM_RULES)
    bound = {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in _by_kind(objects, "ClusterRoleBinding")}
    assert ("svclab:controller:deployment-controller-extras", "svclab-controller-manager") in bound
    assert ("system:controller:daemon-set-controller", "svclab-controller-manager") in bound


def test_bindings_give_each_account_its_roles_only() -> None:
    objects = render_manifests(_spec(controllers=["endpoints", "endpointslice"]), IMAGE)
    bound = {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in _by_kind(objects, "ClusterRoleBinding")}
    assert bound == {
        ("system:controller:endpoint-controller", "svclab-controller-manager"),
        ("system:controller:endpointslice-controller", "svclab-controller-manager"),
        ("system:node-proxier", "svclab-proxy"),
    }
    lease_role = _one(objects, "Role")
    assert lease_role["metadata"]["namespace"] == "kube-system"
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "update"],
            "resourceNames": ["svclab-controller-manager"],
        },
    ]
    accounts = {a["metadata"]["name"] for a in _by_kind(objects, "ServiceAccount")}
    assert accounts == {"svclab-controller-manager", "svclab-proxy"}


def test_controller_manager_deployment() -> None:
    deployment = _one(
        render_manifests(_spec(controllers=["endpointslice-mirroring", "endpoints"]), IMAGE), "Deployment"
    )
    assert deployment["metadata"]["namespace"] == "kube-system"
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "svclab-controller-manager"
    container = pod["containers"][0]
    assert container["image"] == IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"][:2] == ["controller-manager", "--leader-elect"]
    assert "--controllers=endpointslice-mirroring,endpoints" in container["args"]
    assert container["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("file,mode", [("kind-iptables.yaml", "iptables"), ("kind-nftables.yaml", "nftables")])
def test_proxy_daemonset_follows_the_spec(file: str, mode: str) -> None:
    objects = render_manifests(_spec(file, proxy={"mode": mode, "minSyncPeriod": "250ms", "syncPeriod": "1m"}), IMAGE)
    daemonset = _one(objects, "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["serviceAccountName"] == "svclab-proxy"
    container = pod["containers"][0]
    assert container["args"] == [
        "proxy",
        f"--mode={mode}",
        "--hostname-override=$(NODE_NAME)",
        "--min-sync-period=250ms",
        "--sync-period=1m",
        "--cluster-cidr=10.244.0.0/16",
        "--metrics-bind-address=0.0.0.0:10249",
        "--healthz-bind-address=0.0.0.0:10256",
    ]
    assert container["env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert container["securityContext"]["privileged"] is True
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": 10256}
    assert {p["containerPort"] for p in container["ports"]} == {10249, 10256}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts == {"/run/xtables.lock": False, "/lib/modules": True}
    volumes = {v["name"]: v["hostPath"] for v in pod["volumes"]}
    assert volumes["xtables-lock"] == {"path": "/run/xtables.lock", "type": "FileOrCreate"}
    assert volumes["lib-modules"]["path"] == "/lib/modules"


def test_ipvs_proxies_refuse_to_fall_back_unless_the_spec_asks() -> None:
    refusing = _proxy_container(render_manifests(_spec(proxy={"mode": "ipvs"}), IMAGE))
    assert "--no-mode-fallback" in refusing["args"]
    falling_back = _proxy_container(render_manifests(_spec(proxy={"mode": "ipvs", "ipvsFallback": "iptables"}), IMAGE))
    assert "--mode=ipvs" in falling_back["args"] and "--no-mode-fallback" not in falling_back["args"]


def test_proxy_reaches_the_apiserver_directly_when_told() -> None:
    env = _proxy_container(render_manifests(_spec(), IMAGE, apiserver="lab-control-plane:6443"))["env"]
    assert {"name": "KUBERNETES_SERVICE_HOST", "value": "lab-control-plane"} in env
    assert {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"} in env


def test_proxy_mode_none_and_no_controllers_leave_their_parts_out() -> None:
    no_proxy = render_manifests(_spec(proxy={"mode": "none"}), IMAGE)
    assert not _by_kind(no_proxy, "DaemonSet")
    assert "system:node-proxier" not in {r["metadata"]["name"] for r in _by_kind(no_proxy, "ClusterRole")}
    no_controllers = render_manifests(_spec(controllers=[]), IMAGE)
    assert not _by_kind(no_controllers, "Deployment") and not _by_kind(no_controllers, "Role")
    assert {o["kind"] for o in no_controllers} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}


def test_dump_is_multi_document_yaml_in_apply_order() -> None:
    objects = render_manifests(load_spec(REPO / "clusters" / "kind-iptables.yaml"), IMAGE)
    text = dump_manifests(objects)
    assert text.startswith("---\n")
    loaded = list(yaml.safe_load_all(text))
    assert loaded == objects
    kinds = [o["kind"] for o in loaded]
    # accounts and RBAC before the workloads that use them
    assert kinds.index("Deployment") > max(i for i, k in enumerate(kinds) if k != "DaemonSet" and k != "Deployment")
