"""Port, IP, CIDR and FQDN formats and object-name rules, with upstream's messages (util/validation tests).

DNS names, label keys and label values are tested with svclab.apimachinery, in tests/apimachinery.
"""

from __future__ import annotations

import pytest
from validation_builders import DNS1035_LABEL, DNS1123_SUBDOMAIN, rendered

from svclab.apiserver.validation import formats


def test_generate_name_prefix_may_end_in_a_dash() -> None:
    assert formats.name_is_dns1035_label("web-", True) == []
    assert formats.name_is_dns1035_label("web-", False) == [DNS1035_LABEL]


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("http", []),
        ("h-t-t-p", []),
        ("a1", []),
        ("1234", ["must contain at least one letter (a-z)"]),
        (
            "HTTP",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
        ("a--b", ["must not contain consecutive hyphens"]),
        ("-ab", ["must not begin or end with a hyphen"]),
        ("abcdefghijklmnop", ["must be no more than 15 characters"]),
    ],
)
def test_iana_svc_name(value: str, errors: list[str]) -> None:
    assert formats.is_port_name(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("10.9.8.7", []),
        ("2001:db8::ffff", []),
        ("1.2.3", ['p: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']),
        (
            "fe80::1%eth0",
            ['p: Invalid value: "fe80::1%eth0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
        ),
        ("010.001.002.003", ['p: Invalid value: "010.001.002.003": must not have leading 0s']),
        ("::ffff:1.2.3.4", ['p: Invalid value: "::ffff:1.2.3.4": must not be an IPv4-mapped IPv6 address']),
        ("2001:DB8::1", ['p: Invalid value: "2001:DB8::1": must be in canonical form ("2001:db8::1")']),
        (
            "2001:db8:0:0:0:0:0:1",
            ['p: Invalid value: "2001:db8:0:0:0:0:0:1": must be in canonical form ("2001:db8::1")'],
        ),
        # Go's sloppy parser reads IPv6 groups with extra leading zeros; strict validation
        # then asks for the canonical form instead of calling it no address (issue 18).
        ("fd00:10:96::0003", ['p: Invalid value: "fd00:10:96::0003": must be in canonical form ("fd00:10:96::3")']),
        ("fd00:10:96::00003", ['p: Invalid value: "fd00:10:96::00003": must be in canonical form ("fd00:10:96::3")']),
        (
            "fd00::10000",
            ['p: Invalid value: "fd00::10000": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
        ),
    ],
)
def test_is_valid_ip(value: str, errors: list[str]) -> None:
    assert rendered(formats.is_valid_ip("p", value)) == errors


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
        ("::", "may not be unspecified (::)"),
        ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        ("::1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        ("169.254.169.254", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        ("fe80::1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        ("224.0.0.1", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
        ("ff02::1", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
        ("bogus", "must be a valid IP address"),
    ],
)
def test_special_ips_are_rejected(value: str, detail: str) -> None:
    assert rendered(formats.validate_non_special_ip(value, "p")) == [f'p: Invalid value: "{value}": {detail}']


@pytest.mark.parametrize("value", ["10.244.1.5", "2001:db8::5", "224.0.1.1", "192.168.0.1"])
def test_ordinary_ips_are_not_special(value: str) -> None:
    assert formats.validate_non_special_ip(value, "p") == []


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("10.244.1.0/24", None),
        ("fd00:10:244::/64", None),
        ("10.244.1.0", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
        ("10.244.1.0/33", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
        ("10.244.1.1/24", "must not have bits set beyond the prefix length"),
        ("010.244.1.0/24", "must not have leading 0s in IP or prefix length"),
        ("10.244.1.0/024", "must not have leading 0s in IP or prefix length"),
        ("FD00::/64", 'must be in canonical form ("fd00::/64")'),
    ],
)
def test_is_valid_cidr(value: str, detail: str | None) -> None:
    expected = [] if detail is None else [f'p: Invalid value: "{value}": {detail}']
    assert rendered(formats.is_valid_cidr("p", value)) == expected


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("example.com", []),
        ("example.com.", []),
        ("", ["p: Required value"]),
        (
            "localhost",
            ['p: Invalid value: "localhost": should be a domain with at least two segments separated by dots'],
        ),
        ("Ex.com", [f'p: Invalid value: "Ex.com": {DNS1123_SUBDOMAIN}']),
    ],
)
def test_fqdn(value: str, errors: list[str]) -> None:
    assert rendered(formats.is_fully_qualified_domain_name("p", value)) == errors
