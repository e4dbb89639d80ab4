"""Object storage: SQLite (WAL) on disk, the live set in memory, and a watch window.

Every write is one SQLite transaction that stores the object and the new global
resourceVersion together, so a restart (also after kill -9) keeps every write
that was acknowledged and resourceVersions keep increasing. Reads are served
from memory. Each kind keeps a window of its recent events so that a watch can
resume from a resourceVersion; a watch from before the window is "too old"
(410 Expired), exactly the contract of kube-apiserver's watch cache.

The store runs on one asyncio loop and is not thread-safe. Objects handed out
are shared: callers copy before they change one (see `clone`).
"""

from __future__ import annotations

import asyncio
import builtins
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["EventType", "Store", "StoredEvent", "Subscription", "TooOld", "clone"]

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
EventType = str


def clone(obj: Obj) -> Obj:
    """A deep copy of a JSON object (orjson round trip: much faster than deepcopy)."""
    copied: Obj = orjson.loads(orjson.dumps(obj))
    return copied


class TooOld(Exception):
    """A watch asked for events that the window no longer holds."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(slots=True)
class StoredEvent:
    """One change. `prev` is the object before it (None for ADDED), so that a
    filtered watch can turn "stopped matching" into DELETED as upstream does."""

    rv: int
    type: EventType
    obj: Obj
    prev: Obj | None = None
    json_line: bytes | None = None  # the serialized watch line, made once, shared

    def line(self) -> bytes:
        if self.json_line is None:
            self.json_line = orjson.dumps({"type": self.type, "object": self.obj}) + b"\n"
        return self.json_line


@dataclass(eq=False)
class Subscription:
    """A watcher's inbox for one kind; events arrive in resourceVersion order."""

    kind: str
    queue: asyncio.Queue[StoredEvent] = field(default_factory=asyncio.Queue)


@dataclass
class _KindState:
    objects: dict[Key, Obj] = field(default_factory=dict)
    window: deque[StoredEvent] = field(default_factory=deque)
    # Highest resourceVersion whose events are no longer all in the window.
    compacted_rv: int = 0
    subscribers: set[Subscription] = field(default_factory=set)


class Store:
    """The API server's storage. See the module docstring for the guarantees."""

    def __init__(self, path: Path, *, window: int = 20000) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a committed transaction survives a process crash (kill -9);
        # only a power loss could lose the last ones, as with etcd's batching.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT, namespace TEXT, name TEXT, "
            "rv INTEGER, data BLOB, PRIMARY KEY (kind, namespace, name))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")
        self._window = window
        self._kinds: dict[str, _KindState] = {}
        row = self._db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        self.rv: int = int(row[0]) if row else 1
        for kind, ns, name, data in self._db.execute("SELECT kind, namespace, name, data FROM objects"):
            self._state(kind).objects[(ns, name)] = orjson.loads(data)
        for state in self._kinds.values():
            state.compacted_rv = self.rv

    def close(self) -> None:
        self._db.close()

    def _state(self, kind: str) -> _KindState:
        state = self._kinds.get(kind)
        if state is None:
            state = self._kinds[kind] = _KindState(compacted_rv=self.rv)
        return state

    # -- reads ---------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._state(kind).objects.get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Objects of a kind (in one namespace, or all), sorted by namespace and name."""
        objects = self._state(kind).objects
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        for kind, state in self._kinds.items():
            for obj in list(state.objects.values()):
                yield kind, obj

    def count(self, kind: str) -> int:
        return len(self._state(kind).objects)

    # -- writes --------------------------------------------------------------

    def next_rv(self) -> int:
        return self.rv + 1

    def _commit(self, rv: int, statement: str, params: tuple[Any, ...]) -> None:
        """Run ``statement`` and record ``rv`` in one transaction; only then move the counter."""
        self._db.execute("BEGIN")
        try:
            self._db.execute(statement, params)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (rv,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.rv = rv

    def put(self, kind: str, obj: Obj, event: EventType) -> Obj:
        """Store `obj` (ADDED or MODIFIED) with a new resourceVersion; returns it."""
        objects = self._state(kind).objects  # before the counter moves: see compacted_rv
        rv = self.rv + 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        key = (meta.get("namespace", ""), meta["name"])
        self._commit(
            rv, "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", (kind, key[0], key[1], rv, orjson.dumps(obj))
        )
        prev = objects.get(key)
        objects[key] = obj
        self._publish(kind, StoredEvent(rv, event, obj, prev))
        return obj

    def remove(self, kind: str, namespace: str, name: str) -> Obj:
        """Delete an object; returns its final state carrying the deletion's resourceVersion."""
        state = self._state(kind)
        old = state.objects[(namespace, name)]
        rv = self.rv + 1
        self._commit(rv, "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?", (kind, namespace, name))
        del state.objects[(namespace, name)]
        final = dict(old)
        final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
        self._publish(kind, StoredEvent(rv, DELETED, final, old))
        return final

    # -- watch ---------------------------------------------------------------

    def _publish(self, kind: str, event: StoredEvent) -> None:
        state = self._state(kind)
        state.window.append(event)
        if len(state.window) > self._window:
            state.compacted_rv = state.window.popleft().rv
        for sub in state.subscribers:
            sub.queue.put_nowait(event)

    def subscribe(self, kind: str, since_rv: int | None) -> tuple[Subscription, builtins.list[StoredEvent]]:
        """Start a watch on `kind`.

        With `since_rv`, also return the window's events newer than it (raises
        TooOld when some of them were already dropped). Events after the call
        arrive in the subscription's queue; nothing is lost or repeated between
        the two because this runs on the store's loop without awaiting.
        """
        state = self._state(kind)
        backlog: builtins.list[StoredEvent] = []
        if since_rv is not None:
            if since_rv < state.compacted_rv:
                raise TooOld(since_rv, state.compacted_rv)
            backlog = [e for e in state.window if e.rv > since_rv]
        sub = Subscription(kind)
        state.subscribers.add(sub)
        return sub, backlog

    def unsubscribe(self, sub: Subscription) -> None:
        self._state(sub.kind).subscribers.discard(sub)
