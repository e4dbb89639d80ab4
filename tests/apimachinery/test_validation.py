"""Name and label formats, with upstream's messages (k8s.io/apimachinery util/validation tests).

The long messages are upstream's strings, written out once; the API server's
validation tests carry the same ones in tests/apiserver/validation_builders.py.
"""

from __future__ import annotations

import pytest

from svclab.apimachinery import validation

DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("a", []),
        ("my-name", []),
        ("123-abc", []),
        ("a" * 63, []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("Foo", [DNS1123_LABEL]),
        ("-a", [DNS1123_LABEL]),
        ("a_b", [DNS1123_LABEL]),
        ("", [DNS1123_LABEL]),
        ("a.b", ["must not contain dots"]),
    ],
)
def test_dns1123_label(value: str, errors: list[str]) -> None:
    assert validation.is_dns1123_label(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("example.com", []),
        ("a", []),
        ("a-b.c-d", []),
        ("Foo_Bar", [DNS1123_SUBDOMAIN]),
        ("a..b", [DNS1123_SUBDOMAIN]),
        ("a.", [DNS1123_SUBDOMAIN]),
        ("a" * 254, ["must be no more than 253 characters"]),
        ("A" * 254, ["must be no more than 253 characters", DNS1123_SUBDOMAIN]),
    ],
)
def test_dns1123_subdomain(value: str, errors: list[str]) -> None:
    assert validation.is_dns1123_subdomain(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("my-name", []),
        ("abc-123", []),
        ("1abc", [DNS1035_LABEL]),
        ("a.b", [DNS1035_LABEL]),
    ],
)
def test_dns1035_label(value: str, errors: list[str]) -> None:
    assert validation.is_dns1035_label(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("app", []),
        ("example.com/MyName", []),
        ("kubernetes.io/service-name", []),
        ("/name", ["prefix part must be non-empty"]),
        ("Example.com/name", ["prefix part " + DNS1123_SUBDOMAIN]),
        ("example.com/", ["name part must be non-empty", NAME_PART]),
        ("-bad", [NAME_PART]),
        (
            "a/b/c",
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')"
            ],
        ),
        ("x" * 64, ["name part must be no more than 63 characters"]),
    ],
)
def test_qualified_name(value: str, errors: list[str]) -> None:
    assert validation.is_qualified_name(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", []),
        ("MyValue", []),
        ("my_value", []),
        ("12345", []),
        ("a b", [LABEL_VALUE]),
        ("-a", [LABEL_VALUE]),
        ("v" * 64, ["must be no more than 63 characters"]),
    ],
)
def test_label_value(value: str, errors: list[str]) -> None:
    assert validation.is_label_value(value) == errors
