"""``dryRun=All`` on every write: validated and answered as if done, nothing stored and
no watch event; other values rejected with upstream's 422 on ``<Verb>Options``.

Address plan: service CIDR 10.96.0.0/16; dry-run Services get an address that stays free.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/default/configmaps"
SVC = "/api/v1/namespaces/default/services"
MERGE = "application/merge-patch+json"


def test_dry_run_create_stores_nothing(api) -> None:
    r = api.post(CM, {"metadata": {"name": "dry"}, "data": {"a": "1"}}, dryRun="All")
    assert r.status_code == 201 and r.json()["metadata"]["uid"]
    assert "resourceVersion" not in r.json()["metadata"]
    assert api.get(f"{CM}/dry").status_code == 404
    invalid = api.post(CM, {"metadata": {"name": "Bad_Name"}}, dryRun="All")
    assert invalid.status_code == 422  # still validated


def test_dry_run_service_allocates_nothing(api) -> None:
    body = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    dry = api.post(SVC, body, dryRun="All").json()
    assert dry["spec"]["clusterIP"].startswith("10.96.") and dry["spec"]["ports"][0]["nodePort"]
    real = api.post(SVC, dict(body, spec=dict(body["spec"], clusterIP=dry["spec"]["clusterIP"])))
    assert real.status_code == 201, real.text  # the dry run's address was given back


def test_dry_run_update_patch_delete_change_nothing(api) -> None:
    created = api.post(CM, {"metadata": {"name": "c"}, "data": {"a": "1"}}).json()
    rv = created["metadata"]["resourceVersion"]
    patched = api.patch(f"{CM}/c", {"data": {"a": "2"}}, MERGE, dryRun="All")
    assert patched.status_code == 200 and patched.json()["data"] == {"a": "2"}
    put = api.put(f"{CM}/c", dict(created, data={"a": "3"}), dryRun="All")
    assert put.status_code == 200 and put.json()["data"] == {"a": "3"}
    assert api.delete(f"{CM}/c", dryRun="All").status_code == 200
    assert api.delete(CM, dryRun="All").json()["items"][0]["metadata"]["name"] == "c"
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}
    assert api.delete(f"{CM}/c", body).status_code == 200
    current = api.get(f"{CM}/c").json()
    assert current["data"] == {"a": "1"} and current["metadata"]["resourceVersion"] == rv


def test_dry_run_sends_no_watch_event(apiserver, api) -> None:
    import requests

    rv = api.get(CM).json()["metadata"]["resourceVersion"]
    api.post(CM, {"metadata": {"name": "ghost"}}, dryRun="All")
    api.post(CM, {"metadata": {"name": "real"}})
    with requests.get(
        apiserver.server + CM,
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        headers={"Authorization": f"Bearer {apiserver.token}"},
        verify=str(apiserver.ca_file),
        timeout=10,
    ) as stream:
        names = [json.loads(line)["object"]["metadata"]["name"] for line in stream.iter_lines() if line]
    assert names == ["real"]


@pytest.mark.parametrize(
    ("method", "options_kind"),
    [("POST", "CreateOptions"), ("PUT", "UpdateOptions"), ("PATCH", "PatchOptions"), ("DELETE", "DeleteOptions")],
)
def test_unknown_dry_run_value_rejected(api, method: str, options_kind: str) -> None:
    api.post(CM, {"metadata": {"name": "c"}})
    path = CM if method == "POST" else f"{CM}/c"
    body = None if method == "DELETE" else {"metadata": {"name": "c"}}
    ctype = MERGE if method == "PATCH" else "application/json"
    r = api.request(method, path, body, content_type=ctype, dryRun="Maybe")
    assert r.status_code == 422
    assert r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{options_kind}.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{{"Maybe"}}: '
        'supported values: "All"',
        "reason": "Invalid",
        "details": {
            "group": "meta.k8s.io",
            "kind": options_kind,
            "causes": [
                {
                    "reason": "FieldValueNotSupported",
                    "message": 'Unsupported value: []string{"Maybe"}: supported values: "All"',
                    "field": "dryRun",
                }
            ],
        },
        "code": 422,
    }
    assert api.get(f"{CM}/c").status_code == 200


def test_kubectl_dry_run_server(kubectl) -> None:
    out = kubectl(
        "create", "deployment", "web", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--dry-run=server"
    )
    assert "deployment.apps/web created (server dry run)" in out.stdout
    assert "NotFound" in kubectl("get", "deploy", "web", check=False).stderr
