"""Object identity: the ``NamespacedName`` key used by caches and queues.

client-go keys its caches with ``"ns/name"`` strings and its own TODO regrets
it; svclab uses a frozen, ordered value instead, so keys sort, hash and print
the same way everywhere.  ``str()`` still gives the familiar ``ns/name`` form
for logs and messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NamespacedName", "object_meta", "resource_version_of"]


def object_meta(obj: Any) -> Any:
    """Return the ``metadata`` of a lightkube object or of a plain dict.

    Side-effect-free.  Dicts get their ``metadata`` mapping (``{}`` when
    missing); objects get their ``metadata`` attribute (``None`` when missing).
    """
    if isinstance(obj, Mapping):
        return obj.get("metadata") or {}
    return getattr(obj, "metadata", None)


def _meta_field(meta: Any, field: str) -> Any:
    if meta is None:
        return None
    if isinstance(meta, Mapping):
        return meta.get(field)
    return getattr(meta, field, None)


@dataclass(frozen=True, slots=True, order=True)
class NamespacedName:
    """The identity of an object: its namespace ("" when cluster-scoped) and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def of(cls, obj: Any) -> NamespacedName:
        """Build the key of a lightkube object or of a dict with ``metadata``.

        Raises ``ValueError`` when the object has no ``metadata.name``.
        """
        meta = object_meta(obj)
        name = _meta_field(meta, "name")
        if not name:
            raise ValueError(f"object has no metadata.name: {obj!r:.200}")
        return cls(_meta_field(meta, "namespace") or "", name)

    @classmethod
    def parse(cls, text: str) -> NamespacedName:
        """Parse ``"ns/name"`` (or ``"name"``), the inverse of ``str()``."""
        namespace, sep, name = text.partition("/")
        return cls(namespace, name) if sep else cls("", namespace)


def resource_version_of(obj: Any) -> str:
    """Return ``metadata.resourceVersion`` of an object or dict ("" when unset)."""
    return _meta_field(object_meta(obj), "resourceVersion") or ""
