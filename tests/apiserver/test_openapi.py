"""OpenAPI as kubectl reads it: v3 schemas for ``explain``, v2 protobuf for validating a ``kind: List``.

Unit part: the conversion from the bundled JSON-Schema definitions and the
gnostic protobuf encoding, read back with our own protobuf field reader. The
integration part runs the real kubectl against a real ``svclab apiserver``.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from svclab.apiserver import openapi
from svclab.apiserver.openapi_proto import encode_document, encode_schema
from svclab.apiserver.protobuf import iter_fields


def _fields(buffer: bytes) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for number, _wire, value in iter_fields(buffer):
        found.setdefault(number, []).append(value)
    return found


def test_v2_schemas_have_single_types_and_definition_refs() -> None:
    spec = openapi.v2_schemas()["io.k8s.api.core.v1.ServiceSpec"]
    assert spec["properties"]["clusterIP"] == {"type": "string"}
    assert spec["properties"]["ports"]["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.ServicePort"}
    assert spec["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "port"


def test_v3_schemas_point_at_components() -> None:
    service = openapi.v3_schemas()["io.k8s.api.core.v1.Service"]
    assert service["properties"]["spec"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}
    assert service["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Service", "version": "v1"}]


def test_unions_are_untyped_in_v2_and_kept_in_v3() -> None:
    assert openapi.v2_schemas()["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {}
    assert len(openapi.v3_schemas()["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"]) == 2


def test_refs_to_missing_definitions_are_dropped() -> None:
    names = set(openapi.definitions())

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for k, v in node.items() if k != "$ref" for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    dangling = [r for r in refs(openapi.v2_schemas()) if r.removeprefix("#/definitions/") not in names]
    assert dangling == []


def test_schema_encoding_reads_back() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"$ref": "#/definitions/X"}, "b": {"type": "array", "items": {"type": "string"}}},
        "additionalProperties": False,
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "K", "version": "v1"}],
    }
    fields = _fields(encode_schema(schema))
    assert fields[19] == [b"a"]
    assert _fields(fields[22][0]) == {1: [b"object"]}
    assert _fields(fields[21][0]) == {2: [0]}  # additionalProperties: false, written explicitly
    named = [_fields(p) for p in _fields(fields[25][0])[1]]
    assert [n[1][0] for n in named] == [b"a", b"b"]
    assert _fields(named[0][2][0]) == {1: [b"#/definitions/X"]}
    items = _fields(_fields(named[1][2][0])[23][0])[1][0]
    assert _fields(items) == {22: [b"\n\x06string"]}
    extension = _fields(fields[31][0])
    assert extension[1] == [b"x-kubernetes-group-version-kind"]
    assert yaml.safe_load(_fields(extension[2][0])[2][0]) == [{"group": "", "kind": "K", "version": "v1"}]


def test_document_encoding_names_every_definition() -> None:
    document = openapi.v2_document("v1.33.0")
    fields = _fields(encode_document(document))
    assert fields[1] == [b"2.0"]
    assert _fields(fields[2][0]) == {1: [b"Kubernetes"], 2: [b"v1.33.0"]}
    names = [_fields(entry)[1][0].decode() for entry in _fields(fields[9][0])[1]]
    assert names == list(document["definitions"])


@pytest.mark.integration
def test_kubectl_explain_and_apply_a_list(kubectl, tmp_path) -> None:  # type: ignore[no-untyped-def]
    explained = kubectl("explain", "service.spec").stdout
    assert "FIELD: spec <ServiceSpec>" in explained and "clusterIP\t<string>" in explained

    kubectl("create", "configmap", "c1", "--from-literal=a=1")
    kubectl("create", "service", "clusterip", "s1", "--tcp=80:8080")
    listed = kubectl("get", "configmap/c1", "service/s1", "-o", "yaml").stdout
    assert yaml.safe_load(listed)["kind"] == "List"
    path = tmp_path / "list.yaml"
    path.write_text(listed)
    applied = kubectl("apply", "-f", str(path)).stdout
    assert "configmap/c1 configured" in applied and "service/s1 configured" in applied

    path.write_text(listed.replace("port: 80\n", 'port: "eighty"\n'))
    refused = kubectl("apply", "-f", str(path), check=False)
    assert refused.returncode == 1
    assert 'invalid type for io.k8s.api.core.v1.ServicePort.port: got "string", expected "integer"' in refused.stderr
