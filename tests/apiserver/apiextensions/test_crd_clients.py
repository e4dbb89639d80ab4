"""Custom resources through real clients: kubectl, the official Python client and lightkube.

What the clients' own CRD workflows do (kubectl's apply/get/scale/explain/delete
flow; the official client's ``CustomObjectsApi`` calls as in its e2e tests;
lightkube's generic resources as in its e2e ``test-crd`` workflow), in our words.
The CRD is the CronTab of the upstream documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from crd_builders import CRD_NAME, crontab, crontab_crd, wait_established

pytestmark = pytest.mark.integration


def _crd_with_columns() -> dict[str, Any]:
    crd = crontab_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    ]
    return crd


def test_kubectl_crd_workflow(kubectl: Any, tmp_path: Path) -> None:
    crd_file, ct_file = tmp_path / "crd.yaml", tmp_path / "ct.yaml"
    crd_file.write_text(yaml.safe_dump(_crd_with_columns()))
    ct_file.write_text(yaml.safe_dump(crontab("my-cron", cronSpec="* * * * */5")))
    assert "created" in kubectl("apply", "-f", str(crd_file)).stdout
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=10s")
    assert "crontab.stable.example.com/my-cron created" in kubectl("apply", "-f", str(ct_file)).stdout
    assert "unchanged" in kubectl("apply", "-f", str(ct_file)).stdout
    kubectl("scale", "ct", "my-cron", "--replicas=3")
    lines = kubectl("get", "crontabs").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SPEC", "REPLICAS"]
    assert lines[1].split() == ["my-cron", "*", "*", "*", "*", "*/5", "3"]
    got = yaml.safe_load(kubectl("get", "ct", "my-cron", "-o", "yaml").stdout)
    assert got["spec"] == {"cronSpec": "* * * * */5", "replicas": 3}
    assert "cronSpec\t<string>" in kubectl("explain", "crontab.spec").stdout
    kubectl("delete", "crd", CRD_NAME)
    missing = kubectl("get", "ct", "my-cron", check=False)
    assert missing.returncode != 0


def test_official_client_custom_objects(apiserver: Any, api: Any) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(apiserver.kubeconfig))
    try:
        extensions = client.ApiextensionsV1Api(api_client)
        extensions.create_custom_resource_definition(crontab_crd())
        wait_established(api)
        custom = client.CustomObjectsApi(api_client)
        args = ("stable.example.com", "v1", "default", "crontabs")
        custom.create_namespaced_custom_object(*args, crontab("ct-1", cronSpec="a"))
        assert custom.get_namespaced_custom_object(*args, "ct-1")["spec"] == {"cronSpec": "a", "replicas": 1}
        # custom objects are merge-patched unless the caller names JSON patch
        custom.patch_namespaced_custom_object(*args, "ct-1", {"spec": {"cronSpec": "b"}})
        json_patch = [{"op": "replace", "path": "/spec/replicas", "value": 2}]
        custom.patch_namespaced_custom_object(*args, "ct-1", json_patch, _content_type="application/json-patch+json")
        custom.patch_namespaced_custom_object_status(*args, "ct-1", {"status": {"replicas": 2}})
        custom.patch_namespaced_custom_object_scale(*args, "ct-1", {"spec": {"replicas": 4}})
        current = custom.get_namespaced_custom_object(*args, "ct-1")
        assert current["spec"] == {"cronSpec": "b", "replicas": 4} and current["status"] == {"replicas": 2}
        listed = custom.list_namespaced_custom_object(*args)
        assert [item["metadata"]["name"] for item in listed["items"]] == ["ct-1"]
        custom.delete_namespaced_custom_object(*args, "ct-1")
        assert custom.list_cluster_custom_object("stable.example.com", "v1", "crontabs")["items"] == []
        extensions.delete_custom_resource_definition(CRD_NAME)
    finally:
        api_client.close()


def test_lightkube_generic_resources(apiserver: Any, api: Any) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
    from lightkube.types import PatchType

    client = Client(KubeConfig.from_file(str(apiserver.kubeconfig)))
    client.create(CustomResourceDefinition.from_dict(crontab_crd()))
    wait_established(api)
    CronTab = create_namespaced_resource("stable.example.com", "v1", "CronTab", "crontabs")
    created = client.create(CronTab.from_dict(crontab("ct-1", cronSpec="a")))
    assert created.spec["replicas"] == 1
    client.patch(CronTab, "ct-1", {"spec": {"cronSpec": "b"}}, patch_type=PatchType.MERGE)
    client.patch(CronTab.Status, "ct-1", {"status": {"replicas": 1}}, patch_type=PatchType.MERGE)
    scale = client.get(CronTab.Scale, "ct-1")
    assert scale.spec.replicas == 1 and scale.status.replicas == 1
    assert [o.metadata.name for o in client.list(CronTab)] == ["ct-1"]
    assert client.get(CronTab, "ct-1").spec["cronSpec"] == "b"
    client.delete(CronTab, "ct-1")
    assert list(client.list(CronTab)) == []
    client.delete(CustomResourceDefinition, CRD_NAME)
