"""What a list or watch selects: each kind's selectable fields, read from JSON objects.

The field labels per kind are upstream's field label conversion functions
(pkg/apis/core/v1/conversion.go); the selector grammar itself is tested in
tests/apimachinery. Objects are minimal JSON dicts built by the helpers below.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apimachinery.selection import SelectorError
from svclab.apiserver.selectable import field_selector_for, object_matcher, selectable_fields


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
    assert object_matcher(kind, "", text)(obj) is expected


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
        field_selector_for(kind, text)


def test_labels_and_fields_must_both_match() -> None:
    matches = object_matcher("Pod", "app=web", "spec.nodeName=n1")
    assert matches({**RUNNING_POD, "metadata": {"name": "p", "labels": {"app": "web"}}})
    assert not matches({**RUNNING_POD, "metadata": {"name": "p", "labels": {"app": "db"}}})
    assert not matches({**pod(), "metadata": {"name": "p", "labels": {"app": "web"}}})


@pytest.mark.parametrize(("label_selector", "field_selector"), [("a=(", ""), ("", "metadata.name")])
def test_a_bad_selector_raises_before_any_object_is_seen(label_selector: str, field_selector: str) -> None:
    with pytest.raises(SelectorError):
        object_matcher("Pod", label_selector, field_selector)


def test_old_spelling_is_rewritten_and_read_from_the_object() -> None:
    selector = field_selector_for("Pod", "spec.host=n1")
    assert str(selector) == "spec.nodeName=n1"
    assert selectable_fields("Pod", RUNNING_POD, selector.fields) == {"spec.nodeName": "n1"}
