"""Services: defaulting and ClusterIP / NodePort allocation, as the real API server does them.

Upstream splits this over ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``),
the Service REST storage (``pkg/registry/core/service/storage``: IP-family fields,
"patch-through" of allocated values on update, allocation transactions) and the two
bitmap allocators (``ipallocator`` and ``portallocator``). The same split here, for
plain JSON-dict Services:

* ``spec``        - the type names and what a type implies (needs a ClusterIP? NodePorts?).
* ``defaults``    - :func:`default_service`, side-effect-free defaulting of a Service dict.
* ``families``    - :func:`init_ip_family_fields`: ipFamilyPolicy / ipFamilies for the
  cluster's service IP families (one, or two for dual-stack), on create and update.
* ``allocators``  - :class:`IPAllocator` / :class:`PortAllocator`, one bitmap range each.
* ``allocations`` - :class:`ServiceAllocations`: one IP allocator per family plus the
  NodePort one, with all-or-nothing transactions for create, update (upgrade to and
  downgrade from dual-stack included) and delete.

Errors::

    Exception
    ├── AllocationError          one allocator refused (bare upstream allocator message)
    └── ServiceAllocationError   what the server turns into a Status (field_path, message)
"""

from .allocations import ServiceAllocationError, ServiceAllocations, carry_over_allocated_values, parse_service_cidrs
from .allocators import AllocationError, IPAllocator, PortAllocator, kubernetes_service_ip
from .defaults import default_service
from .families import init_ip_family_fields

__all__ = [
    "AllocationError",
    "IPAllocator",
    "PortAllocator",
    "ServiceAllocationError",
    "ServiceAllocations",
    "carry_over_allocated_values",
    "default_service",
    "init_ip_family_fields",
    "kubernetes_service_ip",
    "parse_service_cidrs",
]
