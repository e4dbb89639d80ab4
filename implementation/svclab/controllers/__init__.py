"""svclab.controllers: the endpoints, EndpointSlice and EndpointSlice-mirroring controllers.

Each controller is a pure planner plus a thin shell (functional core,
imperative shell):

* ``endpoints``      ``desired_endpoints(service, pods)``      -> Endpoints
* ``endpointslice``  ``plan_slices(service, pods, nodes, slices)`` -> SlicePlan
* ``mirroring``      ``plan_mirrored_slices(endpoints, slices)``  -> MirroringPlan

``endpoints_controller``, ``endpointslice_controller`` and
``mirroring_controller`` wire the planners to shared informers, a work queue
and the API; ``tracking`` holds the slice and trigger-time trackers;
``command`` is ``svclab controller-manager``.  Upstream Kubernetes'
``pkg/controller/endpoint``, ``pkg/controller/endpointslice``,
``pkg/controller/endpointslicemirroring`` and ``staging/src/k8s.io/endpointslice``
are the reference for every behaviour.
"""

from ._slices import SlicePlan
from .endpoints import desired_endpoints, endpoints_equal_for_write
from .endpointslice import ServiceSlicePlan, plan_slices
from .mirroring import MirroringPlan, plan_mirrored_slices, should_mirror

__all__ = [
    "MirroringPlan",
    "ServiceSlicePlan",
    "SlicePlan",
    "desired_endpoints",
    "endpoints_equal_for_write",
    "plan_mirrored_slices",
    "plan_slices",
    "should_mirror",
]
