"""ObjectMeta validation, as apimachinery's ``api/validation/objectmeta.go`` does it.

On create: a name (or generateName) valid for the kind, a namespace exactly for
namespaced kinds, a non-negative generation, labels (qualified-name keys,
label values), annotations (qualified-name keys, 256 KiB in total), owner
references and finalizers. The core group adds a rule for finalizers without a
``/``: they must be one of the standard names (``kube_finalizers=True``).

On update: uid, name, namespace, creationTimestamp, deletionTimestamp and
deletionGracePeriodSeconds are immutable, generation may not go down, and an
object being deleted may not gain finalizers. A missing resourceVersion is left
to the server (upstream allows unconditional updates for some kinds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from svclab.apimachinery.validation import is_label_value, is_qualified_name

from .access import child, index, mapping, number, objects, seq, text
from .errors import FieldError, GoLiteral, forbidden, go_quote, go_slice, invalid, required, too_long
from .formats import name_is_dns_label

__all__ = [
    "NameFn",
    "go_time",
    "validate_annotations",
    "validate_immutable",
    "validate_labels",
    "validate_object_meta",
    "validate_object_meta_update",
]

NameFn = Callable[[str, bool], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)
FIELD_IMMUTABLE = "field is immutable"
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
# Objects that may never own others (upstream BannedOwners).
_BANNED_OWNERS = frozenset({("", "v1", "Event")})


def validate_labels(labels: dict[str, Any], path: str) -> list[FieldError]:
    """Upstream ``ValidateLabels``: every error names the map, not the key."""
    errs: list[FieldError] = []
    for name, value in labels.items():
        errs += [invalid(path, name, msg) for msg in is_qualified_name(name)]
        value_text = value if isinstance(value, str) else str(value)
        errs += [invalid(path, value_text, msg) for msg in is_label_value(value_text)]
    return errs


def validate_annotations(annotations: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for name, value in annotations.items():
        # Annotation keys are qualified names, compared case-insensitively.
        errs += [invalid(path, name, msg) for msg in is_qualified_name(name.lower())]
        total += len(name.encode()) + len(str(value).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _parse_group_version(api_version: str) -> tuple[str, str] | None:
    if api_version in ("", "/"):
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def _owner_reference_literal(ref: dict[str, Any]) -> GoLiteral:
    def pointer(name: str) -> str:
        value = ref.get(name)
        return "(*bool)(nil)" if not isinstance(value, bool) else f"(*bool)({str(value).lower()})"

    return GoLiteral(
        "v1.OwnerReference{"
        f"APIVersion:{go_quote(text(ref, 'apiVersion'))}, Kind:{go_quote(text(ref, 'kind'))}, "
        f"Name:{go_quote(text(ref, 'name'))}, UID:{go_quote(text(ref, 'uid'))}, "
        f"Controller:{pointer('controller')}, BlockOwnerDeletion:{pointer('blockOwnerDeletion')}}}"
    )


def _validate_owner_reference(ref: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    api_version, kind = text(ref, "apiVersion"), text(ref, "kind")
    group, version = _parse_group_version(api_version) or ("", "")
    if not version:
        errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
    if not kind:
        errs.append(invalid(child(path, "kind"), kind, "kind must not be empty"))
    if not text(ref, "name"):
        errs.append(invalid(child(path, "name"), text(ref, "name"), "name must not be empty"))
    if not text(ref, "uid"):
        errs.append(invalid(child(path, "uid"), text(ref, "uid"), "uid must not be empty"))
    if (group, version, kind) in _BANNED_OWNERS:
        gvk = f"{group}/{version}, Kind={kind}"
        errs.append(invalid(path, _owner_reference_literal(ref), f"{gvk} is disallowed from being an owner"))
    return errs


def _validate_owner_references(refs: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        errs += _validate_owner_reference(ref, path)
        if ref.get("controller") is True:
            current = f"{text(ref, 'kind')}/{text(ref, 'name')}"
            if first_controller:
                literal = go_slice([_owner_reference_literal(r) for r in refs], "[]v1.OwnerReference")
                errs.append(
                    invalid(
                        path,
                        literal,
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def _validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in finalizers:
        errs += [invalid(path, name, msg) for msg in is_qualified_name(name)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, go_slice(finalizers), "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _validate_kube_finalizer_names(finalizers: list[str], path: str) -> list[FieldError]:
    return [
        invalid(index(path, i), name, "name is neither a standard finalizer name nor is it fully qualified")
        for i, name in enumerate(finalizers)
        if "/" not in name and name not in _STANDARD_FINALIZERS
    ]


def _string_list(meta: dict[str, Any], name: str) -> list[str]:
    return [item if isinstance(item, str) else str(item) for item in seq(meta, name)]


def _validate_meta_maps(meta: dict[str, Any], path: str) -> list[FieldError]:
    errs = validate_labels(mapping(meta, "labels"), child(path, "labels"))
    errs += validate_annotations(mapping(meta, "annotations"), child(path, "annotations"))
    errs += _validate_owner_references(objects(meta, "ownerReferences"), child(path, "ownerReferences"))
    return errs


def validate_object_meta(
    meta: dict[str, Any], *, namespaced: bool, name_fn: NameFn, kube_finalizers: bool = True, path: str = "metadata"
) -> list[FieldError]:
    """Upstream ``ValidateObjectMeta`` (core flavour when ``kube_finalizers``). Side-effect-free."""
    errs: list[FieldError] = []
    generate_name, name, namespace = text(meta, "generateName"), text(meta, "name"), text(meta, "namespace")
    if generate_name:
        errs += [invalid(child(path, "generateName"), generate_name, msg) for msg in name_fn(generate_name, True)]
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs += [invalid(child(path, "name"), name, msg) for msg in name_fn(name, False)]
    if namespaced:
        if not namespace:
            errs.append(required(child(path, "namespace")))
        else:
            errs += [invalid(child(path, "namespace"), namespace, msg) for msg in name_is_dns_label(namespace, False)]
    elif namespace:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    generation = number(meta, "generation")
    if generation is not None and generation < 0:
        errs.append(invalid(child(path, "generation"), generation, "must be greater than or equal to 0"))
    errs += _validate_meta_maps(meta, path)
    finalizers = _string_list(meta, "finalizers")
    errs += _validate_finalizers(finalizers, child(path, "finalizers"))
    if kube_finalizers:
        errs += _validate_kube_finalizer_names(finalizers, child(path, "finalizers"))
    return errs


def go_time(value: object) -> object:
    """A metav1.Time as Go's ``time.Time.String`` prints it (``2024-01-02 03:04:05 +0000 UTC``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    offset = moment.strftime("%z") or "+0000"
    zone = "UTC" if offset == "+0000" else ""
    return GoLiteral(moment.strftime("%Y-%m-%d %H:%M:%S") + f" {offset} {zone}".rstrip())


def validate_immutable(new: object, old: object, path: str, shown: object | None = None) -> list[FieldError]:
    """Upstream ``ValidateImmutableField``: Invalid "field is immutable" when values differ."""
    if new == old:
        return []
    return [invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def _immutable_meta_fields(new: dict[str, Any], old: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in ("name", "namespace", "uid"):
        errs += validate_immutable(text(new, name), text(old, name), child(path, name))
    for name in ("creationTimestamp", "deletionTimestamp"):
        new_time, old_time = new.get(name) or None, old.get(name) or None
        errs += validate_immutable(new_time, old_time, child(path, name), go_time(new_time))
    errs += validate_immutable(
        number(new, "deletionGracePeriodSeconds"),
        number(old, "deletionGracePeriodSeconds"),
        child(path, "deletionGracePeriodSeconds"),
    )
    return errs


def validate_object_meta_update(
    new: dict[str, Any], old: dict[str, Any], *, kube_finalizers: bool = True, path: str = "metadata"
) -> list[FieldError]:
    """Upstream ``ValidateObjectMetaUpdate``. Side-effect-free."""
    errs: list[FieldError] = []
    new_finalizers = _string_list(new, "finalizers")
    if old.get("deletionTimestamp"):
        added = sorted(set(new_finalizers) - set(_string_list(old, "finalizers")))
        if added:
            errs.append(
                forbidden(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is "
                    f"being deleted, found new finalizers {go_slice(added).text}",
                )
            )
    new_generation, old_generation = number(new, "generation") or 0, number(old, "generation") or 0
    if new_generation < old_generation:
        errs.append(invalid(child(path, "generation"), new_generation, "must not be decremented"))
    errs += _immutable_meta_fields(new, old, path)
    errs += _validate_meta_maps(new, path)
    if kube_finalizers:
        errs += _validate_kube_finalizer_names(new_finalizers, child(path, "finalizers"))
    return errs
