"""Label and field selectors.

Vectors marked "upstream" are the cases of k8s.io/apimachinery
labels/selector_test.go (TestSelectorParse, TestSelectorMatches, TestToString,
TestSetSelectorParser) and fields/selector_test.go, with their expected results.
Objects are minimal JSON dicts built by the helpers below.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apiserver.selectors import (
    LabelSelector,
    Operator,
    SelectorError,
    field_selector_name,
    label_selector_from_api,
    label_selector_from_map,
    parse_field_selector,
    parse_label_selector,
)

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
    ("a/b/c", "a qualified name must consist of alphanumeric characters"),
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


# --- field selectors ------------------------------------------------------------


def pod(name: str = "p", namespace: str = "ns", **sections: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, **sections}


def event(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "ns"}, **fields}


RUNNING_POD = pod(
    spec={
        "nodeName": "n1",
        "restartPolicy": "Always",
        "schedulerName": "default",
        "serviceAccountName": "sa",
        "hostNetwork": True,
    },
    status={
        "phase": "Running",
        "podIP": "10.0.0.5",
        "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        "nominatedNodeName": "n2",
    },
)
SVC_EVENT = event(
    involvedObject={
        "kind": "Service",
        "namespace": "ns",
        "name": "web",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "7",
        "fieldPath": "",
    },
    reason="Created",
    type="Normal",
    reportingComponent="svclab",
    source={"component": "endpoints-controller"},
)

FIELD_MATCHES = [
    ("Pod", "", pod(), True),
    ("Pod", "metadata.name=p", pod(), True),
    ("Pod", "metadata.name==p", pod(), True),
    ("Pod", "metadata.name!=p", pod(), False),
    ("Pod", "metadata.namespace=ns,metadata.name=p", pod(), True),
    ("Pod", "metadata.namespace=other", pod(), False),
    ("Pod", "spec.nodeName=n1", RUNNING_POD, True),
    ("Pod", "spec.nodeName=", pod(), True),  # missing field reads as ""
    ("Pod", "spec.nodeName!=", pod(), False),
    ("Pod", "spec.nodeName!=", RUNNING_POD, True),
    ("Pod", "spec.host=n1", RUNNING_POD, True),  # old alias of spec.nodeName
    ("Pod", "spec.restartPolicy=Always,spec.schedulerName=default", RUNNING_POD, True),
    ("Pod", "spec.serviceAccountName=sa", RUNNING_POD, True),
    ("Pod", "spec.hostNetwork=true", RUNNING_POD, True),
    ("Pod", "spec.hostNetwork=false", pod(), True),
    ("Pod", "status.phase=Running", RUNNING_POD, True),
    ("Pod", "status.phase!=Running,status.phase!=Pending", RUNNING_POD, False),
    ("Pod", "status.podIP=10.0.0.5", RUNNING_POD, True),
    ("Pod", "status.nominatedNodeName=n2", RUNNING_POD, True),
    (
        "Event",
        "involvedObject.kind=Service,involvedObject.uid=u-1,involvedObject.name=web,involvedObject.namespace=ns",
        SVC_EVENT,
        True,
    ),
    ("Event", "involvedObject.apiVersion=v1,involvedObject.resourceVersion=7", SVC_EVENT, True),
    ("Event", "involvedObject.fieldPath=", SVC_EVENT, True),
    ("Event", "reason=Created,type=Normal", SVC_EVENT, True),
    ("Event", "reportingComponent=svclab", SVC_EVENT, True),
    ("Event", "source=endpoints-controller", SVC_EVENT, True),
    ("Event", "source=svclab", event(reportingComponent="svclab"), True),
    ("Node", "spec.unschedulable=false", {"metadata": {"name": "n"}}, True),
    ("Node", "spec.unschedulable=true", {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}, True),
    ("Namespace", "status.phase=Active", {"metadata": {"name": "a"}, "status": {"phase": "Active"}}, True),
    (
        "Service",
        "spec.clusterIP=None,spec.type=ClusterIP",
        {"metadata": {"name": "s"}, "spec": {"clusterIP": "None", "type": "ClusterIP"}},
        True,
    ),
    ("EndpointSlice", "metadata.name=s-abc", {"metadata": {"name": "s-abc"}}, True),
    ("Lease", "metadata.namespace=kube-node-lease", {"metadata": {"name": "n"}}, False),
    ("Pod", "metadata.name=a\\,b", pod(name="a,b"), True),
    ("Pod", "metadata.name=a\\=b\\\\", pod(name="a=b\\"), True),
]


@pytest.mark.parametrize(
    ("kind", "text", "obj", "expected"), FIELD_MATCHES, ids=[f"{c[0]}-{c[1] or 'empty'}" for c in FIELD_MATCHES]
)
def test_field_selector_matching(kind: str, text: str, obj: dict[str, Any], expected: bool) -> None:
    assert parse_field_selector(text, kind).matches(obj) is expected


UNSUPPORTED = [
    ("Pod", "spec.foo=x"),
    ("Pod", "status.hostIP=1.2.3.4"),
    ("Node", "metadata.namespace=x"),  # upstream's Node conversion knows only the name
    ("Namespace", "metadata.namespace=x"),
    ("Service", "spec.ports=80"),
    ("Endpoints", "subsets=x"),
    ("EndpointSlice", "addressType=IPv4"),
    ("Event", "message=x"),
    ("Pod", "metadata.name =p"),  # no whitespace trimming upstream either
]


@pytest.mark.parametrize(("kind", "text"), UNSUPPORTED, ids=[f"{k}-{t}" for k, t in UNSUPPORTED])
def test_unsupported_field_is_an_error(kind: str, text: str) -> None:
    field = text.split("=")[0]
    with pytest.raises(SelectorError, match=f"^field label not supported: {field}$"):
        parse_field_selector(text, kind)


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
        parse_field_selector(text, "Pod")
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
    selector = parse_field_selector(text, "Pod")
    assert str(selector) == canonical
    assert parse_field_selector(str(selector), "Pod") == selector


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
def test_field_selector_name(text: str, name: str | None) -> None:
    assert field_selector_name(parse_field_selector(text, "Pod")) == name
