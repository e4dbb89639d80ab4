"""The EndpointSlice mirroring controller (shell of ``mirroring.plan_mirrored_slices``).

Upstream ``pkg/controller/endpointslicemirroring``: an Endpoints key is
queued when the Endpoints, the Service of the same name, or one of the
mirrored slices changes.  ``sync`` deletes every mirrored slice when the
Endpoints should not be mirrored (gone, skip-mirror, Service gone or with a
selector: this is the hand-over to the EndpointSlice controller), otherwise
plans, writes (``slices.apply_slice_plan``) and records the planner's
Warning events on the Endpoints.
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.informer import FuncHandler
from svclab.kube.names import NamespacedName

from .informers import SharedInformers, managed_slices, service_key_of_slice
from .mirroring import plan_mirrored_slices, should_mirror
from .pods_and_services import svc_spec
from .queue_controller import SliceOwnerController
from .slices import SlicePlan, apply_slice_plan
from .well_known import ControllerName

__all__ = [
    "EndpointSliceMirroringController",
]

log = logging.getLogger(__name__)
CONTROLLER = ControllerName.MIRRORING


class EndpointSliceMirroringController(SliceOwnerController):
    """Mirrors custom Endpoints into EndpointSlices; see the module docstring."""

    name = "endpointslice-mirroring"
    managed_by = CONTROLLER

    def __init__(self, informers: SharedInformers, client: Any, recorder: Any, **kwargs: Any) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.watch_own_keys(informers.endpoints)
        informers.services.add_handler(
            FuncHandler(
                on_add=self.enqueue_object,
                on_update=self._on_service_update,
                on_delete=self.enqueue_object,
            )
        )
        self.watch_slices()

    def _on_service_update(self, old: Service, new: Service) -> None:
        # Only a selector appearing or going changes what is mirrored.
        if bool(old.spec and svc_spec(old).selector) != bool(new.spec and svc_spec(new).selector):
            self.enqueue(NamespacedName.of(new))

    def _on_slice_update(self, old: EndpointSlice, new: EndpointSlice) -> None:
        if self.owns(old) and not self.owns(new):
            self.enqueue(service_key_of_slice(old))  # someone took our slice: recreate
            return
        self._on_slice(new)

    def on_synced(self) -> None:
        """Queue owners of mirrored slices whose Endpoints or Service are gone."""
        for slice_ in self.informers.slices.store.list():
            key = service_key_of_slice(slice_)
            if (
                key
                and self.owns(slice_)
                and not should_mirror(self.informers.endpoints.store.get(key), self.informers.services.store.get(key))
            ):
                self.enqueue(key)

    async def sync(self, key: NamespacedName) -> None:
        endpoints = self.informers.endpoints.store.get(key)
        service = self.informers.services.store.get(key)
        slices = managed_slices(self.informers, key, CONTROLLER)
        if endpoints is None or service is None or not should_mirror(endpoints, service):
            if slices:
                await apply_slice_plan(self.client, self.tracker, SlicePlan(delete=tuple(slices)))
                log.info("deleted mirrored slices key=%s count=%d", key, len(slices))
            self.tracker.delete_service(key.namespace, key.name)
            return
        self.check_slices_fresh(key, service, slices)
        plan = plan_mirrored_slices(endpoints, slices)
        for event in plan.events:
            self.recorder.event(endpoints, event.type, str(event.reason), event.message)
        await self.write_slices(key, plan, "mirrored slices")
