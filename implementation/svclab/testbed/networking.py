"""kind's ``networking`` section: the IP family and the pod / service subnets.

kind's own words, verbatim: ``ipFamily`` is ``ipv4`` (the default), ``ipv6`` or
``dual``; ``podSubnet`` and ``serviceSubnet`` are one CIDR of that family, or for
``dual`` two CIDRs, one per family, comma-separated with the primary first (as
kubeadm's ``--pod-network-cidr`` / ``--service-cluster-ip-range`` take them). When
a subnet is left out kind fills in its defaults for the family: ``10.244.0.0/16``
and ``10.96.0.0/16`` for IPv4, ``fd00:10:244::/56`` and ``fd00:10:96::/112`` for
IPv6, both joined for dual.

:func:`check_subnets` is side-effect-free: it returns the normalised subnet text
(``str(ip_network)`` per member, comma-joined) or the one line that says what is
wrong.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = [
    "IP_FAMILIES",
    "check_subnets",
    "default_subnets",
    "ipv4_member",
    "split_subnets",
]

IP_FAMILIES = ("ipv4", "ipv6", "dual")
# kind's defaults per ipFamily: (podSubnet, serviceSubnet)
_KIND_DEFAULTS = {
    "ipv4": ("10.244.0.0/16", "10.96.0.0/16"),
    "ipv6": ("fd00:10:244::/56", "fd00:10:96::/112"),
    "dual": ("10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/16,fd00:10:96::/112"),
}


def default_subnets(ip_family: str) -> tuple[str, str]:
    """kind's (podSubnet, serviceSubnet) for ``ip_family``."""
    return _KIND_DEFAULTS[ip_family]


def split_subnets(text: str) -> tuple[str, ...]:
    """``"10.244.0.0/16,fd00:10:244::/56"`` -> its members, primary first."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def ipv4_member(text: str) -> str | None:
    """The IPv4 member of a (possibly dual) subnet list, None when it has none."""
    for member in split_subnets(text):
        if ipaddress.ip_network(member, strict=False).version == 4:
            return member
    return None


def check_subnets(value: object, ip_family: str) -> tuple[str, str | None]:
    """Validate one podSubnet / serviceSubnet value for ``ip_family``.

    Returns ``(normalised text, None)`` or ``(the text as given, problem)``.
    """
    text = str(value)
    members = split_subnets(text)
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for member in members:
        try:
            networks.append(ipaddress.ip_network(member, strict=True))
        except ValueError:
            return text, f"{member!r} is not a CIDR like 10.244.0.0/16 or fd00:10:244::/56"
    versions = [n.version for n in networks]
    problem = _family_problem(versions, ip_family)
    if problem:
        return text, problem
    return ",".join(str(n) for n in networks), None


def _family_problem(versions: Sequence[int], ip_family: str) -> str | None:
    if ip_family == "dual":
        if len(versions) != 2 or set(versions) != {4, 6}:
            return "ipFamily dual needs two CIDRs, one IPv4 and one IPv6, comma-separated (primary first)"
        return None
    if len(versions) != 1:
        return f"ipFamily {ip_family} takes one CIDR (two, comma-separated, only with ipFamily: dual)"
    wanted = 4 if ip_family == "ipv4" else 6
    if versions[0] != wanted:
        return f"must be an IPv{wanted} CIDR for ipFamily {ip_family}"
    return None
