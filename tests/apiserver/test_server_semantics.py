"""The API server over raw HTTPS: status codes, Status bodies and object semantics.

Address plan: service CIDR 10.96.0.0/16 (the default), so default/kubernetes
is 10.96.0.1 and the API server advertises 127.0.0.1.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration

SVC = "/api/v1/namespaces/default/services"


def service(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def test_unauthenticated_request_gets_401(apiserver, api) -> None:
    import requests

    r = requests.get(apiserver.server + "/api/v1/namespaces", verify=str(apiserver.ca_file))
    assert r.status_code == 401
    assert r.json()["reason"] == "Unauthorized"
    assert requests.get(apiserver.server + "/healthz", verify=str(apiserver.ca_file)).text == "ok"


def test_kubernetes_service_endpoints_and_slice(api) -> None:
    svc = api.get(f"{SVC}/kubernetes").json()
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    ep = api.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
    port = int(api.base.rsplit(":", 1)[1])
    assert ep["subsets"][0]["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]
    sl = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").json()
    assert sl["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert sl["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}


def test_create_defaults_and_allocates(api) -> None:
    r = api.post(SVC, service("web"))
    assert r.status_code == 201, r.text
    svc = r.json()
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    assert svc["metadata"]["uid"] and svc["metadata"]["creationTimestamp"]
    again = api.post(SVC, service("web"))
    assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists"


def test_requested_cluster_ip_taken_is_422(api) -> None:
    assert api.post(SVC, service("a", clusterIP="10.96.0.50")).status_code == 201
    r = api.post(SVC, service("b", clusterIP="10.96.0.50"))
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert "provided IP is already allocated" in body["message"]
    assert body["details"]["causes"][0]["field"] == "spec.clusterIPs"


def test_validation_error_is_status_with_field_path(api) -> None:
    bad = service("bad")
    bad["spec"]["ports"] = [{"port": 70000}]  # type: ignore[index]
    r = api.post(SVC, bad)
    assert r.status_code == 422
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert "spec.ports[0].port" in fields


def test_stale_update_conflicts(api) -> None:
    svc = api.post(SVC, service("c")).json()
    svc["metadata"]["labels"] = {"x": "1"}
    ok = api.put(f"{SVC}/c", svc)
    assert ok.status_code == 200
    assert int(ok.json()["metadata"]["resourceVersion"]) > int(svc["metadata"]["resourceVersion"])
    stale = api.put(f"{SVC}/c", svc)
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"


def test_unchanged_update_keeps_resource_version(api) -> None:
    svc = api.post(SVC, service("same")).json()
    again = api.put(f"{SVC}/same", svc).json()
    assert again["metadata"]["resourceVersion"] == svc["metadata"]["resourceVersion"]


def test_generate_name(api) -> None:
    r = api.post("/api/v1/namespaces/default/endpoints", {"metadata": {"generateName": "web-"}})
    assert r.status_code == 201
    assert r.json()["metadata"]["name"].startswith("web-") and len(r.json()["metadata"]["name"]) == 9


def test_create_in_missing_namespace_is_404(api) -> None:
    r = api.post("/api/v1/namespaces/nope/services", service("x"))
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "nope" not found'


def test_list_limit_continue_and_selectors(api) -> None:
    for i in range(5):
        body = service(f"s{i}")
        body["metadata"]["labels"] = {"tier": "a" if i % 2 else "b"}  # type: ignore[index]
        assert api.post(SVC, body).status_code == 201
    page = api.get(SVC, limit=2, labelSelector="tier").json()
    names = [i["metadata"]["name"] for i in page["items"]]
    assert names == ["s0", "s1"] and page["metadata"]["remainingItemCount"] == 3
    rest = api.get(SVC, limit=10, labelSelector="tier", **{"continue": page["metadata"]["continue"]}).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["s2", "s3", "s4"]
    a = api.get(SVC, labelSelector="tier in (a)").json()
    assert [i["metadata"]["name"] for i in a["items"]] == ["s1", "s3"]
    named = api.get(SVC, fieldSelector="metadata.name=s4").json()
    assert [i["metadata"]["name"] for i in named["items"]] == ["s4"]
    assert api.get(SVC, fieldSelector="spec.bogus=1").status_code == 400


def test_patches(api) -> None:
    api.post(SVC, service("p"))
    merge = api.patch(f"{SVC}/p", {"metadata": {"labels": {"a": "1"}}}, "application/merge-patch+json")
    assert merge.status_code == 200 and merge.json()["metadata"]["labels"] == {"a": "1"}
    jp = api.patch(
        f"{SVC}/p", [{"op": "add", "path": "/metadata/labels/b", "value": "2"}], "application/json-patch+json"
    )
    assert jp.json()["metadata"]["labels"] == {"a": "1", "b": "2"}
    smp = api.patch(
        f"{SVC}/p",
        {"spec": {"ports": [{"port": 81, "name": "b"}, {"port": 80, "name": "a"}]}},
        "application/strategic-merge-patch+json",
    )
    assert smp.status_code == 200, smp.text
    assert sorted(p["port"] for p in smp.json()["spec"]["ports"]) == [80, 81]


def test_status_subresource_keeps_spec(api) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    created = api.post("/api/v1/namespaces/default/pods", pod).json()
    assert created["status"]["phase"] == "Pending"
    created["status"].update(phase="Running", podIP="10.244.1.5")
    created["spec"]["nodeName"] = "sneaky"
    updated = api.put("/api/v1/namespaces/default/pods/p/status", created).json()
    assert updated["status"]["phase"] == "Running"
    assert "nodeName" not in updated["spec"]


def test_service_status_write_keeps_metadata_but_not_spec(api) -> None:
    # Upstream serviceStatusStrategy copies only the old spec: labels and annotations
    # sent to services/NAME/status are stored (the conformance status lifecycle relies on it).
    created = api.post(SVC, service("st", type="LoadBalancer")).json()
    created["metadata"]["annotations"] = {"patchedstatus": "true"}
    created["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}
    created["spec"]["sessionAffinity"] = "ClientIP"
    answer = api.put(f"{SVC}/st/status", created)
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert updated["metadata"]["annotations"] == {"patchedstatus": "true"}
    assert updated["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.1"}]
    assert updated["spec"]["sessionAffinity"] == "None"
    pod = {"metadata": {"name": "meta"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    posted = api.post("/api/v1/namespaces/default/pods", pod).json()
    posted["metadata"]["labels"] = {"sneaky": "1"}
    pod_after = api.put("/api/v1/namespaces/default/pods/meta/status", posted).json()
    assert "labels" not in pod_after["metadata"]  # pods reset metadata on status writes


def test_binding_and_graceful_pod_deletion(api) -> None:
    pods = "/api/v1/namespaces/default/pods"
    api.post(pods, {"metadata": {"name": "g"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    bind = api.post(
        f"{pods}/g/binding",
        {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "g"}, "target": {"name": "node-1"}},
    )
    assert bind.status_code == 201
    assert api.get(f"{pods}/g").json()["spec"]["nodeName"] == "node-1"
    deleted = api.delete(f"{pods}/g").json()
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 30
    assert deleted["metadata"]["deletionTimestamp"]
    assert api.get(f"{pods}/g").status_code == 200  # still there until the kubelet finishes
    gone = api.delete(f"{pods}/g", {"gracePeriodSeconds": 0})
    assert gone.status_code == 200
    assert api.get(f"{pods}/g").status_code == 404
    api.post(pods, {"metadata": {"name": "u"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    api.delete(f"{pods}/u")
    assert api.get(f"{pods}/u").status_code == 404  # unbound pods go at once


def test_finalizers_hold_deletion(api) -> None:
    eps = "/api/v1/namespaces/default/endpoints"
    api.post(eps, {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}})
    held = api.delete(f"{eps}/f").json()
    assert held["metadata"]["deletionTimestamp"]
    obj = api.get(f"{eps}/f").json()
    obj["metadata"]["finalizers"] = []
    api.put(f"{eps}/f", obj)
    assert api.get(f"{eps}/f").status_code == 404


def _wait_gone(api, path: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while api.get(path).status_code != 404:
        assert time.monotonic() < deadline, f"{path} still there"
        time.sleep(0.05)


def test_gc_deletes_owned_slices(api) -> None:
    svc = api.post(SVC, service("owner")).json()
    slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    owned = {
        "metadata": {
            "name": "owner-abc",
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": "owner",
                    "uid": svc["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": [],
        "ports": [],
    }
    assert api.post(slices, owned).status_code == 201, api.post(slices, owned).text
    api.delete(f"{SVC}/owner")
    _wait_gone(api, f"{slices}/owner-abc")


def test_namespace_deletion_removes_contents(api) -> None:
    api.post("/api/v1/namespaces", {"metadata": {"name": "tmp"}})
    api.post("/api/v1/namespaces/tmp/services", service("x"))
    ns = api.delete("/api/v1/namespaces/tmp").json()
    assert ns["status"]["phase"] == "Terminating"
    _wait_gone(api, "/api/v1/namespaces/tmp")
    assert api.get("/api/v1/namespaces/tmp/services/x").status_code == 404


def test_namespace_waits_for_a_terminating_pod_then_goes(api) -> None:
    api.post("/api/v1/namespaces", {"metadata": {"name": "tmp2"}})
    pods = "/api/v1/namespaces/tmp2/pods"
    api.post(pods, {"metadata": {"name": "g"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    api.post(
        f"{pods}/g/binding",
        {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "g"}, "target": {"name": "node-1"}},
    )
    api.delete("/api/v1/namespaces/tmp2")
    time.sleep(0.5)  # the bound pod has its grace period: the namespace stays
    assert api.get("/api/v1/namespaces/tmp2").json()["status"]["phase"] == "Terminating"
    assert api.get(f"{pods}/g").json()["metadata"]["deletionTimestamp"]
    api.delete(f"{pods}/g", {"gracePeriodSeconds": 0})  # what the node agent does at the end
    _wait_gone(api, "/api/v1/namespaces/tmp2", timeout=0.9)  # on the write, not a 1 s recheck


def test_nodeport_allocation_and_type_changes(api) -> None:
    svc = api.post(SVC, service("np", type="NodePort")).json()
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    svc["spec"] = {"type": "ExternalName", "externalName": "example.com"}
    ext = api.put(f"{SVC}/np", svc)
    assert ext.status_code == 200, ext.text
    assert "clusterIP" not in ext.json()["spec"] or ext.json()["spec"]["clusterIP"] == ""
    again = api.post(SVC, service("np2", type="NodePort", ports=[{"port": 80, "nodePort": node_port}]))
    assert again.status_code == 201, again.text  # released by the type change


def _watch_events(api, **params: str) -> list[dict]:
    r = api.session.get(
        api.base + SVC, params={"watch": "true", "timeoutSeconds": "1", **params}, stream=True, timeout=10
    )
    return [json.loads(line) for line in r.iter_lines() if line]


def test_watch_from_resource_version(api) -> None:
    start = api.get(SVC).json()["metadata"]["resourceVersion"]
    api.post(SVC, service("w1"))
    api.delete(f"{SVC}/w1")
    events = _watch_events(api, resourceVersion=start)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1"), ("DELETED", "w1")]


def test_watch_too_old_after_restart_is_410(apiserver, api, restart) -> None:
    start = api.get(SVC).json()["metadata"]["resourceVersion"]
    api.post(SVC, service("w2"))
    apiserver.stop()
    _, again = restart(apiserver.state_dir)
    events = _watch_events(again, resourceVersion=start)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    current = again.get(SVC).json()["metadata"]["resourceVersion"]
    assert _watch_events(again, resourceVersion=current) == []


def test_filtered_watch_sees_object_leave_as_deleted(api) -> None:
    body = service("moving")
    body["metadata"]["labels"] = {"team": "a"}  # type: ignore[index]
    created = api.post(SVC, body).json()
    api.patch(f"{SVC}/moving", {"metadata": {"labels": {"team": "b"}}}, "application/merge-patch+json")
    events = _watch_events(api, resourceVersion=created["metadata"]["resourceVersion"], labelSelector="team=a")
    assert [e["type"] for e in events] == ["DELETED"]


def test_watch_send_initial_events_bookmark(api) -> None:
    r = api.session.get(
        api.base + SVC,
        params={
            "watch": "true",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
        stream=True,
        timeout=10,
    )
    events = [json.loads(line) for line in r.iter_lines() if line]
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "kubernetes"
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert marks[0]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_restart_keeps_writes_and_resource_versions(apiserver, api, restart) -> None:
    import signal as sig

    created = api.post(SVC, service("durable")).json()
    apiserver.stop(sig.SIGKILL)
    _, again = restart(apiserver.state_dir)
    if True:
        got = again.get(f"{SVC}/durable").json()
        assert got["spec"]["clusterIP"] == created["spec"]["clusterIP"]
        newer = again.post(SVC, service("after")).json()
        assert int(newer["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
        clash = again.post(SVC, service("clash", clusterIP=created["spec"]["clusterIP"]))
        assert clash.status_code == 422  # allocations restored from storage


def test_update_without_allocated_fields_keeps_them(api) -> None:
    created = api.post(SVC, service("keep", type="NodePort")).json()
    body = service("keep", type="NodePort")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]  # type: ignore[index]
    r = api.put(f"{SVC}/keep", body)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert r.json()["spec"]["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]


def test_put_creates_endpoints_but_not_endpointslices(api) -> None:
    ep = api.put("/api/v1/namespaces/default/endpoints/made-by-put", {"metadata": {"name": "made-by-put"}})
    assert ep.status_code == 201
    sl = api.put(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/gone",
        {"metadata": {"name": "gone"}, "addressType": "IPv4", "endpoints": []},
    )
    assert sl.status_code == 404
