"""Well-known names the controllers read and write, and the values they carry.

Label and annotation keys (``k8s.io/api`` core/v1 and discovery/v1
constants), the managed-by values of the two slice-writing controllers, the
EndpointSlice address types, and the two value formats those keys need: the
address type of an IP and the trigger-time annotation's RFC3339Nano text.
Everything here is a constant or a side-effect-free function.
"""

from __future__ import annotations

import datetime
import ipaddress
from enum import StrEnum

from svclab.apimachinery.netutils import is_ipv6_string, parse_ip_sloppy

__all__ = [
    "ANNOTATION_LAST_APPLIED",
    "ANNOTATION_LAST_CHANGE_TRIGGER_TIME",
    "ANNOTATION_LEADER",
    "ANNOTATION_OVER_CAPACITY",
    "AddressType",
    "CLUSTER_IP_NONE",
    "ControllerName",
    "LABEL_HEADLESS",
    "LABEL_MANAGED_BY",
    "LABEL_SERVICE_NAME",
    "LABEL_SKIP_MIRROR",
    "LABEL_ZONE",
    "address_type_of",
    "canonical_ip",
    "format_trigger_time",
]

# Label and annotation keys (k8s.io/api core/v1 and discovery/v1 constants).
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
ANNOTATION_LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
ANNOTATION_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Endpoints objects used as leader-election locks carry this; never mirrored.
ANNOTATION_LEADER = "control-plane.alpha.kubernetes.io/leader"
CLUSTER_IP_NONE = "None"


class ControllerName(StrEnum):
    """Values of the managed-by label, one per slice-writing controller."""

    ENDPOINTSLICE = "endpointslice-controller.k8s.io"
    MIRRORING = "endpointslicemirroring-controller.k8s.io"


class AddressType(StrEnum):
    """EndpointSlice address types the controllers produce."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


def address_type_of(ip: str) -> AddressType | None:
    """The address type of an IP string, ``None`` when it is not an IP.

    Read as upstream reads it (``netutils.IsIPv6String``, sloppy: ``01.2.3.4`` is
    IPv4, ``02000::4`` IPv6); an IPv4-mapped IPv6 address counts as IPv4.
    """
    parsed = parse_ip_sloppy(ip)
    if parsed is None:
        return None
    return AddressType.IPV6 if is_ipv6_string(ip) else AddressType.IPV4


def canonical_ip(ip: str) -> str | None:
    """``ParseIPSloppy(ip).String()``: the canonical text, None when not an IP."""
    parsed = parse_ip_sloppy(ip)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)  # Go prints a mapped address as IPv4
    return str(parsed) if parsed is not None else None


def format_trigger_time(moment: datetime.datetime) -> str:
    """Format like Go's ``time.RFC3339Nano`` in UTC (trailing zeros trimmed)."""
    moment = moment.astimezone(datetime.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += ("." + f"{moment.microsecond:06d}").rstrip("0")
    return text + "Z"
