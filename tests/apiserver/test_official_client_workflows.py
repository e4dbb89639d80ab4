"""The official ``kubernetes`` client's own end-to-end workflows for workloads and
objects from YAML (read in kubernetes-client/python ``kubernetes/e2e_test``:
``test_apps.py``, ``test_batch.py``, ``test_utils.py``), in our words, against
the API server alone: no pods run, so only what the server answers is checked.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


@pytest.fixture
def api_client(apiserver):  # type: ignore[no-untyped-def]
    from kubernetes import config

    client = config.new_client_from_config(str(apiserver.kubeconfig))
    yield client
    client.close()


def test_deployment_and_daemon_set_round_trip(api_client) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(api_client)
    template = {
        "metadata": {"labels": {"app": "web"}, "name": "ignored-template-name"},
        "spec": {"containers": [{"name": "web", "image": AGNHOST, "ports": [{"containerPort": 80}]}]},
    }
    spec = {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template}
    apps.create_namespaced_deployment(
        "default", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}
    )
    read = apps.read_namespaced_deployment("web", "default")
    assert read.spec.replicas == 3 and read.spec.selector.match_labels == {"app": "web"}
    assert read.spec.template.spec.containers[0].ports[0].container_port == 80
    status = apps.delete_namespaced_deployment("web", "default", body=client.V1DeleteOptions())
    assert status["status"] == "Success"  # this client returns deletes undecoded
    ds_spec = dict(spec, updateStrategy={"type": "RollingUpdate"})
    del ds_spec["replicas"]
    apps.create_namespaced_daemon_set(
        "default", {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": ds_spec}
    )
    ds = apps.read_namespaced_daemon_set("agent", "default")
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web2"}, "spec": spec}
    apps.create_namespaced_deployment("default", body)
    assert apps.patch_namespaced_deployment_scale("web2", "default", {"spec": {"replicas": 7}}).spec.replicas == 7


def test_job_round_trip(api_client) -> None:
    from kubernetes import client

    batch = client.BatchV1Api(api_client)
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "metadata": {"name": "once"},
                "spec": {
                    "containers": [{"name": "c", "image": AGNHOST, "command": ["sleep", "5"]}],
                    "restartPolicy": "Never",
                },
            }
        },
    }
    assert batch.create_namespaced_job("default", manifest).metadata.name == "once"
    assert batch.read_namespaced_job("once", "default").spec.backoff_limit == 6
    batch.delete_namespaced_job("once", "default", body={})


MULTI = """
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: rc}}
    spec:
      containers: [{name: c, image: AGNHOST}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: from-list}
  data: {a: "1"}
""".replace("AGNHOST", AGNHOST)


def test_create_from_yaml(api_client, tmp_path) -> None:
    from kubernetes import client, utils

    path = tmp_path / "multi.yaml"
    path.write_text(MULTI)
    utils.create_from_yaml(api_client, str(path), namespace="default")
    rc = client.CoreV1Api(api_client).read_namespaced_replication_controller("rc", "default")
    assert rc.spec.selector == {"app": "rc"}
    assert client.RbacAuthorizationV1Api(api_client).read_namespaced_role("reader", "default").rules[0].verbs == [
        "get",
        "list",
    ]
    assert client.CoreV1Api(api_client).read_namespaced_config_map("from-list", "default").data == {"a": "1"}
