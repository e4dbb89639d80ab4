"""events.k8s.io/v1 Events: one storage with core/v1 Events, field names converted.

Address plan: events in namespace default about Node kp-worker (as kube-proxy
reports "Starting") and Pod default/web; reporting controller kube-proxy.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from test_protobuf import envelope, msg, num, text

from svclab.apiserver.event_views import from_core, patch_to_core, response_from_core, to_core
from svclab.apiserver.protobuf import decode_k8s_protobuf
from svclab.apiserver.protobuf_schemas import SCHEMAS

EVENTS_V1 = "/apis/events.k8s.io/v1/namespaces/default/events"
CORE = "/api/v1/namespaces/default/events"


def kube_proxy_event(name: str = "kp-worker.17f0") -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "eventTime": "2026-12-03T10:00:00.123456Z",
        "reportingController": "kube-proxy",
        "reportingInstance": "kube-proxy-kp-worker",
        "action": "StartKubeProxy",
        "reason": "Starting",
        "note": "kube-proxy started",
        "type": "Normal",
        "regarding": {"kind": "Node", "name": "kp-worker", "uid": "kp-worker"},
        "deprecatedCount": 1,
    }


def test_conversion_renames_fields_both_ways() -> None:
    core = to_core(kube_proxy_event())
    assert core["apiVersion"] == "v1"
    assert core["involvedObject"]["name"] == "kp-worker" and core["message"] == "kube-proxy started"
    assert core["reportingComponent"] == "kube-proxy" and core["count"] == 1
    assert not {"regarding", "note", "reportingController", "deprecatedCount"} & set(core)
    assert from_core(core) == kube_proxy_event()


def test_patches_are_rewritten_for_the_core_form() -> None:
    assert patch_to_core("application/merge-patch+json", {"note": "x", "series": {"count": 2}}) == {
        "message": "x",
        "series": {"count": 2},
    }
    ops = [
        {"op": "replace", "path": "/regarding/name", "value": "n"},
        {"op": "copy", "from": "/note", "path": "/reason"},
    ]
    assert patch_to_core("application/json-patch+json", ops) == [
        {"op": "replace", "path": "/involvedObject/name", "value": "n"},
        {"op": "copy", "from": "/message", "path": "/reason"},
    ]


def test_answers_are_converted_but_tables_are_not() -> None:
    core = to_core(kube_proxy_event())
    listed = response_from_core({"kind": "EventList", "apiVersion": "v1", "items": [core]})
    assert listed["apiVersion"] == "events.k8s.io/v1" and listed["items"] == [kube_proxy_event()]
    status = {
        "kind": "Status",
        "details": {"causes": [{"field": "reportingComponent"}, {"field": "involvedObject.name"}]},
    }
    converted = response_from_core(status)["details"]
    assert [c["field"] for c in converted["causes"]] == ["reportingController", "regarding.name"]
    table = {"kind": "Table", "rows": []}
    assert response_from_core(copy.deepcopy(table)) == table


def test_the_protobuf_body_kube_proxy_posts_decodes() -> None:
    assert ("events.k8s.io/v1", "Event") in SCHEMAS
    micro_time = msg(2, num(1, 1_764_756_000), num(2, 123_456_000))  # 2025-12-03T10:00:00.123456Z
    body = b"".join(
        [
            msg(1, text(1, "kp-worker.17f0"), text(3, "default")),
            micro_time,
            text(4, "kube-proxy"),
            text(5, "kube-proxy-kp-worker"),
            text(6, "StartKubeProxy"),
            text(7, "Starting"),
            msg(8, text(1, "Node"), text(3, "kp-worker"), text(4, "kp-worker")),
            text(11, "Normal"),
        ]
    )
    decoded = decode_k8s_protobuf(envelope("events.k8s.io/v1", "Event", body), SCHEMAS)
    assert decoded["eventTime"] == "2025-12-03T10:00:00.123456Z"
    assert decoded["regarding"] == {"kind": "Node", "name": "kp-worker", "uid": "kp-worker"}
    assert (decoded["reportingController"], decoded["action"], decoded["type"]) == (
        "kube-proxy",
        "StartKubeProxy",
        "Normal",
    )


@pytest.mark.integration
def test_one_storage_two_views(api: Any) -> None:
    created = api.post(EVENTS_V1, kube_proxy_event())
    assert created.status_code == 201, created.text
    assert created.json()["regarding"]["name"] == "kp-worker" and created.json()["apiVersion"] == "events.k8s.io/v1"
    core = api.get(f"{CORE}/kp-worker.17f0").json()
    assert (core["apiVersion"], core["involvedObject"]["kind"], core["message"]) == ("v1", "Node", "kube-proxy started")
    assert core["reportingComponent"] == "kube-proxy"
    pod_event = {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
        "reason": "Scheduled",
        "message": "assigned",
        "type": "Normal",
    }
    assert api.post(CORE, pod_event).status_code == 201
    listed = api.get(EVENTS_V1).json()
    assert (listed["kind"], listed["apiVersion"]) == ("EventList", "events.k8s.io/v1")
    by_name = {e["metadata"]["name"]: e for e in listed["items"]}
    assert by_name["web.1"]["regarding"]["name"] == "web" and by_name["web.1"]["note"] == "assigned"
    assert "involvedObject" not in by_name["web.1"]


@pytest.mark.integration
def test_patch_update_and_delete_through_events_k8s_io(api: Any) -> None:
    api.post(EVENTS_V1, kube_proxy_event())
    series = {"series": {"count": 2, "lastObservedTime": "2026-12-03T10:01:00.000000Z"}, "note": "again"}
    patched = api.patch(f"{EVENTS_V1}/kp-worker.17f0", series, "application/strategic-merge-patch+json")
    assert patched.status_code == 200, patched.text
    assert patched.json()["note"] == "again" and patched.json()["series"]["count"] == 2
    assert api.get(f"{CORE}/kp-worker.17f0").json()["message"] == "again"
    current = api.get(f"{EVENTS_V1}/kp-worker.17f0").json()
    current["note"] = "replaced"
    assert api.put(f"{EVENTS_V1}/kp-worker.17f0", current).json()["note"] == "replaced"
    assert api.delete(f"{EVENTS_V1}/kp-worker.17f0").status_code == 200
    assert api.get(f"{CORE}/kp-worker.17f0").status_code == 404


@pytest.mark.integration
def test_invalid_event_names_the_events_k8s_io_field(api: Any) -> None:
    event = kube_proxy_event()
    del event["reportingController"]
    refused = api.post(EVENTS_V1, event)
    assert refused.status_code == 422
    assert "reportingController" in [c["field"] for c in refused.json()["details"]["causes"]]


@pytest.mark.integration
def test_watch_through_events_k8s_io_sends_the_v1_form(api: Any) -> None:
    rv = api.get(EVENTS_V1).json()["metadata"]["resourceVersion"]
    api.post(EVENTS_V1, kube_proxy_event())
    with api.session.get(
        api.base + EVENTS_V1,
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1", "allowWatchBookmarks": "true"},
        stream=True,
        timeout=10,
    ) as stream:
        events = [orjson.loads(line) for line in stream.iter_lines() if line]
    added = [e for e in events if e["type"] == "ADDED"]
    assert [e["object"]["regarding"]["name"] for e in added] == ["kp-worker"]
    assert {e["object"]["apiVersion"] for e in events} == {"events.k8s.io/v1"}  # bookmarks too


@pytest.mark.integration
def test_discovery_and_kubectl(api: Any, kubectl: Any) -> None:
    resources = api.get("/apis/events.k8s.io/v1").json()["resources"]
    assert [(r["name"], r["kind"], r["shortNames"]) for r in resources] == [("events", "Event", ["ev"])]
    api.post(EVENTS_V1, kube_proxy_event())
    printed = kubectl("get", "events.v1.events.k8s.io").stdout.splitlines()
    assert printed[0].split()[:3] == ["LAST", "SEEN", "TYPE"]
    assert "kube-proxy started" in printed[1] and "node/kp-worker" in printed[1]
