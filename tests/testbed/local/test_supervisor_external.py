"""The supervisor running the user's own proxy or controllers (mode external, issue 19).

Address plan: a three-node cluster ``ext`` as ``describe_cluster`` lays it out
(control plane 172.18.0.2 with pod CIDR 10.244.0.0/24, workers .3 and .4),
Service subnet 10.96.0.0/16; no namespaces are made (pure plans, and children
started without a netns).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from svclab.testbed.local.record import ClusterInfo, describe_cluster
from svclab.testbed.local.supervisor import ChildSpec, Supervisor, plan_children, running_child_pid
from svclab.testbed.spec import parse_spec

PROXY = {
    "mode": "external",
    "command": ["/opt/my-proxy", "--kubeconfig={kubeconfig}", "--node", "{nodeName}", "{podCIDR}"],
    "env": {"MY_NODE_IP": "{nodeIP}", "MY_CIDRS": "{clusterCIDR},{serviceCIDR}"},
    "rules": "iptables",
}


def _cluster(state: Path, **spec: Any) -> ClusterInfo:
    document = {
        "apiVersion": "svclab.dev/v1alpha1",
        "kind": "Testbed",
        "metadata": {"name": "ext"},
        "spec": {"cluster": {"nodes": [{"role": "control-plane"}, {"role": "worker"}, {"role": "worker"}]}, **spec},
    }
    return describe_cluster(parse_spec(document, "ext.yaml"), state)


def test_external_proxy_replaces_svclab_proxy_on_every_node_with_placeholders_filled() -> None:
    info = _cluster(Path("/run/svclab/ext"), proxy=PROXY)
    assert ClusterInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    by_name = {child.name: child for child in plan_children(info, base=["svclab"])}
    worker = by_name["proxy-ext-worker"]
    assert worker.argv == (
        "/opt/my-proxy",
        "--kubeconfig=/run/svclab/ext/kubeconfig.internal",
        "--node",
        "ext-worker",
        "10.244.1.0/24",
    )
    assert dict(worker.env) == {"MY_NODE_IP": "172.18.0.3", "MY_CIDRS": "10.244.0.0/16,10.96.0.0/16"}
    assert worker.external and worker.netns == "svclab-ext-1" and worker.hostname == "ext-worker"
    proxies = [child for child in by_name.values() if child.name.startswith("proxy-")]
    assert len(proxies) == 3 and all(child.external for child in proxies)
    assert not any("proxy" in child.argv for child in by_name.values())  # no reference proxy left


def test_external_controllers_run_as_controller_manager_beside_our_workload_controllers() -> None:
    controllers = {"mode": "external", "command": ["my-kcm", "--kubeconfig", "{kubeconfig}", "--node={nodeName}"]}
    info = _cluster(Path("/run/svclab/ext"), controllers=controllers)
    by_name = {child.name: child for child in plan_children(info, base=["svclab"])}
    external = by_name["controller-manager"]
    assert external.external
    assert external.argv == (
        "my-kcm",
        "--kubeconfig",
        "/run/svclab/ext/kubeconfig.internal",
        "--node=ext-control-plane",
    )
    assert external.netns == "svclab-ext-0"
    reference = by_name["controller-manager-reference"]
    assert not reference.external
    assert reference.argv[reference.argv.index("--controllers") + 1] == (
        "replicaset,replicationcontroller,deployment,daemonset,job"
    )
    assert not by_name["proxy-ext-worker"].external  # the proxy stays ours


def test_external_controllers_alone_when_reference_is_empty() -> None:
    info = _cluster(Path("/run/svclab/ext"), controllers={"mode": "external", "command": ["c"], "reference": []})
    names = [child.name for child in plan_children(info, base=["svclab"])]
    assert names.count("controller-manager") == 1 and "controller-manager-reference" not in names


def test_an_external_child_gets_its_env_and_is_found_by_its_pid_file(tmp_path: Path) -> None:
    info = _cluster(tmp_path, proxy=PROXY).with_supervisor(os.getpid())
    (tmp_path / "cluster.json").write_text(json.dumps(info.to_json()))
    # what plan_children names proxy-ext-worker, started as a shell that shows its env and waits
    child = ChildSpec(
        "proxy-ext-worker",
        ("sh", "-c", 'echo "ip=$MY_NODE_IP"; exec sleep 60'),
        env=(("MY_NODE_IP", "172.18.0.3"),),
        needs_apiserver=False,
        external=True,
    )
    supervisor = Supervisor(info, [child])
    supervisor.step()
    process = supervisor.children[0].process
    assert process is not None
    log = tmp_path / "logs" / "proxy-ext-worker.log"
    try:
        assert running_child_pid(tmp_path, "proxy-ext-worker") == process.pid
        assert running_child_pid(tmp_path, "proxy-ext-worker2") is None  # never started
        deadline = time.monotonic() + 20  # the shell may not have run yet on a busy machine
        while "ip=" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        supervisor.stop_children(grace=5)
    assert running_child_pid(tmp_path, "proxy-ext-worker") is None  # gone
    assert "ip=172.18.0.3" in log.read_text()
