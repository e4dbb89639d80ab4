"""Store: the informer's keyed cache with secondary indexes.

The counterpart of client-go's ``cache.Indexer``: objects keyed by
``NamespacedName``, plus named indexes that map an index value (a namespace, a
label pair, a node name...) to the keys of the objects that produce it.  The
built-in ``NAMESPACE_INDEX`` is always present.

Locking: none.  A store belongs to one event loop; it is written only by its
informer's task and read by handlers and workers on the same loop.

Caller duty: objects handed out are the cached instances themselves, not
copies.  Never mutate them; copy first (upstream's "cache mutation" rule).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from .names import NamespacedName

__all__ = ["IndexFunc", "NAMESPACE_INDEX", "Store"]

T = TypeVar("T")

# Name of the index every store maintains: object -> its namespace ("" when
# cluster-scoped), as client-go's cache.NamespaceIndex.
NAMESPACE_INDEX = "namespace"

IndexFunc = Callable[[T], Iterable[str]]


def _namespace_of(obj: Any) -> Iterable[str]:
    return (NamespacedName.of(obj).namespace,)


def _sort_key(key: NamespacedName) -> tuple[str, str]:
    return (key.namespace, key.name)


def _sorted(keys: Iterable[NamespacedName]) -> builtins.list[NamespacedName]:
    # The same order as NamespacedName's own, but compared as plain tuples:
    # the dataclass-generated __lt__ builds two tuples per comparison and
    # dominated the controllers' profile on namespaces of a thousand pods.
    return sorted(keys, key=_sort_key)


class Store(Generic[T]):
    """A keyed cache with secondary indexes, for use from one asyncio loop."""

    def __init__(self, key_func: Callable[[T], NamespacedName] = NamespacedName.of) -> None:
        self._key_func = key_func
        self._items: dict[NamespacedName, T] = {}
        self._index_funcs: dict[str, IndexFunc[T]] = {}
        # index name -> index value -> keys of the objects yielding that value
        self._indexes: dict[str, dict[str, set[NamespacedName]]] = {}
        # key -> index name -> values recorded when the object was indexed, so
        # unindexing never re-runs index functions on a possibly mutated object
        self._indexed_values: dict[NamespacedName, dict[str, frozenset[str]]] = {}
        self.resource_version = ""
        self.add_index(NAMESPACE_INDEX, _namespace_of)

    def key_of(self, obj: T) -> NamespacedName:
        """The key this store files ``obj`` under."""
        return self._key_func(obj)

    def get(self, key: NamespacedName) -> T | None:
        """The cached object for ``key``, or None."""
        return self._items.get(key)

    def list(self) -> builtins.list[T]:
        """All cached objects, ordered by key."""
        return [self._items[key] for key in _sorted(self._items)]

    def keys(self) -> builtins.list[NamespacedName]:
        """All keys, sorted."""
        return _sorted(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self.list())

    def add_index(self, name: str, fn: IndexFunc[T]) -> None:
        """Register index ``name``; existing objects are indexed at once.

        Raises ``ValueError`` if an index of that name already exists.
        """
        if name in self._index_funcs:
            raise ValueError(f"index {name!r} already exists")
        self._index_funcs[name] = fn
        self._indexes[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    def index_names(self) -> builtins.list[str]:
        """Names of all registered indexes, sorted."""
        return sorted(self._index_funcs)

    def by_index(self, name: str, value: str) -> builtins.list[T]:
        """Objects whose index function ``name`` yields ``value``, ordered by key.

        Raises ``KeyError`` for an unknown index name.
        """
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r}")
        keys = self._indexes[name].get(value, ())
        return [self._items[key] for key in _sorted(keys)]

    def index_size(self, name: str, value: str) -> int:
        """How many objects index ``name`` files under ``value`` (no sorting, no copy).

        Raises ``KeyError`` for an unknown index name.
        """
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r}")
        return len(self._indexes[name].get(value, ()))

    def index_keys(self, name: str, value: str) -> builtins.list[NamespacedName]:
        """Keys of the objects whose index ``name`` yields ``value``, sorted."""
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r}")
        return _sorted(self._indexes[name].get(value, ()))

    def replace(self, items: Iterable[T], resource_version: str) -> None:
        """Make the store hold exactly ``items`` (a fresh list result)."""
        self._items = {}
        self._indexes = {name: {} for name in self._index_funcs}
        self._indexed_values = {}
        for obj in items:
            self.upsert(obj)
        self.resource_version = resource_version

    def upsert(self, obj: T) -> T | None:
        """Insert or replace ``obj``; return the object it replaced, if any."""
        key = self._key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key)
        self._items[key] = obj
        for name in self._index_funcs:
            self._index_one(name, key, obj)
        return old

    def delete(self, key: NamespacedName) -> T | None:
        """Remove ``key``; return the removed object (None if it was absent)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def _index_one(self, name: str, key: NamespacedName, obj: T) -> None:
        values = frozenset(self._index_funcs[name](obj))
        self._indexed_values.setdefault(key, {})[name] = values
        index = self._indexes[name]
        for value in values:
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: NamespacedName) -> None:
        for name, values in self._indexed_values.pop(key, {}).items():
            index = self._indexes[name]
            for value in values:
                keys = index.get(value)
                if keys is None:
                    continue
                keys.discard(key)
                if not keys:
                    del index[value]
