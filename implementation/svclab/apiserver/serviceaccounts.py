"""The ``default`` ServiceAccount of every namespace, kept by the API server itself.

Upstream the serviceaccounts controller in kube-controller-manager creates it
when a namespace appears and again whenever it is deleted while the namespace
is active. svclab's controller-manager runs only the controllers a testbed
selects, so the server does this job: an after-write hook on the registry
(:func:`install`) plus :func:`ensure_default_service_accounts` at start for
namespaces that predate the hook. The account has no token Secret, as since
Kubernetes 1.24: tokens come from the TokenRequest API (see ``authn``).
"""

from __future__ import annotations

import logging

from . import errors
from .registry import Registry
from .resources import by_kind
from .storage import Obj

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "ensure_default_service_accounts", "install"]

log = logging.getLogger(__name__)
DEFAULT_SERVICE_ACCOUNT = "default"


def _ensure(registry: Registry, namespace: str) -> None:
    ns = registry.store.get("Namespace", "", namespace)
    if ns is None or ns["metadata"].get("deletionTimestamp"):
        return
    if registry.store.get("ServiceAccount", namespace, DEFAULT_SERVICE_ACCOUNT) is not None:
        return
    try:
        registry.create(by_kind("ServiceAccount"), namespace, {"metadata": {"name": DEFAULT_SERVICE_ACCOUNT}})
    except errors.ApiError as exc:  # never fail the write that triggered us
        log.warning("creating %s/%s ServiceAccount: %s", namespace, DEFAULT_SERVICE_ACCOUNT, exc.message)


def install(registry: Registry) -> None:
    """Keep a ``default`` ServiceAccount in every active namespace from now on."""

    def observe(kind: str, old: Obj | None, new: Obj | None) -> None:
        if kind == "Namespace" and old is None and new is not None:
            _ensure(registry, new["metadata"]["name"])
        elif kind == "ServiceAccount" and new is None and old is not None:
            if old["metadata"]["name"] == DEFAULT_SERVICE_ACCOUNT:
                _ensure(registry, old["metadata"].get("namespace", ""))

    registry.after_write.append(observe)


def ensure_default_service_accounts(registry: Registry) -> None:
    for ns in registry.store.list("Namespace"):
        _ensure(registry, ns["metadata"]["name"])
