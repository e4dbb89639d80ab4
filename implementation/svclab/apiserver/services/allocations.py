"""Allocation transactions: a Service's ClusterIP and NodePorts taken and released all-or-nothing.

Upstream's Service REST storage (``pkg/registry/core/service/storage``): what a
create allocates, what an update keeps, takes and releases ("patch-through" of
allocated values the update left out included), what a delete gives back.
Failures raise :class:`ServiceAllocationError` carrying the field path and
message that upstream puts into its 422 ``Invalid`` Status (or, for an
exhausted range, its 500 ``InternalError``).
"""

from __future__ import annotations

import copy
import ipaddress
import random
from collections.abc import Iterable, Sequence
from typing import Any

from ..validation.errors import FieldError
from .allocators import DEFAULT_NODE_PORT_RANGE, AllocationError, IPAllocator, PortAllocator
from .families import family_of, init_ip_family_fields, is_matching_prefer_dual_stack
from .spec import (
    HEADLESS,
    LOAD_BALANCER,
    Service,
    allocates_node_ports,
    externally_accessible,
    needs_cluster_ip,
    needs_health_check_port,
    needs_node_ports,
    node_ports_of,
    normalize_cluster_ips,
    real_ips,
)

__all__ = ["ServiceAllocationError", "ServiceAllocations", "carry_over_allocated_values", "parse_service_cidrs"]


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


def carry_over_allocated_values(new: Service, old: Service) -> Service:
    """``new`` with what an update may leave out taken from ``old`` (ClusterIPs,
    nodePorts by port name, healthCheckNodePort), as upstream does before it
    validates an update. Side-effect free; ``prepare_update`` applies it too."""
    out = copy.deepcopy(new)
    spec = out.setdefault("spec", {})
    old_spec = old.get("spec") or {}
    _patch_allocated_values(spec, old_spec)
    _drop_type_dependent_fields(spec, old_spec)
    normalize_cluster_ips(spec)
    return out


class _Transaction:
    """Allocations made so far (undone on failure) and releases deferred to commit."""

    def __init__(self, ips: dict[str, IPAllocator], ports: PortAllocator) -> None:
        self.ips, self.ports = ips, ports
        self._taken_ips: list[str] = []
        self._taken_ports: list[int] = []
        self._release_ips: list[str] = []
        self._release_ports: list[int] = []

    def take_ip(self, family: str, ip: str = "") -> str:
        """Take ``ip`` (or, when empty, the next free one) from ``family``'s range."""
        allocator = self.ips[family]
        if ip:
            allocator.allocate(ip)
        else:
            ip = allocator.allocate_next()
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

    def _release_ip(self, ip: str) -> None:
        # An IP of a family the cluster no longer has is left alone (upstream logs it).
        allocator = self.ips.get(family_of(ip))
        if allocator is not None:
            allocator.release(ip)

    def rollback(self) -> None:
        for ip in self._taken_ips:
            self._release_ip(ip)
        for port in self._taken_ports:
            self.ports.release(port)

    def commit(self) -> None:
        for ip in self._release_ips:
            self._release_ip(ip)
        for port in self._release_ports:
            self.ports.release(port)


def parse_service_cidrs(service_cidrs: str | Sequence[str]) -> list[str]:
    """``--service-cluster-ip-range``: one CIDR, or two of different families (primary
    first), comma-separated or as a list. Raises ValueError naming the problem."""
    cidrs = service_cidrs.split(",") if isinstance(service_cidrs, str) else list(service_cidrs)
    cidrs = [c.strip() for c in cidrs if c.strip()]
    if not 1 <= len(cidrs) <= 2:
        raise ValueError(f"service CIDRs {service_cidrs!r}: give one CIDR or two of different IP families")
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    if len(networks) == 2 and networks[0].version == networks[1].version:
        raise ValueError(f"service CIDRs {service_cidrs!r}: a dual-stack pair needs one IPv4 and one IPv6 CIDR")
    return [str(n) for n in networks]


class ServiceAllocations:
    """The ClusterIP and NodePort bitmaps of one API server, with Service transactions.

    Every ``prepare_*`` call is all-or-nothing: on ServiceAllocationError nothing it
    took stays allocated and nothing it would release is released. Not thread-safe:
    the caller serialises writes (the server holds its storage lock around them).
    """

    def __init__(
        self,
        service_cidrs: str | Sequence[str],
        node_port_range: str = DEFAULT_NODE_PORT_RANGE,
        *,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.Random()
        allocators = [IPAllocator(cidr, rng=rng) for cidr in parse_service_cidrs(service_cidrs)]
        self.ips_by_family = {family_of(str(a.network.network_address)): a for a in allocators}
        self.families: tuple[str, ...] = tuple(self.ips_by_family)  # primary first
        self.ips = allocators[0]  # the primary family's range
        self.ports = PortAllocator(node_port_range, rng=rng)

    def init_ip_family_fields(self, new: Service, old: Service | None) -> list[FieldError]:
        """Fill in ``new``'s ipFamilyPolicy / ipFamilies for this cluster's families
        (upstream ``initIPFamilyFields``, see :mod:`.families`); returns field errors.
        Mutates ``new``; run it before validation, as upstream allocates before it."""
        spec = new.setdefault("spec", {})
        old_spec = (old.get("spec") or {}) if old is not None else None
        return init_ip_family_fields(spec, old_spec, self.families)

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
            for ip in real_ips(spec) if needs_cluster_ip(spec) else []:
                allocator = self.ips_by_family.get(family_of(ip))
                try:
                    if allocator is None:
                        raise AllocationError(f"{family_of(ip)} is not configured on this cluster")
                    allocator.allocate(ip)
                except AllocationError as err:
                    problems.append(f"service {who}: cluster IP {ip}: {err}")
            ports = set(node_ports_of(spec))
            if spec.get("healthCheckNodePort"):
                ports.add(spec["healthCheckNodePort"])
            for port in sorted(ports):
                try:
                    self.ports.allocate(port)
                except AllocationError as err:
                    problems.append(f"service {who}: node port {port}: {err}")
        return problems

    def prepare_create(self, svc: Service, *, dry_run: bool = False) -> Service:
        """Allocate for a new (already defaulted) Service; returns the completed copy.

        ``dry_run``: values are chosen and checked as for real, then given back
        (upstream's dry-run allocators), so nothing stays taken.
        """
        out = copy.deepcopy(svc)
        spec = out.setdefault("spec", {})
        txn = _Transaction(self.ips_by_family, self.ports)
        try:
            if needs_cluster_ip(spec):
                self._allocate_cluster_ip(spec, txn)
            if needs_node_ports(spec):
                self._allocate_node_ports_for_create(spec, txn)
            if needs_health_check_port(spec):
                self._allocate_health_check_port(spec, txn)
        except BaseException:
            txn.rollback()
            raise
        txn.rollback() if dry_run else txn.commit()
        return out

    def prepare_update(self, new: Service, old: Service, *, dry_run: bool = False) -> Service:
        """Allocate and release for an update of ``old`` to (defaulted) ``new``.

        Values the update left out are carried over from ``old`` as upstream does
        (ClusterIPs; nodePorts matched by port name; healthCheckNodePort), and fields
        a type change makes meaningless are dropped when they were left unchanged.
        Returns the completed copy of ``new``.
        """
        out = carry_over_allocated_values(new, old)
        spec = out["spec"]
        old_spec = old.get("spec") or {}
        txn = _Transaction(self.ips_by_family, self.ports)
        try:
            self._update_cluster_ip(spec, old_spec, txn)
            self._update_node_ports(spec, old_spec, txn)
            self._update_health_check_port(spec, old_spec, txn)
        except BaseException:
            txn.rollback()
            raise
        txn.rollback() if dry_run else txn.commit()
        return out

    def release(self, svc: Service) -> None:
        """Give back everything a deleted Service held."""
        spec = svc.get("spec") or {}
        if needs_cluster_ip(spec):
            for ip in real_ips(spec):
                allocator = self.ips_by_family.get(family_of(ip))
                if allocator is not None:  # a family no longer configured: nothing to give back
                    allocator.release(ip)
        for port in node_ports_of(spec):
            self.ports.release(port)
        if spec.get("healthCheckNodePort"):
            self.ports.release(spec["healthCheckNodePort"])

    # --- ClusterIP ---------------------------------------------------------------

    def _families_of(self, spec: dict[str, Any]) -> list[str]:
        # Services that skipped init_ip_family_fields (direct callers) get the primary family.
        return list(spec.get("ipFamilies") or []) or [self.families[0]]

    @staticmethod
    def _take_cluster_ip(txn: _Transaction, family: str, ip: str, shown: list[str]) -> str:
        try:
            return txn.take_ip(family, ip)
        except KeyError as err:
            raise ServiceAllocationError(
                "spec.ipFamilies", f'Invalid value: "{family}": not configured on this cluster'
            ) from err
        except AllocationError as err:
            if not ip:
                raise ServiceAllocationError(
                    "spec.clusterIPs", f"failed to allocate a serviceIP: {err}", internal=True
                ) from err
            raise ServiceAllocationError(
                "spec.clusterIPs", f"Invalid value: {_go_strings(shown)}: failed to allocate IP {ip}: {err}"
            ) from err

    def _allocate_cluster_ip(self, spec: dict[str, Any], txn: _Transaction) -> None:
        """Upstream allocClusterIPs: one IP per family, requested ones taken as given."""
        if spec.get("clusterIP") == HEADLESS or (spec.get("clusterIPs") or [""])[0] == HEADLESS:
            spec["clusterIP"], spec["clusterIPs"] = HEADLESS, [HEADLESS]
            return
        families = self._families_of(spec)
        ips = [ip or "" for ip in spec.get("clusterIPs") or []]
        if len(ips) > len(families):
            raise ServiceAllocationError(
                "spec.clusterIPs",
                f"Invalid value: {_go_strings(ips)}: this cluster has a single service IP family; "
                "at most one IP may be requested",
            )
        ips += [""] * (len(families) - len(ips))  # markers: allocate the next free IP
        shown = list(ips)
        for i, family in enumerate(families):
            ips[i] = self._take_cluster_ip(txn, family, ips[i], shown)
        spec["clusterIP"], spec["clusterIPs"] = ips[0], ips

    def _update_cluster_ip(self, spec: dict[str, Any], old_spec: dict[str, Any], txn: _Transaction) -> None:
        """Upstream updateClusterIPs: type changes, then upgrade (take the secondary IP)
        or downgrade (give it back at commit)."""
        if is_matching_prefer_dual_stack(spec, old_spec):
            return
        needed_before, needed_now = needs_cluster_ip(old_spec), needs_cluster_ip(spec)
        if needed_now and not needed_before:
            self._allocate_cluster_ip(spec, txn)
            return
        if (old_spec.get("clusterIPs") or [""])[0] == HEADLESS:
            return
        if needed_before and not needed_now:
            for ip in real_ips(old_spec):
                txn.release_ip_later(ip)
            return
        if not needed_now:
            return
        old_ips = old_spec.get("clusterIPs") or [old_spec.get("clusterIP") or ""]
        new_ips = list(spec.get("clusterIPs") or [])
        if new_ips[:1] != old_ips[:1] or spec.get("clusterIP") != old_ips[0]:
            raise ServiceAllocationError(
                "spec.clusterIPs[0]", f"Invalid value: {_go_strings(new_ips)}: may not change once set"
            )
        old_families, families = old_spec.get("ipFamilies") or [], self._families_of(spec)
        if len(old_families) == 1 and len(families) == 2:
            new_ips += [""] * (2 - len(new_ips))
            new_ips[1] = self._take_cluster_ip(txn, families[1], new_ips[1], new_ips)
            spec["clusterIPs"] = new_ips
        elif len(old_families) == 2 and len(families) == 1 and len(old_ips) > 1:
            txn.release_ip_later(old_ips[1])

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
        auto = allocates_node_ports(spec)
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
        old_numbers = set(node_ports_of(old_spec))
        if needs_node_ports(spec):
            auto = allocates_node_ports(spec)
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
        for number in old_numbers - set(node_ports_of(spec)):
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
            needs_health_check_port(spec)
            and needs_health_check_port(old_spec)
            and spec.get("healthCheckNodePort") == old_port
        )
        if needs_health_check_port(spec) and not keep:
            self._allocate_health_check_port(spec, txn)
        if old_port and not keep:
            txn.release_port_later(old_port)


def _patch_allocated_values(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Carry allocated values the update left out over from the old Service (upstream)."""
    if needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old_spec) and needs_node_ports(spec):
        # A nodePort still used by another port of the update cannot be patched in.
        used = set(node_ports_of(old_spec)) & set(node_ports_of(spec))
        by_name = {p.get("name", ""): p.get("nodePort") or 0 for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            old_value = by_name.get(port.get("name", ""), 0)
            if not port.get("nodePort") and old_value and old_value not in used:
                port["nodePort"] = old_value
    if needs_health_check_port(old_spec) and needs_health_check_port(spec):
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _drop_type_dependent_fields(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Clear fields the new type cannot have when the update left them unchanged."""

    def drop_if_unchanged(field: str) -> None:
        if field in spec and spec.get(field) == old_spec.get(field):
            del spec[field]

    if not needs_cluster_ip(spec) and needs_cluster_ip(old_spec):
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            drop_if_unchanged(field)
    if not needs_node_ports(spec) and needs_node_ports(old_spec):
        old_numbers = set(node_ports_of(old_spec))
        for port in spec.get("ports") or []:
            if port.get("nodePort") in old_numbers:
                del port["nodePort"]
    if not needs_health_check_port(spec) and needs_health_check_port(old_spec):
        drop_if_unchanged("healthCheckNodePort")
    if not externally_accessible(spec) and externally_accessible(old_spec):
        drop_if_unchanged("externalTrafficPolicy")
    if spec.get("type") != LOAD_BALANCER and old_spec.get("type") == LOAD_BALANCER:
        drop_if_unchanged("allocateLoadBalancerNodePorts")
