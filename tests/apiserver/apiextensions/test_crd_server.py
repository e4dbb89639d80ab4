"""CustomResourceDefinitions and custom objects against a real ``svclab apiserver``.

Address plan: group stable.example.com, kind CronTab (plural crontabs, short
name ct), namespaced, version v1 (storage) plus v1beta1 where a test needs two;
objects in namespace default named ct-1, ct-2.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest
from crd_builders import CRD_NAME, CRDS, CTS, crontab, crontab_crd, wait_established

pytestmark = pytest.mark.integration


@pytest.fixture
def established(api: Any) -> dict[str, Any]:
    created = api.post(CRDS, crontab_crd())
    assert created.status_code == 201, created.text
    return wait_established(api)


def test_crd_gets_defaults_and_conditions(api: Any, established: dict[str, Any]) -> None:
    assert established["spec"]["names"]["singular"] == "crontab"
    assert established["spec"]["names"]["listKind"] == "CronTabList"
    status = established["status"]
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "NamesAccepted": "NoConflicts",
        "Established": "InitialNamesAccepted",
    }
    assert status["acceptedNames"]["plural"] == "crontabs" and status["storedVersions"] == ["v1"]


def test_invalid_crd_is_422_with_the_field(api: Any) -> None:
    crd = crontab_crd()
    crd["metadata"]["name"] = "crontabs.other.example.com"
    refused = api.post(CRDS, crd)
    assert refused.status_code == 422
    assert [c["field"] for c in refused.json()["details"]["causes"]] == ["metadata.name"]
    assert api.get(CTS).status_code == 404


def test_discovery_lists_the_group_and_resource(api: Any, established: dict[str, Any]) -> None:
    groups = {g["name"]: g for g in api.get("/apis").json()["groups"]}
    assert groups["stable.example.com"]["preferredVersion"]["groupVersion"] == "stable.example.com/v1"
    resources = {r["name"]: r for r in api.get("/apis/stable.example.com/v1").json()["resources"]}
    assert set(resources) == {"crontabs", "crontabs/status", "crontabs/scale"}
    assert resources["crontabs"]["kind"] == "CronTab" and resources["crontabs"]["shortNames"] == ["ct"]
    assert resources["crontabs/scale"]["group"] == "autoscaling"
    index = api.get("/openapi/v3").json()["paths"]
    assert "apis/stable.example.com/v1" in index
    schemas = api.get("/openapi/v3/apis/stable.example.com/v1").json()["components"]["schemas"]
    assert schemas["com.example.stable.v1.CronTab"]["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "version": "v1", "kind": "CronTab"}
    ]


def test_create_prunes_defaults_and_validates(api: Any, established: dict[str, Any]) -> None:
    body = crontab("ct-1", cronSpec="* * * * */5", bogus=1, free={"kept": [1]})
    body["status"] = {"replicas": 9}  # a status subresource: ignored on create
    created = api.post(CTS, body)
    assert created.status_code == 201, created.text
    obj = created.json()
    assert obj["spec"] == {"cronSpec": "* * * * */5", "free": {"kept": [1]}, "replicas": 1}
    assert "status" not in obj and obj["metadata"]["generation"] == 1
    refused = api.post(CTS, crontab("ct-2", replicas=-1))
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        'CronTab.stable.example.com "ct-2" is invalid: spec.replicas: Invalid value: -1: '
        "should be greater than or equal to 0"
    )


def test_update_patch_and_generation(api: Any, established: dict[str, Any]) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a"))
    current = api.get(f"{CTS}/ct-1").json()
    current["spec"]["cronSpec"] = "b"
    replaced = api.put(f"{CTS}/ct-1", current).json()
    assert replaced["metadata"]["generation"] == 2
    merged = api.patch(f"{CTS}/ct-1", {"spec": {"cronSpec": "c"}}, "application/merge-patch+json")
    assert merged.status_code == 200 and merged.json()["spec"]["cronSpec"] == "c"
    patched = api.patch(
        f"{CTS}/ct-1", [{"op": "replace", "path": "/spec/replicas", "value": 4}], "application/json-patch+json"
    )
    assert patched.json()["spec"]["replicas"] == 4 and patched.json()["metadata"]["generation"] == 4
    labels = api.patch(f"{CTS}/ct-1", {"metadata": {"labels": {"a": "b"}}}, "application/merge-patch+json")
    assert labels.json()["metadata"]["generation"] == 4  # metadata is not spec
    strategic = api.patch(f"{CTS}/ct-1", {"spec": {}}, "application/strategic-merge-patch+json")
    assert strategic.status_code == 415


def test_server_side_apply_creates_and_updates(api: Any, established: dict[str, Any]) -> None:
    body = orjson.dumps(crontab("ct-1", cronSpec="x")).decode()
    url = f"{api.base}{CTS}/ct-1"
    headers = {"Content-Type": "application/apply-patch+yaml"}
    first = api.session.patch(url, data=body, headers=headers, params={"fieldManager": "t"})
    assert first.status_code == 201, first.text
    again = api.session.patch(url, data=body.replace('"x"', '"y"'), headers=headers, params={"fieldManager": "t"})
    assert again.status_code == 200 and again.json()["spec"]["cronSpec"] == "y"


def test_status_subresource_splits_writes(api: Any, established: dict[str, Any]) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a"))
    written = api.patch(
        f"{CTS}/ct-1/status", {"status": {"replicas": 2}, "spec": {"cronSpec": "z"}}, "application/merge-patch+json"
    )
    assert written.status_code == 200, written.text
    assert written.json()["status"] == {"replicas": 2} and written.json()["spec"]["cronSpec"] == "a"
    main = api.patch(f"{CTS}/ct-1", {"status": {"replicas": 7}}, "application/merge-patch+json").json()
    assert main["status"] == {"replicas": 2}
    assert api.get(f"{CTS}/ct-1/status").json()["status"] == {"replicas": 2}


def test_scale_subresource_reads_and_writes_the_declared_paths(api: Any, established: dict[str, Any]) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a", replicas=2))
    api.patch(f"{CTS}/ct-1/status", {"status": {"replicas": 1, "selector": "app=ct"}}, "application/merge-patch+json")
    scale = api.get(f"{CTS}/ct-1/scale").json()
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 1, "selector": "app=ct"}
    scale["spec"]["replicas"] = 5
    assert api.put(f"{CTS}/ct-1/scale", scale).json()["spec"]["replicas"] == 5
    assert api.get(f"{CTS}/ct-1").json()["spec"]["replicas"] == 5


def test_no_subresources_without_the_crd_saying_so(api: Any) -> None:
    api.post(CRDS, crontab_crd(subresources=False))
    wait_established(api)
    body = crontab("ct-1", cronSpec="a")
    body["status"] = {"replicas": 3}
    assert api.post(CTS, body).json()["status"] == {"replicas": 3}
    assert api.get(f"{CTS}/ct-1/status").status_code == 404
    assert api.get(f"{CTS}/ct-1/scale").status_code == 404


def test_list_watch_and_delete(api: Any, established: dict[str, Any]) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a"))
    listed = api.get(CTS).json()
    assert (listed["kind"], listed["apiVersion"]) == ("CronTabList", "stable.example.com/v1")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["ct-1"]
    all_ns = api.get("/apis/stable.example.com/v1/crontabs").json()
    assert [o["metadata"]["name"] for o in all_ns["items"]] == ["ct-1"]
    rv = listed["metadata"]["resourceVersion"]
    api.post(CTS, crontab("ct-2", cronSpec="b"))
    api.delete(f"{CTS}/ct-1")
    with api.session.get(
        api.base + CTS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}, stream=True, timeout=10
    ) as stream:
        events = [orjson.loads(line) for line in stream.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "ct-2"), ("DELETED", "ct-1")]


def test_table_uses_printer_columns(api: Any) -> None:
    crd = crontab_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "priority": 1},
    ]
    api.post(CRDS, crd)
    wait_established(api)
    api.post(CTS, crontab("ct-1", cronSpec="* * * * */5", replicas=3))
    table = api.session.get(api.base + CTS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Spec", "string", 0),
        ("Replicas", "integer", 1),
    ]
    assert table["rows"][0]["cells"] == ["ct-1", "* * * * */5", 3]


def test_deleting_the_crd_deletes_its_objects_and_stops_serving(api: Any, established: dict[str, Any]) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a"))
    assert api.delete(f"{CRDS}/{CRD_NAME}").status_code == 200
    assert api.get(CTS).status_code == 404
    assert "stable.example.com" not in {g["name"] for g in api.get("/apis").json()["groups"]}
    api.post(CRDS, crontab_crd())
    wait_established(api)
    assert api.get(CTS).json()["items"] == []  # the old objects did not come back


def test_crds_and_objects_survive_a_restart(
    apiserver: Any, api: Any, established: dict[str, Any], restart: Any
) -> None:
    api.post(CTS, crontab("ct-1", cronSpec="a"))
    apiserver.stop()
    _, again = restart(apiserver.state_dir)
    assert again.get(f"{CTS}/ct-1").json()["spec"]["cronSpec"] == "a"
    assert again.post(CTS, crontab("ct-2", replicas=-1)).status_code == 422  # the schema is back too


def test_a_kind_already_served_is_refused(api: Any) -> None:
    crd = copy.deepcopy(crontab_crd())
    crd["metadata"]["name"] = "services.other.example.com"
    crd["spec"].update(group="other.example.com", names={"plural": "services", "kind": "Service"})
    assert api.post(CRDS, crd).status_code == 201
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        conditions = (api.get(f"{CRDS}/services.other.example.com").json().get("status") or {}).get("conditions")
        if conditions:
            break
        time.sleep(0.05)
    assert {c["type"]: c["status"] for c in conditions or []} == {"NamesAccepted": "False", "Established": "False"}
    assert api.get("/apis/other.example.com/v1/namespaces/default/services").status_code == 404
    assert api.get("/api/v1/namespaces/default/services").status_code == 200


def test_cluster_scoped_custom_resource(api: Any) -> None:
    api.post(CRDS, crontab_crd(scope="Cluster"))
    wait_established(api)
    created = api.post("/apis/stable.example.com/v1/crontabs", crontab("ct-1", cronSpec="a"))
    assert created.status_code == 201 and "namespace" not in created.json()["metadata"]
    assert api.get(CTS).status_code == 404
