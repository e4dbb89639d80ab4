"""What upstream kube-proxy asks of the API server, replayed against ours (issue 19).

Read from upstream's ``cmd/kube-proxy/app/server.go`` and client-go: kube-proxy's
client sends ``Content-Type: application/vnd.kubernetes.protobuf`` and, with no
accept list configured, ``Accept: application/vnd.kubernetes.protobuf, */*``
(so a JSON answer is fine, and client-go decodes by the response's
Content-Type, list and watch alike). At start it GETs its own Node (for the
node IPs), then runs informers: Services and EndpointSlices listed and watched
with the label selector ``!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name``
(client-go prints requirements sorted by key), its own Node by field selector
``metadata.name=NAME``, and, from 1.33 where MultiCIDRServiceAllocator is on,
``networking.k8s.io/v1`` ServiceCIDRs. Lists come as ``limit=500&resourceVersion=0``,
watches with ``allowWatchBookmarks=true`` and ``timeoutSeconds``. It records
events through ``events.k8s.io/v1`` (its "Starting" birth cry about its Node).

Address plan: Services in ``default`` get ClusterIPs from the server's
10.96.0.0/16; EndpointSlices name 10.244.1.5; Nodes have no addresses.
"""

from __future__ import annotations

import json
from typing import Any

SVC = "/api/v1/namespaces/default/services"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
KUBE_PROXY_ACCEPT = "application/vnd.kubernetes.protobuf, */*"
SELECTOR = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"
PROXY_NAME = {"service.kubernetes.io/service-proxy-name": "other-proxy"}
HEADLESS = {"service.kubernetes.io/headless": ""}


def _get(api: Any, path: str, **params: str) -> Any:
    return api.session.get(api.base + path, params=params, headers={"Accept": KUBE_PROXY_ACCEPT}, timeout=30)


def _names(body: dict[str, Any]) -> set[str]:
    return {item["metadata"]["name"] for item in body["items"]}


def _service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": name}},
    }


def _slice(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": name, **labels}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"]}],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }


def _node(api: Any, name: str) -> None:
    created = api.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    assert created.status_code == 201, created.text


def test_the_informer_lists_filter_out_other_proxies_and_headless_objects(api: Any) -> None:
    for name, labels in (("mine", {}), ("theirs", PROXY_NAME), ("headless", HEADLESS)):
        assert api.post(SVC, _service(name, labels)).status_code == 201
        assert api.post(SLICES, _slice(name, labels)).status_code == 201
    for path in ("/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"):
        listed = _get(api, path, labelSelector=SELECTOR, limit="500", resourceVersion="0")
        assert listed.status_code == 200 and listed.headers["Content-Type"].startswith("application/json")
        assert _names(listed.json()) - {"kubernetes"} == {"mine"}, path


def test_a_filtered_watch_from_the_list_sees_only_its_own_services(api: Any) -> None:
    start = _get(api, "/api/v1/services", labelSelector=SELECTOR, limit="500", resourceVersion="0")
    assert api.post(SVC, _service("theirs", PROXY_NAME)).status_code == 201
    assert api.post(SVC, _service("mine", {})).status_code == 201
    watched = api.session.get(
        api.base + "/api/v1/services",
        params={
            "allowWatchBookmarks": "true",
            "labelSelector": SELECTOR,
            "resourceVersion": start.json()["metadata"]["resourceVersion"],
            "timeoutSeconds": "1",
            "watch": "true",
        },
        headers={"Accept": KUBE_PROXY_ACCEPT},
        stream=True,
        timeout=10,
    )
    assert watched.status_code == 200
    events = [json.loads(line) for line in watched.iter_lines() if line]
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert added == ["mine"]


def test_its_own_node_by_name_and_by_field_selector(api: Any) -> None:
    _node(api, "kp-worker")
    _node(api, "kp-other")
    got = _get(api, "/api/v1/nodes/kp-worker")
    assert got.status_code == 200 and got.json()["metadata"]["name"] == "kp-worker"
    listed = _get(api, "/api/v1/nodes", fieldSelector="metadata.name=kp-worker", limit="500", resourceVersion="0")
    assert _names(listed.json()) == {"kp-worker"}


def test_service_cidrs_are_served_with_the_default_one(api: Any) -> None:
    listed = _get(api, "/apis/networking.k8s.io/v1/servicecidrs", limit="500", resourceVersion="0")
    assert listed.status_code == 200, listed.text
    cidrs = {item["metadata"]["name"]: item["spec"]["cidrs"] for item in listed.json()["items"]}
    assert cidrs == {"kubernetes": ["10.96.0.0/16"]}


def test_events_k8s_io_v1_event_about_a_node_is_accepted(api: Any) -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "kp-worker.17f0", "namespace": "default"},
        "eventTime": "2026-12-03T10:00:00.000000Z",
        "reportingController": "kube-proxy",
        "reportingInstance": "kube-proxy-kp-worker",
        "action": "StartKubeProxy",
        "reason": "Starting",
        "type": "Normal",
        "regarding": {"kind": "Node", "name": "kp-worker", "uid": "kp-worker"},
    }
    created = api.post("/apis/events.k8s.io/v1/namespaces/default/events", event)
    assert created.status_code == 201, created.text


def test_kubectl_prints_service_cidrs(kubectl: Any) -> None:
    printed = kubectl("get", "servicecidrs").stdout.splitlines()
    assert printed[0].split() == ["NAME", "CIDRS", "AGE"]
    assert printed[1].split()[:2] == ["kubernetes", "10.96.0.0/16"]
