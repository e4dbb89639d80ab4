"""Workload validation: apps/v1 Deployment, ReplicaSet, DaemonSet, StatefulSet; v1
ReplicationController; batch/v1 Job - upstream's ``pkg/apis/apps/validation``,
``pkg/apis/batch/validation`` and the RC rules of ``pkg/apis/core/validation``.

Each spec needs a selector that matches its template's labels (the RC's is a
plain map, defaulted from the template), non-negative counts, and a template
whose pod spec is valid with the restart policy the kind allows (Always; Job:
OnFailure or Never). Strategy rules: rolling updates may not have both
``maxUnavailable`` and ``maxSurge`` at 0, percentages at most 100%. On update
the apps selectors are immutable; a StatefulSet may change only some spec
fields; a Job's selector, completions, completionMode and template are fixed.
ControllerRevisions (the DaemonSet and StatefulSet history) need data and a
non-negative revision; their data never changes.
All functions are side-effect-free.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .access import child, mapping, number, text
from .errors import FieldError, GoLiteral, forbidden, invalid, not_supported, required
from .formats import name_is_dns_subdomain
from .meta import validate_immutable, validate_object_meta
from .template import (
    SELECTOR_MISMATCH,
    label_selector_literal,
    selector_matches_template,
    validate_label_selector,
    validate_nonnegative,
    validate_pod_template,
)

__all__ = ["WORKLOAD_VALIDATORS"]

SPEC = "spec"
_PERCENT = re.compile(r"[0-9]+%")
_STATEFUL_SET_UPDATABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _meta(obj: dict[str, Any]) -> list[FieldError]:
    core = obj.get("kind") == "ReplicationController"  # the core group's finalizer naming rule
    return validate_object_meta(
        mapping(obj, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain, kube_finalizers=core
    )


def _namespace(obj: dict[str, Any]) -> str:
    return text(mapping(obj, "metadata"), "namespace")


def _int_or_percent(value: object, path: str) -> tuple[list[FieldError], int | None]:
    """Upstream ValidatePositiveIntOrPercent + IsNotMoreThan100Percent; also the value as a number."""
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            return [invalid(path, GoLiteral(value), "must be an integer or percentage (e.g '5%')")], None
        percent = int(value[:-1])
        if percent > 100:
            return [invalid(path, GoLiteral(value), "must not be greater than 100%")], percent
        return [], percent
    if isinstance(value, int) and not isinstance(value, bool):
        return ([invalid(path, value, "must be greater than or equal to 0")] if value < 0 else []), value
    return [], None


def _rolling_update(rolling: dict[str, Any], path: str, both_zero: str) -> list[FieldError]:
    unavailable_path, surge_path = child(path, "maxUnavailable"), child(path, "maxSurge")
    errs, unavailable = _int_or_percent(rolling.get("maxUnavailable"), unavailable_path)
    surge_errs, surge = _int_or_percent(rolling.get("maxSurge"), surge_path)
    errs += surge_errs
    if not unavailable and not surge:
        errs.append(invalid(unavailable_path, GoLiteral(str(rolling.get("maxUnavailable", 0))), both_zero))
    return errs


def _selector_rules(spec: dict[str, Any], kind_word: str) -> list[FieldError]:
    path = child(SPEC, "selector")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required(path)]
    errs = validate_label_selector(selector, path)
    if not mapping(selector, "matchLabels") and not selector.get("matchExpressions"):
        errs.append(invalid(path, label_selector_literal(selector), f"empty selector is invalid for {kind_word}"))
    return errs


def _template_match(spec: dict[str, Any], selector: object, *, skip_empty: bool = True) -> list[FieldError]:
    labels = mapping(mapping(mapping(spec, "template"), "metadata"), "labels")
    empty = isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions")
    if skip_empty and empty:
        return []
    if selector_matches_template(selector, labels) is False:
        return [invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH)]
    return []


def _replica_template(obj: dict[str, Any], owner: str, kind_word: str) -> list[FieldError]:
    """Selector and template rules of Deployments and ReplicaSets (ValidatePodTemplateSpecForReplicaSet)."""
    spec = mapping(obj, "spec")
    errs = _selector_rules(spec, kind_word) + _template_match(spec, spec.get("selector"))
    errs += validate_pod_template(
        spec.get("template"), "spec.template", namespace=_namespace(obj), restart_policies=("Always",), owner=owner
    )
    return errs


def _deployment_strategy(spec: dict[str, Any]) -> list[FieldError]:
    strategy, path = mapping(spec, "strategy"), child(SPEC, "strategy")
    kind = text(strategy, "type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden(child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        return _rolling_update(
            mapping(strategy, "rollingUpdate"), child(path, "rollingUpdate"), "may not be 0 when `maxSurge` is 0"
        )
    return [not_supported(child(path, "type"), kind, ("Recreate", "RollingUpdate"))]


def validate_deployment(deployment: dict[str, Any]) -> list[FieldError]:
    spec = mapping(deployment, "spec")
    errs = _meta(deployment) + validate_nonnegative(spec, "replicas", SPEC)
    errs += _replica_template(deployment, "ReplicaSet", "deployment")
    errs += _deployment_strategy(spec) + validate_nonnegative(spec, "minReadySeconds", SPEC)
    errs += validate_nonnegative(spec, "revisionHistoryLimit", SPEC)
    deadline = number(spec, "progressDeadlineSeconds")
    if deadline is not None:
        errs += validate_nonnegative(spec, "progressDeadlineSeconds", SPEC)
        if deadline <= (number(spec, "minReadySeconds") or 0):
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def validate_replica_set(replica_set: dict[str, Any]) -> list[FieldError]:
    spec = mapping(replica_set, "spec")
    errs = _meta(replica_set) + validate_nonnegative(spec, "replicas", SPEC)
    errs += validate_nonnegative(spec, "minReadySeconds", SPEC)
    return errs + _replica_template(replica_set, "ReplicaSet", "deployment")


def _selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    new_selector, old_selector = mapping(new, "spec").get("selector"), mapping(old, "spec").get("selector")
    return validate_immutable(new_selector, old_selector, "spec.selector", label_selector_literal(new_selector))


def validate_daemon_set(daemon_set: dict[str, Any]) -> list[FieldError]:
    spec = mapping(daemon_set, "spec")
    # Upstream's order here: selector syntax, template match, then the empty-selector rule.
    selector = spec.get("selector")
    errs = _meta(daemon_set) + validate_label_selector(selector, "spec.selector")
    errs += _template_match(spec, selector, skip_empty=False)
    if isinstance(selector, dict) and not mapping(selector, "matchLabels") and not selector.get("matchExpressions"):
        errs.append(
            invalid("spec.selector", label_selector_literal(selector), "empty selector is invalid for daemonset")
        )
    errs += validate_pod_template(
        spec.get("template"),
        "spec.template",
        namespace=_namespace(daemon_set),
        restart_policies=("Always",),
        owner="DaemonSet",
    )
    errs += validate_nonnegative(spec, "minReadySeconds", SPEC) + validate_nonnegative(
        spec, "revisionHistoryLimit", SPEC
    )
    strategy, path = mapping(spec, "updateStrategy"), "spec.updateStrategy"
    kind = text(strategy, "type")
    if kind == "RollingUpdate":
        errs += _rolling_update(
            mapping(strategy, "rollingUpdate"), child(path, "rollingUpdate"), "cannot be 0 when maxSurge is 0"
        )
    elif kind != "OnDelete":
        errs.append(not_supported(child(path, "type"), kind, ("OnDelete", "RollingUpdate")))
    return errs


def validate_stateful_set(stateful_set: dict[str, Any]) -> list[FieldError]:
    spec = mapping(stateful_set, "spec")
    errs = _meta(stateful_set)
    policy = text(spec, "podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = mapping(spec, "updateStrategy")
    kind = text(strategy, "type")
    if kind == "RollingUpdate":
        errs += validate_nonnegative(
            mapping(strategy, "rollingUpdate"), "partition", "spec.updateStrategy.rollingUpdate"
        )
    elif kind == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.append(
                forbidden("spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'")
            )
    else:
        errs.append(invalid("spec.updateStrategy", GoLiteral(kind), "must be 'RollingUpdate' or 'OnDelete'"))
    errs += validate_nonnegative(spec, "replicas", SPEC) + validate_nonnegative(spec, "minReadySeconds", SPEC)
    errs += _selector_rules(spec, "statefulset")
    errs += _template_match(spec, spec.get("selector"))
    errs += validate_pod_template(
        spec.get("template"),
        "spec.template",
        namespace=_namespace(stateful_set),
        restart_policies=("Always",),
        owner="StatefulSet",
    )
    return errs


def validate_stateful_set_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = validate_stateful_set(new)
    new_spec, old_spec = dict(mapping(new, "spec")), dict(mapping(old, "spec"))
    for name in _STATEFUL_SET_UPDATABLE:
        new_spec.pop(name, None)
        old_spec.pop(name, None)
    if new_spec != old_spec:
        updatable = ", ".join(f"'{n}'" for n in _STATEFUL_SET_UPDATABLE[:-1])
        errs.append(
            forbidden(
                SPEC,
                f"updates to statefulset spec for fields other than {updatable} and "
                f"'{_STATEFUL_SET_UPDATABLE[-1]}' are forbidden",
            )
        )
    return errs


def validate_replication_controller(rc: dict[str, Any]) -> list[FieldError]:
    spec = mapping(rc, "spec")
    errs = _meta(rc) + validate_nonnegative(spec, "minReadySeconds", SPEC)
    selector = mapping(spec, "selector")
    if not selector:
        errs.append(required("spec.selector"))
    errs += validate_nonnegative(spec, "replicas", SPEC)
    template = spec.get("template")
    if not isinstance(template, dict):
        return errs + [required("spec.template")]
    labels = mapping(mapping(template, "metadata"), "labels")
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
    errs += validate_pod_template(
        template, "spec.template", namespace=_namespace(rc), restart_policies=("Always",), owner="ReplicationController"
    )
    return errs


def validate_job(job: dict[str, Any]) -> list[FieldError]:
    spec = mapping(job, "spec")
    errs = _meta(job)
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        errs += validate_nonnegative(spec, name, SPEC)
    if not isinstance(spec.get("selector"), dict):
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(spec["selector"], "spec.selector")
    errs += _template_match(spec, spec.get("selector"), skip_empty=False)
    mode = text(spec, "completionMode", "NonIndexed")
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported("spec.completionMode", mode, ("NonIndexed", "Indexed")))
    errs += validate_pod_template(
        spec.get("template"),
        "spec.template",
        namespace=_namespace(job),
        restart_policies=("OnFailure", "Never"),
        owner="",
    )
    return errs


def _template_literal(template: object) -> GoLiteral:
    return GoLiteral("core.PodTemplateSpec" + orjson.dumps(template, option=orjson.OPT_SORT_KEYS).decode())


def validate_job_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = validate_job(new)
    new_spec, old_spec = mapping(new, "spec"), mapping(old, "spec")
    errs += _selector_immutable(new, old)
    for name in ("completions", "completionMode"):
        errs += validate_immutable(new_spec.get(name), old_spec.get(name), f"spec.{name}")
    if not new_spec.get("suspend") or not old_spec.get("suspend"):
        template = new_spec.get("template")
        errs += validate_immutable(template, old_spec.get("template"), "spec.template", _template_literal(template))
    return errs


def validate_controller_revision(revision: dict[str, Any]) -> list[FieldError]:
    """Upstream ValidateControllerRevisionCreate: data present, revision not negative."""
    errs = validate_object_meta(
        mapping(revision, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain, kube_finalizers=False
    )
    if revision.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    return errs + validate_nonnegative(revision, "revision", "")


def _validate_controller_revision_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Only metadata may change (upstream: data is immutable)."""
    errs = validate_controller_revision(new)
    return errs + validate_immutable(new.get("data"), old.get("data"), "data", GoLiteral("runtime.RawExtension{...}"))


def _with_selector_immutable(validate: Any) -> Any:
    return lambda new, old: validate(new) + _selector_immutable(new, old)


# kind -> (create, update) validators; the ObjectMeta update rules are added by the caller.
WORKLOAD_VALIDATORS: dict[str, tuple[Any, Any]] = {
    "Deployment": (validate_deployment, _with_selector_immutable(validate_deployment)),
    "ReplicaSet": (validate_replica_set, _with_selector_immutable(validate_replica_set)),
    "DaemonSet": (validate_daemon_set, _with_selector_immutable(validate_daemon_set)),
    "StatefulSet": (validate_stateful_set, validate_stateful_set_update),
    "ReplicationController": (validate_replication_controller, lambda new, old: validate_replication_controller(new)),
    "Job": (validate_job, validate_job_update),
    "ControllerRevision": (validate_controller_revision, _validate_controller_revision_update),
}
