"""Pod IP allocation from a node's pod CIDRs (host-local IPAM's role).

The first address of the CIDR is the network, the second belongs to the node's
``cni0`` bridge (the pods' gateway) and the last is the broadcast address; the
rest go to pods, lowest free first, like the host-local CNI plugin's default
range. IPv6 CIDRs follow the same rule (``::1`` is the gateway, pods from
``::2``). On a dual-stack node (issue 18) :class:`PodIPAllocator` holds one
allocator per pod CIDR and gives each pod one address of each, primary first,
as ``status.podIPs`` lists them. The allocator is an in-memory value holder; the agent rebuilds it from
the pods it adopts when it restarts. Pod workers build sandboxes on worker
threads, so every method holds one lock: two pods created at once once got the
same address (and one of them never started).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable

__all__ = ["IPAllocator", "PodCIDRExhausted", "PodIPAllocator"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PodCIDRExhausted(Exception):
    """Every pod address of the CIDR is in use."""


class IPAllocator:
    """Hands out pod IPs from one CIDR (either family); keys are pod UIDs. Thread-safe."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        if self.network.num_addresses < 4:
            raise ValueError(f"pod CIDR {cidr} is too small for a gateway and a pod")
        self.gateway = self.network.network_address + 1
        self._by_key: dict[str, Address] = {}
        self._used: set[Address] = set()
        self._lock = threading.RLock()  # reentrant: allocate() reserves

    def _candidates(self) -> Iterable[Address]:
        first = int(self.network.network_address) + 2
        last = int(self.network.broadcast_address) - 1
        # ip_address(int) would read a small IPv6 value as IPv4: pick the family's class.
        make = ipaddress.IPv4Address if self.network.version == 4 else ipaddress.IPv6Address
        return (make(value) for value in range(first, last + 1))

    def allocate(self, key: str) -> Address:
        """Return ``key``'s address, allocating the lowest free one the first time."""
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            for candidate in self._candidates():
                if candidate not in self._used:
                    self.reserve(key, candidate)
                    return candidate
        raise PodCIDRExhausted(f"no free pod IP left in {self.network}")

    def reserve(self, key: str, address: Address | str) -> None:
        """Record that ``key`` holds ``address`` (adoption after a restart)."""
        ip = ipaddress.ip_address(address)
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

    def in_use(self) -> dict[str, Address]:
        with self._lock:
            return dict(self._by_key)


class PodIPAllocator:
    """One address per pod CIDR for each pod (a dual-stack node has two CIDRs).

    Addresses come back in the CIDRs' order, primary family first. All or
    nothing: when one family is exhausted, the pod's addresses of the others are
    released again. Thread-safe (each family's allocator holds its own lock; a
    pod's UID is only ever allocated by its own worker).
    """

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.families = tuple(IPAllocator(cidr) for cidr in cidrs)
        if not self.families:
            raise ValueError("a node needs at least one pod CIDR")

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(family.network for family in self.families)

    def allocate(self, key: str) -> tuple[Address, ...]:
        """``key``'s addresses, one per CIDR; raises PodCIDRExhausted, holding none."""
        try:
            return tuple(family.allocate(key) for family in self.families)
        except PodCIDRExhausted:
            self.release(key)
            raise

    def reserve(self, key: str, addresses: Iterable[Address | str]) -> None:
        """Record ``key``'s addresses after a restart: each goes to the CIDR holding it.

        Raises ValueError when an address fits none of the CIDRs or is held by another key.
        """
        for address in addresses:
            ip = ipaddress.ip_address(address)
            owner = next((f for f in self.families if ip in f.network), None)
            if owner is None:
                raise ValueError(f"{ip} is not in the pod CIDRs {', '.join(map(str, self.networks))}")
            owner.reserve(key, ip)

    def release(self, key: str) -> None:
        """Free ``key``'s addresses in every family; unknown keys are fine."""
        for family in self.families:
            family.release(key)

    def in_use(self) -> dict[str, tuple[Address, ...]]:
        """Each key's addresses, in the CIDRs' order."""
        held: dict[str, tuple[Address, ...]] = {}
        for family in self.families:
            for key, ip in family.in_use().items():
                held[key] = (*held.get(key, ()), ip)
        return held
