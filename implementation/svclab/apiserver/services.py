"""Service defaulting and ClusterIP / NodePort allocation, as the real API server does it.

Upstream splits this over ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``),
the Service REST storage (``pkg/registry/core/service/storage``: IP-family fields,
"patch-through" of allocated values on update, allocation transactions) and the two
bitmap allocators (``ipallocator`` and ``portallocator``). This module keeps the same
behaviour for plain JSON-dict Services:

* :func:`default_service` - side-effect-free defaulting of a Service dict.
* :class:`IPAllocator` / :class:`PortAllocator` - one range each. Dynamic allocation
  picks a random free value, preferring the upper part of the range; the lower "static
  band" (KEP-3070 for IPs, KEP-3668 for ports) is used last, so that explicitly
  requested values rarely collide. The first IP of the service range belongs to the
  ``default/kubernetes`` Service and is never handed out dynamically.
* :class:`ServiceAllocations` - both allocators plus all-or-nothing transactions for
  create, update and delete. Failures raise :class:`ServiceAllocationError` carrying the
  field path and message that upstream puts into its 422 ``Invalid`` Status (or, for an
  exhausted range, its 500 ``InternalError``).

Errors::

    Exception
    ├── AllocationError          one allocator refused (bare upstream allocator message)
    └── ServiceAllocationError   what the server turns into a Status (field_path, message)
"""

from __future__ import annotations

import copy
import ipaddress
import random
from collections.abc import Iterable
from typing import Any

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

# Upstream values (pkg/apis/core/v1 defaults, kube-apiserver flags).
DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800
DEFAULT_NODE_PORT_RANGE = "30000-32767"
# The IPv6 bitmap is capped, as upstream caps it, because the allocator keeps one bit
# per address.
_MAX_IPV6_RANGE = 65536

_EXTERNAL_NAME = "ExternalName"
_NODE_PORT = "NodePort"
_LOAD_BALANCER = "LoadBalancer"
_CLUSTER_IP = "ClusterIP"
_HEADLESS = "None"

Service = dict[str, Any]


class AllocationError(Exception):
    """An allocator refused a request; ``str()`` is upstream's allocator message."""


class ServiceAllocationError(Exception):
    """A Service could not get its ClusterIP or NodePorts; nothing stayed allocated.

    ``field_path`` (``spec.clusterIPs``, ``spec.ports[0].nodePort`` ...) and ``message``
    (upstream's cause message, e.g. ``Invalid value: 30080: provided port is already
    allocated``) go into ``details.causes[]`` of a 422 Invalid Status. When ``internal``
    is true upstream answers 500 InternalError instead (a range is full) and ``message``
    is the text after ``Internal error occurred: ``.
    """

    def __init__(self, field_path: str, message: str, *, internal: bool = False) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message
        self.internal = internal


def _go_strings(values: list[str]) -> str:
    """Render a string list the way Go's %#v does inside field.Invalid messages."""
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


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


def carry_over_allocated_values(new: Service, old: Service) -> Service:
    """``new`` with what an update may leave out taken from ``old`` (ClusterIPs,
    nodePorts by port name, healthCheckNodePort), as upstream does before it
    validates an update. Side-effect free; ``prepare_update`` applies it too."""
    out = copy.deepcopy(new)
    spec = out.setdefault("spec", {})
    old_spec = old.get("spec") or {}
    _patch_allocated_values(spec, old_spec)
    _drop_type_dependent_fields(spec, old_spec)
    _default_cluster_ips(spec)
    return out


def kubernetes_service_ip(cidr: str) -> str:
    """The first usable address of the service CIDR: the ``kubernetes`` Service's IP."""
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address + 1)


# --- defaulting -------------------------------------------------------------------


def _externally_accessible(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in (_NODE_PORT, _LOAD_BALANCER) or (kind == _CLUSTER_IP and bool(spec.get("externalIPs")))


def _default_affinity(spec: dict[str, Any]) -> None:
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        client_ip = config.get("clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}}


def _default_ports(spec: dict[str, Any]) -> None:
    for port in spec.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")


def _default_cluster_ips(spec: dict[str, Any]) -> None:
    """Keep clusterIP and clusterIPs consistent (upstream NormalizeClusterIPs)."""
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = spec.get("clusterIPs") or []
    if cluster_ip and not cluster_ips:
        spec["clusterIPs"] = [cluster_ip]
    elif cluster_ips and not cluster_ip:
        spec["clusterIP"] = cluster_ips[0]


def _default_ip_families(spec: dict[str, Any], ip_family: str) -> None:
    if spec.get("type") == _EXTERNAL_NAME:
        return
    headless = spec.get("clusterIP") == _HEADLESS
    if headless and not spec.get("selector"):
        # Selector-less headless Services take any family the cluster has (upstream).
        spec.setdefault("ipFamilyPolicy", "RequireDualStack")
    else:
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if not spec.get("ipFamilies"):
        family = ip_family
        requested = spec.get("clusterIP") or ""
        if requested and requested != _HEADLESS:
            try:
                family = "IPv6" if ipaddress.ip_address(requested).version == 6 else "IPv4"
            except ValueError:
                pass  # validation reports the bad IP
        spec["ipFamilies"] = [family]


def default_service(svc: Service, *, ip_family: str = "IPv4") -> Service:
    """Return a defaulted copy of ``svc`` (side-effect-free), as upstream defaults it.

    ``ip_family`` is the cluster's single service IP family. Allocation (ClusterIP,
    NodePorts) is not defaulting: see :class:`ServiceAllocations`.
    """
    out = copy.deepcopy(svc)
    spec = out.setdefault("spec", {})
    _default_affinity(spec)
    if not spec.get("type"):
        spec["type"] = _CLUSTER_IP
    _default_ports(spec)
    if _externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec["type"] != _EXTERNAL_NAME and not spec.get("internalTrafficPolicy"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == _LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    _default_cluster_ips(spec)
    _default_ip_families(spec, ip_family)
    return out


# --- allocation transactions ---------------------------------------------------------


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != _EXTERNAL_NAME


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in (_NODE_PORT, _LOAD_BALANCER)


def _allocates_node_ports(spec: dict[str, Any]) -> bool:
    """Whether ports without a nodePort get one (LoadBalancers may opt out)."""
    if spec.get("type") == _NODE_PORT:
        return True
    return spec.get("type") == _LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _needs_health_check_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") == _LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local"


def _node_ports_of(spec: dict[str, Any]) -> list[int]:
    return [p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")]


def _real_ips(spec: dict[str, Any]) -> list[str]:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip and ip != _HEADLESS]


class _Transaction:
    """Allocations made so far (undone on failure) and releases deferred to commit."""

    def __init__(self, ips: IPAllocator, ports: PortAllocator) -> None:
        self.ips, self.ports = ips, ports
        self._taken_ips: list[str] = []
        self._taken_ports: list[int] = []
        self._release_ips: list[str] = []
        self._release_ports: list[int] = []

    def take_ip(self, ip: str | None = None) -> str:
        if ip is None:
            ip = self.ips.allocate_next()
        else:
            self.ips.allocate(ip)
        self._taken_ips.append(ip)
        return ip

    def take_port(self, port: int | None = None) -> int:
        if port is None:
            port = self.ports.allocate_next()
        else:
            self.ports.allocate(port)
        self._taken_ports.append(port)
        return port

    def release_ip_later(self, ip: str) -> None:
        self._release_ips.append(ip)

    def release_port_later(self, port: int) -> None:
        self._release_ports.append(port)

    def rollback(self) -> None:
        for ip in self._taken_ips:
            self.ips.release(ip)
        for port in self._taken_ports:
            self.ports.release(port)

    def commit(self) -> None:
        for ip in self._release_ips:
            self.ips.release(ip)
        for port in self._release_ports:
            self.ports.release(port)


class ServiceAllocations:
    """The ClusterIP and NodePort bitmaps of one API server, with Service transactions.

    Every ``prepare_*`` call is all-or-nothing: on ServiceAllocationError nothing it
    took stays allocated and nothing it would release is released. Not thread-safe:
    the caller serialises writes (the server holds its storage lock around them).
    """

    def __init__(
        self, service_cidr: str, node_port_range: str = DEFAULT_NODE_PORT_RANGE, *, rng: random.Random | None = None
    ) -> None:
        rng = rng or random.Random()
        self.ips = IPAllocator(service_cidr, rng=rng)
        self.ports = PortAllocator(node_port_range, rng=rng)

    def restore(self, services: Iterable[Service]) -> list[str]:
        """Mark what stored Services hold (at start); returns the conflicts found.

        Upstream's repair loops report such conflicts as events; here the caller logs
        them. A conflicting value stays with the Service that claimed it first.
        """
        problems: list[str] = []
        for svc in services:
            meta = svc.get("metadata") or {}
            who = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
            spec = svc.get("spec") or {}
            for ip in _real_ips(spec) if _needs_cluster_ip(spec) else []:
                try:
                    self.ips.allocate(ip)
                except AllocationError as err:
                    problems.append(f"service {who}: cluster IP {ip}: {err}")
            ports = set(_node_ports_of(spec))
            if spec.get("healthCheckNodePort"):
                ports.add(spec["healthCheckNodePort"])
            for port in sorted(ports):
                try:
                    self.ports.allocate(port)
                except AllocationError as err:
                    problems.append(f"service {who}: node port {port}: {err}")
        return problems

    def prepare_create(self, svc: Service) -> Service:
        """Allocate for a new (already defaulted) Service; returns the completed copy."""
        out = copy.deepcopy(svc)
        spec = out.setdefault("spec", {})
        txn = _Transaction(self.ips, self.ports)
        try:
            if _needs_cluster_ip(spec):
                self._allocate_cluster_ip(spec, txn)
            if _needs_node_ports(spec):
                self._allocate_node_ports_for_create(spec, txn)
            if _needs_health_check_port(spec):
                self._allocate_health_check_port(spec, txn)
        except BaseException:
            txn.rollback()
            raise
        txn.commit()
        return out

    def prepare_update(self, new: Service, old: Service) -> Service:
        """Allocate and release for an update of ``old`` to (defaulted) ``new``.

        Values the update left out are carried over from ``old`` as upstream does
        (ClusterIPs; nodePorts matched by port name; healthCheckNodePort), and fields
        a type change makes meaningless are dropped when they were left unchanged.
        Returns the completed copy of ``new``.
        """
        out = copy.deepcopy(new)
        spec = out.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        _patch_allocated_values(spec, old_spec)
        _drop_type_dependent_fields(spec, old_spec)
        _default_cluster_ips(spec)
        txn = _Transaction(self.ips, self.ports)
        try:
            self._update_cluster_ip(spec, old_spec, txn)
            self._update_node_ports(spec, old_spec, txn)
            self._update_health_check_port(spec, old_spec, txn)
        except BaseException:
            txn.rollback()
            raise
        txn.commit()
        return out

    def release(self, svc: Service) -> None:
        """Give back everything a deleted Service held."""
        spec = svc.get("spec") or {}
        if _needs_cluster_ip(spec):
            for ip in _real_ips(spec):
                self.ips.release(ip)
        for port in _node_ports_of(spec):
            self.ports.release(port)
        if spec.get("healthCheckNodePort"):
            self.ports.release(spec["healthCheckNodePort"])

    # --- ClusterIP ---------------------------------------------------------------

    def _allocate_cluster_ip(self, spec: dict[str, Any], txn: _Transaction) -> None:
        requested_list = [ip for ip in spec.get("clusterIPs") or [] if ip]
        requested = spec.get("clusterIP") or (requested_list[0] if requested_list else "")
        if requested == _HEADLESS:
            spec["clusterIP"], spec["clusterIPs"] = _HEADLESS, [_HEADLESS]
            return
        if len(requested_list) > 1:
            raise ServiceAllocationError(
                "spec.clusterIPs",
                f"Invalid value: {_go_strings(requested_list)}: this cluster has a single "
                "service IP family; at most one IP may be requested",
            )
        if not requested:
            try:
                ip = txn.take_ip()
            except AllocationError as err:
                raise ServiceAllocationError(
                    "spec.clusterIPs", f"failed to allocate a serviceIP: {err}", internal=True
                ) from err
        else:
            try:
                ip = txn.take_ip(requested)
            except AllocationError as err:
                shown = requested_list or [requested]
                raise ServiceAllocationError(
                    "spec.clusterIPs",
                    f"Invalid value: {_go_strings(shown)}: failed to allocate IP {requested}: {err}",
                ) from err
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]

    def _update_cluster_ip(self, spec: dict[str, Any], old_spec: dict[str, Any], txn: _Transaction) -> None:
        needed_before, needed_now = _needs_cluster_ip(old_spec), _needs_cluster_ip(spec)
        if needed_before and not needed_now:
            for ip in _real_ips(old_spec):
                txn.release_ip_later(ip)
        elif needed_now and not needed_before:
            self._allocate_cluster_ip(spec, txn)
        elif needed_now:
            old_ips = old_spec.get("clusterIPs") or [old_spec.get("clusterIP") or ""]
            new_ips = spec.get("clusterIPs") or []
            if new_ips[:1] != old_ips[:1] or spec.get("clusterIP") != old_ips[0]:
                raise ServiceAllocationError(
                    "spec.clusterIPs[0]",
                    f"Invalid value: {_go_strings(new_ips)}: may not change once set",
                )

    # --- NodePorts ---------------------------------------------------------------

    @staticmethod
    def _take_requested_port(txn: _Transaction, port: int, field_path: str) -> None:
        try:
            txn.take_port(port)
        except AllocationError as err:
            raise ServiceAllocationError(field_path, f"Invalid value: {port}: {err}") from err

    @staticmethod
    def _take_next_port(txn: _Transaction, what: str = "a nodePort") -> int:
        try:
            return txn.take_port()
        except AllocationError as err:
            raise ServiceAllocationError("spec.ports", f"failed to allocate {what}: {err}", internal=True) from err

    def _allocate_node_ports_for_create(self, spec: dict[str, Any], txn: _Transaction) -> None:
        """Upstream initNodePorts: entries with the same port number share a nodePort."""
        ports = spec.get("ports") or []
        auto = _allocates_node_ports(spec)
        by_service_port: dict[Any, int] = {}
        for i, port in enumerate(ports):
            requested = port.get("nodePort") or 0
            if not requested and not auto:
                continue
            shared = by_service_port.get(port.get("port"))
            path = f"spec.ports[{i}].nodePort"
            if shared is None:
                wanted = requested or next(
                    (p.get("nodePort") for p in ports[i:] if p.get("port") == port.get("port") and p.get("nodePort")), 0
                )
                if wanted:
                    self._take_requested_port(txn, wanted, path)
                else:
                    wanted = self._take_next_port(txn)
                port["nodePort"] = by_service_port[port.get("port")] = wanted
            elif not requested:
                port["nodePort"] = shared
            elif requested != shared:
                self._take_requested_port(txn, requested, path)

    def _update_node_ports(self, spec: dict[str, Any], old_spec: dict[str, Any], txn: _Transaction) -> None:
        """Upstream updateNodePorts: keep old ones, take new ones, release the rest."""
        old_numbers = set(_node_ports_of(old_spec))
        if _needs_node_ports(spec):
            auto = _allocates_node_ports(spec)
            taken_now: set[int] = set()
            seen: set[tuple[str, int]] = set()
            for i, port in enumerate(spec.get("ports") or []):
                requested = port.get("nodePort") or 0
                if not requested and not auto:
                    continue
                if not requested:
                    requested = port["nodePort"] = self._take_next_port(txn)
                elif requested not in old_numbers and requested not in taken_now:
                    self._take_requested_port(txn, requested, f"spec.ports[{i}].nodePort")
                    taken_now.add(requested)
                key = (port.get("protocol") or "TCP", requested)
                if key in seen:
                    raise ServiceAllocationError(f"spec.ports[{i}].nodePort", f"Duplicate value: {requested}")
                seen.add(key)
        for number in old_numbers - set(_node_ports_of(spec)):
            txn.release_port_later(number)

    def _allocate_health_check_port(self, spec: dict[str, Any], txn: _Transaction) -> None:
        requested = spec.get("healthCheckNodePort") or 0
        if requested:
            self._take_requested_port(txn, requested, "spec.healthCheckNodePort")
        else:
            spec["healthCheckNodePort"] = self._take_next_port(txn, "a health check nodePort")

    def _update_health_check_port(self, spec: dict[str, Any], old_spec: dict[str, Any], txn: _Transaction) -> None:
        old_port = old_spec.get("healthCheckNodePort") or 0
        keep = (
            _needs_health_check_port(spec)
            and _needs_health_check_port(old_spec)
            and spec.get("healthCheckNodePort") == old_port
        )
        if _needs_health_check_port(spec) and not keep:
            self._allocate_health_check_port(spec, txn)
        if old_port and not keep:
            txn.release_port_later(old_port)


def _patch_allocated_values(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Carry allocated values the update left out over from the old Service (upstream)."""
    if _needs_cluster_ip(old_spec) and _needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if _needs_node_ports(old_spec) and _needs_node_ports(spec):
        # A nodePort still used by another port of the update cannot be patched in.
        used = set(_node_ports_of(old_spec)) & set(_node_ports_of(spec))
        by_name = {p.get("name", ""): p.get("nodePort") or 0 for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            old_value = by_name.get(port.get("name", ""), 0)
            if not port.get("nodePort") and old_value and old_value not in used:
                port["nodePort"] = old_value
    if _needs_health_check_port(old_spec) and _needs_health_check_port(spec):
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _drop_type_dependent_fields(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Clear fields the new type cannot have when the update left them unchanged."""

    def drop_if_unchanged(field: str) -> None:
        if field in spec and spec.get(field) == old_spec.get(field):
            del spec[field]

    if not _needs_cluster_ip(spec) and _needs_cluster_ip(old_spec):
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            drop_if_unchanged(field)
    if not _needs_node_ports(spec) and _needs_node_ports(old_spec):
        old_numbers = set(_node_ports_of(old_spec))
        for port in spec.get("ports") or []:
            if port.get("nodePort") in old_numbers:
                del port["nodePort"]
    if not _needs_health_check_port(spec) and _needs_health_check_port(old_spec):
        drop_if_unchanged("healthCheckNodePort")
    if not _externally_accessible(spec) and _externally_accessible(old_spec):
        drop_if_unchanged("externalTrafficPolicy")
    if spec.get("type") != _LOAD_BALANCER and old_spec.get("type") == _LOAD_BALANCER:
        drop_if_unchanged("allocateLoadBalancerNodePorts")
