"""Metadata-only answers (``as=PartialObjectMetadataList`` / ``as=PartialObjectMetadata``),
as client-go's metadata client asks for them: lists, gets and watches carry
``meta.k8s.io/v1`` PartialObjectMetadata; a form the endpoint cannot give is 406.
"""

from __future__ import annotations

import json

import pytest

from svclab.apiserver.negotiation import Form, negotiate_form

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/default/configmaps"
LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
ONE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
# What client-go's metadata client sends: protobuf first, then JSON, then plain JSON.
CLIENT_GO = (
    f"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,{LIST},application/json"
)


@pytest.mark.parametrize(
    ("accept", "is_list", "form"),
    [
        ("", True, Form.OBJECT),
        ("application/json", False, Form.OBJECT),
        (CLIENT_GO, True, Form.METADATA),
        (CLIENT_GO, False, Form.OBJECT),
        (ONE, False, Form.METADATA),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", True, Form.TABLE),
    ],
    ids=["none", "json", "client-go-list", "client-go-get-falls-back", "get", "table"],
)
def test_negotiation(accept: str, is_list: bool, form: Form) -> None:
    assert negotiate_form(accept, is_list=is_list) is form


def _with_accept(api, path: str, accept: str, **params: object):  # type: ignore[no-untyped-def]
    return api.session.get(api.base + path, headers={"Accept": accept}, params=params, timeout=10)


def test_metadata_list_and_get(api) -> None:
    api.post(CM, {"metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"secret-ish": "x"}})
    listed = _with_accept(api, CM, CLIENT_GO).json()
    assert listed["kind"] == "PartialObjectMetadataList" and listed["apiVersion"] == "meta.k8s.io/v1"
    assert listed["metadata"]["resourceVersion"]
    item = listed["items"][0]
    assert item["kind"] == "PartialObjectMetadata" and item["apiVersion"] == "meta.k8s.io/v1"
    assert item["metadata"]["labels"] == {"a": "b"} and "data" not in item
    one = _with_accept(api, f"{CM}/c", ONE).json()
    assert one["kind"] == "PartialObjectMetadata" and "data" not in one
    assert _with_accept(api, f"{CM}/c", LIST).status_code == 406


def test_metadata_watch(apiserver, api) -> None:
    api.post(CM, {"metadata": {"name": "w"}, "data": {"k": "v"}})
    with api.session.get(
        api.base + CM, headers={"Accept": ONE}, params={"watch": "true", "timeoutSeconds": "1"}, stream=True, timeout=10
    ) as stream:
        events = [json.loads(line) for line in stream.iter_lines() if line]
    assert events and all(e["object"]["kind"] == "PartialObjectMetadata" for e in events)
    assert "w" in [e["object"]["metadata"]["name"] for e in events]


def test_metadata_watch_bookmarks_are_partial_object_metadata(api) -> None:
    params = {"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "1"}
    params["resourceVersionMatch"] = "NotOlderThan"
    with api.session.get(api.base + CM, headers={"Accept": ONE}, params=params, stream=True, timeout=10) as stream:
        events = [json.loads(line) for line in stream.iter_lines() if line]
    bookmarks = [e["object"] for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks[0]["kind"] == "PartialObjectMetadata" and bookmarks[0]["apiVersion"] == "meta.k8s.io/v1"
    assert bookmarks[0]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
