"""Informer: a reflector, a store and event handlers in one task.

An informer keeps ``store`` equal to the API server's view of one resource
(through a ``Reflector``) and tells its handlers what changed:

* a watch ADDED/MODIFIED/DELETED becomes ``on_add``/``on_update``/``on_delete``;
* a (re-)list is diffed against the store: new keys ``on_add``, keys still
  present ``on_update(old, new)``, keys that vanished ``on_delete(last known
  object)`` (client-go hands a ``DeletedFinalStateUnknown`` tombstone here;
  the last cached object carries the same information without a wrapper);
* every ``resync_period`` seconds (if set), ``on_update(obj, obj)`` for every
  cached object, as client-go's resync.

Handlers run synchronously in the informer's task, in registration order, after
the store is updated.  They must be cheap (enqueue a key) and must not mutate
the objects.  A handler that raises is logged and does not stop the informer.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .clock import Clock, LoopClock
from .list_watch import ClientListerWatcher
from .names import NamespacedName
from .reflector import ListerWatcher, Reflector, ReflectorOptions
from .store import Store

__all__ = ["EventHandler", "FuncHandler", "Informer", "wait_for_sync"]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

log = logging.getLogger(__name__)


class EventHandler(Protocol[T_contra]):
    """Receives an informer's notifications (client-go ResourceEventHandler)."""

    def on_add(self, obj: T_contra) -> None: ...

    def on_update(self, old: T_contra, new: T_contra) -> None: ...

    def on_delete(self, obj: T_contra) -> None: ...


@dataclass(frozen=True, slots=True)
class FuncHandler(Generic[T]):
    """An ``EventHandler`` from optional functions; missing ones ignore the event."""

    on_add_func: Callable[[T], None] | None = None
    on_update_func: Callable[[T, T], None] | None = None
    on_delete_func: Callable[[T], None] | None = None

    def __init__(
        self,
        on_add: Callable[[T], None] | None = None,
        on_update: Callable[[T, T], None] | None = None,
        on_delete: Callable[[T], None] | None = None,
    ) -> None:
        object.__setattr__(self, "on_add_func", on_add)
        object.__setattr__(self, "on_update_func", on_update)
        object.__setattr__(self, "on_delete_func", on_delete)

    def on_add(self, obj: T) -> None:
        if self.on_add_func is not None:
            self.on_add_func(obj)

    def on_update(self, old: T, new: T) -> None:
        if self.on_update_func is not None:
            self.on_update_func(old, new)

    def on_delete(self, obj: T) -> None:
        if self.on_delete_func is not None:
            self.on_delete_func(obj)


class Informer(Generic[T]):
    """List+watch cache of one resource with handler fan-out.

    ``client`` is a lightkube ``AsyncClient`` or a ``FakeClient``; tests may
    pass ``lister_watcher`` instead to script the server.
    """

    def __init__(
        self,
        client: Any,
        resource: type[T],
        options: ReflectorOptions | None = None,
        *,
        clock: Clock | None = None,
        random: Callable[[], float] = random_module.random,
        lister_watcher: ListerWatcher[T] | None = None,
    ) -> None:
        self.resource = resource
        self.options = options or ReflectorOptions()
        self.store: Store[T] = Store()
        self._handlers: list[EventHandler[T]] = []
        self._clock: Clock = clock or LoopClock()
        self._synced = asyncio.Event()
        self.reflector: Reflector[T] = Reflector(
            lister_watcher or ClientListerWatcher(client, resource, self.options),
            self,
            self.options,
            clock=self._clock,
            random=random,
            name=getattr(resource, "__name__", str(resource)),
        )

    @property
    def has_synced(self) -> bool:
        """True once the first list has been delivered to the store and handlers."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait for the first list; False if ``timeout`` seconds passed first."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def add_handler(self, handler: EventHandler[T]) -> None:
        """Register ``handler``; if already synced, it gets ``on_add`` for every cached object."""
        self._handlers.append(handler)
        if self.has_synced:
            for obj in self.store.list():
                self._call(handler.on_add, obj)

    async def run(self) -> None:
        """List, watch and resync until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.reflector.run())
            if self.options.resync_period > 0:
                group.create_task(self._resync_loop())

    # -- ReflectorSink ---------------------------------------------------------

    def replace(self, items: list[T], resource_version: str) -> None:
        """Make the store hold ``items``; notify adds, updates and deletions."""
        previous = {self.store.key_of(obj): obj for obj in self.store.list()}
        self.store.replace(items, resource_version)
        for obj in items:
            old = previous.pop(self.store.key_of(obj), None)
            if old is None:
                self._fan_out("on_add", obj)
            else:
                self._fan_out("on_update", old, obj)
        for key in sorted(previous):
            self._fan_out("on_delete", previous[key])
        self._synced.set()

    def upsert(self, obj: T) -> None:
        old = self.store.upsert(obj)
        if old is None:
            self._fan_out("on_add", obj)
        else:
            self._fan_out("on_update", old, obj)

    def remove(self, obj: T) -> None:
        self.store.delete(self.store.key_of(obj))
        self._fan_out("on_delete", obj)

    # -- internals -------------------------------------------------------------

    async def _resync_loop(self) -> None:
        while True:
            await self._clock.sleep(self.options.resync_period)
            for obj in self.store.list():
                self._fan_out("on_update", obj, obj)

    def _fan_out(self, method: str, *args: T) -> None:
        for handler in self._handlers:
            self._call(getattr(handler, method), *args)

    def _call(self, func: Callable[..., None], *args: T) -> None:
        try:
            func(*args)
        except Exception:
            key = _key_or_none(args[-1])
            log.exception("informer handler failed resource=%s handler=%s key=%s", self.reflector.name, func, key)


def _key_or_none(obj: Any) -> NamespacedName | None:
    try:
        return NamespacedName.of(obj)
    except ValueError:
        return None


async def wait_for_sync(*informers: Informer[Any], timeout: float | None = None) -> bool:
    """Wait until every informer has synced; False if ``timeout`` passed first."""
    try:
        async with asyncio.timeout(timeout):
            for informer in informers:
                await informer._synced.wait()
    except TimeoutError:
        return False
    return True
