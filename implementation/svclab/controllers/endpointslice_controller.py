"""The EndpointSlice controller (imperative shell of ``slices.plan_slices``).

Upstream ``pkg/controller/endpointslice``: a Service key is queued when the
Service, one of its pods or one of its managed slices changes (echoes of our
own writes are recognised by the ``EndpointSliceTracker`` and ignored).
``sync`` refuses to act on a cache that has not caught up with our writes,
plans with the pure reconciler, then creates, updates and deletes
(``slices.apply_slice_plan``).

Differences from upstream, and why: upstream leaves the slices of a deleted
Service to the garbage collector; svclab's local API server may have none,
so the controller deletes them itself (harmless where a GC races it: 404s are
ignored).  For the same reason, managed slices whose Service is gone are
queued at start.  As upstream, a Service that loses its selector keeps the
slices it had (the controller just stops touching them).
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.resources.core_v1 import Node
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.informer import FuncHandler
from svclab.kube.models import meta, name_of
from svclab.kube.names import NamespacedName

from .errors import NodeNotFoundError
from .informers import SharedInformers, managed_slices, pods_for_service, service_key_of_slice
from .pods_and_services import has_selector, pod_spec, svc_spec
from .queue_controller import SliceOwnerController
from .slices import DEFAULT_MAX_ENDPOINTS_PER_SLICE, SlicePlan, TriggerTimeTracker, apply_slice_plan, plan_slices
from .well_known import LABEL_ZONE, ControllerName

__all__ = [
    "EndpointSliceController",
]

log = logging.getLogger(__name__)
CONTROLLER = ControllerName.ENDPOINTSLICE


class EndpointSliceController(SliceOwnerController):
    """Keeps the EndpointSlices of selector Services; see the module docstring."""

    name = "endpointslice"
    managed_by = CONTROLLER

    def __init__(
        self,
        informers: SharedInformers,
        client: Any,
        recorder: Any,
        *,
        max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
        **kwargs: Any,
    ) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.trigger_times = TriggerTimeTracker()
        self.watch_own_keys(informers.services)
        self.watch_pods()
        self.watch_slices()
        # Zones come from Nodes, and a pod on a Node not yet cached is left out
        # and retried; requeue a Node's Services when it appears or its zone moves.
        informers.nodes.add_handler(FuncHandler(on_add=self._on_node, on_update=self._on_node_update))

    def _on_node(self, node: Node) -> None:
        name = name_of(node)
        for pod in self.informers.pods.store.list():
            if pod_spec(pod).nodeName == name:
                self.enqueue_services_of_pod(pod)

    def _on_node_update(self, old: Node, new: Node) -> None:
        if (meta(old).labels or {}).get(LABEL_ZONE) != (meta(new).labels or {}).get(LABEL_ZONE):
            self._on_node(new)

    def _on_slice_update(self, old: EndpointSlice, new: EndpointSlice) -> None:
        # A slice handed to or taken from us (label change) concerns both Services.
        if self.owns(old) != self.owns(new) or service_key_of_slice(old) != service_key_of_slice(new):
            self.enqueue(service_key_of_slice(old))
            self.enqueue(service_key_of_slice(new))
            return
        self._on_slice(new)

    def on_synced(self) -> None:
        """Queue the Services of managed slices whose Service no longer exists."""
        for slice_ in self.informers.slices.store.list():
            key = service_key_of_slice(slice_)
            if key and self.owns(slice_) and self.informers.services.store.get(key) is None:
                self.enqueue(key)

    async def sync(self, key: NamespacedName) -> None:
        service = self.informers.services.store.get(key)
        if service is None:
            await self._delete_all(key)
            return
        if service.spec is None or svc_spec(service).type == "ExternalName" or not has_selector(service):
            return  # as upstream: such Services get no slices from this controller
        slices = managed_slices(self.informers, key, CONTROLLER)
        self.check_slices_fresh(key, service, slices)
        pods = pods_for_service(self.informers, service)
        nodes = {name_of(n): n for n in self.informers.nodes.store.list()}
        plan = plan_slices(
            service,
            pods,
            nodes,
            slices,
            max_endpoints_per_slice=self.max_endpoints_per_slice,
            trigger_time=self.trigger_times.compute(service, pods),
        )
        await self.write_slices(key, plan, "reconciled slices")
        if plan.pods_without_node:
            raise NodeNotFoundError(
                f"skipping pods {', '.join(plan.pods_without_node)} of Service {key}: node not found"
            )

    async def _delete_all(self, key: NamespacedName) -> None:
        self.trigger_times.delete_service(key.namespace, key.name)
        slices = managed_slices(self.informers, key, CONTROLLER)
        if slices:
            await apply_slice_plan(self.client, self.tracker, SlicePlan(delete=tuple(slices)))
            log.info("deleted slices key=%s reason=service-gone count=%d", key, len(slices))
        self.tracker.delete_service(key.namespace, key.name)
