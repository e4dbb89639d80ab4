"""The harness builds the right ClusterUnderTest for every kind of cluster ref.

Stand-in ``kubectl``, ``kind`` and ``docker`` (one Python script under three
names, first on PATH) log their argv to a JSON-lines file and answer from a
fake API (``$FAKE_API``, a JSON file): ``kubectl get nodes|endpoints|
servicecidrs... -o json`` print its objects (a missing one: exit 1 with
kubectl's message), ``kubectl exec`` echoes, ``docker exec NODE hostname``
prints NODE, ``kind get nodes`` lists the fake nodes. Nothing contacts a
cluster; no root, no Docker.

Address plan of the fake cluster ``lab`` (kind's names):

  node                 role           InternalIP    podCIDR        taint
  lab-control-plane    control-plane  172.18.0.2    10.244.0.0/24  control-plane:NoSchedule
  lab-worker           worker         172.18.0.3    10.244.1.0/24  -
  lab-worker2          worker         172.18.0.4    10.244.2.0/24  -

default/kubernetes Endpoints: 172.18.0.2:6443; ServiceCIDR ``kubernetes``:
10.96.0.0/16 unless a test removes it. The API lists the workers first, so
the control-plane-first order is the harness's doing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from harness.cluster import UNKNOWN_PROXY_MODE
from harness.providers import ClusterRef, open_cluster
from svclab.testbed.api_record import apiserver_address, nodes_from_api
from svclab.testbed.cluster import CONTROL_PLANE_LABEL
from svclab.testbed.kubeconfig import NO_NODE_ACCESS_REASON
from svclab.testbed.local.provider import LocalClusterHandle
from svclab.testbed.local.record import describe_cluster, write_cluster
from svclab.testbed.provider import ProviderError
from svclab.testbed.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
KIND_SPEC = REPO / "clusters" / "kind-iptables.yaml"
ZONE = "topology.kubernetes.io/zone"

STAND_IN = r"""#!{python} -S
import json, os, sys
tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"tool": tool, "argv": args}) + "\n")
api = json.load(open(os.environ["FAKE_API"]))
words = [a for a in args if not a.startswith(("--kubeconfig=", "--context=", "--request-timeout="))]
if tool == "kubectl":
    if words[:1] == ["exec"]:
        print("pod says " + " ".join(words[words.index("--") + 1:]))
    elif words[:1] == ["get"]:
        found = api.get(words[1].split(".")[0])
        if found is None:
            sys.exit(print('error: the server doesn\'t have a resource type "%s"' % words[1],
                           file=sys.stderr) or 1)
        print(json.dumps(found))
elif tool == "docker":
    if words[:1] == ["info"] and os.environ.get("FAKE_DOCKER_ENGINE") == "down":
        sys.exit(print("Cannot connect to the Docker daemon", file=sys.stderr) or 1)
    if words[:1] == ["exec"] and words[-1].endswith("/proxyMode"):
        print(os.environ.get("FAKE_PROXY_MODE", "ipvs"))
    elif words[:1] == ["exec"]:
        print(words[1] if words[2:] == ["hostname"] else "ran " + " ".join(words[2:]))
elif tool == "kind":
    name = next((a.split("=", 1)[1] for a in words if a.startswith("--name=")), None)
    if words[:2] == ["get", "nodes"]:
        print("\n".join(n["metadata"]["name"] for n in api["nodes"]["items"]))
    if words[:2] == ["create", "cluster"]:
        kubeconfig = next(a.split("=", 1)[1] for a in args if a.startswith("--kubeconfig="))
        with open(kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: "
                      "{server: 'https://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: t}\n"
                      "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n")
"""


def _node(name: str, ip: str, index: int, *, control_plane: bool = False) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, ZONE: "zone-a"}
    taints = []
    if control_plane:
        labels[CONTROL_PLANE_LABEL] = ""
        taints = [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "taints": taints},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]},
    }


def fake_api(cluster: str = "lab") -> dict[str, Any]:
    return {
        "nodes": {
            "items": [
                _node(f"{cluster}-worker2", "172.18.0.4", 2),
                _node(f"{cluster}-worker", "172.18.0.3", 1),
                _node(f"{cluster}-control-plane", "172.18.0.2", 0, control_plane=True),
            ]
        },
        "endpoints": {"subsets": [{"addresses": [{"ip": "172.18.0.2"}], "ports": [{"name": "https", "port": 6443}]}]},
        "servicecidrs": {"spec": {"cidrs": ["10.96.0.0/16"]}},
    }


@dataclasses.dataclass
class StandIns:
    log: Path
    api_file: Path
    tmp: Path

    def serve(self, api: dict[str, Any]) -> None:
        self.api_file.write_text(json.dumps(api))

    def argvs(self, tool: str) -> list[list[str]]:
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [e["argv"] for e in entries if e["tool"] == tool]


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIns:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kubectl", "kind", "docker"):
        (bin_dir / tool).write_text(STAND_IN.replace("{python}", sys.executable))
        (bin_dir / tool).chmod(0o755)
    tools = StandIns(tmp_path / "calls.jsonl", tmp_path / "api.json", tmp_path)
    tools.log.touch()
    tools.serve(fake_api())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tools.log))
    monkeypatch.setenv("FAKE_API", str(tools.api_file))
    monkeypatch.setenv("SVCLAB_KIND_DIR", str(tmp_path / "kind"))
    monkeypatch.setenv("SVCLAB_RUN_DIR", str(tmp_path / "run"))  # no local clusters
    monkeypatch.delenv("FAKE_DOCKER_ENGINE", raising=False)
    return tools


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "prod.kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\n")
    return path


def write_kind_state(root: Path, name: str, proxy_mode: str = "iptables") -> None:
    """What ``svclab up`` of a kind testbed leaves in $SVCLAB_KIND_DIR/NAME."""
    state = root / name
    state.mkdir(parents=True)
    (state / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    (state / "cluster.json").write_text(
        json.dumps(
            {
                "name": name,
                "spec_file": str(KIND_SPEC),
                "image": "svclab:t",
                "proxy_mode": proxy_mode,
                "controllers": ["endpoints"],
                "service_subnet": "10.97.0.0/16",
            }
        )
    )


# --- the API's description, side-effect-free ------------------------------------


def test_nodes_from_the_api_put_the_control_plane_first() -> None:
    nodes = nodes_from_api(fake_api()["nodes"]["items"])
    assert [(n.name, n.role, n.index, n.ip, n.pod_cidr) for n in nodes] == [
        ("lab-control-plane", "control-plane", 0, "172.18.0.2", "10.244.0.0/24"),
        ("lab-worker", "worker", 1, "172.18.0.3", "10.244.1.0/24"),
        ("lab-worker2", "worker", 2, "172.18.0.4", "10.244.2.0/24"),
    ]
    assert [(t.key, t.value, t.effect) for t in nodes[0].taints] == [(CONTROL_PLANE_LABEL, "", "NoSchedule")]
    assert (ZONE, "zone-a") in nodes[1].labels and nodes[1].taints == ()
    assert all(node.netns == "" for node in nodes)


def test_apiserver_address_is_the_one_control_plane_else_the_endpoints() -> None:
    api = fake_api()
    nodes = nodes_from_api(api["nodes"]["items"])
    elsewhere = {"subsets": [{"addresses": [{"ip": "10.0.0.9"}, {"ip": "10.0.0.10"}]}]}
    assert apiserver_address(nodes, elsewhere) == "172.18.0.2"
    managed = nodes_from_api(api["nodes"]["items"][:2])  # no control-plane node visible
    assert apiserver_address(managed, elsewhere) == "10.0.0.9"
    assert apiserver_address(managed, None) == ""


# --- --kubeconfig PATH / --kube-context NAME ------------------------------------


def test_kubeconfig_cluster_is_described_from_its_api(stand_ins: StandIns, kubeconfig: Path) -> None:
    with open_cluster(ClusterRef(kubeconfig=str(kubeconfig), context="prod")) as under_test:
        assert (under_test.provider, under_test.name, under_test.kernel) == ("kubeconfig", "prod", "host")
        assert under_test.proxy_mode == UNKNOWN_PROXY_MODE
        assert under_test.has_proxy and under_test.has_controllers
        assert under_test.kubeconfig == kubeconfig.resolve() and under_test.context == "prod"
        assert [n.name for n in under_test.nodes] == ["lab-control-plane", "lab-worker", "lab-worker2"]
        assert (under_test.service_subnet, under_test.apiserver_address) == ("10.96.0.0/16", "172.18.0.2")
    flags = [f"--kubeconfig={kubeconfig.resolve()}", "--context=prod"]
    gets = [argv for argv in stand_ins.argvs("kubectl") if "get" in argv]
    assert gets[0] == [*flags, "get", "nodes", "-o", "json", "--request-timeout=30s"]
    assert [*flags, "get", "endpoints", "kubernetes", "-n", "default", "-o", "json", "--request-timeout=30s"] in gets


def test_a_cluster_without_a_service_cidr_has_no_known_subnet(stand_ins: StandIns, kubeconfig: Path) -> None:
    api = fake_api()
    del api["servicecidrs"]  # before Kubernetes 1.33, or an API server without it
    stand_ins.serve(api)
    with open_cluster(ClusterRef(kubeconfig=str(kubeconfig))) as under_test:
        assert under_test.service_subnet is None
        assert under_test.context is None


def test_node_level_hooks_skip_with_the_providers_reason(stand_ins: StandIns, kubeconfig: Path) -> None:
    with open_cluster(ClusterRef(kubeconfig=str(kubeconfig))) as under_test:
        reason = re.escape(f"node lab-worker: {NO_NODE_ACCESS_REASON}")
        with pytest.raises(pytest.skip.Exception, match=reason):
            under_test.exec_on_node("lab-worker", ["iptables-save"])
        with pytest.raises(pytest.skip.Exception, match=reason):
            under_test.node_host("lab-worker")
        with pytest.raises(pytest.skip.Exception, match="needs the local provider"):
            under_test.component_pid("proxy-lab-worker")
        with pytest.raises(pytest.skip.Exception, match="needs the local provider"):
            under_test.signal_component(1, 9)
        result = under_test.exec_in_pod("ns1", "client", ["curl", "-s", "http://web"]).check()
    assert result.stdout == "pod says curl -s http://web\n"
    assert stand_ins.argvs("kubectl")[-1] == [
        f"--kubeconfig={kubeconfig.resolve()}",
        "exec",
        "-n",
        "ns1",
        "client",
        "--",
        "curl",
        "-s",
        "http://web",
    ]


def test_a_kubeconfig_that_does_not_exist_fails_in_one_line(stand_ins: StandIns, tmp_path: Path) -> None:
    with (
        pytest.raises(pytest.fail.Exception, match=r"^--kubeconfig: kubeconfig .*nowhere does not exist$"),
        open_cluster(ClusterRef(kubeconfig=str(tmp_path / "nowhere"))),
    ):
        pass


# --- --cluster NAME -------------------------------------------------------------


def test_cluster_name_finds_a_kind_testbed_with_node_access(stand_ins: StandIns, tmp_path: Path) -> None:
    write_kind_state(tmp_path / "kind", "lab")
    with open_cluster(ClusterRef(existing="lab")) as under_test:
        assert (under_test.provider, under_test.name, under_test.proxy_mode) == ("kind", "lab", "iptables")
        assert under_test.service_subnet == "10.97.0.0/16"  # the spec's, not the API's
        assert under_test.apiserver_address == "172.18.0.2"
        assert under_test.node("lab-worker2").ip == "172.18.0.4"
        assert under_test.exec_on_node("lab-worker", ["hostname"]).check().stdout == "lab-worker\n"
        host = under_test.node_host("lab-worker")
    assert stand_ins.argvs("docker")[-1] == ["exec", "lab-worker", "hostname"]
    assert type(host.backend).__name__ == "DockerBackend" and host.backend.name == "lab-worker"


def test_mode_specific_checks_go_by_the_mode_the_proxies_run(
    stand_ins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_kind_state(tmp_path / "kind", "lab", proxy_mode="ipvs")
    monkeypatch.setenv("FAKE_PROXY_MODE", "iptables")  # ipvs fell back: no IPVS in the kernel
    with open_cluster(ClusterRef(existing="lab")) as under_test:
        assert (under_test.proxy_mode, under_test.requested_proxy_mode) == ("iptables", "ipvs")
    asked = [argv[1] for argv in stand_ins.argvs("docker") if argv[-1].endswith("/proxyMode")]
    assert sorted(asked) == ["lab-control-plane", "lab-worker", "lab-worker2"]


def test_cluster_name_prefers_a_local_cluster(stand_ins: StandIns, tmp_path: Path) -> None:
    spec = load_spec(REPO / "clusters" / "iptables.yaml", "lab")
    state = tmp_path / "run" / "lab"
    state.mkdir(parents=True)
    write_cluster(describe_cluster(spec, state))
    write_kind_state(tmp_path / "kind", "lab", proxy_mode="nftables")
    with open_cluster(ClusterRef(existing="lab")) as under_test:
        assert (under_test.provider, under_test.proxy_mode) == ("local", "iptables")
        assert isinstance(under_test.handle, LocalClusterHandle)
    assert stand_ins.argvs("kubectl") == [] and stand_ins.argvs("kind") == []


def test_cluster_name_of_nothing_says_where_it_looked(stand_ins: StandIns) -> None:
    with (
        pytest.raises(
            pytest.fail.Exception,
            match=(
                r"^--cluster nope: no local cluster or kind testbed of that name is up "
                r"\(see `svclab list`\)$"
            ),
        ),
        open_cluster(ClusterRef(existing="nope")),
    ):
        pass


# --- --testbed FILE by the spec's provider --------------------------------------


def test_kind_testbed_without_docker_skips_with_the_preflight_reason(
    stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    with (
        pytest.raises(pytest.skip.Exception, match="the kind provider needs a running Docker engine"),
        open_cluster(ClusterRef(testbed=str(KIND_SPEC))),
    ):
        pass
    assert stand_ins.argvs("kind") == []


def test_a_local_testbed_that_cannot_run_here_skips_with_the_reason(
    stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No root (or no bootable UML) is this machine's limit, not a failure of the cluster."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("SVCLAB_RUN_DIR", str(tmp_path / "run"))
    with (
        pytest.raises(pytest.skip.Exception, match="the local provider needs root"),
        open_cluster(ClusterRef(testbed=str(REPO / "clusters" / "iptables.yaml"))),
    ):
        pass
    assert not (tmp_path / "run").exists()


def test_kind_testbed_is_brought_up_for_the_block_and_down_after(stand_ins: StandIns, tmp_path: Path) -> None:
    stand_ins.serve(fake_api("kind-iptables"))
    with open_cluster(ClusterRef(testbed=str(KIND_SPEC))) as under_test:
        assert (under_test.provider, under_test.name) == ("kind", "kind-iptables")
        assert under_test.nodes[0].name == "kind-iptables-control-plane"
        assert (tmp_path / "kind" / "kind-iptables" / "cluster.json").is_file()
    kind_calls = stand_ins.argvs("kind")
    assert kind_calls[1][:2] == ["create", "cluster"]
    assert kind_calls[-1][:3] == ["delete", "cluster", "--name=kind-iptables"]
    assert not (tmp_path / "kind" / "kind-iptables").exists()


def test_kubeconfig_testbed_connects_with_the_specs_mode(
    stand_ins: StandIns, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = yaml.safe_load((REPO / "clusters" / "kind-nftables.yaml").read_text())
    document["spec"]["provider"] = "kubeconfig"
    spec_file = tmp_path / "prod-nftables.yaml"
    spec_file.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with open_cluster(ClusterRef(testbed=str(spec_file))) as under_test:
        assert (under_test.provider, under_test.name, under_test.proxy_mode) == (
            "kubeconfig",
            "kind-nftables",
            "nftables",
        )
        assert under_test.service_subnet == "10.96.0.0/16"
    assert stand_ins.argvs("kind") == []  # nothing brought up, nothing torn down


class _FailingProvider:
    """Brings nothing up: says two progress lines, leaves its name taken, fails."""

    def __init__(self, up_before: bool) -> None:
        self.up_before = up_before
        self.downs: list[str] = []

    def preflight(self, spec: object) -> None:
        return None

    def attach(self, name: str) -> object | None:
        return object() if self.up_before else None

    def up(self, spec: Any, *, progress: Any, timeout: float) -> object:
        progress("network: 0.1s")
        progress("  apiserver: bind failed")
        raise ProviderError("nodes not Ready (timeout)")

    def down(self, name: str) -> bool:
        self.downs.append(name)
        return True


@pytest.mark.parametrize("up_before", [False, True])
def test_a_failed_bring_up_says_why_and_frees_only_its_own_name(
    up_before: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.providers

    provider = _FailingProvider(up_before)
    monkeypatch.setattr(harness.providers, "provider_for", lambda kind: provider)
    with (
        pytest.raises(pytest.fail.Exception, match=r"nodes not Ready \(timeout\)\n  network: 0.1s\n    apiserver"),
        open_cluster(ClusterRef(testbed=str(REPO / "clusters" / "iptables.yaml"))),
    ):
        pass
    # A cluster that was up before (someone else's) is never torn down by the suite.
    assert provider.downs == ([] if up_before else ["iptables"])
