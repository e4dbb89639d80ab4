"""What a request asks for beyond its path: the answer's form (Accept) and write options.

Forms (``Accept``, first acceptable entry wins, as kube-apiserver negotiates):

* ``as=Table`` (``meta.k8s.io`` v1 or v1beta1): server-side printed rows (``kubectl get``);
* ``as=PartialObjectMetadataList`` for lists, ``as=PartialObjectMetadata`` for a get
  or a watch: metadata only (client-go's metadata client, kubectl's ``--output name``
  helpers, garbage collectors); each object becomes ``meta.k8s.io/v1``
  ``PartialObjectMetadata``;
* anything else (``application/json``, ``*/*``, protobuf, none): the objects themselves.

An Accept header whose every entry asks for a form this endpoint cannot give
(``as=PartialObjectMetadataList`` on a get, an unknown ``as=``) is 406
NotAcceptable, as upstream.

Write options: ``dryRun`` may only be ``All`` (repeatable); anything else is
422 Invalid on ``<Verb>Options.meta.k8s.io``, exactly as upstream's
``ValidateDryRun`` answers. All functions are side-effect-free apart from raising.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from . import errors, validation

__all__ = ["Form", "dry_run_requested", "negotiate_form", "partial_object_metadata", "partial_object_metadata_list"]

META_GROUP_VERSION = "meta.k8s.io/v1"


class Form(str, Enum):
    OBJECT = "Object"
    TABLE = "Table"
    METADATA = "PartialObjectMetadata"


def _entries(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for entry in accept.split(","):
        media, *params = [p.strip() for p in entry.split(";")]
        if media:
            out.append((media.lower(), dict(p.split("=", 1) for p in params if "=" in p)))
    return out


def _form_of(params: dict[str, str], is_list: bool) -> Form | None:
    """The form one Accept entry asks for, or None when this endpoint cannot give it."""
    kind = params.get("as")
    if kind is None:
        return Form.OBJECT
    if params.get("g") != "meta.k8s.io":
        return None
    if kind == "Table" and params.get("v") in ("v1", "v1beta1"):
        return Form.TABLE
    wanted = "PartialObjectMetadataList" if is_list else "PartialObjectMetadata"
    if kind == wanted and params.get("v") == "v1":
        return Form.METADATA
    return None


def negotiate_form(accept: str, *, is_list: bool) -> Form:
    """The form of the answer; ``is_list`` for a list (not a get, not a watch)."""
    entries = _entries(accept)
    if not entries:
        return Form.OBJECT
    for media, params in entries:
        if media.startswith("application/vnd.kubernetes.protobuf") and "as" in params:
            continue  # the JSON twin of this entry usually follows
        form = _form_of(params, is_list)
        if form is not None:
            return form
    raise errors.ApiError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf",
    )


def partial_object_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": META_GROUP_VERSION, "metadata": obj.get("metadata") or {}}


def partial_object_metadata_list(items: Iterable[dict[str, Any]], list_meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": META_GROUP_VERSION,
        "metadata": list_meta,
        "items": [partial_object_metadata(o) for o in items],
    }


def dry_run_requested(values: Iterable[str], options_kind: str) -> bool:
    """Whether a write is a dry run; raises 422 for values other than "All".

    ``options_kind`` is the verb's options kind (CreateOptions, UpdateOptions,
    PatchOptions, DeleteOptions), which upstream's error names.
    """
    given = list(values)
    if any(v != "All" for v in given):
        err = validation.FieldError(
            validation.ErrorType.NOT_SUPPORTED, "dryRun", validation.go_slice(given), 'supported values: "All"'
        )
        status = validation.invalid_status(options_kind, "meta.k8s.io", "", [err])
        details = dict(status["details"])  # type: ignore[call-overload]
        details.pop("name", None)  # Go omits an empty name
        status["details"] = details
        raise errors.invalid(status)
    return bool(given)
