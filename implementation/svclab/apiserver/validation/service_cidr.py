"""ServiceCIDR validation (networking.k8s.io/v1), as upstream's ``ValidateServiceCIDR``.

Served so that kube-proxy from 1.33 on (MultiCIDRServiceAllocator on by
default) finds the ``kubernetes`` ServiceCIDR its informer lists (issue 19).
Rules: a DNS-1123 subdomain name; ``spec.cidrs`` holds one or two valid,
canonical CIDRs, and two only when they are of different IP families; on
update the CIDRs may not change, except that a single-family ServiceCIDR may
gain a CIDR of the other family (upstream's dual-stack upgrade).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .access import mapping
from .errors import FieldError, invalid, required
from .formats import is_valid_cidr, name_is_dns_subdomain
from .meta import validate_object_meta

__all__ = ["validate_service_cidr", "validate_service_cidr_update"]

_PATH = "spec.cidrs"


def _cidrs(obj: dict[str, Any]) -> list[Any]:
    cidrs = mapping(obj, "spec").get("cidrs")
    return list(cidrs) if isinstance(cidrs, list) else []


def _families(cidrs: list[Any]) -> set[int]:
    families: set[int] = set()
    for cidr in cidrs:
        try:
            families.add(ipaddress.ip_network(str(cidr), strict=False).version)
        except ValueError:
            families.add(0)  # unparsable: reported per CIDR
    return families


def validate_service_cidr(obj: dict[str, Any]) -> list[FieldError]:
    """Errors of a ServiceCIDR on create; empty when valid. Side-effect-free."""
    errs = validate_object_meta(
        mapping(obj, "metadata"), namespaced=False, name_fn=name_is_dns_subdomain, kube_finalizers=False
    )
    cidrs = _cidrs(obj)
    if not cidrs:
        return [*errs, required(_PATH, "at least one CIDR required")]
    if len(cidrs) > 2:
        return [*errs, invalid(_PATH, cidrs, "may only hold up to 2 values")]
    if len(cidrs) == 2 and _families(cidrs) != {4, 6}:
        detail = "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"
        return [*errs, invalid(_PATH, cidrs, detail)]
    for position, cidr in enumerate(cidrs):
        errs += is_valid_cidr(f"{_PATH}[{position}]", str(cidr))
    return errs


def validate_service_cidr_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Errors of replacing ``old`` by ``new`` (beyond ObjectMeta's rules). Side-effect-free."""
    errs = validate_service_cidr(new)
    before, after = _cidrs(old), _cidrs(new)
    upgraded = len(before) == 1 and len(after) == 2 and after[0] == before[0]
    if after != before and not upgraded:
        errs.append(invalid(_PATH, after, "field is immutable"))
    return errs
