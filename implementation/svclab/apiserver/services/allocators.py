"""The two bitmap allocators: ClusterIPs from the service CIDR, NodePorts from their range.

Upstream's ``ipallocator`` and ``portallocator``. Dynamic allocation picks a
random free value, preferring the upper part of the range; the lower "static
band" (KEP-3070 for IPs, KEP-3668 for ports) is used last, so that explicitly
requested values rarely collide. The first IP of the service range belongs to
the ``default/kubernetes`` Service and is never handed out dynamically.
"""

from __future__ import annotations

import ipaddress
import random

__all__ = ["AllocationError", "DEFAULT_NODE_PORT_RANGE", "IPAllocator", "PortAllocator", "kubernetes_service_ip"]

# kube-apiserver's default --service-node-port-range.
DEFAULT_NODE_PORT_RANGE = "30000-32767"
# The IPv6 bitmap is capped, as upstream caps it, because the allocator keeps one bit
# per address.
_MAX_IPV6_RANGE = 65536


class AllocationError(Exception):
    """An allocator refused a request; ``str()`` is upstream's allocator message."""


def _static_band(size: int, *, minimum: int, maximum: int, step: int) -> int:
    """Upstream's ``min(max(minimum, size/step), maximum)``; 0 for tiny ranges."""
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


class _OffsetAllocator:
    """A set of taken offsets in [0, size) with upstream's random-scan strategy."""

    def __init__(self, size: int, static_band: int, rng: random.Random) -> None:
        self._size = size
        self._static_band = static_band
        self._rng = rng
        self._taken: set[int] = set()

    def take(self, offset: int) -> bool:
        if offset in self._taken:
            return False
        self._taken.add(offset)
        return True

    def free(self, offset: int) -> None:
        self._taken.discard(offset)

    def has(self, offset: int) -> bool:
        return offset in self._taken

    @property
    def used(self) -> int:
        return len(self._taken)

    def take_next(self, reserved: frozenset[int] = frozenset()) -> int | None:
        """Take a random free offset, upper band first; None when none is left."""
        bands = ((self._static_band, self._size), (0, self._static_band))
        for low, high in bands:
            width = high - low
            if width <= 0:
                continue
            start = self._rng.randrange(width)
            for i in range(width):
                at = low + (start + i) % width
                if at not in self._taken and at not in reserved:
                    self._taken.add(at)
                    return at
        return None


class IPAllocator:
    """ClusterIP allocation from one service CIDR (IPv4 or IPv6).

    The network address (and for IPv4 the broadcast address) is never used. Offset 0,
    the first usable address, is reserved for the ``kubernetes`` Service: it can be
    requested explicitly but :meth:`allocate_next` never returns it.
    """

    def __init__(self, cidr: str, *, rng: random.Random | None = None) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        total = self.network.num_addresses
        if self.network.version == 6:
            size = min(total, _MAX_IPV6_RANGE) - 1
        else:
            size = total - 2
        if size < 1:
            raise ValueError(f"service CIDR {cidr} is too small")
        self._base = int(self.network.network_address) + 1
        self._size = size
        band = _static_band(min(total, 1 << 62), minimum=16, maximum=256, step=16)
        self._bits = _OffsetAllocator(size, band, rng or random.Random())

    @property
    def cidr(self) -> str:
        return str(self.network)

    @property
    def used(self) -> int:
        return self._bits.used

    def _offset(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version:
            return None
        offset = int(addr) - self._base
        return offset if 0 <= offset < self._size else None

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` is an allocatable address of this range."""
        return self._offset(ip) is not None

    def is_allocated(self, ip: str) -> bool:
        offset = self._offset(ip)
        return offset is not None and self._bits.has(offset)

    def allocate(self, ip: str) -> None:
        """Take ``ip``; AllocationError when it is outside the range or taken."""
        offset = self._offset(ip)
        if offset is None:
            raise AllocationError(
                f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}"
            )
        if not self._bits.take(offset):
            raise AllocationError("provided IP is already allocated")

    def allocate_next(self) -> str:
        """Take a random free IP (never the kubernetes Service's); ``range is full``."""
        offset = self._bits.take_next(reserved=frozenset({0}))
        if offset is None:
            raise AllocationError("range is full")
        return str(ipaddress.ip_address(self._base + offset))

    def release(self, ip: str) -> None:
        """Give ``ip`` back; releasing a free or foreign IP does nothing."""
        offset = self._offset(ip)
        if offset is not None:
            self._bits.free(offset)


class PortAllocator:
    """NodePort allocation from an inclusive port range, by default 30000-32767."""

    def __init__(self, port_range: str = DEFAULT_NODE_PORT_RANGE, *, rng: random.Random | None = None) -> None:
        first, _, last = port_range.partition("-")
        self.base, self.last = int(first), int(last or first)
        if self.last < self.base:
            raise ValueError(f"invalid port range {port_range}")
        size = self.last - self.base + 1
        band = _static_band(size, minimum=16, maximum=128, step=32)
        self._bits = _OffsetAllocator(size, band, rng or random.Random())

    @property
    def port_range(self) -> str:
        return f"{self.base}-{self.last}"

    @property
    def used(self) -> int:
        return self._bits.used

    def contains(self, port: int) -> bool:
        return self.base <= port <= self.last

    def is_allocated(self, port: int) -> bool:
        return self.contains(port) and self._bits.has(port - self.base)

    def allocate(self, port: int) -> None:
        """Take ``port``; AllocationError when it is outside the range or taken."""
        if not self.contains(port):
            raise AllocationError(
                f"provided port is not in the valid range. The range of valid ports is {self.port_range}"
            )
        if not self._bits.take(port - self.base):
            raise AllocationError("provided port is already allocated")

    def allocate_next(self) -> int:
        offset = self._bits.take_next()
        if offset is None:
            raise AllocationError("range is full")
        return self.base + offset

    def release(self, port: int) -> None:
        if self.contains(port):
            self._bits.free(port - self.base)


def kubernetes_service_ip(cidr: str) -> str:
    """The first usable address of the service CIDR: the ``kubernetes`` Service's IP."""
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address + 1)
