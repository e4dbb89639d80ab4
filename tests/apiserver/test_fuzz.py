"""Bad input, generated: the API server answers every request with a Status, never a 5xx, and writes nothing half-way.

Hypothesis builds the inputs: arbitrary JSON values in place of objects,
valid objects with one field replaced by a value of another type, arbitrary
bytes as bodies, patches of every content type, and oversized bodies. After
each request the server must be alive; a rejected create must have stored
nothing. ``SVCLAB_FUZZ_EXAMPLES`` sets the number of examples per test
(default 150; the closing note of the fuzz issue used 3,000).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Api, RunningApiServer, start_apiserver

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("SVCLAB_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
NS = "fuzz"
COLLECTIONS = {
    "Service": f"/api/v1/namespaces/{NS}/services",
    "Pod": f"/api/v1/namespaces/{NS}/pods",
    "Endpoints": f"/api/v1/namespaces/{NS}/endpoints",
    "EndpointSlice": f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices",
    "Namespace": "/api/v1/namespaces",
    "Node": "/api/v1/nodes",
    "ConfigMap": f"/api/v1/namespaces/{NS}/configmaps",
    "Secret": f"/api/v1/namespaces/{NS}/secrets",
    "Deployment": f"/apis/apps/v1/namespaces/{NS}/deployments",
    "Job": f"/apis/batch/v1/namespaces/{NS}/jobs",
}
_TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}], "restartPolicy": "Never"},
}
VALID = {
    "Service": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "labels": {"a": "b"}},
        "spec": {"selector": {"app": "x"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    },
    "Pod": {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9", "ports": [{"containerPort": 80}]}]},
    },
    "Endpoints": {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "e"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
    },
    "EndpointSlice": {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "es", "labels": {"kubernetes.io/service-name": "s"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    },
    "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
    "Node": {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "nd"}},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}},
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "stringData": {"k": "v"}},
    "Deployment": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}, "template": _TEMPLATE},
    },
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": _TEMPLATE}},
}
PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
BUILT_IN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", NS)
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    running = start_apiserver(Path(tmp_path_factory.mktemp("fuzz")) / "apiserver")
    try:
        Api(running).post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(server: RunningApiServer) -> Api:
    return Api(server)


def _raw(api: Api, method: str, path: str, body: bytes, content_type: str) -> Any:
    return api.session.request(method, api.base + path, data=body, headers={"Content-Type": content_type}, timeout=30)


def _answered_well(response: Any, api: Api) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        status = response.json()
        assert status["kind"] == "Status" and status["status"] == "Failure", status
        assert status["code"] == response.status_code
    assert api.session.get(api.base + "/readyz", timeout=10).status_code == 200


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in ``obj`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        found += _paths(value, (*prefix, key))
    return found


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(obj)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@st.composite
def mutated_objects(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(VALID)))
    obj = copy.deepcopy(VALID[kind])
    obj["metadata"]["name"] = draw(names)
    path = draw(st.sampled_from([p for p in _paths(obj) if p[0] not in ("apiVersion", "kind")]))
    return kind, _replace(obj, path, draw(json_values))


def _nothing_stored_unless_created(api: Api, kind: str, body: Any, response: Any) -> None:
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        return
    stored = api.get(f"{COLLECTIONS[kind]}/{name}")
    if response.status_code == 201:
        assert stored.status_code == 200
        assert api.delete(f"{COLLECTIONS[kind]}/{name}").status_code in (200, 202)
    elif response.status_code != 409 and not (kind == "Namespace" and name in BUILT_IN_NAMESPACES):
        assert stored.status_code == 404, f"a rejected create left {kind} {name} behind"


@FUZZ
@given(case=mutated_objects())
def test_objects_with_one_field_of_the_wrong_shape(api: Api, case: tuple[str, dict[str, Any]]) -> None:
    kind, body = case
    response = api.post(COLLECTIONS[kind], body)
    _answered_well(response, api)
    _nothing_stored_unless_created(api, kind, body, response)


@FUZZ
@given(kind=st.sampled_from(sorted(COLLECTIONS)), body=json_values)
def test_any_json_value_as_an_object(api: Api, kind: str, body: Any) -> None:
    response = api.post(COLLECTIONS[kind], body)
    _answered_well(response, api)
    _nothing_stored_unless_created(api, kind, body, response)


@FUZZ
@given(
    kind=st.sampled_from(sorted(COLLECTIONS)),
    body=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]),
)
def test_arbitrary_bytes_as_a_body(api: Api, kind: str, body: bytes, content_type: str) -> None:
    _answered_well(_raw(api, "POST", COLLECTIONS[kind], body, content_type), api)


@FUZZ
@given(patch=json_values, content_type=st.sampled_from(PATCH_TYPES))
def test_any_patch_of_a_service(api: Api, patch: Any, content_type: str) -> None:
    path = f"{COLLECTIONS['Service']}/patched"
    if api.get(path).status_code == 404:
        body = _replace(VALID["Service"], ("metadata", "name"), "patched")
        assert api.post(COLLECTIONS["Service"], body).status_code == 201
    before = api.get(path).json()
    params = {"fieldManager": "fuzz"} if content_type.startswith("application/apply") else {}
    response = api.patch(path, patch, content_type, **params)
    _answered_well(response, api)
    if response.status_code >= 400:  # a rejected patch changes nothing
        after = api.get(path).json()
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_an_oversized_body_is_refused_cleanly(api: Api) -> None:
    body = copy.deepcopy(VALID["Service"])
    body["metadata"]["name"] = "huge"
    body["metadata"]["annotations"] = {"big": "x" * (4 * 1024 * 1024)}
    response = _raw(api, "POST", COLLECTIONS["Service"], json.dumps(body).encode(), "application/json")
    _answered_well(response, api)
    assert response.status_code in (413, 422)
    assert api.get(f"{COLLECTIONS['Service']}/huge").status_code == 404
