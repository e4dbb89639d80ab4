"""Authorization as svclab does it: every authenticated request is allowed.

The access-review APIs (authorization.k8s.io/v1) still answer, so clients that
ask before acting (``kubectl auth can-i``, controllers checking permissions)
work: SelfSubjectAccessReview, SubjectAccessReview and LocalSubjectAccessReview
answer ``allowed: true`` once their spec is valid (exactly one of
``resourceAttributes`` / ``nonResourceAttributes``, as upstream checks);
SelfSubjectRulesReview lists one rule allowing everything. Nothing is stored.
"""

from __future__ import annotations

from typing import Any

from . import errors, validation
from .storage import Obj
from .validation.errors import GoLiteral

__all__ = ["ALLOW_REASON", "access_review", "rules_review"]

GROUP = "authorization.k8s.io"
ALLOW_REASON = "svclab allows every authenticated request"


def _answer(kind: str, spec: Obj, status: Obj) -> Obj:
    return {
        "kind": kind,
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def access_review(kind: str, body: Obj, namespace: str | None) -> Obj:
    """Answer a (Self|Local)SubjectAccessReview: allowed, or 422 for a malformed spec."""
    spec: dict[str, Any] = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
    has_resource = isinstance(spec.get("resourceAttributes"), dict)
    has_non_resource = isinstance(spec.get("nonResourceAttributes"), dict)
    if has_resource == has_non_resource:
        err = validation.FieldError(
            validation.ErrorType.INVALID,
            "spec.resourceAttributes",
            GoLiteral("&authorization.ResourceAttributes{...}") if has_resource else None,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
        raise errors.invalid(validation.invalid_status(kind, GROUP, "", [err]))
    if kind == "LocalSubjectAccessReview" and has_resource:
        given = spec["resourceAttributes"].get("namespace")
        if given and given != namespace:
            err = validation.FieldError(
                validation.ErrorType.INVALID,
                "spec.resourceAttributes.namespace",
                given,
                "must match metadata.namespace",
            )
            raise errors.invalid(validation.invalid_status(kind, GROUP, "", [err]))
    return _answer(kind, spec, {"allowed": True, "reason": ALLOW_REASON})


def rules_review(body: Obj) -> Obj:
    """Answer a SelfSubjectRulesReview: everything, everywhere."""
    spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
    status = {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": False,
    }
    return _answer("SelfSubjectRulesReview", spec, status)
