"""Structural-schema pruning, defaulting and validation of custom objects (pure).

Schemas are small CronTab-like ones (spec.cronSpec, spec.replicas, a map of
labels-like strings, a list of ports); expected results follow upstream's
apiextensions-apiserver pruning and OpenAPI validation rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apiserver.apiextensions.schema import default, prune, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["cronSpec"],
            "properties": {
                "cronSpec": {"type": "string", "pattern": r"^(\S+ ){4}\S+$"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "maxItems": 2,
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "note": {"type": "string", "nullable": True, "maxLength": 5},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def _obj(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "x.example.com/v1", "kind": "CronTab", "metadata": {"name": "a"}, "spec": spec}


def test_prune_drops_undeclared_fields_at_every_level() -> None:
    obj = _obj(cronSpec="* * * * *", bogus=1, ports=[{"port": 80, "extra": "x"}])
    obj["top"] = "gone"
    assert prune(obj, SCHEMA) == _obj(cronSpec="* * * * *", ports=[{"port": 80}])


def test_prune_keeps_api_version_kind_metadata_and_their_order() -> None:
    obj = {"kind": "CronTab", "metadata": {"name": "a", "labels": {"x": "y"}}, "apiVersion": "v", "spec": {}}
    assert list(prune(obj, SCHEMA)) == ["kind", "metadata", "apiVersion", "spec"]
    assert prune(obj, SCHEMA)["metadata"] == {"name": "a", "labels": {"x": "y"}}


def test_prune_keeps_what_preserve_unknown_fields_and_additional_properties_allow() -> None:
    obj = _obj(free={"anything": {"deep": [1]}}, tags={"a": "b", "c": "d"})
    assert prune(obj, SCHEMA) == obj


def test_prune_does_not_change_its_input() -> None:
    obj = _obj(cronSpec="* * * * *", bogus=1)
    prune(obj, SCHEMA)
    assert obj["spec"]["bogus"] == 1


def test_default_fills_absent_properties_only() -> None:
    assert default(_obj(cronSpec="x"), SCHEMA)["spec"]["replicas"] == 1
    assert default(_obj(cronSpec="x", replicas=4), SCHEMA)["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"cronSpec": "* * * * *"}, []),
        ({}, ["spec.cronSpec: Required value"]),
        ({"cronSpec": "nope"}, ["spec.cronSpec: Invalid value: \"nope\": should match '^(\\S+ ){4}\\S+$'"]),
        (
            {"cronSpec": "* * * * *", "replicas": 0},
            ["spec.replicas: Invalid value: 0: should be greater than or equal to 1"],
        ),
        (
            {"cronSpec": "* * * * *", "replicas": 11},
            ["spec.replicas: Invalid value: 11: should be less than or equal to 10"],
        ),
        ({"cronSpec": "* * * * *", "replicas": "3"}, ['spec.replicas: Invalid value: "3": must be of type integer']),
        ({"cronSpec": "* * * * *", "replicas": True}, ["spec.replicas: Invalid value: true: must be of type integer"]),
        (
            {"cronSpec": "* * * * *", "mode": "odd"},
            ['spec.mode: Unsupported value: "odd": supported values: "fast", "slow"'],
        ),
        ({"cronSpec": "* * * * *", "tags": {"a": 1}}, ["spec.tags.a: Invalid value: 1: must be of type string"]),
        (
            {"cronSpec": "* * * * *", "ports": [{"port": "x"}]},
            ['spec.ports[0].port: Invalid value: "x": must be of type integer'],
        ),
        ({"cronSpec": "* * * * *", "ports": [{}, {}, {}]}, ["spec.ports: Too many: 3: must have at most 2 items"]),
        ({"cronSpec": "* * * * *", "note": None}, []),
        ({"cronSpec": "* * * * *", "note": "toolong"}, ["spec.note: Too long: may not be more than 5 bytes"]),
    ],
    ids=[
        "valid",
        "required",
        "pattern",
        "minimum",
        "maximum",
        "string-for-integer",
        "bool-for-integer",
        "enum",
        "additional-properties-type",
        "array-items",
        "max-items",
        "nullable",
        "max-length",
    ],
)
def test_validate(spec: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in validate(_obj(**spec), SCHEMA)] == expected


def test_validate_ignores_metadata_and_accepts_integral_floats() -> None:
    obj = _obj(cronSpec="* * * * *", replicas=2.0)
    obj["metadata"] = {"name": 5}  # ObjectMeta has its own rules
    assert validate(obj, SCHEMA) == []
