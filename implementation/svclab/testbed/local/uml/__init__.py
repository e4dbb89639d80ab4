"""User-Mode Linux kernel runtime for the local provider.

Where the host kernel lacks what a testbed needs (IPVS here), the testbed runs
inside a User-Mode Linux guest booted on the host's own filesystem:
``run_in_uml`` for batch runs (pytest, ``svclab run``), ``start_guest`` /
``stop_guest`` for a long-running guest reachable from the host through a
forwarder on 127.0.0.1. ``can_run_uml`` explains why a host cannot.
"""

from svclab.testbed.local.uml.boot import GuestNetwork, UmlBootConfig
from svclab.testbed.local.uml.guest import UmlGuest, guest_netns, load_guest, start_guest, stop_guest
from svclab.testbed.local.uml.runtime import (
    IPVS_MODULES,
    UmlError,
    UmlResult,
    can_run_uml,
    kernel_version,
    resolve_kernel,
    run_in_uml,
)

__all__ = [
    "GuestNetwork",
    "IPVS_MODULES",
    "UmlBootConfig",
    "UmlError",
    "UmlGuest",
    "UmlResult",
    "can_run_uml",
    "guest_netns",
    "kernel_version",
    "load_guest",
    "resolve_kernel",
    "run_in_uml",
    "start_guest",
    "stop_guest",
]
