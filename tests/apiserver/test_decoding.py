"""Typed decoding of bodies: Go's type errors as a 400, nulls and unknown fields dropped, as kube-apiserver does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from svclab.apiserver.decoding import DecodeError, decode_in_place, definition_for

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
}


def _decoded(obj: dict[str, Any]) -> dict[str, Any]:
    decoded = copy.deepcopy(obj)
    decode_in_place(decoded, "", "v1", "Service")
    return decoded


def test_served_kinds_have_definitions() -> None:
    assert definition_for("", "v1", "Service") == "io.k8s.api.core.v1.Service"
    assert definition_for("discovery.k8s.io", "v1", "EndpointSlice") == "io.k8s.api.discovery.v1.EndpointSlice"
    assert definition_for("example.com", "v1", "Widget") is None


def test_a_valid_object_is_unchanged() -> None:
    assert _decoded(SERVICE) == SERVICE


@pytest.mark.parametrize(
    "path,value,message",
    [
        (
            ("spec", "ports", 0, "protocol"),
            6,
            "json: cannot unmarshal number into Go struct field ServicePort.spec.ports.protocol of type string",
        ),
        (
            ("spec", "ports", 0, "port"),
            "80",
            "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32",
        ),
        (("spec", "ports", 0, "port"), 2**31, "of type int32"),  # out of int32's range
        (("spec", "ports", 0, "port"), 80.5, "of type int32"),
        (
            ("spec", "ports"),
            {},
            "json: cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []ServicePort",
        ),
        (("metadata", "labels"), ["a"], "Go struct field ObjectMeta.metadata.labels of type map[string]string"),
        (
            ("spec", "selector", "app"),
            True,
            "json: cannot unmarshal bool into Go struct field ServiceSpec.spec.selector",
        ),
        (("spec",), "x", "json: cannot unmarshal string into Go struct field Service.spec of type ServiceSpec"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_as_go_would(path: tuple[Any, ...], value: Any, message: str) -> None:
    obj = copy.deepcopy(SERVICE)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DecodeError) as caught:
        decode_in_place(obj, "", "v1", "Service")
    assert str(caught.value).startswith('Service in version "v1" cannot be handled as a Service: ')
    assert message in str(caught.value)


def test_int_or_string_takes_both() -> None:
    obj = copy.deepcopy(SERVICE)
    obj["spec"]["ports"][0]["targetPort"] = 8080
    assert _decoded(obj) == obj


def test_nulls_leave_zero_values_and_unknown_fields_go() -> None:
    obj = copy.deepcopy(SERVICE)
    obj["metadata"]["name"] = None
    obj["spec"]["ports"].append(None)
    obj["spec"]["selector"]["tier"] = None
    obj["spec"]["bogus"] = {"x": 1}
    obj["extra"] = 1
    decoded = _decoded(obj)
    assert "name" not in decoded["metadata"]
    assert decoded["spec"]["ports"][1] == {}
    assert decoded["spec"]["selector"] == {"app": "web", "tier": ""}
    assert "bogus" not in decoded["spec"] and "extra" not in decoded


@pytest.mark.integration
def test_the_server_answers_a_type_error_with_400_and_stores_nothing(api: Any) -> None:
    body = copy.deepcopy(SERVICE)
    body["spec"]["ports"][0]["port"] = "80"
    response = api.post("/api/v1/namespaces/default/services", body)
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert "Go struct field ServicePort.spec.ports.port of type int32" in response.json()["message"]
    assert api.get("/api/v1/namespaces/default/services/web").status_code == 404
