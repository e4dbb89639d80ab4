"""Pod IP allocation from a node's pod CIDR (host-local IPAM's role).

The first address of the CIDR is the network, the second belongs to the node's
``cni0`` bridge (the pods' gateway) and the last is the broadcast address; the
rest go to pods, lowest free first, like the host-local CNI plugin's default
range. The allocator is an in-memory value holder; the agent rebuilds it from
the pods it adopts when it restarts. Pod workers build sandboxes on worker
threads, so every method holds one lock: two pods created at once once got the
same address (and one of them never started).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable

__all__ = ["IPAllocator", "PodCIDRExhausted"]


class PodCIDRExhausted(Exception):
    """Every pod address of the CIDR is in use."""


class IPAllocator:
    """Hands out pod IPs from one IPv4 CIDR; keys are pod UIDs. Thread-safe."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr, strict=False)
        if self.network.num_addresses < 4:
            raise ValueError(f"pod CIDR {cidr} is too small for a gateway and a pod")
        self.gateway = self.network.network_address + 1
        self._by_key: dict[str, ipaddress.IPv4Address] = {}
        self._used: set[ipaddress.IPv4Address] = set()
        self._lock = threading.RLock()  # reentrant: allocate() reserves

    def _candidates(self) -> Iterable[ipaddress.IPv4Address]:
        first = int(self.network.network_address) + 2
        last = int(self.network.broadcast_address) - 1
        return (ipaddress.IPv4Address(value) for value in range(first, last + 1))

    def allocate(self, key: str) -> ipaddress.IPv4Address:
        """Return ``key``'s address, allocating the lowest free one the first time."""
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            for candidate in self._candidates():
                if candidate not in self._used:
                    self.reserve(key, candidate)
                    return candidate
        raise PodCIDRExhausted(f"no free pod IP left in {self.network}")

    def reserve(self, key: str, address: ipaddress.IPv4Address | str) -> None:
        """Record that ``key`` holds ``address`` (adoption after a restart)."""
        ip = ipaddress.IPv4Address(address)
        if ip not in self.network or ip in (self.network.network_address, self.gateway, self.network.broadcast_address):
            raise ValueError(f"{ip} is not a pod address of {self.network}")
        with self._lock:
            owner = next((k for k, v in self._by_key.items() if v == ip), None)
            if owner is not None and owner != key:
                raise ValueError(f"{ip} is already held by {owner}")
            self.release(key)
            self._by_key[key] = ip
            self._used.add(ip)

    def release(self, key: str) -> None:
        """Free ``key``'s address; releasing an unknown key does nothing."""
        with self._lock:
            ip = self._by_key.pop(key, None)
            if ip is not None:
                self._used.discard(ip)

    def in_use(self) -> dict[str, ipaddress.IPv4Address]:
        with self._lock:
            return dict(self._by_key)
