"""Kubernetes' strategic merge patch (SMP) over plain JSON dicts (pure).

What ``kubectl apply``/``edit``/``patch`` send. Like a merge patch, but a list
whose Go field carries ``patchStrategy:"merge"`` (see :mod:`.strategies`) is
merged item by item. Directives: ``$patch: replace|delete`` on a map or a list
item (``$patch: replace`` as a list item replaces the whole list),
``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``,
``$retainKeys``. The algorithm and the error texts follow upstream
``apimachinery/pkg/util/strategicpatch/patch.go``.

Deliberate differences from upstream, all where upstream leaks patch syntax into
the object because its typed decoding drops it later (we store plain dicts):
values the patch adds where the original had nothing go through the same merge
against an empty value, so nested directives and ``null`` s are dropped; and a
``$deleteFromPrimitiveList`` for a list the object lacks does nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .errors import PatchError
from .strategies import PatchMeta, patch_meta_for_kind

__all__ = ["apply_strategic_merge_patch", "strategic_merge"]

# Directive spellings, as upstream's strategicpatch constants.
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER_PREFIX = "$setElementOrder/"
DELETE_PRIMITIVES_PREFIX = "$deleteFromPrimitiveList/"


def _go(value: Any) -> str:
    """Render like Go's %v on decoded JSON, for upstream-shaped error texts."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    return str(value)


def _bad_directive(value: Any, patch: Any) -> PatchError:
    return PatchError(f"unknown patch type: {_go(value)} in map: {_go(patch)}", code=400)


def _no_merge_key(item: Any, key: str) -> PatchError:
    return PatchError(f"map: {_go(item)} does not contain declared merge key: {key}")


def _fresh(value: Any, meta: PatchMeta) -> Any:
    """A patch value placed where the original has nothing: directives and nulls
    resolved against an empty value, and never aliasing the patch's containers."""
    if isinstance(value, dict):
        return _merge_map({}, value, meta)
    if isinstance(value, list):
        if meta.strategy == "merge":
            return _merge_list([], value, meta)
        return [_fresh(item, meta) for item in value]
    return value


def _merge_map(original: dict[str, Any], patch: Mapping[str, Any], meta: PatchMeta) -> dict[str, Any]:
    """Merge `patch` into `original` (which this call owns and mutates); returns it."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            return _merge_map({}, {k: v for k, v in patch.items() if k != DIRECTIVE}, meta)
        if directive == "delete":
            return {}
        raise _bad_directive(directive, patch)
    remaining = dict(patch)
    _apply_retain_keys(original, remaining)
    _apply_element_orders(original, remaining, meta)
    deletions: list[tuple[str, Any]] = []
    for key, value in remaining.items():
        if key.startswith(DELETE_PRIMITIVES_PREFIX):
            deletions.append((key, value))
        elif value is None:
            original.pop(key, None)
        elif key not in original:
            original[key] = _fresh(value, meta.child(key))
        else:
            original[key] = _merge_value(original[key], value, meta.child(key))
    for key, value in deletions:
        _delete_from_primitive_list(original, key, value)
    return original


def _merge_value(current: Any, value: Any, meta: PatchMeta) -> Any:
    if isinstance(current, dict) and isinstance(value, dict):
        if meta.strategy == "replace":
            return _fresh(value, meta)
        return _merge_map(current, value, meta)
    if isinstance(current, list) and isinstance(value, list) and meta.strategy == "merge":
        return _merge_list(current, value, meta)
    # Different types, scalars, and lists without the merge strategy: replace.
    return _fresh(value, meta)


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise PatchError("invalid patch format of retainKeys", code=400)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_PRIMITIVES_PREFIX, SET_ORDER_PREFIX)):
            continue
        if key not in keep:
            raise PatchError("invalid patch format of retainKeys", code=400)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: dict[str, Any], key: str, values: Any) -> None:
    name = key[len(DELETE_PRIMITIVES_PREFIX) :]
    if not name or not isinstance(values, list):
        raise PatchError("invalid patch format of primitive list", code=400)
    current = original.get(name)
    if isinstance(current, list):
        original[name] = [item for item in current if item not in values]


def _merge_key_value(item: Any, key: str) -> Any:
    if not isinstance(item, dict):
        raise PatchError(f"expected a map, but received a {type(item).__name__}")
    if key not in item:
        raise _no_merge_key(item, key)
    return item[key]


def _check_element_types(*lists: list[Any]) -> bool:
    """Whether the items are maps; raises for lists of lists and mixed item types."""
    kinds = {type(item) for items in lists for item in items}
    if list in kinds:
        raise PatchError("lists of lists are not supported", code=400)
    numbers = {int, float}
    if len(kinds) > 1 and not kinds <= numbers:
        raise PatchError(f"list element types are not identical: {_go(list(lists))}")
    return dict in kinds


def _merge_list(original: list[Any], patch: list[Any], meta: PatchMeta) -> list[Any]:
    """Merge a patch list into an original list with the merge strategy."""
    if not original and not patch:
        return []
    is_map = _check_element_types(original, patch)
    key = meta.merge_key
    if not is_map:
        merged: list[Any] = []
        for item in original + patch:
            if item not in merged:
                merged.append(item)
        patch_items = [item for item in merged if item in patch]
        server_only = [item for item in merged if item not in patch]
        return _normalize_order(patch_items, server_only, patch, original, "")
    if not key:
        raise PatchError("cannot merge lists without merge key for type map")
    original, patch = _apply_list_directives(original, patch, meta)
    merged = list(original)
    for item in patch:
        value = _merge_key_value(item, key)
        for index, existing in enumerate(merged):
            if isinstance(existing, dict) and existing.get(key, _MISSING) == value:
                merged[index] = _merge_map(existing, item, meta)
                break
        else:
            merged.append(_fresh(item, meta))
    patch_keys = [item[key] for item in patch]
    patch_items = [item for item in merged if _merge_key_value(item, key) in patch_keys]
    server_only = [item for item in merged if item[key] not in patch_keys]
    return _normalize_order(patch_items, server_only, patch, original, key)


_MISSING = object()


def _apply_list_directives(original: list[Any], patch: list[Any], meta: PatchMeta) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` items: delete by merge key, or replace the whole list.

    Returns the (possibly shortened or replaced) original and the plain patch items.
    """
    key = meta.merge_key
    plain: list[Any] = []
    replace = False
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"expected a map, but received a {type(item).__name__}")
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            value = _merge_key_value(item, key)
            original = [o for o in original if not (isinstance(o, dict) and o.get(key) == value)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", code=400)
        else:
            raise _bad_directive(directive, item)
    if replace:
        return [_fresh(item, meta) for item in plain], []
    return original, plain


def _position(order: list[Any], item: Any, key: str) -> int:
    wanted = item.get(key) if key and isinstance(item, dict) else item
    for index, candidate in enumerate(order):
        value = candidate.get(key) if key and isinstance(candidate, dict) else candidate
        if value == wanted:
            return index
    return -1


def _sort_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    # Stable: items missing from `order` keep their relative place after the rest.
    def rank(item: Any) -> int:
        index = _position(order, item, key)
        return index if index >= 0 else len(order)

    return sorted(items, key=rank)


def _normalize_order(
    patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], key: str
) -> list[Any]:
    """Upstream normalizeElementOrder: patch items in patch order, server-only items
    in live order, interleaved where the live list says a server item came first."""
    right = _sort_by(patch_items, patch_order, key)
    left = _sort_by(server_only, server_order, key)
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            result.append(left[i])
            i += 1
        elif i >= len(left):
            result.append(right[j])
            j += 1
        else:
            li = _position(server_order, left[i], key)
            ri = _position(server_order, right[j], key)
            if li >= 0 and ri >= 0 and li < ri:
                result.append(left[i])
                i += 1
            else:
                result.append(right[j])
                j += 1
    return result


def _check_order_list(patch_list: list[Any], order: list[Any], key: str) -> None:
    """Upstream validatePatchWithSetOrderList: patch items must follow the order list."""
    if not order or not patch_list:
        return
    items = [p for p in patch_list if not (key and isinstance(p, dict) and p.get(DIRECTIVE) == "delete")]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if key:
            equal = _merge_key_value(items[p], key) == _merge_key_value(order[s], key)
        else:
            equal = items[p] == order[s]
        if equal:
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise PatchError(
            f"The order in patch list:\n{_go(patch_list)}\n doesn't match {SET_ORDER_PREFIX[:-1]} list:\n{_go(order)}\n"
        )


def _apply_element_orders(original: dict[str, Any], patch: dict[str, Any], meta: PatchMeta) -> None:
    """Merge each ``$setElementOrder/<list>`` together with its list, then order it.

    Precedence: the order list, then the patch list, then the live list. The
    merged lists are removed from `patch` so the main loop does not see them again.
    """
    for directive in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(directive)
        name = directive[len(SET_ORDER_PREFIX) :]
        if not name or not isinstance(order, list):
            raise PatchError("invalid patch format of setElementOrder list", code=400)
        child = meta.child(name)
        current, update = original.get(name), patch.get(name)
        for value in (current, update):
            if value is not None and not isinstance(value, list):
                raise PatchError(f"expected a list, but received a {type(value).__name__}")
        _check_order_list(update or [], order, child.merge_key)
        if current is None and update is None:
            continue
        merged: list[Any]
        if update is None:
            merged = list(current or [])
        elif current is None:
            merged = _fresh(update, child)
        else:
            merged = _merge_value(current, update, child)
        key = child.merge_key
        keys = [_position(order, item, key) >= 0 for item in merged]
        patch_items = [item for item, listed in zip(merged, keys) if listed]
        server_only = [item for item, listed in zip(merged, keys) if not listed]
        original[name] = _normalize_order(patch_items, server_only, order, current or [], key)
        patch.pop(name, None)


def strategic_merge(doc: Mapping[str, Any], patch: Mapping[str, Any], meta: PatchMeta) -> dict[str, Any]:
    """Apply a strategic merge patch under explicit field metadata (side-effect-free).

    Returns a new dict; neither `doc` nor `patch` is modified or aliased.
    """
    if not isinstance(patch, Mapping):
        raise PatchError("invalid JSON document", code=400)
    return _merge_map(copy.deepcopy(dict(doc)), patch, meta)


def apply_strategic_merge_patch(doc: Mapping[str, Any], patch: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch for `kind`; returns a new dict, inputs untouched."""
    return strategic_merge(doc, patch, patch_meta_for_kind(kind))
