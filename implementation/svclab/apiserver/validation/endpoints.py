"""Endpoints (core/v1) and EndpointSlice (discovery.k8s.io/v1) validation.

Endpoints, as upstream's ``validateEndpointSubsets``: each subset needs an
address (ready or not); every address IP is a valid, canonical IP that is not
unspecified, loopback, link-local or link-local multicast; hostnames are
DNS-1123 labels; ports need a name when a subset has several, a number in
1-65535 and a supported protocol.

EndpointSlices, as ``pkg/apis/discovery/validation``: a supported address type
(immutable on update), at most 1000 endpoints with 1 to 100 addresses each that
fit the address type, at most 20000 ports with unique DNS-1123 names (empty
allowed) and a protocol. Upstream does not range-check slice port numbers.
"""

from __future__ import annotations

from typing import Any

from svclab.apimachinery.validation import is_dns1123_label, is_label_value

from .access import child, index, key, mapping, number, objects, seq, text
from .errors import FieldError, duplicate, invalid, not_supported, required, too_many
from .formats import (
    is_fully_qualified_domain_name,
    is_port_num,
    is_valid_ip,
    is_valid_ipv4_address,
    is_valid_ipv6_address,
    name_is_dns_subdomain,
    validate_app_protocol,
    validate_non_special_ip,
    validate_port_name,
    validate_protocol,
)
from .meta import validate_immutable, validate_labels, validate_object_meta

__all__ = ["validate_endpoint_slice", "validate_endpoint_slice_update", "validate_endpoints"]

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_TOPOLOGY_LABELS = 16
MAX_ZONE_HINTS = 8
ZONE_LABEL = "topology.kubernetes.io/zone"


def _validate_endpoint_address(address: dict[str, Any], path: str) -> list[FieldError]:
    ip_path = child(path, "ip")
    ip = text(address, "ip")
    errs = is_valid_ip(ip_path, ip)
    hostname = text(address, "hostname")
    if hostname:
        errs += [invalid(child(path, "hostname"), hostname, msg) for msg in is_dns1123_label(hostname)]
    node_name = address.get("nodeName")
    if isinstance(node_name, str):
        errs += [invalid(child(path, "nodeName"), node_name, msg) for msg in name_is_dns_subdomain(node_name, False)]
    return errs + validate_non_special_ip(ip, ip_path)


def _validate_endpoint_port(port: dict[str, Any], require_name: bool, path: str) -> list[FieldError]:
    errs = validate_port_name(port, require_name, path)
    port_number = number(port, "port") or 0
    errs += [invalid(child(path, "port"), port_number, msg) for msg in is_port_num(port_number)]
    return errs + validate_protocol(port, path) + validate_app_protocol(port, path)


def validate_endpoints(endpoints: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateEndpoints`` (create and update). Side-effect-free."""
    errs = validate_object_meta(mapping(endpoints, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)
    for i, subset in enumerate(objects(endpoints, "subsets")):
        path = index("subsets", i)
        ready, not_ready = objects(subset, "addresses"), objects(subset, "notReadyAddresses")
        if not ready and not not_ready:
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(ready):
            errs += _validate_endpoint_address(address, index(child(path, "addresses"), j))
        for j, address in enumerate(not_ready):
            errs += _validate_endpoint_address(address, index(child(path, "notReadyAddresses"), j))
        ports = objects(subset, "ports")
        for j, port in enumerate(ports):
            errs += _validate_endpoint_port(port, len(ports) > 1, index(child(path, "ports"), j))
    return errs


def _validate_slice_address(address: str, address_type: str, path: str) -> list[FieldError]:
    # Unknown address types fall through unvalidated, as upstream's switch does.
    if address_type == "IPv4":
        return is_valid_ipv4_address(path, address) + validate_non_special_ip(address, path)
    if address_type == "IPv6":
        return is_valid_ipv6_address(path, address) + validate_non_special_ip(address, path)
    if address_type == "FQDN":
        return is_fully_qualified_domain_name(path, address)
    return []


def _validate_hints(hints: dict[str, Any], path: str) -> list[FieldError]:
    zones_path = child(path, "forZones")
    zones = objects(hints, "forZones")
    if len(zones) > MAX_ZONE_HINTS:
        return [too_many(zones_path, len(zones), MAX_ZONE_HINTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        zone_path = child(index(zones_path, i), "name")
        name = text(zone, "name")
        if name in seen:
            errs.append(duplicate(zone_path, name))
        seen.add(name)
        errs += [invalid(zone_path, name, msg) for msg in is_label_value(name)]
    return errs


def _validate_slice_endpoint(endpoint: dict[str, Any], address_type: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    addresses_path = child(path, "addresses")
    addresses = seq(endpoint, "addresses")
    if not addresses:
        errs.append(required(addresses_path, "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        errs.append(too_many(addresses_path, len(addresses), MAX_ADDRESSES))
    for i, address in enumerate(addresses):
        errs += _validate_slice_address(str(address), address_type, index(addresses_path, i))
    node_name = endpoint.get("nodeName")
    if isinstance(node_name, str):
        errs += [invalid(child(path, "nodeName"), node_name, msg) for msg in name_is_dns_subdomain(node_name, False)]
    topology_path = child(path, "deprecatedTopology")
    topology = mapping(endpoint, "deprecatedTopology")
    if len(topology) > MAX_TOPOLOGY_LABELS:
        errs.append(too_many(topology_path, len(topology), MAX_TOPOLOGY_LABELS))
    errs += validate_labels(topology, topology_path)
    if ZONE_LABEL in topology:
        # Upstream reports an internal error here; the zone belongs in endpoints[].zone.
        errs.append(
            invalid(key(topology_path, ZONE_LABEL), topology[ZONE_LABEL], "reserved key was not removed in conversion")
        )
    hostname = endpoint.get("hostname")
    if isinstance(hostname, str):
        errs += [invalid(child(path, "hostname"), hostname, msg) for msg in is_dns1123_label(hostname)]
    if isinstance(endpoint.get("hints"), dict):
        errs += _validate_hints(mapping(endpoint, "hints"), child(path, "hints"))
    return errs


def _validate_slice_ports(ports: list[dict[str, Any]]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        path = index("ports", i)
        name = text(port, "name")
        if name:
            errs += [invalid(child(path, "name"), name, msg) for msg in is_dns1123_label(name)]
        if name in names:
            errs.append(duplicate(child(path, "name"), name))
        names.add(name)
        errs += validate_protocol(port, path) + validate_app_protocol(port, path)
    return errs


def validate_endpoint_slice(endpoint_slice: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateEndpointSlice``. Side-effect-free."""
    errs = validate_object_meta(mapping(endpoint_slice, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)
    address_type = text(endpoint_slice, "addressType")
    if not address_type:
        errs.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
    endpoints = objects(endpoint_slice, "endpoints")
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    else:
        for i, endpoint in enumerate(endpoints):
            errs += _validate_slice_endpoint(endpoint, address_type, index("endpoints", i))
    return errs + _validate_slice_ports(objects(endpoint_slice, "ports"))


def validate_endpoint_slice_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateEndpointSliceUpdate``: the slice is valid and its address type unchanged."""
    errs = validate_endpoint_slice(new)
    return errs + validate_immutable(text(new, "addressType"), text(old, "addressType"), "addressType")
