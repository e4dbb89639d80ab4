"""RFC 7386 JSON merge patch over plain JSON values.

Maps merge key by key, ``null`` deletes a key, anything else (lists
included) replaces the target whole.  Shared by the fake client (which also
applies strategic merge patches this way) and the API server's
``application/merge-patch+json``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Return ``target`` with ``patch`` merged in (RFC 7386).

    Side-effect-free: neither argument is changed.  The result copies the
    patch's values but shares the target's untouched nested values: deep-copy
    the target first if either will be mutated afterwards.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
