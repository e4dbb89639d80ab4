"""The PATCH verb's four body types, applied to plain JSON dicts (pure).

* ``apply``      - the Content-Type dispatcher (:func:`apply_patch`), JSON patch
  (RFC 6902), merge patch (RFC 7386) and server-side apply (approximated).
* ``strategic``  - Kubernetes' strategic merge patch, as upstream's ``strategicpatch``.
* ``strategies`` - the ``patchStrategy`` / ``patchMergeKey`` tags of each served kind.
* ``errors``     - :class:`PatchError`, carrying the HTTP code the server answers.

Errors are :class:`PatchError` with the HTTP code the server should answer
(400 for undecodable bodies and malformed directives, 422 for patches that do
not apply); an unknown Content-Type is :class:`UnsupportedMediaType` (415).
"""

from .apply import (
    JSON_PATCH,
    MERGE_PATCH,
    SERVER_SIDE_APPLY,
    STRATEGIC_MERGE_PATCH,
    UnsupportedMediaType,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
)
from .errors import PatchError
from .strategic import apply_strategic_merge_patch, strategic_merge
from .strategies import PatchMeta, patch_meta_for_kind

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "PatchError",
    "PatchMeta",
    "SERVER_SIDE_APPLY",
    "STRATEGIC_MERGE_PATCH",
    "UnsupportedMediaType",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
    "patch_meta_for_kind",
    "strategic_merge",
]
