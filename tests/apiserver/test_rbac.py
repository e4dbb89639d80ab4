"""RBAC objects stored and served (authorization itself stays allow-all), the bootstrap
cluster-admin policy, access reviews (``kubectl auth can-i``) and upstream's RBAC
validation messages; discovery names the foreign kinds of ``scale`` and ``token``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ROLES = f"{RBAC}/namespaces/default/roles"
BINDINGS = f"{RBAC}/namespaces/default/rolebindings"


def test_role_rules_validated(api) -> None:
    r = api.post(
        ROLES,
        {"metadata": {"name": "r"}, "rules": [{"resources": ["pods"]}, {"nonResourceURLs": ["/x"], "verbs": ["get"]}]},
    )
    assert r.status_code == 422
    assert r.json()["message"] == (
        'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].verbs: Required value: verbs must contain at least '
        "one value, rules[0].apiGroups: Required value: resource rules must supply at least one api group, "
        'rules[1].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs]'
    )
    ok = api.post(
        ROLES, {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    )
    assert ok.status_code == 201, ok.text


def test_binding_defaults_validation_and_immutable_role_ref(api) -> None:
    body = {
        "metadata": {"name": "b"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}],
    }
    created = api.post(BINDINGS, body).json()
    assert created["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert created["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in created["subjects"][1]
    r = api.patch(f"{BINDINGS}/b", {"roleRef": {"name": "other"}}, "application/merge-patch+json")
    assert r.status_code == 422
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: '
            "cannot change roleRef",
            "field": "roleRef",
        }
    ]
    crb = {
        "metadata": {"name": "c"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "x"}],
    }
    causes = api.post(f"{RBAC}/clusterrolebindings", crb).json()["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [
        ("roleRef.kind", "FieldValueNotSupported"),
        ("subjects[0].namespace", "FieldValueRequired"),
    ]


def test_bootstrap_cluster_admin(api) -> None:
    role = api.get(f"{RBAC}/clusterroles/cluster-admin").json()
    assert role["rules"][0] == {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    binding = api.get(f"{RBAC}/clusterrolebindings/cluster-admin").json()
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]


def test_access_reviews(api) -> None:
    ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    ok = api.post(ssar, {"spec": {"resourceAttributes": {"verb": "create", "resource": "pods"}}})
    assert ok.status_code == 201 and ok.json()["status"]["allowed"] is True
    bad = api.post(ssar, {"spec": {}})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0]["message"].endswith(
        "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    )
    assert api.get(ssar).status_code == 405  # create-only


def test_discovery_names_foreign_subresource_kinds(api) -> None:
    apps = {e["name"]: e for e in api.get("/apis/apps/v1").json()["resources"]}
    assert {k: apps["deployments/scale"][k] for k in ("group", "version", "kind")} == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }
    core = {e["name"]: e for e in api.get("/api/v1").json()["resources"]}
    assert core["serviceaccounts/token"]["kind"] == "TokenRequest" and core["serviceaccounts/token"]["verbs"] == [
        "create"
    ]
    assert core["replicationcontrollers"]["shortNames"] == ["rc"]


def test_kubectl_rbac_flow(kubectl) -> None:
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "rb", "--role=pod-reader", "--user=alice", "--serviceaccount=default:default")
    wide = kubectl("get", "rolebindings", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert wide[1].split()[:2] == ["rb", "Role/pod-reader"] and wide[1].split()[-2:] == ["alice", "default/default"]
    kubectl("create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/healthz")
    assert kubectl("get", "clusterroles").stdout.splitlines()[0].split() == ["NAME", "CREATED", "AT"]
    assert kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
