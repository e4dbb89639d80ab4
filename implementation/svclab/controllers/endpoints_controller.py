"""The Endpoints controller (imperative shell of ``endpoints.desired_endpoints``).

Upstream ``pkg/controller/endpoint``: a Service key is queued whenever the
Service, one of its pods or its Endpoints changes; ``sync`` reads the caches,
asks the pure core for the desired object and writes it only when it differs.
When the Service is gone its Endpoints are deleted; at start every Endpoints
object is queued so that orphans (no Service) are deleted too.

Like upstream's ``staleEndpointsTracker``: after updating an Endpoints we
remember the resourceVersion we replaced; while the cache still shows it,
the cache is stale and the sync is retried instead of acting on it.
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints

from svclab.kube.informer import FuncHandler
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName

from .endpoints import desired_endpoints, endpoints_equal_for_write
from .errors import write
from .informers import SharedInformers, pods_for_service
from .queue_controller import QueueController
from .slices import TriggerTimeTracker
from .well_known import ANNOTATION_LEADER

__all__ = [
    "EndpointsController",
]

log = logging.getLogger(__name__)


class EndpointsController(QueueController):
    """Keeps one Endpoints object per selector Service; see the module docstring."""

    name = "endpoints"

    def __init__(self, informers: SharedInformers, client: Any, recorder: Any, **kwargs: Any) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.trigger_times = TriggerTimeTracker()
        self._stale_versions: dict[NamespacedName, str] = {}
        self.watch_own_keys(informers.services)
        self.watch_pods()
        informers.endpoints.add_handler(
            FuncHandler(
                on_add=self._on_endpoints_seen,
                on_update=lambda old, new: self._on_endpoints_seen(new),
                on_delete=self._on_endpoints_delete,
            )
        )

    def _on_endpoints_seen(self, endpoints: Endpoints) -> None:
        self.caught_up(NamespacedName.of(endpoints))

    def _on_endpoints_delete(self, endpoints: Endpoints) -> None:
        # Recreate it if its Service still wants one; with the Service gone
        # there is nothing left to do (upstream queues anyway and gets a 404).
        key = NamespacedName.of(endpoints)
        if self.informers.services.store.get(key) is not None:
            self.enqueue(key)

    def on_synced(self) -> None:
        """Queue every Endpoints object so those without a Service get deleted."""
        for endpoints in self.informers.endpoints.store.list():
            if ANNOTATION_LEADER not in (meta(endpoints).annotations or {}):
                self.enqueue(NamespacedName.of(endpoints))

    async def sync(self, key: NamespacedName) -> None:
        service = self.informers.services.store.get(key)
        if service is None:
            await self._delete_endpoints(key)
            return
        current = self.informers.endpoints.store.get(key)
        if current is not None and self._stale_versions.get(key) == meta(current).resourceVersion:
            raise self.stale_cache(key, f"endpoints informer cache is out of date for {key}")
        pods = pods_for_service(self.informers, service)
        trigger_time = self.trigger_times.compute(service, pods)
        desired = desired_endpoints(service, pods, current=current, trigger_time=trigger_time)
        if desired is None:
            return
        if current is not None and endpoints_equal_for_write(current, desired):
            return
        if current is None:
            await write("create", desired, self.client.create(desired))
            log.info("created endpoints key=%s", key)
        else:
            await write("update", desired, self.client.replace(desired))
            self._stale_versions[key] = meta(current).resourceVersion or ""
            log.info("updated endpoints key=%s", key)

    async def _delete_endpoints(self, key: NamespacedName) -> None:
        self.trigger_times.delete_service(key.namespace, key.name)
        self._stale_versions.pop(key, None)
        current = self.informers.endpoints.store.get(key)
        if current is not None and ANNOTATION_LEADER in (meta(current).annotations or {}):
            return  # a leader-election lock, not ours
        # Deleted even when the cache shows none, as upstream: the cache may
        # not have seen an Endpoints we created moments ago.
        target = current or Endpoints(metadata=ObjectMeta(name=key.name, namespace=key.namespace))
        await write("delete", target, self.client.delete(Endpoints, key.name, namespace=key.namespace), missing_ok=True)
        log.info("deleted endpoints key=%s reason=service-gone", key)
