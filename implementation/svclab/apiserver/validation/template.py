"""Pieces every workload kind validates: label selectors and pod templates, as upstream.

* :func:`validate_label_selector` - ``ValidateLabelSelector`` (matchLabels as
  labels; each matchExpression's key, operator and values).
* :func:`validate_pod_template` - ``ValidatePodTemplateSpec``: the template's labels
  (reported at ``<path>.labels``, as upstream does), annotations and pod spec,
  with every pod-spec error under ``<path>.spec``; the caller's restart policies
  and whether the selector must match the template's labels.
* :func:`label_selector_literal` - a ``*metav1.LabelSelector`` as Go's ``%#v`` prints it.

All functions are side-effect-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from svclab.apimachinery.labels import label_selector_from_api
from svclab.apimachinery.selection import SelectorError

from .access import child, index, mapping, number, objects, seq, text
from .errors import FieldError, GoLiteral, forbidden, go_quote, invalid, not_supported, required
from .meta import validate_annotations, validate_labels
from .pod import validate_pod

__all__ = [
    "SELECTOR_MISMATCH",
    "label_selector_literal",
    "selector_matches_template",
    "validate_label_selector",
    "validate_nonnegative",
    "validate_pod_template",
]

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_VALUED_OPERATORS = ("In", "NotIn")
_VALUELESS_OPERATORS = ("Exists", "DoesNotExist")


def validate_nonnegative(obj: dict[str, Any], name: str, path: str) -> list[FieldError]:
    """Upstream ``ValidateNonnegativeField`` for an optional integer field."""
    value = number(obj, name)
    if value is not None and value < 0:
        return [invalid(child(path, name), value, "must be greater than or equal to 0")]
    return []


def validate_label_selector(selector: object, path: str) -> list[FieldError]:
    if not isinstance(selector, dict):
        return []
    errs = validate_labels(mapping(selector, "matchLabels"), child(path, "matchLabels"))
    for i, expression in enumerate(objects(selector, "matchExpressions")):
        expr_path = index(child(path, "matchExpressions"), i)
        operator, values = text(expression, "operator"), seq(expression, "values")
        if operator in _VALUED_OPERATORS and not values:
            errs.append(required(child(expr_path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in _VALUELESS_OPERATORS and values:
            errs.append(
                forbidden(
                    child(expr_path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
        elif operator not in _VALUED_OPERATORS + _VALUELESS_OPERATORS:
            errs.append(invalid(child(expr_path, "operator"), operator, "not a valid selector operator"))
        key = text(expression, "key")
        errs += validate_labels({key: ""}, child(expr_path, "key")) if key else [required(child(expr_path, "key"))]
    return errs


def label_selector_literal(selector: object) -> GoLiteral:
    """``%#v`` of a ``*metav1.LabelSelector`` (how immutability errors show the value)."""
    if not isinstance(selector, dict):
        return GoLiteral("(*v1.LabelSelector)(nil)")
    labels = mapping(selector, "matchLabels")
    match_labels = (
        "map[string]string{" + ", ".join(f"{go_quote(k)}:{go_quote(str(labels[k]))}" for k in sorted(labels)) + "}"
        if labels
        else "map[string]string(nil)"
    )
    expressions = objects(selector, "matchExpressions")
    match_expressions = (
        "[]v1.LabelSelectorRequirement{"
        + ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{go_quote(text(e, 'key'))}, Operator:{go_quote(text(e, 'operator'))}, "
            f"Values:[]string{{{', '.join(go_quote(str(v)) for v in seq(e, 'values'))}}}}}"
            for e in expressions
        )
        + "}"
        if expressions
        else "[]v1.LabelSelectorRequirement(nil)"
    )
    return GoLiteral(f"&v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{match_expressions}}}")


def selector_matches_template(selector: object, template_labels: dict[str, Any]) -> bool | None:
    """Whether a LabelSelector (None = matches nothing) selects the labels; None when it does not parse."""
    try:
        parsed = label_selector_from_api(selector if isinstance(selector, dict) else None)
    except SelectorError:
        return None
    return parsed.matches({str(k): str(v) for k, v in template_labels.items()})


def _pod_spec_errors(template: dict[str, Any], namespace: str, path: str) -> list[FieldError]:
    # The pod rules, run on a stand-in pod, their paths moved under the template.
    stand_in = {
        "metadata": {"name": "template", "namespace": namespace or "default"},
        "spec": mapping(template, "spec"),
    }
    errs = []
    for err in validate_pod(stand_in):
        if err.field.startswith("spec"):
            errs.append(dataclasses.replace(err, field=path + "." + err.field))
    return errs


def validate_pod_template(
    template: object,
    path: str,
    *,
    namespace: str,
    restart_policies: Sequence[str],
    owner: str,
) -> list[FieldError]:
    """Upstream ``ValidatePodTemplateSpec`` plus the workload's restart-policy and deadline rules.

    ``owner`` names the kind in upstream's Forbidden "activeDeadlineSeconds in <owner>
    is not Supported"; Job, the one kind whose pods may have a deadline, passes "".
    """
    if not isinstance(template, dict):
        return [required(path)]
    meta = mapping(template, "metadata")
    errs = validate_labels(mapping(meta, "labels"), child(path, "labels"))
    errs += validate_annotations(mapping(meta, "annotations"), child(path, "annotations"))
    errs += _pod_spec_errors(template, namespace, path)
    spec = mapping(template, "spec")
    policy = text(spec, "restartPolicy", "Always")
    if policy not in restart_policies:
        errs.append(not_supported(child(path, "spec.restartPolicy"), policy, restart_policies))
    deadline = number(spec, "activeDeadlineSeconds")
    if owner and deadline is not None:
        errs.append(
            forbidden(child(path, "spec.activeDeadlineSeconds"), f"activeDeadlineSeconds in {owner} is not Supported")
        )
    return errs
