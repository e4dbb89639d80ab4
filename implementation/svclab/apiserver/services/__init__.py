"""Services: defaulting and ClusterIP / NodePort allocation, as the real API server does them.

Upstream splits this over ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``),
the Service REST storage (``pkg/registry/core/service/storage``: IP-family fields,
"patch-through" of allocated values on update, allocation transactions) and the two
bitmap allocators (``ipallocator`` and ``portallocator``). The same split here, for
plain JSON-dict Services:

* ``spec``        - the type names and what a type implies (needs a ClusterIP? NodePorts?).
* ``defaults``    - :func:`default_service`, side-effect-free defaulting of a Service dict.
* ``allocators``  - :class:`IPAllocator` / :class:`PortAllocator`, one bitmap range each.
* ``allocations`` - :class:`ServiceAllocations`: both allocators plus all-or-nothing
  transactions for create, update and delete.

Errors::

    Exception
    ├── AllocationError          one allocator refused (bare upstream allocator message)
    └── ServiceAllocationError   what the server turns into a Status (field_path, message)
"""

from .allocations import ServiceAllocationError, ServiceAllocations, carry_over_allocated_values
from .allocators import AllocationError, IPAllocator, PortAllocator, kubernetes_service_ip
from .defaults import default_service

__all__ = [
    "AllocationError",
    "IPAllocator",
    "PortAllocator",
    "ServiceAllocationError",
    "ServiceAllocations",
    "carry_over_allocated_values",
    "default_service",
    "kubernetes_service_ip",
]
