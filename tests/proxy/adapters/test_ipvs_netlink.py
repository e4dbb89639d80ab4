"""The IPVS adapter's netlink requests, as built for pyroute2 (no kernel needed).

Address plan: virtual servers 10.96.0.10:53 (IPv4) and [fd00:10:96::a]:53 (IPv6).
"""

from __future__ import annotations

import socket
import struct

import pytest

from svclab.proxy.adapters.ipvs_netlink import VirtualServer, _service_request
from svclab.proxy.service_port import Protocol


def attrs(vs: VirtualServer, *, with_settings: bool) -> dict[str, object]:
    return dict(_service_request(vs, with_settings=with_settings).dump_nla()["attrs"])


def test_an_ipv6_virtual_server_is_sent_with_a_128_bit_prefix() -> None:
    """The kernel refuses an IPv6 service whose netmask is not a prefix length 1..128 (EINVAL, seen
    in the UML guest); it reads the four bytes in host order, as ipvsadm writes them."""
    sent = attrs(VirtualServer("fd00:10:96::a", 53, Protocol.UDP), with_settings=True)
    assert sent["IPVS_SVC_ATTR_AF"] == socket.AF_INET6
    netmask = sent["IPVS_SVC_ATTR_NETMASK"]
    assert isinstance(netmask, str)
    assert struct.unpack("=I", socket.inet_aton(netmask)) == (128,)


@pytest.mark.parametrize("with_settings", [True, False])
def test_an_ipv4_virtual_server_keeps_its_host_netmask(with_settings: bool) -> None:
    sent = attrs(VirtualServer("10.96.0.10", 53, Protocol.UDP), with_settings=with_settings)
    assert sent["IPVS_SVC_ATTR_AF"] == socket.AF_INET
    assert sent["IPVS_SVC_ATTR_NETMASK"] == "255.255.255.255"
