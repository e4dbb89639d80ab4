"""The imperative shell the three controllers share.

* ``SharedInformers``: one informer per resource kind, shared by every
  controller of the process (as client-go's shared informer factory), with the
  indexes the controllers need: pods by namespace (built in), slices by the
  Service they belong to.
* ``pods_for_service`` / ``services_for_pod``: selector matching over caches,
  narrowed by two indexes (pods by label pair, Services by selector pair) so
  a sync or a pod event costs the size of the match, not of the namespace.
* ``write``: an API call whose failure becomes a ``WriteError`` naming verb,
  kind and object (404 tolerated on request, for deletes).
* ``QueueController``: the base class (work queue, workers, orphan-scan hook,
  stale-cache retries, the common informer-to-queue handlers).
* ``SliceOwnerController``: the base of the two slice-writing controllers
  (slice tracker, slice event handlers, the stale-slices check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lightkube.resources.core_v1 import Endpoints, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.apimachinery.labels import ValidatedSetSelector
from svclab.kube.informer import FuncHandler, Informer, wait_for_sync
from svclab.kube.names import NamespacedName
from svclab.kube.reflector import error_status_code
from svclab.kube.workqueue import DEFAULT_MAX_RETRIES, WorkQueue, run_workers

from ._common import (
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    ControllerName,
    meta,
    svc_spec,
)
from .errors import StaleCacheError, WriteError
from .tracking import EndpointSliceTracker

__all__ = [
    "POD_LABEL_INDEX",
    "QueueController",
    "SERVICE_INDEX",
    "SERVICE_SELECTOR_INDEX",
    "SharedInformers",
    "SliceOwnerController",
    "is_managed_by",
    "managed_slices",
    "pods_for_service",
    "service_key_of_slice",
    "services_for_pod",
    "write",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Index of EndpointSlices: "<namespace>/<kubernetes.io/service-name label>".
SERVICE_INDEX = "service"
# Index of Pods by each of their labels, and of Services by each pair of their
# selector: both keyed by ``_label_pair_value``.
POD_LABEL_INDEX = "label"
SERVICE_SELECTOR_INDEX = "selector"


def _label_pair_value(namespace: str, key: str, value: str) -> str:
    # NUL appears in no namespace, label key or label value, so it is unambiguous.
    return f"{namespace}\0{key}\0{value}"


def _pod_label_index(pod: Pod) -> Iterable[str]:
    namespace = meta(pod).namespace or ""
    return [_label_pair_value(namespace, k, v) for k, v in (meta(pod).labels or {}).items()]


def _service_selector_index(service: Service) -> Iterable[str]:
    selector = svc_spec(service).selector if service.spec else None
    namespace = meta(service).namespace or ""
    return [_label_pair_value(namespace, k, v) for k, v in (selector or {}).items()]


def service_key_of_slice(slice_: EndpointSlice) -> NamespacedName | None:
    """The Service a slice belongs to, by its service-name label (None without one)."""
    name = (meta(slice_).labels or {}).get(LABEL_SERVICE_NAME)
    return NamespacedName(meta(slice_).namespace or "", name) if name else None


def _slice_service_index(slice_: EndpointSlice) -> Iterable[str]:
    key = service_key_of_slice(slice_)
    return (str(key),) if key else ()


@dataclass(slots=True)
class SharedInformers:
    """Lazily created informers over one client; ``run()`` runs those created."""

    client: Any
    _informers: dict[type[Any], Informer[Any]] = field(default_factory=dict)

    def _get(self, resource: type[T]) -> Informer[T]:
        informer = self._informers.get(resource)
        if informer is None:
            informer = Informer(self.client, resource)
            if resource is EndpointSlice:
                informer.store.add_index(SERVICE_INDEX, _slice_service_index)
            elif resource is Pod:
                informer.store.add_index(POD_LABEL_INDEX, _pod_label_index)
            elif resource is Service:
                informer.store.add_index(SERVICE_SELECTOR_INDEX, _service_selector_index)
            self._informers[resource] = informer
        return informer

    @property
    def pods(self) -> Informer[Pod]:
        return self._get(Pod)

    @property
    def services(self) -> Informer[Service]:
        return self._get(Service)

    @property
    def endpoints(self) -> Informer[Endpoints]:
        return self._get(Endpoints)

    @property
    def slices(self) -> Informer[EndpointSlice]:
        return self._get(EndpointSlice)

    @property
    def nodes(self) -> Informer[Node]:
        return self._get(Node)

    async def run(self) -> None:
        """Run every informer created so far until cancelled."""
        async with asyncio.TaskGroup() as group:
            for resource, informer in self._informers.items():
                group.create_task(informer.run(), name=f"informer-{resource.__name__}")

    async def wait_for_sync(self) -> bool:
        return await wait_for_sync(*self._informers.values())


def _selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    # The API server validated the Service's selector: wrap it, as upstream's controllers do.
    return ValidatedSetSelector(selector).matches(labels)


def pods_for_service(informers: SharedInformers, service: Service) -> list[Pod]:
    """Pods in the Service's namespace matching its (non-empty) selector, ordered by key."""
    selector = dict(svc_spec(service).selector or {}) if service.spec else {}
    if not selector:
        return []
    namespace = meta(service).namespace or ""
    store = informers.pods.store
    # Every match carries every selector pair: start from the rarest pair's pods.
    narrowest = min(
        (_label_pair_value(namespace, k, v) for k, v in selector.items()),
        key=lambda value: store.index_size(POD_LABEL_INDEX, value),
    )
    return [p for p in store.by_index(POD_LABEL_INDEX, narrowest) if _selects(selector, meta(p).labels)]


def services_for_pod(informers: SharedInformers, pod: Pod) -> list[NamespacedName]:
    """Keys of the Services (with a selector) that select ``pod``, sorted."""
    namespace = meta(pod).namespace or ""
    labels = meta(pod).labels or {}
    store = informers.services.store
    # A Service selecting the pod has each selector pair among the pod's
    # labels, so it is filed under at least one of them.
    candidates: set[NamespacedName] = set()
    for k, v in labels.items():
        candidates.update(store.index_keys(SERVICE_SELECTOR_INDEX, _label_pair_value(namespace, k, v)))
    matches = []
    for key in sorted(candidates, key=lambda name: (name.namespace, name.name)):
        svc = store.get(key)
        if (
            svc is not None
            and svc.spec
            and svc_spec(svc).selector
            and _selects(dict(svc_spec(svc).selector or {}), labels)
        ):
            matches.append(NamespacedName.of(svc))
    return matches


def is_managed_by(slice_: EndpointSlice, controller: str) -> bool:
    """Whether ``slice_`` carries the managed-by label of ``controller``."""
    return (meta(slice_).labels or {}).get(LABEL_MANAGED_BY) == controller


def managed_slices(informers: SharedInformers, key: NamespacedName, controller: str) -> list[EndpointSlice]:
    """Cached slices of Service ``key`` carrying managed-by ``controller``."""
    return [s for s in informers.slices.store.by_index(SERVICE_INDEX, str(key)) if is_managed_by(s, controller)]


async def write(verb: str, obj: Any, call: Awaitable[T], *, missing_ok: bool = False) -> T | None:
    """Await an API call; 404 is ``None`` when ``missing_ok``; other failures ``WriteError``."""
    try:
        return await call
    except Exception as error:
        if missing_ok and error_status_code(error) == 404:
            return None
        target = meta(obj)
        name = target.name or f"{target.generateName or ''}*"
        raise WriteError(
            verb, getattr(obj, "kind", None) or type(obj).__name__, f"{target.namespace}/{name}", error
        ) from error


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
    may override ``_on_slice_update`` for slices changing hands, and call
    ``check_slices_fresh`` in ``sync`` before planning.
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
