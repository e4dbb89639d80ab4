"""IP parsing as ``k8s.io/utils/net`` does it (``ParseIPSloppy``, ``IsIPv6String``).

Upstream parses IPs with a copy of Go 1.16's ``net.ParseIP``, which accepts what
later Go versions and Python refuse: IPv4 octets with leading zeros (``01.2.3.4``
is 1.2.3.4, decimal) and IPv6 groups with more than four digits as long as the
value fits 16 bits (``02000::4`` is 2000::4). Controllers meet such values in old
objects and must read them as upstream does; the endpoints controller also writes
them back canonical. Side-effect-free; no zones (``%eth0``), ASCII only.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_ipv6_string", "parse_ip_sloppy"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ipv4_octets(text: str) -> list[int] | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    octets = [int(p) for p in parts]
    return octets if all(o <= 255 for o in octets) else None


def _ipv6_canonical_text(text: str) -> str | None:
    """The address with over-long groups shortened (``0002000`` -> ``2000``)."""
    groups = text.split(":")
    tail = groups[-1]
    if "." in tail:  # an embedded IPv4 address, itself read sloppily
        octets = _ipv4_octets(tail)
        if octets is None:
            return None
        groups[-1] = ".".join(str(o) for o in octets)
        groups, last = groups[:-1], [groups[-1]]
    else:
        last = []
    fixed = []
    for group in groups:
        if len(group) > 4:
            try:
                value = int(group, 16)
            except ValueError:
                return None
            if value > 0xFFFF:
                return None
            group = f"{value:x}"
        fixed.append(group)
    return ":".join(fixed + last)


def parse_ip_sloppy(text: str) -> Address | None:
    """``netutils.ParseIPSloppy``: the address, or None when it is not one."""
    if not text.isascii() or "%" in text:
        return None
    if ":" not in text:
        octets = _ipv4_octets(text)
        return ipaddress.IPv4Address(".".join(map(str, octets))) if octets is not None else None
    canonical = _ipv6_canonical_text(text)
    if canonical is None:
        return None
    try:
        return ipaddress.IPv6Address(canonical)
    except ValueError:
        return None


def is_ipv6_string(text: str) -> bool:
    """``netutils.IsIPv6String``: an IPv6 address that is not IPv4-mapped."""
    ip = parse_ip_sloppy(text)
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None
