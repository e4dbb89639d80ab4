"""CRD defaulting, validation, conditions and what a CRD serves; printer columns (pure).

The CRD is upstream's documentation example (crontabs.stable.example.com), with
a second, non-storage version v1beta1.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from svclab.apiserver.apiextensions.definitions import (
    PrinterColumn,
    crd_default,
    custom_kind,
    established_status,
    validate_crd,
)
from svclab.apiserver.apiextensions.printing import column_definitions, evaluate, row_cells

SCHEMA = {"openAPIV3Schema": {"type": "object"}}


def _crd() -> dict[str, Any]:
    crd: dict[str, Any] = {
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": False, "schema": SCHEMA},
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": SCHEMA,
                    "subresources": {
                        "status": {},
                        "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                    },
                    "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}],
                },
            ],
        },
    }
    crd_default(crd)
    return crd


def test_defaults_singular_list_kind_and_conversion() -> None:
    names = _crd()["spec"]["names"]
    assert (names["singular"], names["listKind"]) == ("crontab", "CronTabList")
    assert _crd()["spec"]["conversion"] == {"strategy": "None"}


def _broken(path: str, value: Any) -> dict[str, Any]:
    crd = _crd()
    *parents, last = path.split(".")
    target = crd
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return crd


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("metadata.name", "crontab.stable.example.com", "metadata.name"),
        ("spec.group", "nodots", "spec.group"),
        ("spec.scope", "Global", "spec.scope"),
        ("spec.names.plural", "CronTabs", "spec.names.plural"),
        ("spec.names.kind", "9Tab", "spec.names.kind"),
        ("spec.names.shortNames", ["C T"], "spec.names.shortNames[0]"),
        ("spec.versions.0.storage", True, "spec.versions"),
        ("spec.versions.0.name", "v1", "spec.versions[1].name"),
        ("spec.versions.1.schema", None, "spec.versions[1].schema.openAPIV3Schema"),
        ("spec.versions", [], "spec.versions"),
    ],
    ids=["name", "group", "scope", "plural", "kind", "short-name", "two-storage", "duplicate", "no-schema", "none"],
)
def test_validation_names_the_field(path: str, value: Any, field: str) -> None:
    assert validate_crd(_crd()) == []
    assert field in [e.field for e in validate_crd(_broken(path, value))]


def test_established_status_accepts_names_and_keeps_transition_times() -> None:
    crd = _crd()
    status = established_status(crd, "2026-01-01T00:00:00Z")
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"),
        ("Established", "True", "InitialNamesAccepted"),
    ]
    assert status["acceptedNames"]["kind"] == "CronTab" and status["storedVersions"] == ["v1"]
    crd["status"] = status
    again = established_status(crd, "2026-02-02T00:00:00Z")
    assert again == status  # nothing changed, nothing to write


def test_conflict_refuses_the_names() -> None:
    status = established_status(_crd(), "t", conflict='"CronTab" is already in use')
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("NamesAccepted", "False"),
        ("Established", "False"),
    ]


def test_custom_kind_serves_every_served_version_storage_first() -> None:
    served = custom_kind(_crd())
    assert [r.version for r in served.versions] == ["v1", "v1beta1"]
    assert served.resource.subresources == ("status", "scale") and served.resource.custom
    assert served.versions[1].subresources == ()
    assert served.scale is not None and served.scale.spec_replicas == ".spec.replicas"
    assert served.columns == (PrinterColumn("Spec", "string", ".spec.cronSpec"),)
    cluster = copy.deepcopy(_crd())
    cluster["spec"]["scope"] = "Cluster"
    assert not custom_kind(cluster).resource.namespaced


OBJ = {
    "metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"cronSpec": "* * * * */5", "replicas": 3, "on": True, "ratio": 1},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
}
NOW = dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (".spec.replicas", 3),
        ("{.spec.cronSpec}", "* * * * */5"),
        (".status.conditions[1].type", "Ready"),
        ('.status.conditions[?(@.type=="Ready")].status', "True"),
    ],
)
def test_evaluate_simple_json_path(path: str, value: Any) -> None:
    assert evaluate(OBJ, path) == value


def test_cells_by_column_type() -> None:
    columns = (
        PrinterColumn("Spec", "string", ".spec.cronSpec"),
        PrinterColumn("Replicas", "integer", ".spec.replicas"),
        PrinterColumn("On", "boolean", ".spec.on"),
        PrinterColumn("Ratio", "number", ".spec.ratio"),
        PrinterColumn("Missing", "string", ".spec.nothing"),
        PrinterColumn("Wrong", "integer", ".spec.cronSpec"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )
    assert row_cells(columns, OBJ, NOW) == ["a", "* * * * */5", 3, True, 1.0, None, None, "5m"]


def test_without_columns_a_crd_prints_name_and_age() -> None:
    assert [c["name"] for c in column_definitions(())] == ["Name", "Age"]
    assert row_cells((), OBJ, NOW) == ["a", "5m"]
    assert column_definitions(())[0]["format"] == "name"
