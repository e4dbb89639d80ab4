"""ClientListerWatcher over a real lightkube AsyncClient with a mock HTTP transport.

The transport answers pods in ns1 (list RV "10") and scripted watch streams.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from kube_builders import names
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Pod

from svclab.kube import ReflectorOptions
from svclab.kube.list_watch import ClientListerWatcher
from svclab.kube.names import resource_version_of

CONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


def _pod(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns1", "resourceVersion": rv}}


def _client(handler: Any) -> AsyncClient:
    return AsyncClient(KubeConfig.from_dict(CONFIG), transport=httpx2.MockTransport(handler))


def _lines(*events: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


async def test_list_passes_selectors_and_returns_items_and_rv() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        body = {"kind": "PodList", "metadata": {"resourceVersion": "10"}, "items": [_pod("a", "9")]}
        return httpx2.Response(200, json=body)

    options = ReflectorOptions(namespace="ns1", label_selector="app=x", field_selector={"spec.nodeName": "n1"})
    items, rv = await ClientListerWatcher(_client(handler), Pod, options).list()
    assert names(items) == ["a"] and rv == "10"
    assert seen[0].url.path == "/api/v1/namespaces/ns1/pods"
    assert seen[0].url.params["labelSelector"] == "app=x"
    assert seen[0].url.params["fieldSelector"] == "spec.nodeName=n1"


async def test_watch_sends_bookmarks_flag_and_yields_events_and_bookmarks() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(
            200,
            content=_lines(
                {"type": "ADDED", "object": _pod("b", "11")},
                {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "15"}}},
            ),
        )

    watcher = ClientListerWatcher(_client(handler), Pod, ReflectorOptions())
    events = [(t, resource_version_of(o)) async for t, o in watcher.watch("10", 400)]
    assert events == [("ADDED", "11"), ("BOOKMARK", "15")]
    params = seen[0].url.params
    assert seen[0].url.path == "/api/v1/pods"  # all namespaces
    assert (params["watch"], params["allowWatchBookmarks"], params["resourceVersion"], params["timeoutSeconds"]) == (
        "true",
        "true",
        "10",
        "400",
    )


@pytest.mark.parametrize("as_event", [True, False], ids=["error-event", "http-410"])
async def test_watch_raises_410_as_api_error(as_event: bool) -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": 410,
        "reason": "Expired",
        "message": "too old",
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        if as_event:
            return httpx2.Response(200, content=_lines({"type": "ERROR", "object": status}))
        return httpx2.Response(410, json=status)

    watcher = ClientListerWatcher(_client(handler), Pod, ReflectorOptions())
    with pytest.raises(ApiError) as caught:
        [event async for event in watcher.watch("3", 300)]
    assert caught.value.status.code == 410


async def test_bookmark_of_a_kind_with_required_fields_is_not_decoded_into_the_model() -> None:
    from lightkube.resources.discovery_v1 import EndpointSlice

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            content=_lines(
                {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": "EndpointSlice",
                        "apiVersion": "discovery.k8s.io/v1",
                        "metadata": {"resourceVersion": "42"},
                    },
                }
            ),
        )

    watcher = ClientListerWatcher(_client(handler), EndpointSlice, ReflectorOptions())
    events = [(t, resource_version_of(o)) async for t, o in watcher.watch("40", 300)]
    assert events == [("BOOKMARK", "42")]
