"""The userspace package's ``__all__`` is sorted, complete and importable; it imports no other mode."""

from __future__ import annotations

import ast
import random
import socket
from pathlib import Path

import pytest

import svclab.proxy.userspace as userspace
from svclab.proxy.userspace.proxier import PortAllocator, PortRangeExhausted, choose_host_ip

PACKAGE = Path(userspace.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    assert userspace.__all__ == sorted(userspace.__all__)
    for name in userspace.__all__:
        assert hasattr(userspace, name), name


def test_all_lists_every_public_import() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert imported == set(userspace.__all__)


@pytest.mark.parametrize("other", ["iptables", "nftables", "ipvs"])
def test_no_other_mode_is_imported(other: str) -> None:
    for source in PACKAGE.glob("*.py"):
        assert f"svclab.proxy.{other}" not in source.read_text(), source.name


def test_port_allocator_hands_out_each_port_of_the_range_once() -> None:
    ports = PortAllocator((40000, 40003), random.Random(7))
    taken = {ports.allocate_next() for _ in range(4)}
    assert taken == {40000, 40001, 40002, 40003}
    with pytest.raises(PortRangeExhausted):
        ports.allocate_next()
    ports.release(40002)
    assert ports.allocate_next() == 40002


def test_port_allocator_without_range_lets_the_kernel_choose() -> None:
    assert PortAllocator().allocate_next() == 0


def test_choose_host_ip_is_a_local_address_or_no_route() -> None:
    try:
        address = choose_host_ip()
    except OSError:  # no default route here: the proxier then needs host_ip
        return
    with socket.socket() as sock:
        sock.bind((address, 0))  # only a local address can be bound
