"""String formats of the Kubernetes API beyond names and labels: ports, IPs, CIDRs, FQDNs.

The ``is_*`` functions mirror apimachinery's ``k8s.io/apimachinery/pkg/util/validation``:
each returns the list of upstream's message strings for a bad value, empty when the
value is fine. Lengths are counted in bytes, as Go's ``len`` does, and patterns must
match the whole value. DNS names, label keys and label values are checked by
:mod:`svclab.apimachinery.validation`, which label selectors share; the object-name
rules built on them (generateName prefixes, path segments) live here.

IP parsing follows Go: the "sloppy" parser of ``k8s.io/utils/net`` accepts IPv4
octets with leading zeros, IPv6 groups with extra leading zeros (``fd00::00003``)
and IPv4-mapped IPv6 addresses, which strict validation then rejects with its
own messages. All functions are side-effect-free.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from svclab.apimachinery import netutils
from svclab.apimachinery.validation import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    max_len_error,
)

from .access import child, text
from .errors import FieldError, invalid, not_supported, required

__all__ = [
    "Address",
    "PROTOCOLS",
    "inclusive_range_error",
    "is_fully_qualified_domain_name",
    "is_port_name",
    "is_port_num",
    "is_valid_cidr",
    "is_valid_ip",
    "is_valid_ipv4_address",
    "is_valid_ipv6_address",
    "name_is_dns1035_label",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "parse_ip_sloppy",
    "validate_app_protocol",
    "validate_non_special_ip",
    "validate_path_segment_name",
    "validate_port_name",
    "validate_port_num_or_name",
    "validate_protocol",
]

NameFn = Callable[[str, bool], list[str]]
PROTOCOLS = ("SCTP", "TCP", "UDP")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def is_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of ``[-a-z0-9]``, at least one letter, no edge or double hyphen."""
    errs = []
    if len(port.encode()) > 15:
        errs.append(max_len_error(15))
    if re.fullmatch("[-a-z0-9]+", port) is None:
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if re.search("[a-z]", port) is None:
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def validate_port_num_or_name(port: object, path: str) -> list[FieldError]:
    """Upstream ``ValidatePortNumOrName`` for an IntOrString (JSON int or string)."""
    if isinstance(port, str):
        return [invalid(path, port, msg) for msg in is_port_name(port)]
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(path, port, msg) for msg in is_port_num(port)]
    return [invalid(path, port, "must be an integer or a string")]


def validate_port_name(port: dict[str, Any], required_name: bool, path: str) -> list[FieldError]:
    """A port's ``name``: a DNS-1123 label, and present when ``required_name`` (several ports)."""
    name = text(port, "name")
    if required_name and not name:
        return [required(child(path, "name"))]
    return [invalid(child(path, "name"), name, msg) for msg in is_dns1123_label(name)] if name else []


def validate_protocol(port: dict[str, Any], path: str) -> list[FieldError]:
    """A port's ``protocol`` (default TCP): one of :data:`PROTOCOLS`."""
    protocol = text(port, "protocol", "TCP")
    if not protocol:
        return [required(child(path, "protocol"))]
    if protocol not in PROTOCOLS:
        return [not_supported(child(path, "protocol"), protocol, PROTOCOLS)]
    return []


def validate_app_protocol(port: dict[str, Any], path: str) -> list[FieldError]:
    """A port's optional ``appProtocol``: a qualified name when it is a string."""
    app_protocol = port.get("appProtocol")
    if not isinstance(app_protocol, str):
        return []
    return [invalid(child(path, "appProtocol"), app_protocol, msg) for msg in is_qualified_name(app_protocol)]


def _mask_trailing_dash(name: str) -> str:
    # Upstream replaces the last two characters with "a" (sic) so a generateName
    # prefix ending in "-" can pass the name pattern.
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool) -> list[str]:
    """Upstream ``path.ValidatePathSegmentName``: what every name must allow in a URL."""
    errs = []
    if not prefix and name in (".", ".."):
        errs.append(f"may not be '{name}'")
    for bad in ("/", "%"):
        if bad in name:
            errs.append(f"may not contain '{bad}'")
    return errs


def is_fully_qualified_domain_name(path: str, name: str) -> list[FieldError]:
    """Upstream ``IsFullyQualifiedDomainName``: a subdomain of at least two labels, maybe dot-terminated."""
    if not name:
        return [required(path)]
    name = name.removesuffix(".")
    errs = is_dns1123_subdomain(name)
    if errs:
        return [invalid(path, name, ",".join(errs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in labels:
        errs = is_dns1123_label(label)
        if errs:
            return [invalid(path, label, ",".join(errs))]
    return []


# --- IP addresses ------------------------------------------------------------


def parse_ip_sloppy(value: str) -> Address | None:
    """Go's ``netutils.ParseIPSloppy``: leading zeros allowed in IPv4 octets and in
    IPv6 groups (any number, as long as a group fits 16 bits), no zones.

    The one parser of :mod:`svclab.apimachinery.netutils`: this module once had its
    own, which refused IPv6 groups of five or more digits that upstream reads.
    """
    return netutils.parse_ip_sloppy(value)


def _as_go_ip(ip: Address) -> Address:
    """Go treats an IPv4-mapped IPv6 address as the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _strict_ip_errors(path: str, value: str, ip: Address) -> list[FieldError]:
    errs = []
    if isinstance(ip, ipaddress.IPv4Address) and str(ip) != value:
        errs.append(invalid(path, value, "must not have leading 0s"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        errs.append(invalid(path, value, "must not be an IPv4-mapped IPv6 address"))
    return errs


def is_valid_ip(path: str, value: str) -> list[FieldError]:
    """Upstream ``IsValidIP``: a valid IP with no leading zeros, not IPv4-mapped, canonical."""
    ip = parse_ip_sloppy(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    errs = _strict_ip_errors(path, value, ip)
    if errs:
        return errs
    if str(ip) != value:
        errs.append(invalid(path, value, f'must be in canonical form ("{ip}")'))
    return errs


def is_valid_ipv4_address(path: str, value: str) -> list[FieldError]:
    ip = parse_ip_sloppy(value)
    if ip is None or not isinstance(_as_go_ip(ip), ipaddress.IPv4Address):
        return [invalid(path, value, "must be a valid IPv4 address")]
    return []


def is_valid_ipv6_address(path: str, value: str) -> list[FieldError]:
    ip = parse_ip_sloppy(value)
    if ip is None or isinstance(_as_go_ip(ip), ipaddress.IPv4Address):
        return [invalid(path, value, "must be a valid IPv6 address")]
    return []


def _is_link_local_multicast(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    packed = ip.packed
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02


def validate_non_special_ip(value: str, path: str) -> list[FieldError]:
    """Upstream ``ValidateNonSpecialIP`` / ``ValidateEndpointIP``: no unspecified,
    loopback, link-local or link-local multicast addresses."""
    parsed = parse_ip_sloppy(value)
    if parsed is None:
        return [invalid(path, value, "must be a valid IP address")]
    ip = _as_go_ip(parsed)
    errs = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if _is_link_local_multicast(ip):
        errs.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def is_valid_cidr(path: str, value: str) -> list[FieldError]:
    """Upstream ``IsValidCIDR``: a subnet with no leading zeros, no host bits, canonical."""
    bad = [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    address, slash, length = value.partition("/")
    ip = parse_ip_sloppy(address)
    if not slash or ip is None or not (length.isascii() and length.isdigit()):
        return bad
    max_bits = 32 if isinstance(ip, ipaddress.IPv4Address) else 128
    if int(length) > max_bits:
        return bad
    if _strict_ip_errors(path, address, ip) or (length != str(int(length))):
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return [invalid(path, value, "must not have an IPv4-mapped IPv6 address")]
        return [invalid(path, value, "must not have leading 0s in IP or prefix length")]
    network = ipaddress.ip_network(f"{ip}/{int(length)}", strict=False)
    if network.network_address != ip:
        return [invalid(path, value, "must not have bits set beyond the prefix length")]
    if str(network) != value:
        return [invalid(path, value, f'must be in canonical form ("{network}")')]
    return []
