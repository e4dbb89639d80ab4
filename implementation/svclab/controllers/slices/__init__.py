"""svclab.controllers.slices: the EndpointSlice library both slice-writing controllers use.

Upstream factors this into ``staging/src/k8s.io/endpointslice``; the
EndpointSlice controller and the mirroring controller keep only their shells
(and mirroring its own planner) and share what is here:

* ``reconciler``      ``plan_slices`` (upstream ``Reconciler.Reconcile``) and
                      ``apply_slice_plan`` (``finalize``); ``SlicePlan``
* ``service_slices``  what a Service's slices are built from (``utils.go``):
                      endpoints from pods, labels, ownership, new slices
* ``endpoint_set``    ``EndpointSet`` and the identities of endpoints and
                      port lists (``util/endpointset.go``, ``NewPortMapKey``)
* ``tracker``         ``EndpointSliceTracker``: our writes vs the cache
* ``trigger_time``    ``TriggerTimeTracker`` (the Endpoints controller uses it too)

Everything but ``apply_slice_plan`` is free of I/O.
"""

from .endpoint_set import EndpointSet, PortMapKey, endpoint_key, port_map_key
from .reconciler import DEFAULT_MAX_ENDPOINTS_PER_SLICE, ServiceSlicePlan, SlicePlan, apply_slice_plan, plan_slices
from .tracker import EndpointSliceTracker
from .trigger_time import TriggerTimeTracker

__all__ = [
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "EndpointSet",
    "EndpointSliceTracker",
    "PortMapKey",
    "ServiceSlicePlan",
    "SlicePlan",
    "TriggerTimeTracker",
    "apply_slice_plan",
    "endpoint_key",
    "plan_slices",
    "port_map_key",
]
