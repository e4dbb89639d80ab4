"""Label selectors.

Vectors marked "upstream" are the cases of k8s.io/apimachinery
labels/selector_test.go (TestSelectorParse, TestSelectorMatches, TestToString,
TestSetSelectorParser), with their expected results.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apimachinery.labels import (
    LabelSelector,
    ValidatedSetSelector,
    label_selector_from_api,
    label_selector_from_map,
    parse_label_selector,
)
from svclab.apimachinery.selection import Operator, SelectorError

# --- label selectors: parsing --------------------------------------------------

# (selector text, canonical string) - upstream TestSetSelectorParser valid rows.
CANONICAL = [
    ("", ""),
    ("\rx", "x"),
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    (
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
    ),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x  notin\t\t(abc,def)", "x notin (abc,def)"),
    ("x in (abc,def)", "x in (abc,def)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in ()", "x in ()"),
    ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
    ("x,y in (a)", "x,y in (a)"),
    ("x=a", "x=a"),
    ("x>1", "x>1"),
    ("x<7", "x<7"),
    ("x=a,y!=b", "x=a,y!=b"),
    ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("a ", "a"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
    # upstream TestSelectorParse good strings
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("x!=a,y=b", "x!=a,y=b"),
    ("x=", "x="),
    ("x= ", "x="),
    ("x=,z= ", "x=,z="),
    ("x= ,z= ", "x=,z="),
    ("!x", "!x"),
    ("x>1,z<5", "x>1,z<5"),
    # upstream TestToString rows
    ("x in (abc,def),y notin (jkl),z", "x in (abc,def),y notin (jkl),z"),
    ("x notin (abc,def),y!=jkl,!z", "x notin (abc,def),y!=jkl,!z"),
    ("x notin (abc),y in (jkl,mno),z notin ()", "x notin (abc),y in (jkl,mno),z notin ()"),
    ("x=abc,y==jkl,z!=a,z", "x=abc,y==jkl,z!=a,z"),
    ("x>2,y<8,z", "x>2,y<8,z"),
    # ours: sorting by key, keywords as values, key with prefix
    ("b=1,a=2", "a=2,b=1"),
    ("notin=in", "notin=in"),
    ("example.com/app in (b,a)", "example.com/app in (a,b)"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL, ids=[repr(c[0]) for c in CANONICAL])
def test_label_selector_parses_to_canonical_form(text: str, canonical: str) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert parse_label_selector(str(selector)) == selector


BAD_LABEL_SELECTORS = [
    # upstream TestSelectorParse bad strings and TestSetSelectorParser invalid rows
    ("x=a||y=b", 'unable to parse requirement: values[0][x]: Invalid value: "a||y"'),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x,,y", "found ',', expected: identifier after ','"),
    (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
    ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, "),
    ("a in (xyz),", "found '', expected: identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
    ("a in (xyz abc)", "found 'abc', expected: ',' or ')'"),
    ("a notin(", "found '', expected: ',', ')' or identifier"),
    ("a (", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
    # validation of keys and values
    # upstream's selector validates keys with content.IsLabelKey, hence "a valid label key"
    ("a/b/c", "a valid label key must consist of alphanumeric characters"),
    ("/a", "prefix part must be non-empty"),
    ("Example.com/a", "prefix part a lowercase RFC 1123 subdomain"),
    ("k" * 64, "name part must be no more than 63 characters"),
    ("-a", "name part must consist of alphanumeric characters"),
    ("a=" + "v" * 64, "must be no more than 63 characters"),
    ("a=-v", "a valid label must be an empty string or consist of alphanumeric"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a=~b", "a valid label must be an empty string"),
    ("a ~= b", "found '~', expected: in, notin, =, ==, !=, gt, lt"),
    ("a!b", "unable to parse requirement: found '!', expected: in, notin"),
]


@pytest.mark.parametrize(("text", "message"), BAD_LABEL_SELECTORS, ids=[repr(c[0][:20]) for c in BAD_LABEL_SELECTORS])
def test_bad_label_selector_is_rejected_with_upstream_message(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(text)
    assert message in str(caught.value)


def test_invalid_value_message_matches_upstream_text_exactly() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("x=a b!")
    assert str(caught.value) == "found 'b', expected: ',' or 'end of string'"
    with pytest.raises(SelectorError) as caught:
        parse_label_selector("x=-")
    assert str(caught.value) == (
        'unable to parse requirement: values[0][x]: Invalid value: "-": a valid label must be '
        "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
        "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    )


# --- label selectors: matching -------------------------------------------------

LABELSET = {"foo": "bar", "baz": "blah"}
MATCHES = [
    # upstream TestSelectorMatches
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("foo=bar", LABELSET, True),
    ("baz=blah", LABELSET, True),
    ("foo=bar,baz=blah", LABELSET, True),
    ("foo=blah", LABELSET, False),
    ("baz=bar", LABELSET, False),
    ("foo=bar,foobar=bar,baz=blah", LABELSET, False),
    # absent keys: != and notin match, in and = do not
    ("x!=y", {}, True),
    ("x notin (a,b)", {}, True),
    ("x notin (a,b)", {"x": "a"}, False),
    ("x notin (a,b)", {"x": "c"}, True),
    ("x in (a,b)", {}, False),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (,a)", {"x": ""}, True),
    ("x>1", {}, False),
    ("x>1", {"x": "two"}, False),
    ("x==y", {"x": "y"}, True),
]


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    MATCHES,
    ids=[f"{c[0]!r}-{'match' if c[2] else 'nomatch'}-{i}" for i, c in enumerate(MATCHES)],
)
def test_label_selector_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_none_labels_behave_as_no_labels() -> None:
    assert parse_label_selector("!a,b!=c").matches(None)
    assert not parse_label_selector("a").matches(None)


def test_empty_and_exact_match_introspection() -> None:
    assert parse_label_selector("").empty
    assert parse_label_selector(" ").empty
    selector = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert not selector.empty
    assert [selector.requires_exact_match(k) for k in "abcde"] == ["1", "2", None, None, None]


# --- label selectors from API objects -------------------------------------------


def test_service_selector_map_becomes_equality_requirements() -> None:
    selector = label_selector_from_map({"tier": "web", "app": "shop"})
    assert str(selector) == "app=shop,tier=web"
    assert selector.matches({"app": "shop", "tier": "web", "extra": "x"})
    assert not selector.matches({"app": "shop"})


@pytest.mark.parametrize("empty", [None, {}], ids=["none", "empty-map"])
def test_empty_service_selector_selects_everything_and_says_so(empty: Any) -> None:
    selector = label_selector_from_map(empty)
    assert selector.empty and selector.selects_everything
    assert selector.matches({"any": "thing"})


def test_service_selector_with_invalid_value_is_rejected() -> None:
    with pytest.raises(SelectorError, match="values\\[0\\]\\[app\\]"):
        label_selector_from_map({"app": "not valid"})


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"app": "shop"}, {"app": "shop", "tier": "web"}, True),
        ({"app": "shop", "tier": "web"}, {"app": "shop"}, False),
        ({"app": "shop"}, {"app": "other"}, False),
        ({"app": ""}, {}, False),
        ({"app": ""}, {"app": ""}, True),
        ({}, {"any": "thing"}, True),
        ({"app": "shop"}, None, False),
    ],
    ids=["subset", "missing-pair", "other-value", "empty-value-needs-key", "empty-value", "empty", "no-labels"],
)
def test_validated_set_selector_matches_like_the_parsed_map(
    selector: dict[str, str], labels: dict[str, str] | None, expected: bool
) -> None:
    wrapped = ValidatedSetSelector(selector)
    assert wrapped.matches(labels) is expected
    assert label_selector_from_map(selector).matches(labels) is expected


def test_validated_set_selector_introspection() -> None:
    wrapped = ValidatedSetSelector({"tier": "web", "app": "shop"})
    assert str(wrapped) == str(label_selector_from_map({"tier": "web", "app": "shop"})) == "app=shop,tier=web"
    assert not wrapped.empty and ValidatedSetSelector({}).empty
    assert [wrapped.requires_exact_match(k) for k in ("app", "x")] == ["shop", None]


API_SELECTORS = [
    ({"matchLabels": {"a": "1"}}, "a=1", {"a": "1"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["2", "1"]}]}, "a in (1,2)", {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, "a notin (1)", {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, "a", {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, "!a", {"a": ""}, False),
    (
        {"matchLabels": {"b": "2"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
        "a,b=2",
        {"a": "x", "b": "2"},
        True,
    ),
    ({}, "", {"x": "y"}, True),
]


@pytest.mark.parametrize(
    ("api", "canonical", "labels", "expected"), API_SELECTORS, ids=[c[1] or "empty" for c in API_SELECTORS]
)
def test_metav1_label_selector(api: dict[str, Any], canonical: str, labels: dict[str, str], expected: bool) -> None:
    selector = label_selector_from_api(api)
    assert str(selector) == canonical
    assert selector.matches(labels) is expected


def test_nil_metav1_selector_matches_nothing() -> None:
    selector = label_selector_from_api(None)
    assert not selector.empty
    assert not selector.matches({})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"key": "a", "operator": "Equals", "values": ["1"]}, '"Equals" is not a valid label selector operator'),
        ({"key": "a", "operator": "In", "values": []}, "values set can't be empty"),
        ({"key": "a", "operator": "Exists", "values": ["1"]}, "values set must be empty"),
        ({"key": "a b", "operator": "Exists"}, 'key: Invalid value: "a b"'),
    ],
    ids=["bad-operator", "in-without-values", "exists-with-values", "bad-key"],
)
def test_bad_metav1_selector(expression: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        label_selector_from_api({"matchExpressions": [expression]})
    assert message in str(caught.value)


def test_requirement_operators_are_upstream_spellings() -> None:
    assert [o.value for o in Operator] == ["!", "=", "==", "in", "!=", "notin", "exists", "gt", "lt"]
    assert LabelSelector().empty
