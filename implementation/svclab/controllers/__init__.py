"""svclab.controllers: the endpoints, EndpointSlice and EndpointSlice-mirroring controllers.

Each controller is a pure planner plus a thin shell (functional core,
imperative shell):

* ``endpoints``  ``desired_endpoints(service, pods)``              -> Endpoints
* ``slices``     ``plan_slices(service, pods, nodes, slices)``     -> ServiceSlicePlan
* ``mirroring``  ``plan_mirrored_slices(endpoints, slices)``       -> MirroringPlan

``slices/`` is the EndpointSlice library both slice-writing controllers share
(upstream ``staging/src/k8s.io/endpointslice``: reconciler, EndpointSet,
slice and trigger-time trackers).  ``endpoints_controller``,
``endpointslice_controller`` and ``mirroring_controller`` wire the planners
to the shared ``informers`` and the ``queue_controller`` base classes;
``well_known`` holds the label and annotation keys, ``pods_and_services``
the pod and Service rules, ``errors`` what a sync raises; ``command`` is
``svclab controller-manager``.  Upstream Kubernetes' ``pkg/controller/endpoint``,
``pkg/controller/endpointslice``, ``pkg/controller/endpointslicemirroring``
and ``staging/src/k8s.io/endpointslice`` are the reference for every behaviour.
"""

from .endpoints import desired_endpoints, endpoints_equal_for_write
from .mirroring import MirroringPlan, plan_mirrored_slices, should_mirror
from .slices import ServiceSlicePlan, SlicePlan, plan_slices

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
