"""CustomResourceDefinition objects: defaulting, validation, and what one serves.

Follows apiextensions-apiserver's v1 defaults and validation essentials
(``pkg/apis/apiextensions/v1/defaults.go`` and ``validation/validation.go``):
the name is ``<plural>.<group>``, the group has a dot, names are DNS labels and
the kind is a CamelCase identifier, scope is Namespaced or Cluster, versions are
unique with exactly one storage version. All functions are side-effect-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..resources import ResourceType
from ..validation import ErrorType, FieldError

__all__ = [
    "CustomKind",
    "PrinterColumn",
    "ScalePaths",
    "crd_default",
    "custom_kind",
    "established_status",
    "validate_crd",
]

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_VERB_SET = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class ScalePaths:
    spec_replicas: str  # e.g. ".spec.replicas"
    status_replicas: str
    label_selector: str = ""


@dataclass(frozen=True, slots=True)
class CustomKind:
    """Everything the server needs to serve one custom kind (its storage version's view)."""

    versions: tuple[ResourceType, ...]  # served versions, storage version first
    schema: Obj = field(default_factory=dict)
    columns: tuple[PrinterColumn, ...] = ()
    scale: ScalePaths | None = None

    @property
    def resource(self) -> ResourceType:
        return self.versions[0]


def crd_default(crd: Obj) -> None:
    """Fill upstream's v1 CRD defaults in place: singular, listKind, conversion strategy."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate_crd(crd: Obj) -> list[FieldError]:
    """Errors of a (defaulted) CRD on create or update; empty when valid."""
    errs: list[FieldError] = []
    spec = crd.get("spec") or {}
    group, names = spec.get("group") or "", spec.get("names") or {}
    plural = names.get("plural") or ""
    if crd["metadata"].get("name") != f"{plural}.{group}":
        errs.append(
            FieldError(
                ErrorType.INVALID,
                "metadata.name",
                crd["metadata"].get("name"),
                'must be spec.names.plural+"."+spec.group',
            )
        )
    if not group:
        errs.append(FieldError(ErrorType.REQUIRED, "spec.group", "", ""))
    elif "." not in group or not _DNS_SUBDOMAIN.match(group):
        errs.append(FieldError(ErrorType.INVALID, "spec.group", group, "should be a domain with at least one dot"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(
            FieldError(
                ErrorType.NOT_SUPPORTED,
                "spec.scope",
                spec.get("scope", ""),
                'supported values: "Cluster", "Namespaced"',
            )
        )
    errs += _validate_names(names)
    errs += _validate_versions(spec.get("versions"))
    return errs


def _validate_names(names: Obj) -> list[FieldError]:
    errs = []
    for key in ("plural", "singular"):
        value = names.get(key) or ""
        if not value:
            errs.append(FieldError(ErrorType.REQUIRED, f"spec.names.{key}", "", ""))
        elif not _DNS_LABEL.match(value):
            errs.append(
                FieldError(ErrorType.INVALID, f"spec.names.{key}", value, "a lowercase RFC 1123 label is required")
            )
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        if not value:
            errs.append(FieldError(ErrorType.REQUIRED, f"spec.names.{key}", "", ""))
        elif not _KIND.match(value):
            errs.append(
                FieldError(
                    ErrorType.INVALID,
                    f"spec.names.{key}",
                    value,
                    "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
                )
            )
    for index, short in enumerate(names.get("shortNames") or []):
        if not isinstance(short, str) or not _DNS_LABEL.match(short):
            errs.append(
                FieldError(
                    ErrorType.INVALID,
                    f"spec.names.shortNames[{index}]",
                    short,
                    "a lowercase RFC 1123 label is required",
                )
            )
    return errs


def _validate_versions(versions: Any) -> list[FieldError]:
    if not isinstance(versions, list) or not versions:
        return [
            FieldError(
                ErrorType.INVALID, "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        ]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for index, version in enumerate(versions):
        name = version.get("name") if isinstance(version, dict) else None
        if not name or not _DNS_LABEL.match(name):
            errs.append(
                FieldError(ErrorType.INVALID, f"spec.versions[{index}].name", name, "a DNS-1035 label is required")
            )
        elif name in seen:
            errs.append(FieldError(ErrorType.INVALID, f"spec.versions[{index}].name", name, "must be unique"))
        seen.add(name or "")
        if isinstance(version, dict) and not isinstance((version.get("schema") or {}).get("openAPIV3Schema"), dict):
            errs.append(
                FieldError(
                    ErrorType.REQUIRED, f"spec.versions[{index}].schema.openAPIV3Schema", "", "schemas are required"
                )
            )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        errs.append(
            FieldError(
                ErrorType.INVALID, "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        errs.append(FieldError(ErrorType.INVALID, "spec.versions", versions, "must have at least one served version"))
    return errs


def established_status(crd: Obj, now: str, *, conflict: str = "") -> Obj:
    """The status the naming and establishing controllers give a CRD: names accepted and
    established, or (``conflict`` says why) names refused."""
    spec = crd["spec"]
    old = crd.get("status") or {}
    stored = list(old.get("storedVersions") or [])
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    if storage not in stored:
        stored.append(storage)
    if conflict:
        conditions = [
            _condition("NamesAccepted", "False", "NameConflict", conflict, now, old),
            _condition("Established", "False", "NotAccepted", "not all names are accepted", now, old),
        ]
        return {"conditions": conditions, "acceptedNames": {"kind": "", "plural": ""}, "storedVersions": stored}
    conditions = [
        _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", now, old),
        _condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted", now, old),
    ]
    return {"conditions": conditions, "acceptedNames": dict(spec["names"]), "storedVersions": stored}


def _condition(kind: str, status: str, reason: str, message: str, now: str, old_status: Obj) -> Obj:
    previous = next((c for c in old_status.get("conditions") or [] if c.get("type") == kind), None)
    since = previous["lastTransitionTime"] if previous and previous.get("status") == status else now
    return {"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message}


def custom_kind(crd: Obj) -> CustomKind:
    """What a valid CRD serves: its served versions (storage version first), schema, columns, scale."""
    spec, names = crd["spec"], crd["spec"]["names"]
    versions = sorted((v for v in spec["versions"] if v.get("served")), key=lambda v: not v.get("storage"))
    storage = next(v for v in spec["versions"] if v.get("storage"))
    subresources = storage.get("subresources") or {}
    types = tuple(
        ResourceType(
            spec["group"],
            v["name"],
            names["kind"],
            names["plural"],
            names["singular"],
            spec["scope"] == "Namespaced",
            tuple(names.get("shortNames") or ()),
            tuple(names.get("categories") or ()),
            tuple(sub for sub in ("status", "scale") if sub in (v.get("subresources") or {})),
            _VERB_SET,
            custom=True,
        )
        for v in versions
    )
    scale = subresources.get("scale")
    return CustomKind(
        types,
        (storage.get("schema") or {}).get("openAPIV3Schema") or {},
        tuple(_column(c) for c in storage.get("additionalPrinterColumns") or []),
        ScalePaths(scale["specReplicasPath"], scale["statusReplicasPath"], scale.get("labelSelectorPath", ""))
        if isinstance(scale, dict)
        else None,
    )


def _column(c: Obj) -> PrinterColumn:
    return PrinterColumn(
        c["name"],
        c.get("type", "string"),
        c["jsonPath"],
        c.get("description", ""),
        c.get("format", ""),
        c.get("priority", 0),
    )
