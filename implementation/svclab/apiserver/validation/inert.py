"""Validation of the inert kinds: Ingress, NetworkPolicy, CertificateSigningRequest, CSIStorageCapacity.

These kinds are stored and served so clients that list or create them (kr8s's
cluster tests, ``kubectl get ingress,netpol,csr``) see what a kind cluster
shows; nothing acts on them (no ingress controller, no network policy
enforcement, no signer). The rules checked are upstream's main ones, with its
field paths and messages:

* Ingress (``ValidateIngressSpec``): a name that is a DNS subdomain; either
  ``defaultBackend`` or ``rules``; each HTTP path has a ``pathType`` among
  Exact, Prefix, ImplementationSpecific, and an Exact or Prefix path is absolute.
* NetworkPolicy: ``policyTypes`` only Ingress and Egress, at most two.
* CertificateSigningRequest: ``spec.request`` is required and must hold a PEM
  ``CERTIFICATE REQUEST`` block; ``spec.signerName`` is required.
* CSIStorageCapacity: ``storageClassName`` is required.

All functions are side-effect-free.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .access import mapping, objects, seq, text
from .errors import FieldError, GoLiteral, go_slice, invalid, not_supported, required
from .formats import name_is_dns_subdomain
from .meta import validate_object_meta

__all__ = ["INERT_VALIDATORS", "NETWORK_POLICY_TYPES"]

PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
NETWORK_POLICY_TYPES = POLICY_TYPES = ("Ingress", "Egress")


def _meta(obj: dict[str, Any], *, namespaced: bool) -> list[FieldError]:
    return validate_object_meta(mapping(obj, "metadata"), namespaced=namespaced, name_fn=name_is_dns_subdomain)


def _http_paths(rule: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(objects(mapping(rule, "http"), "paths")):
        where = f"{path}.http.paths[{i}]"
        path_type = text(entry, "pathType")
        if not path_type:
            errs.append(required(f"{where}.pathType", "pathType must be specified"))
        elif path_type not in PATH_TYPES:
            errs.append(not_supported(f"{where}.pathType", path_type, PATH_TYPES))
        elif path_type != "ImplementationSpecific" and not text(entry, "path").startswith("/"):
            errs.append(invalid(f"{where}.path", text(entry, "path"), "must be an absolute path"))
    return errs


def validate_ingress(ingress: dict[str, Any]) -> list[FieldError]:
    errs = _meta(ingress, namespaced=True)
    spec = mapping(ingress, "spec")
    rules = objects(spec, "rules")
    if not rules and not spec.get("defaultBackend"):
        # upstream prints the (empty) rules slice with %#v
        errs.append(
            invalid(
                "spec",
                GoLiteral("[]networking.IngressRule(nil)"),
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    for i, rule in enumerate(rules):
        errs += _http_paths(rule, f"spec.rules[{i}]")
    return errs


def validate_network_policy(policy: dict[str, Any]) -> list[FieldError]:
    errs = _meta(policy, namespaced=True)
    types = [str(t) for t in seq(mapping(policy, "spec"), "policyTypes")]
    for i, policy_type in enumerate(types):
        if policy_type not in POLICY_TYPES:
            errs.append(not_supported(f"spec.policyTypes[{i}]", policy_type, POLICY_TYPES))
    if len(types) > len(POLICY_TYPES):
        errs.append(
            invalid(
                "spec.policyTypes",
                go_slice(types, "[]networking.PolicyType"),
                "may not specify more than two policyTypes",
            )
        )
    return errs


def _pem_request(request: str) -> bool:
    """Whether base64 ``request`` (a []byte field) holds a PEM CERTIFICATE REQUEST block."""
    try:
        pem = base64.b64decode(request, validate=True).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return False
    return "-----BEGIN CERTIFICATE REQUEST-----" in pem and "-----END CERTIFICATE REQUEST-----" in pem


def validate_certificate_signing_request(csr: dict[str, Any]) -> list[FieldError]:
    errs = _meta(csr, namespaced=False)
    spec = mapping(csr, "spec")
    request = text(spec, "request")
    if not request:
        errs.append(required("spec.request", ""))
    elif not _pem_request(request):
        errs.append(invalid("spec.request", GoLiteral("[]byte{...}"), "PEM block type must be CERTIFICATE REQUEST"))
    if not text(spec, "signerName"):
        errs.append(required("spec.signerName", ""))
    return errs


def validate_csi_storage_capacity(capacity: dict[str, Any]) -> list[FieldError]:
    errs = _meta(capacity, namespaced=True)
    if not text(capacity, "storageClassName"):
        errs.append(required("storageClassName", ""))
    return errs


def _revalidate(create: Any) -> Any:
    return lambda new, old: create(new)


INERT_VALIDATORS = {
    kind: (create, _revalidate(create))
    for kind, create in {
        "Ingress": validate_ingress,
        "NetworkPolicy": validate_network_policy,
        "CertificateSigningRequest": validate_certificate_signing_request,
        "CSIStorageCapacity": validate_csi_storage_capacity,
    }.items()
}
