"""The PATCH verb: decode a body by its Content-Type and apply it (pure).

* ``application/json-patch+json`` - RFC 6902 operations (the ``jsonpatch`` package).
* ``application/merge-patch+json`` - RFC 7386 (:mod:`svclab.apimachinery.merge_patch`).
* ``application/strategic-merge-patch+json`` - :mod:`.strategic`.
* ``application/apply-patch+yaml`` - server-side apply, *approximated*: the YAML
  (or JSON) body is strategic-merged onto the current object. managedFields are
  not tracked, so fields another manager set are never reported as conflicts and
  fields dropped from the applied configuration are not removed.

An unknown Content-Type is :class:`UnsupportedMediaType` (415).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

from svclab.apimachinery.merge_patch import merge_patch

from ..yaml_json import YamlError, load_yaml_as_json
from .errors import PatchError
from .strategic import apply_strategic_merge_patch

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "SERVER_SIDE_APPLY",
    "STRATEGIC_MERGE_PATCH",
    "UnsupportedMediaType",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
SERVER_SIDE_APPLY = "application/apply-patch+yaml"


class UnsupportedMediaType(PatchError):
    """A PATCH Content-Type the server does not accept (415)."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the body of the request was in an unknown format - accepted media "
            f"types include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}, "
            f"{SERVER_SIDE_APPLY} (got {content_type!r})",
            code=415,
        )


def apply_json_patch(doc: Mapping[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply RFC 6902 operations; returns a new dict, `doc` untouched."""
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", code=400)
    try:
        result = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(dict(doc)))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        raise PatchError(str(err)) from err
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        # jsonpatch raises these for operations missing members or of the wrong shape.
        raise PatchError(f"invalid JSON patch operation: {err}") from err
    if not isinstance(result, dict):
        raise PatchError("the patched document is not a JSON object")
    return result


def apply_merge_patch(doc: Mapping[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 7386 merge patch; returns a new dict, `doc` untouched."""
    if not isinstance(patch, dict):
        raise PatchError("merge patch must be a JSON object", code=400)
    result = merge_patch(copy.deepcopy(dict(doc)), patch)
    assert isinstance(result, dict)
    return result


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise PatchError(f"invalid JSON document: {err}", code=400) from err


def _decode_yaml(body: bytes) -> Any:
    try:
        return load_yaml_as_json(body)
    except YamlError as err:
        raise PatchError(f"error decoding YAML: {err}", code=400) from err


def apply_patch(content_type: str, doc: Mapping[str, Any], body: bytes, kind: str) -> dict[str, Any]:
    """Decode `body` per the PATCH Content-Type and apply it to `doc` of `kind`.

    Returns the patched object as a new dict. For server-side apply pass the
    current object, or ``{}`` when it does not exist yet (the caller creates it).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_PATCH:
        return apply_json_patch(doc, _decode_json(body))
    if media_type == MERGE_PATCH:
        return apply_merge_patch(doc, _decode_json(body))
    if media_type == STRATEGIC_MERGE_PATCH:
        patch = _decode_json(body)
        if not isinstance(patch, dict):
            raise PatchError("invalid JSON document", code=400)
        return apply_strategic_merge_patch(doc, patch, kind)
    if media_type == SERVER_SIDE_APPLY:
        applied = _decode_yaml(body)
        if not isinstance(applied, dict):
            raise PatchError("error decoding YAML: the body is not an object", code=400)
        return apply_strategic_merge_patch(doc, applied, kind)
    raise UnsupportedMediaType(content_type)
