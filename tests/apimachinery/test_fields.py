"""Field selectors: grammar, escapes, canonical form and matching a field set.

Vectors marked "upstream" are the cases of k8s.io/apimachinery
fields/selector_test.go with their expected results. Each kind's selectable
fields are the API server's and are tested in tests/apiserver/test_selectable.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apimachinery.fields import FieldSelector, format_field_value, parse_field_selector, read_field
from svclab.apimachinery.selection import SelectorError

BAD_FIELD_SELECTORS = [
    # upstream fields/selector_test.go bad strings, with the fields we support
    ("metadata.name=a||y=b", "invalid field selector: unescaped character in value: 61"),
    ("metadata.name==a==b", "invalid field selector: unescaped character in value: 61"),
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
    ("metadata.name=a\\b", "invalid field selector: invalid escape sequence: \\b"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FIELD_SELECTORS, ids=[c[0] for c in BAD_FIELD_SELECTORS])
def test_bad_field_selector(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("metadata.name=b,metadata.namespace=a", "metadata.name=b,metadata.namespace=a"),
        ("status.phase!=Failed,metadata.name==x", "metadata.name=x,status.phase!=Failed"),
        ("metadata.name=a\\,b\\=c\\\\", "metadata.name=a\\,b\\=c\\\\"),
        (",metadata.name=x,", "metadata.name=x"),
    ],
    ids=["sorted", "double-equals-canonical", "escapes-round-trip", "empty-terms-skipped"],
)
def test_field_selector_canonical_form(text: str, canonical: str) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert parse_field_selector(str(selector)) == selector


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("metadata.name=web", "web"),
        ("metadata.namespace=ns,metadata.name=web", "web"),
        ("metadata.name!=web", None),
        ("spec.nodeName=n1", None),
        ("", None),
    ],
    ids=["name", "name-and-namespace", "negated", "other-field", "empty"],
)
def test_requires_exact_match_of_the_name(text: str, name: str | None) -> None:
    assert parse_field_selector(text).requires_exact_match("metadata.name") == name


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a=1", {"a": "2"}, False),
        ("a!=1", {"a": "2"}, True),
        ("a=", {}, True),  # a field the set lacks reads as ""
        ("a!=", {}, False),
        ("a=1,b=2", {"a": "1", "b": "2"}, True),
        ("a=1,b=2", {"a": "1", "b": "3"}, False),
    ],
)
def test_matching_a_field_set(text: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(text).matches(fields) is expected


def test_any_field_name_parses_and_transform_renames_or_refuses() -> None:
    selector = parse_field_selector("spec.host=n1,anything.at.all!=x")
    assert selector.fields == ("anything.at.all", "spec.host")

    def rename(field: str, value: str) -> tuple[str, str]:
        if field == "anything.at.all":
            raise SelectorError(f"field label not supported: {field}")
        return "spec.nodeName", value

    assert str(parse_field_selector("spec.host=n1").transform(rename)) == "spec.nodeName=n1"
    with pytest.raises(SelectorError, match="not supported"):
        selector.transform(rename)
    assert FieldSelector().empty


@pytest.mark.parametrize(
    ("obj", "path", "text"),
    [
        ({"spec": {"nodeName": "n1"}}, "spec.nodeName", "n1"),
        ({"spec": {}}, "spec.nodeName", ""),
        ({"spec": "scalar"}, "spec.nodeName", ""),
        ({"spec": {"hostNetwork": True}}, "spec.hostNetwork", "true"),
        ({"spec": {"hostNetwork": False}}, "spec.hostNetwork", "false"),
        ({"status": {"count": 3}}, "status.count", "3"),
    ],
    ids=["string", "missing", "through-a-scalar", "true", "false", "number"],
)
def test_read_field_formats_like_go(obj: dict[str, Any], path: str, text: str) -> None:
    assert read_field(obj, path) == text
    assert format_field_value(None) == ""
