"""Sloppy IP parsing as ``k8s.io/utils/net`` (its ``ParseIPSloppy`` / ``IsIPv6String`` cases)."""

from __future__ import annotations

import pytest

from svclab.apimachinery.netutils import is_ipv6_string, parse_ip_sloppy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("01.2.3.4", "1.2.3.4"),  # leading zeros are decimal, not octal
        ("010.002.003.004", "10.2.3.4"),
        ("2000::4", "2000::4"),
        ("02000::4", "2000::4"),  # a group of 5 digits whose value fits 16 bits
        ("1234::5678:0000:0000:9abc:def0", "1234::5678:0:0:9abc:def0"),
        ("::ffff:01.2.3.4", "::ffff:102:304"),
        ("256.1.1.1", None),
        ("1.2.3", None),
        ("fe80::1%eth0", None),
        ("10000::1", None),  # 0x10000 does not fit a group
        ("", None),
        ("None", None),
    ],
)
def test_parse_ip_sloppy(text: str, expected: str | None) -> None:
    got = parse_ip_sloppy(text)
    assert (str(got) if got is not None else None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2000::4", True), ("02000::4", True), ("1.2.3.4", False), ("::ffff:1.2.3.4", False), ("nonsense", False)],
)
def test_is_ipv6_string(text: str, expected: bool) -> None:
    assert is_ipv6_string(text) is expected
