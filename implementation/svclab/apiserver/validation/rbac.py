"""RBAC validation (rbac.authorization.k8s.io/v1), as upstream's ``pkg/apis/rbac/validation``.

Names are path segments. A policy rule needs verbs, and either non-resource URLs
(ClusterRoles only, and then no groups or resources) or at least one API group
and one resource. A binding refers to a Role or ClusterRole (a ClusterRoleBinding
only to a ClusterRole) in the RBAC group, by name; its subjects are
ServiceAccounts (core group; a namespace in ClusterRoleBindings), Users or
Groups (RBAC group). ``roleRef`` never changes. All functions are side-effect-free.
"""

from __future__ import annotations

from typing import Any

from .access import child, index, mapping, objects, seq, text
from .errors import FieldError, GoLiteral, go_quote, go_slice, invalid, not_supported, required
from .formats import name_is_dns_subdomain, validate_path_segment_name
from .meta import validate_object_meta

__all__ = ["RBAC_VALIDATORS"]

RBAC_GROUP = "rbac.authorization.k8s.io"


def _meta(obj: dict[str, Any], namespaced: bool) -> list[FieldError]:
    return validate_object_meta(
        mapping(obj, "metadata"), namespaced=namespaced, name_fn=validate_path_segment_name, kube_finalizers=False
    )


def _validate_rule(rule: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not seq(rule, "verbs"):
        errs.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    urls = seq(rule, "nonResourceURLs")
    if urls:
        shown = go_slice(urls)
        if namespaced:
            errs.append(
                invalid(child(path, "nonResourceURLs"), shown, "namespaced rules cannot apply to non-resource URLs")
            )
        if seq(rule, "apiGroups") or seq(rule, "resources") or seq(rule, "resourceNames"):
            errs.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    shown,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not seq(rule, "apiGroups"):
        errs.append(required(child(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not seq(rule, "resources"):
        errs.append(required(child(path, "resources"), "resource rules must supply at least one resource"))
    return errs


def _validate_rules(obj: dict[str, Any], namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(objects(obj, "rules")):
        errs += _validate_rule(rule, namespaced, index("rules", i))
    return errs


def validate_role(role: dict[str, Any]) -> list[FieldError]:
    return _meta(role, True) + _validate_rules(role, True)


def validate_cluster_role(role: dict[str, Any]) -> list[FieldError]:
    errs = _meta(role, False) + _validate_rules(role, False)
    aggregation = role.get("aggregationRule")
    if isinstance(aggregation, dict) and not seq(aggregation, "clusterRoleSelectors"):
        errs.append(
            required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            )
        )
    return errs


def _validate_subject(subject: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    name, kind, group = text(subject, "name"), text(subject, "kind"), text(subject, "apiGroup")
    errs = [] if name else [required(child(path, "name"))]
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(child(path, "name"), name, msg) for msg in name_is_dns_subdomain(name, False)]
        if group:
            errs.append(not_supported(child(path, "apiGroup"), group, [""]))
        if not namespaced and not text(subject, "namespace"):
            errs.append(required(child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(child(path, "apiGroup"), group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(child(path, "kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _validate_binding(binding: dict[str, Any], namespaced: bool) -> list[FieldError]:
    errs = _meta(binding, namespaced)
    role_ref = mapping(binding, "roleRef")
    group, kind, name = text(role_ref, "apiGroup"), text(role_ref, "kind"), text(role_ref, "name")
    if group != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", group, [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in kinds:
        errs.append(not_supported("roleRef.kind", kind, kinds))
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", name, msg) for msg in validate_path_segment_name(name, False)]
    for i, subject in enumerate(objects(binding, "subjects")):
        errs += _validate_subject(subject, namespaced, index("subjects", i))
    return errs


def _role_ref_literal(role_ref: dict[str, Any]) -> GoLiteral:
    fields = ", ".join(f"{go_name}:{go_quote(text(role_ref, name))}" for name, go_name in _ROLE_REF_FIELDS)
    return GoLiteral(f"rbac.RoleRef{{{fields}}}")


_ROLE_REF_FIELDS = (("apiGroup", "APIGroup"), ("kind", "Kind"), ("name", "Name"))


def _binding_update(namespaced: bool) -> Any:
    def validate(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = _validate_binding(new, namespaced)
        if mapping(new, "roleRef") != mapping(old, "roleRef"):
            errs.append(invalid("roleRef", _role_ref_literal(mapping(new, "roleRef")), "cannot change roleRef"))
        return errs

    return validate


# kind -> (create, update) validators; the ObjectMeta update rules are added by the caller.
RBAC_VALIDATORS: dict[str, tuple[Any, Any]] = {
    "Role": (validate_role, lambda new, old: validate_role(new)),
    "ClusterRole": (validate_cluster_role, lambda new, old: validate_cluster_role(new)),
    "RoleBinding": (lambda b: _validate_binding(b, True), _binding_update(True)),
    "ClusterRoleBinding": (lambda b: _validate_binding(b, False), _binding_update(False)),
}
