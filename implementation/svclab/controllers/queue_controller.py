"""The base classes of the three controllers: a keyed work queue and its workers.

* ``QueueController``: the work queue, the workers, the orphan-scan hook
  (``on_synced``), stale-cache retries released as soon as the informer
  catches up, and the common informer-to-queue handlers.
* ``SliceOwnerController``: the base of the two slice-writing controllers
  (EndpointSlice, mirroring): the slice tracker, the slice event handlers
  that tell echoes of our own writes from real changes, the stale-slices check.

Subclasses hold only what is theirs: their handlers, ``sync(key)`` and the
planner they call (upstream's ``pkg/controller/*`` shells).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lightkube.resources.core_v1 import Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.informer import FuncHandler, Informer
from svclab.kube.names import NamespacedName
from svclab.kube.workqueue import DEFAULT_MAX_RETRIES, WorkQueue, run_workers

from .errors import StaleCacheError
from .informers import SharedInformers, is_managed_by, service_key_of_slice, services_for_pod
from .slices import EndpointSliceTracker, SlicePlan, apply_slice_plan
from .well_known import ControllerName

__all__ = [
    "QueueController",
    "SliceOwnerController",
]

log = logging.getLogger(__name__)


class QueueController:
    """Base of the three controllers: a keyed work queue drained by workers.

    Subclasses register informer handlers in ``__init__`` (enqueueing
    ``NamespacedName`` keys; ``watch_own_keys`` and ``watch_pods`` cover the
    common ones), implement ``sync(key)`` and may override ``on_synced()``
    (runs once the caches are filled, before the workers).
    """

    name = "controller"

    def __init__(
        self,
        informers: SharedInformers,
        client: Any,
        recorder: Any,
        *,
        workers: int = 5,
        max_retries: int = DEFAULT_MAX_RETRIES,
        queue: WorkQueue[NamespacedName] | None = None,
    ) -> None:
        self.informers = informers
        self.client = client
        self.recorder = recorder
        self.workers = workers
        self.max_retries = max_retries
        self.queue: WorkQueue[NamespacedName] = queue if queue is not None else WorkQueue(name=self.name)
        # Keys whose last sync met a cache not yet showing our own write.
        self._awaiting_catch_up: set[NamespacedName] = set()

    def enqueue(self, key: NamespacedName | None) -> None:
        if key is not None:
            self.queue.add(key)

    def enqueue_object(self, obj: Any) -> None:
        """Queue the key (namespace, name) of ``obj`` itself."""
        self.enqueue(NamespacedName.of(obj))

    def enqueue_services_of_pod(self, pod: Pod) -> None:
        """Queue the Services that select ``pod``."""
        for key in services_for_pod(self.informers, pod):
            self.enqueue(key)

    def watch_own_keys(self, informer: Informer[Any]) -> None:
        """Queue an object's own key whenever it is added, updated or deleted."""
        informer.add_handler(
            FuncHandler(
                on_add=self.enqueue_object,
                on_update=lambda old, new: self.enqueue_object(new),
                on_delete=self.enqueue_object,
            )
        )

    def watch_pods(self) -> None:
        """Queue the Services selecting a pod when it is added, updated or deleted."""
        self.informers.pods.add_handler(
            FuncHandler(
                on_add=self.enqueue_services_of_pod,
                on_update=self._on_pod_update,
                on_delete=self.enqueue_services_of_pod,
            )
        )

    def _on_pod_update(self, old: Pod, new: Pod) -> None:
        # Labels may have changed: the Services of both versions are affected.
        for key in set(services_for_pod(self.informers, old)) | set(services_for_pod(self.informers, new)):
            self.enqueue(key)

    def stale_cache(self, key: NamespacedName, message: str) -> StaleCacheError:
        """The error for a sync that found the cache behind our own write.

        The failed sync is retried rate-limited as upstream does, and also as
        soon as the informer shows the key's object again (``caught_up``): a
        key re-synced right after its write routinely meets its own write not
        yet cached, and under load those failures drain the queue's shared
        10 qps retry bucket, delaying the retries by seconds.
        """
        self._awaiting_catch_up.add(key)
        return StaleCacheError(message)

    def caught_up(self, key: NamespacedName | None) -> None:
        """The informer delivered an event for ``key``: retry it now if it waits on one."""
        if key is not None and key in self._awaiting_catch_up:
            self._awaiting_catch_up.discard(key)
            self.enqueue(key)

    async def sync(self, key: NamespacedName) -> None:
        raise NotImplementedError

    def on_synced(self) -> None:
        """Hook run once after the caches synced (orphan scans)."""

    async def run(self) -> None:
        """Wait for the caches, run ``on_synced``, then work until cancelled."""
        await self.informers.wait_for_sync()
        self.on_synced()
        log.info("controller started controller=%s workers=%d", self.name, self.workers)
        try:
            # Stale-cache retries are routine (a key re-synced right after its
            # write), hundreds per bench run: logged at DEBUG, not INFO.
            await run_workers(
                self.queue,
                self.timed_sync,
                workers=self.workers,
                max_retries=self.max_retries,
                routine_errors=(StaleCacheError,),
            )
        finally:
            self.queue.shutdown()
            log.info("controller stopped controller=%s", self.name)

    async def timed_sync(self, key: NamespacedName) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self.sync(key)
            self._awaiting_catch_up.discard(key)  # synced: no longer waiting on the cache
        finally:
            log.debug("synced controller=%s key=%s seconds=%.4f", self.name, key, loop.time() - started)


class SliceOwnerController(QueueController):
    """Base of the controllers that write EndpointSlices (EndpointSlice, mirroring).

    ``tracker`` remembers our slice writes.  An event for one of our slices
    queues its Service's key, unless it is the echo of our own write: then it
    only releases a sync that waits for the cache to show it (``caught_up``).
    Subclasses set ``managed_by``, call ``watch_slices()`` in ``__init__``,
    may override ``_on_slice_update`` for slices changing hands, call
    ``check_slices_fresh`` in ``sync`` before planning and ``write_slices``
    after it.
    """

    managed_by: ControllerName

    def __init__(self, informers: SharedInformers, client: Any, recorder: Any, **kwargs: Any) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.tracker = EndpointSliceTracker()

    def owns(self, slice_: EndpointSlice) -> bool:
        return is_managed_by(slice_, self.managed_by)

    def watch_slices(self) -> None:
        """Register the slice event handlers on the shared slice informer."""
        self.informers.slices.add_handler(
            FuncHandler(
                on_add=self._on_slice,
                on_update=self._on_slice_update,
                on_delete=self._on_slice_delete,
            )
        )

    def _on_slice(self, slice_: EndpointSlice) -> None:
        if not self.owns(slice_):
            return
        if self.tracker.should_sync(slice_):
            self.enqueue(service_key_of_slice(slice_))
        else:
            self.caught_up(service_key_of_slice(slice_))

    def _on_slice_update(self, old: EndpointSlice, new: EndpointSlice) -> None:
        self._on_slice(new)

    def _on_slice_delete(self, slice_: EndpointSlice) -> None:
        if not self.owns(slice_):
            return
        if self.tracker.handle_deletion(slice_):
            self.caught_up(service_key_of_slice(slice_))  # an expected deletion
        else:
            self.enqueue(service_key_of_slice(slice_))

    def check_slices_fresh(self, key: NamespacedName, service: Service, slices: list[EndpointSlice]) -> None:
        """Raise ``stale_cache`` if the cached ``slices`` do not yet show all our writes."""
        if self.tracker.stale_slices(service, slices):
            raise self.stale_cache(key, f"EndpointSlice informer cache is out of date for {key}")

    async def write_slices(self, key: NamespacedName, plan: SlicePlan, action: str) -> None:
        """Make ``plan``'s writes, if any, and log ``action`` with the counts.

        Logged on the subclass's module logger: each controller logs its own syncs.
        """
        if plan.is_empty():
            return
        await apply_slice_plan(self.client, self.tracker, plan)
        logging.getLogger(type(self).__module__).info(
            "%s key=%s created=%d updated=%d deleted=%d",
            action,
            key,
            len(plan.create),
            len(plan.update),
            len(plan.delete),
        )
