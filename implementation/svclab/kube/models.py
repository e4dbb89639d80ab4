"""Typed access to lightkube models.

lightkube's ``from_dict`` is typed to return its base class and every field of
a model is optional; these helpers give callers the concrete type and the
fields that objects read from the API server always carry. Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from lightkube.models.meta_v1 import ObjectMeta

__all__ = ["deep_copy", "from_dict", "meta", "name_of", "namespace_of"]

ModelT = TypeVar("ModelT")


def from_dict(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Build a lightkube model of type ``model`` from its JSON form."""
    return model.from_dict(dict(data))  # type: ignore[attr-defined, no-any-return]


def deep_copy(obj: ModelT) -> ModelT:
    """Return an independent copy of a lightkube model (caches stay unmutated)."""
    return from_dict(type(obj), obj.to_dict())  # type: ignore[attr-defined]


def meta(obj: Any) -> ObjectMeta:
    """An object's metadata; objects read from the API always carry one."""
    found = obj.metadata
    if found is None:
        raise ValueError(f"{type(obj).__name__} has no metadata")
    return found  # type: ignore[no-any-return]


def name_of(obj: Any) -> str:
    """An object's name ("" when unset, as for objects still to be created)."""
    return meta(obj).name or ""


def namespace_of(obj: Any) -> str:
    """An object's namespace ("" when unset)."""
    return meta(obj).namespace or ""
