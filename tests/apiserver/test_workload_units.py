"""Pure pieces behind the workload and config kinds: Go's base64 error offsets,
workload rows as upstream's printers print them, and template validation paths."""

from __future__ import annotations

import datetime as dt

import pytest

from svclab.apiserver.encoding import base64_error_offset
from svclab.apiserver.printing import to_table
from svclab.apiserver.validation import validate_create

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("aGVsbG8=", None),
        ("YQ==", None),
        ("YWJj\nZA==", None),
        ("", None),
        ("aGVsbG8", 4),  # a quantum cut short fails at its start
        ("a", 0),
        ("a!cd", 1),
        ("YQ=", 3),  # "==" expected
        ("YQ==x", 4),  # data after the padding
    ],
)
def test_base64_error_offset_as_go(value: str, offset: int | None) -> None:
    assert base64_error_offset(value) == offset


def _cells(kind: str, obj: dict[str, object]) -> list[object]:
    obj.setdefault("metadata", {"name": "x", "creationTimestamp": "2026-01-01T11:00:00Z"})
    cells: list[object] = to_table(kind, [obj], resource_version="1", now=NOW)["rows"][0]["cells"]
    return cells


def test_workload_rows() -> None:
    template = {"spec": {"containers": [{"name": "a", "image": "i:1"}, {"name": "b", "image": "i:2"}]}}
    deployment = {"spec": {"replicas": 3, "selector": {"matchLabels": {"app": "x"}}, "template": template}}
    deployment["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}
    assert _cells("Deployment", deployment) == ["x", "2/3", 3, 1, "60m", "a,b", "i:1,i:2", "app=x"]
    rc = {"spec": {"replicas": 2, "selector": {"b": "2", "a": "1"}}, "status": {"replicas": 1}}
    assert _cells("ReplicationController", rc)[:4] + _cells("ReplicationController", rc)[-1:] == [
        "x",
        2,
        1,
        0,
        "a=1,b=2",
    ]
    job = {
        "spec": {"completions": 3},
        "status": {
            "succeeded": 1,
            "startTime": "2026-01-01T11:58:00Z",
            "conditions": [{"type": "Suspended", "status": "True"}],
        },
    }
    assert _cells("Job", job)[:4] == ["x", "Suspended", "1/3", "2m"]
    assert _cells("Job", {"spec": {"parallelism": 4}, "status": {}})[1:4] == ["Running", "0/1 of 4", ""]
    assert _cells("StatefulSet", {"spec": {"replicas": 2}, "status": {"readyReplicas": 2}}) == [
        "x",
        "2/2",
        "60m",
        "",
        "",
    ]
    assert _cells("Secret", {"type": "Opaque", "data": {"a": "", "b": ""}}) == ["x", "Opaque", 2, "60m"]


def test_template_errors_live_under_the_template() -> None:
    rs = {
        "kind": "ReplicaSet",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "replicas": -1,
            "selector": {"matchLabels": {"app": "r"}},
            "template": {"metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "BAD", "image": "i"}]}},
        },
    }
    fields = [e.field for e in validate_create("ReplicaSet", rs)]
    assert fields == ["spec.replicas", "spec.template.spec.containers[0].name"]


def _daemon_set(**spec: object) -> dict[str, object]:
    template = {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    body = {"template": template, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}}
    return {"kind": "DaemonSet", "metadata": {"name": "d", "namespace": "default"}, "spec": {**body, **spec}}


def test_daemon_set_selector_rules() -> None:
    # An empty selector selects everything, so only the empty-selector rule fires.
    assert [str(e) for e in validate_create("DaemonSet", _daemon_set(selector={}))] == [
        "spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"
    ]
    # A missing one selects nothing: no Required error for DaemonSets, only the mismatch.
    assert [e.field for e in validate_create("DaemonSet", _daemon_set())] == ["spec.template.metadata.labels"]


def test_active_deadline_forbidden_in_pod_templates_but_jobs() -> None:
    ds = _daemon_set(selector={"matchLabels": {"app": "d"}})
    ds["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5  # type: ignore[index]
    assert [str(e) for e in validate_create("DaemonSet", ds)] == [
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"
    ]


def test_workload_status_rules() -> None:
    from svclab.apiserver.validation import validate_status_update

    old = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "default"}, "status": {"collisionCount": 2}}
    new = dict(old, status={"replicas": 1, "readyReplicas": 2, "availableReplicas": 3, "updatedReplicas": -1})
    assert [str(e) for e in validate_status_update("Deployment", new, old)] == [
        "status.updatedReplicas: Invalid value: -1: must be greater than or equal to 0",
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
        "status.collisionCount: Invalid value: 0: cannot be decremented",
    ]
    daemon_set = {"kind": "DaemonSet", "metadata": {"name": "d", "namespace": "default"}, "status": {"numberReady": -2}}
    assert [e.field for e in validate_status_update("DaemonSet", daemon_set, daemon_set)] == ["status.numberReady"]
