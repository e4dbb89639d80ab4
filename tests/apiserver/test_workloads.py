"""Workloads stored and served: apps/v1 Deployments, ReplicaSets, DaemonSets, StatefulSets,
v1 ReplicationControllers, batch/v1 Jobs - upstream defaulting, validation with upstream's
field paths, generation, the status and scale subresources, printed columns, short
names and the "all" category, through raw HTTPS, lightkube and kubectl.

No controllers run here: status stays what the server set at create.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def template(labels: dict[str, str], restart: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"containers": [{"name": "c", "image": AGNHOST}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels}, "spec": spec}


def deployment(name: str, **spec: object) -> dict[str, object]:
    body = {"selector": {"matchLabels": {"app": name}}, "template": template({"app": name}), **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def test_deployment_defaults(api) -> None:
    r = api.post(DEPLOY, deployment("web"))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (d["spec"]["revisionHistoryLimit"], d["spec"]["progressDeadlineSeconds"]) == (10, 600)
    pod_spec = d["spec"]["template"]["spec"]
    assert (pod_spec["restartPolicy"], pod_spec["dnsPolicy"], pod_spec["terminationGracePeriodSeconds"]) == (
        "Always",
        "ClusterFirst",
        30,
    )
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "enableServiceLinks" not in pod_spec and "tolerations" not in pod_spec  # pods only
    assert d["metadata"]["generation"] == 1 and d["status"] == {}


def test_deployment_selector_required_and_must_match(api) -> None:
    body = deployment("web")
    del body["spec"]["selector"]  # type: ignore[attr-defined]
    r = api.post(DEPLOY, body)
    assert r.status_code == 422
    assert r.json()["message"] == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]'
    )
    r = api.post(DEPLOY, deployment("web", selector={"matchLabels": {"app": "other"}}))
    assert [c["field"] for c in r.json()["details"]["causes"]] == ["spec.template.metadata.labels"]
    r = api.post(DEPLOY, deployment("web", strategy={"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}))
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 0: may not be 0 when `maxSurge` is 0",
            "field": "spec.strategy.rollingUpdate.maxUnavailable",
        }
    ]


def test_deployment_generation_status_and_immutable_selector(api) -> None:
    api.post(DEPLOY, deployment("web"))
    merge = "application/merge-patch+json"
    labelled = api.patch(f"{DEPLOY}/web", {"metadata": {"labels": {"x": "y"}}}, merge).json()
    assert labelled["metadata"]["generation"] == 1
    scaled = api.patch(f"{DEPLOY}/web", {"spec": {"replicas": 3}}, merge).json()
    assert scaled["metadata"]["generation"] == 2
    status = {"status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3}}
    assert api.patch(f"{DEPLOY}/web", status, merge).json()["status"] == {}  # main resource ignores status
    written = api.patch(f"{DEPLOY}/web/status", status, merge).json()
    assert written["status"]["readyReplicas"] == 3 and written["metadata"]["generation"] == 2
    r = api.patch(f"{DEPLOY}/web", {"spec": {"selector": {"matchLabels": {"app": "x"}}}}, merge)
    assert r.status_code == 422
    assert "spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{" in r.json()["message"]
    assert "field is immutable" in r.json()["message"]


def test_scale_subresource(api) -> None:
    api.post(DEPLOY, deployment("web"))
    scale = api.get(f"{DEPLOY}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 1} and scale["status"] == {"replicas": 0, "selector": "app=web"}
    scale["spec"]["replicas"] = 4
    put = api.put(f"{DEPLOY}/web/scale", scale)
    assert put.status_code == 200 and put.json()["spec"] == {"replicas": 4}
    d = api.get(f"{DEPLOY}/web").json()
    assert d["spec"]["replicas"] == 4 and d["metadata"]["generation"] == 2
    stale = api.put(f"{DEPLOY}/web/scale", scale)  # carries the old resourceVersion
    assert stale.status_code == 409
    bad = api.patch(f"{DEPLOY}/web/scale", {"spec": {"replicas": -1}}, "application/merge-patch+json")
    assert bad.status_code == 422
    assert bad.json()["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    )


def test_job_selector_generated_and_restart_policy(api) -> None:
    jobs = "/apis/batch/v1/namespaces/default/jobs"
    body = {"metadata": {"name": "pi"}, "spec": {"template": template({"app": "pi"})}}
    r = api.post(jobs, body)
    assert r.status_code == 422
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Always": supported values: "OnFailure", "Never"',
            "field": "spec.template.spec.restartPolicy",
        }
    ]
    body["spec"]["template"] = template({"app": "pi"}, restart="Never")  # type: ignore[index]
    job = api.post(jobs, body).json()
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["controller-uid"] == uid
    assert job["metadata"]["labels"] == {"app": "pi"}  # copied from the template, before generation
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"], spec["completionMode"]) == (
        1,
        1,
        6,
        "NonIndexed",
    )


def test_replication_controller_defaults_selector_from_template(api) -> None:
    rcs = "/api/v1/namespaces/default/replicationcontrollers"
    rc = api.post(rcs, {"metadata": {"name": "rc"}, "spec": {"template": template({"app": "rc"})}}).json()
    assert rc["spec"]["selector"] == {"app": "rc"} and rc["metadata"]["labels"] == {"app": "rc"}
    assert rc["spec"]["replicas"] == 1 and rc["status"] == {"replicas": 0}
    assert api.get(f"{rcs}/rc/scale").json()["status"]["selector"] == "app=rc"


def test_stateful_and_daemon_sets(api) -> None:
    sts = "/apis/apps/v1/namespaces/default/statefulsets"
    body = {
        "metadata": {"name": "db"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}, "template": template({"app": "db"})},
    }
    created = api.post(sts, body).json()
    assert created["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert created["spec"]["podManagementPolicy"] == "OrderedReady"
    r = api.patch(f"{sts}/db", {"spec": {"podManagementPolicy": "Parallel"}}, "application/merge-patch+json")
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec"
    ds = "/apis/apps/v1/namespaces/default/daemonsets"
    created = api.post(ds, dict(body, metadata={"name": "agent"})).json()
    assert created["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert created["status"]["desiredNumberScheduled"] == 0


def test_lightkube_create_and_scale(apiserver) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.models.apps_v1 import DeploymentSpec
    from lightkube.models.autoscaling_v1 import ScaleSpec
    from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
    from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
    from lightkube.resources.apps_v1 import Deployment

    client = Client(KubeConfig.from_file(str(apiserver.kubeconfig)))
    spec = DeploymentSpec(
        selector=LabelSelector(matchLabels={"app": "lk"}),
        template=PodTemplateSpec(
            metadata=ObjectMeta(labels={"app": "lk"}), spec=PodSpec(containers=[Container(name="c", image=AGNHOST)])
        ),
    )
    client.create(Deployment(metadata=ObjectMeta(name="lk", namespace="default"), spec=spec))
    client.replace(Deployment.Scale(metadata=ObjectMeta(name="lk", namespace="default"), spec=ScaleSpec(replicas=5)))
    assert client.get(Deployment, "lk", namespace="default").spec.replicas == 5
    assert client.get(Deployment.Scale, "lk", namespace="default").spec.replicas == 5


def test_kubectl_create_scale_and_columns(kubectl) -> None:
    kubectl("create", "deployment", "web", f"--image={AGNHOST}", "--", "/agnhost", "netexec")
    assert "scaled" in kubectl("scale", "deploy/web", "--replicas=5").stdout
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    lines = kubectl("get", "deploy").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:4] == ["web", "0/5", "0", "0"]
    wide = kubectl("get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"] and wide[1].split()[-1] == "app=web"
    kubectl("create", "job", "once", f"--image={AGNHOST}", "--", "/agnhost", "pause")
    job = kubectl("get", "jobs").stdout.splitlines()
    assert job[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert job[1].split()[:3] == ["once", "Running", "0/1"]
    everything = kubectl("get", "all").stdout
    assert "deployment.apps/web" in everything and "job.batch/once" in everything
    assert kubectl("get", "rs,ds,sts,rc").returncode == 0


def test_controller_revisions(api, kubectl) -> None:
    revisions = "/apis/apps/v1/namespaces/default/controllerrevisions"
    r = api.post(revisions, {"metadata": {"name": "r"}, "revision": -1})
    assert [c["field"] for c in r.json()["details"]["causes"]] == ["data", "revision"]
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": True}
    body = {"metadata": {"name": "agent-1", "ownerReferences": [owner]}, "data": {"spec": {}}, "revision": 1}
    assert api.post(revisions, body).status_code == 201
    changed = api.patch(f"{revisions}/agent-1", {"data": {"spec": {"x": 1}}}, "application/merge-patch+json")
    assert changed.status_code == 422 and changed.json()["details"]["causes"][0]["field"] == "data"
    lines = kubectl("get", "controllerrevisions").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert lines[1].split()[:3] == ["agent-1", "daemonset.apps/agent", "1"]
