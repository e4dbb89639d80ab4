"""The kind provider's life cycle, driven against stand-in tools on PATH.

Stand-in ``kind``, ``docker`` and ``kubectl`` executables (one Python script
under three names, written to a tmp dir placed first on PATH) append
``{"tool", "argv", "stdin", "files"}`` to a JSON-lines log and answer as the
real tools would: ``kind create cluster`` writes a kubeconfig, ``kind get
nodes`` lists NAME-control-plane / NAME-worker / NAME-worker2, ``docker info``
fails when ``FAKE_DOCKER_ENGINE=down`` with the real CLI's message, ``docker
image inspect`` fails when ``FAKE_DOCKER_IMAGE=missing``. Files named by
``--config`` / ``-f`` are copied into the log, so the tests see the kind config
and manifests exactly as the tools got them. State lives in a tmp
``$SVCLAB_KIND_DIR``; nothing here needs Docker, root or a network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from svclab import image_command
from svclab.testbed.kind import cluster as kind_cluster
from svclab.testbed.kind.image import DEFAULT_IMAGE, build_image
from svclab.testbed.kind.tools import KindError, ToolPaths, preflight
from svclab.testbed.spec import load_spec

REPO = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO / "clusters" / "kind-iptables.yaml"
DOCKER_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

FAKE_TOOL = r"""#!{python} -S
import json, os, sys
tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
files = {}
for i, arg in enumerate(args):
    path = None
    if arg in ("--config", "-f") and i + 1 < len(args):
        path = args[i + 1]
    elif arg.startswith("--config="):
        path = arg.split("=", 1)[1]
    if path and path != "-" and os.path.isfile(path):
        files[path] = open(path).read()
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"tool": tool, "argv": args, "stdin": stdin, "files": files}) + "\n")

def option(name):
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1]
    return None

if tool == "docker":
    if args[:1] == ["info"] and os.environ.get("FAKE_DOCKER_ENGINE") == "down":
        print("Client:\n Version: 27.0.0", flush=True)
        sys.exit(print("{down}", file=sys.stderr) or 1)
    if args[:2] == ["image", "inspect"] and os.environ.get("FAKE_DOCKER_IMAGE") == "missing":
        sys.exit(print("Error: No such image: " + args[-1], file=sys.stderr) or 1)
    if args[:1] == ["exec"]:
        rest = args[2:] if args[1:2] == ["-i"] else args[1:]
        print("ran " + " ".join(rest[1:]))
    if args[:1] == ["info"]:
        print("27.0.0")
elif tool == "kind":
    if args[:2] == ["create", "cluster"]:
        if os.environ.get("FAKE_KIND_CREATE") == "fail":
            sys.exit(print("ERROR: failed to create cluster", file=sys.stderr) or 1)
        with open(option("--kubeconfig"), "w") as out:
            out.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:6443'}}\n"
                      "users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n")
    if args[:2] == ["get", "nodes"]:
        name = option("--name")
        print("\n".join([name + "-worker2", name + "-control-plane", name + "-worker"]))
elif tool == "kubectl":
    if args and args[-1] == "--" or "exec" in args:
        print("pod says " + " ".join(args[args.index("--") + 1:]))
    if "rollout" in args and os.environ.get("FAKE_ROLLOUT") == "fail":
        sys.exit(print("error: timed out waiting for the condition", file=sys.stderr) or 1)
"""


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in kind, docker and kubectl first on PATH; returns the log file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = FAKE_TOOL.replace("{python}", sys.executable).replace("{down}", DOCKER_DOWN)
    script = script.replace("{{", "{").replace("}}", "}")
    for name in ("kind", "docker", "kubectl"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("SVCLAB_KIND_DIR", str(tmp_path / "state"))
    for variable in ("FAKE_DOCKER_ENGINE", "FAKE_DOCKER_IMAGE", "FAKE_KIND_CREATE", "FAKE_ROLLOUT"):
        monkeypatch.delenv(variable, raising=False)
    return log


def calls(log: Path, tool: str | None = None) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in entries if tool is None or e["tool"] == tool]


def argvs(log: Path, tool: str) -> list[list[str]]:
    return [entry["argv"] for entry in calls(log, tool)]


def only_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: set[str]) -> None:
    """PATH holding only the stand-ins in ``keep`` (the others are then missing)."""
    only = tmp_path / "only"
    only.mkdir()
    for name in keep:
        (only / name).symlink_to(tmp_path / "bin" / name)
    monkeypatch.setenv("PATH", str(only))


# --- the kind config ------------------------------------------------------------


def test_kind_config_switches_off_kube_proxy_and_upstream_controllers() -> None:
    spec = load_spec(SPEC_FILE)
    config = kind_cluster.kind_config(spec)
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["networking"]["kubeProxyMode"] == "none"
    assert config["networking"]["podSubnet"] == "10.244.0.0/16"
    assert config["nodes"] == spec.cluster["nodes"]  # passed through as they are
    patch = yaml.safe_load(config["kubeadmConfigPatches"][-1])
    assert patch == {
        "kind": "ClusterConfiguration",
        "controllerManager": {
            "extraArgs": {
                "controllers": "*,bootstrapsigner,tokencleaner,-endpoint,-endpointslice,-endpointslicemirroring"
            }
        },
    }
    assert spec.cluster["networking"]["kubeProxyMode"] == "none"  # the spec is left as it was
    assert "kubeadmConfigPatches" not in spec.cluster


@pytest.mark.parametrize(
    ("controllers", "switched_off"),
    [
        (["endpoints"], ""),
        (["endpoints", "deployment", "replicaset"], ",-replicaset,-deployment"),
        (
            ["job", "daemonset", "replicationcontroller", "replicaset", "deployment"],
            ",-replicaset,-replicationcontroller,-deployment,-daemonset,-job",
        ),
    ],
)
def test_kube_controller_manager_loses_the_workload_controllers_the_spec_runs(
    tmp_path: Path, controllers: list[str], switched_off: str
) -> None:
    document = yaml.safe_load(SPEC_FILE.read_text())
    document["spec"]["controllers"] = controllers
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(document))
    spec = load_spec(tmp_path / "spec.yaml")
    expected = "*,bootstrapsigner,tokencleaner,-endpoint,-endpointslice,-endpointslicemirroring" + switched_off
    assert kind_cluster.kcm_controllers(spec) == expected
    patch = yaml.safe_load(kind_cluster.kind_config(spec)["kubeadmConfigPatches"][-1])
    assert patch["controllerManager"]["extraArgs"]["controllers"] == expected


def test_kind_config_keeps_the_users_own_patches_and_overrides_kube_proxy_mode(tmp_path: Path) -> None:
    document = yaml.safe_load(SPEC_FILE.read_text())
    document["spec"]["cluster"]["networking"]["kubeProxyMode"] = "iptables"
    document["spec"]["cluster"]["kubeadmConfigPatches"] = ["kind: InitConfiguration\n"]
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(document))
    config = kind_cluster.kind_config(load_spec(tmp_path / "spec.yaml"))
    assert config["networking"]["kubeProxyMode"] == "none"
    assert config["kubeadmConfigPatches"][0] == "kind: InitConfiguration\n"
    assert len(config["kubeadmConfigPatches"]) == 2


def test_apiserver_endpoint_is_the_control_plane_container_or_the_load_balancer(tmp_path: Path) -> None:
    spec = load_spec(SPEC_FILE)
    assert kind_cluster.apiserver_endpoint("lab", spec) == "lab-control-plane:6443"
    document = yaml.safe_load(SPEC_FILE.read_text())
    document["spec"]["cluster"]["nodes"].insert(0, {"role": "control-plane"})
    (tmp_path / "ha.yaml").write_text(yaml.safe_dump(document))
    ha = load_spec(tmp_path / "ha.yaml")
    assert kind_cluster.apiserver_endpoint("lab", ha) == "lab-external-load-balancer:6443"


# --- preflight ------------------------------------------------------------------


def test_preflight_passes_with_every_tool_and_a_running_engine(tools: Path) -> None:
    assert preflight(load_spec(SPEC_FILE)) is None
    assert ["info", "--format", "{{.ServerVersion}}"] in argvs(tools, "docker")


def test_preflight_names_a_docker_engine_that_is_not_running(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    assert preflight(load_spec(SPEC_FILE)) == (
        "the kind provider needs a running Docker engine: 'docker info' failed: " + DOCKER_DOWN
    )


@pytest.mark.parametrize("missing", ["kind", "kubectl", "docker"])
def test_preflight_names_a_missing_tool_and_how_to_install_it(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    only_path(tmp_path, monkeypatch, {"kind", "kubectl", "docker"} - {missing})
    problem = preflight(load_spec(SPEC_FILE))
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"the kind provider needs {missing}: {missing} not found on PATH; ")
    assert "install" in problem


# --- bring up / handle / tear down ----------------------------------------------


def test_bring_up_without_docker_engine_fails_at_once_and_creates_nothing(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    with pytest.raises(KindError, match="needs a running Docker engine: 'docker info' failed"):
        kind_cluster.bring_up(load_spec(SPEC_FILE), "lab")
    assert argvs(tools, "kind") == [] and argvs(tools, "kubectl") == []
    assert not (tmp_path / "state").exists()


def test_bring_up_asks_for_the_image_to_be_built_first(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_IMAGE", "missing")
    with pytest.raises(
        KindError,
        match=r"image svclab:x is not in the local Docker engine; "
        r"build it with `svclab image build --tag svclab:x`",
    ):
        kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:x")
    assert argvs(tools, "kind") == []


def test_bring_up_creates_loads_applies_and_waits(tools: Path, tmp_path: Path) -> None:
    progress: list[str] = []
    handle = kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t", progress=progress.append, timeout=90)
    state = tmp_path / "state" / "lab"
    kind_calls = argvs(tools, "kind")
    assert kind_calls[0] == ["get", "clusters"]
    assert kind_calls[1] == [
        "create",
        "cluster",
        "--name=lab",
        f"--kubeconfig={state / 'kubeconfig'}",
        "--config",
        str(state / "kind-config.yaml"),
    ]
    assert kind_calls[2] == ["load", "docker-image", "--name", "lab", "svclab:t"]
    assert kind_calls[3] == ["get", "nodes", "--name", "lab"]
    created = calls(tools, "kind")[1]["files"][str(state / "kind-config.yaml")]
    config = yaml.safe_load(created)
    assert config["networking"]["kubeProxyMode"] == "none"
    assert len(config["nodes"]) == 3
    assert "-endpointslicemirroring" in config["kubeadmConfigPatches"][-1]

    kubeconfig = f"--kubeconfig={state / 'kubeconfig'}"
    kubectl_calls = argvs(tools, "kubectl")
    manifests_file = str(state / "manifests.yaml")
    assert kubectl_calls[0] == [kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", manifests_file]
    assert kubectl_calls[1] == [
        kubeconfig,
        "rollout",
        "status",
        "-n",
        "kube-system",
        "daemonset/svclab-proxy",
        "--timeout=90s",
    ]
    assert kubectl_calls[2] == [
        kubeconfig,
        "rollout",
        "status",
        "-n",
        "kube-system",
        "deployment/svclab-controller-manager",
        "--timeout=90s",
    ]
    assert kubectl_calls[3] == [kubeconfig, "wait", "--for=condition=Ready", "node", "--all", "--timeout=90s"]
    applied = list(yaml.safe_load_all(calls(tools, "kubectl")[0]["files"][manifests_file]))
    daemonset = next(o for o in applied if o["kind"] == "DaemonSet")
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "svclab:t"
    assert {"name": "KUBERNETES_SERVICE_HOST", "value": "lab-control-plane"} in container["env"]
    assert not (Path.cwd() / ".pytest-kind").exists()  # pytest-kind-ng's folder stays in state

    assert handle.provider == "kind" and handle.node_access is True
    assert handle.nodes == ("lab-control-plane", "lab-worker", "lab-worker2")
    assert handle.kubeconfig == state / "kubeconfig"
    assert (handle.proxy_mode, handle.has_proxy, handle.has_controllers) == ("iptables", True, True)
    assert progress[0] == "creating kind cluster lab"


def test_bring_up_never_downloads_kind_or_kubectl(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"download attempted: {args}")

    monkeypatch.setattr(requests, "get", no_download)
    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    assert {entry["tool"] for entry in calls(tools)} == {"docker", "kind", "kubectl"}


def test_a_vanished_kind_binary_is_an_error_not_a_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("download attempted"))
    gone = ToolPaths(docker="/nonexistent/docker", kind="/nonexistent/kind", kubectl="/nonexistent/kubectl")
    (tmp_path / "state").mkdir()
    cluster = kind_cluster._kind_cluster("lab", tmp_path / "state", gone)
    with pytest.raises(KindError, match="kind binary /nonexistent/kind vanished"):
        cluster.ensure_kind()
    with pytest.raises(KindError, match="kubectl binary /nonexistent/kubectl vanished"):
        cluster.ensure_kubectl()
    assert (tmp_path / "state" / ".pytest-kind" / "lab").is_dir()


def test_a_failed_rollout_deletes_the_cluster(tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ROLLOUT", "fail")
    with pytest.raises(KindError, match="rollout status.*timed out waiting for the condition"):
        kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    assert argvs(tools, "kind")[-1][:3] == ["delete", "cluster", "--name=lab"]
    assert not (tmp_path / "state" / "lab").exists()


def test_a_failed_create_is_one_line_and_leaves_nothing(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_CREATE", "fail")
    with pytest.raises(KindError, match=r"^`kind create cluster` failed \(exit status 1\)"):
        kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    assert argvs(tools, "kind")[-1][:2] == ["delete", "cluster"]
    assert argvs(tools, "kubectl") == []


def test_handle_execs_in_pods_and_on_nodes(tools: Path) -> None:
    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    handle = kind_cluster.handle("lab")
    result = handle.exec_in_pod("ns1", "web-0", ["hostname"]).check()
    assert result.stdout == "pod says hostname\n"
    assert argvs(tools, "kubectl")[-1] == [
        f"--kubeconfig={handle.kubeconfig}",
        "exec",
        "-n",
        "ns1",
        "web-0",
        "--",
        "hostname",
    ]
    on_node = handle.exec_on_node("lab-worker", ["iptables-save", "-t", "nat"]).check()
    assert on_node.stdout == "ran iptables-save -t nat\n"
    assert argvs(tools, "docker")[-1] == ["exec", "lab-worker", "iptables-save", "-t", "nat"]
    with pytest.raises(KeyError, match="no node lab-worker9"):
        handle.exec_on_node("lab-worker9", ["true"])


def test_node_host_uses_testinfras_docker_backend(tools: Path) -> None:
    handle = kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    host = handle.node_host("lab-worker")
    assert type(host.backend).__name__ == "DockerBackend"
    assert host.backend.name == "lab-worker"


def test_tear_down_deletes_the_cluster_and_its_state(tools: Path, tmp_path: Path) -> None:
    assert kind_cluster.list_testbeds() == [] and kind_cluster.kubeconfig_path("lab") is None
    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    assert kind_cluster.list_testbeds() == ["lab"]
    assert kind_cluster.kubeconfig_path("lab") == tmp_path / "state" / "lab" / "kubeconfig"
    assert kind_cluster.tear_down("lab") is True
    state = tmp_path / "state" / "lab"
    assert argvs(tools, "kind")[-1] == ["delete", "cluster", "--name=lab", f"--kubeconfig={state / 'kubeconfig'}"]
    assert not state.exists() and kind_cluster.list_testbeds() == []
    with pytest.raises(FileNotFoundError, match="no kind testbed lab"):
        kind_cluster.handle("lab")


# --- through the provider protocol: svclab exec / node-exec / down by name ------


def test_exec_and_node_exec_reach_a_kind_testbed_by_name(tools: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from svclab.cli import main

    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    capfd.readouterr()
    assert main(["exec", "lab", "-n", "ns1", "web-0", "--", "hostname"]) == 0
    assert capfd.readouterr().out == "pod says hostname\n"
    assert argvs(tools, "kubectl")[-1][1:5] == ["exec", "-i", "-n", "ns1"]
    assert main(["node-exec", "lab", "lab-worker", "--", "iptables-save"]) == 0
    assert capfd.readouterr().out == "ran iptables-save\n"
    assert argvs(tools, "docker")[-1] == ["exec", "-i", "lab-worker", "iptables-save"]
    assert main(["node-exec", "lab", "lab-worker9", "--", "true"]) == 1
    assert "svclab node-exec: cluster lab has no node lab-worker9" in capfd.readouterr().err


def test_down_removes_a_kind_testbed_with_the_local_message(tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from svclab.cli import main

    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    capsys.readouterr()
    assert main(["down", "lab"]) == 0
    assert capsys.readouterr().out == "cluster lab removed\n"
    assert argvs(tools, "kind")[-1][:2] == ["delete", "cluster"]


def test_the_kind_provider_attaches_by_name_and_describes_nothing_it_did_not_bring_up(tools: Path) -> None:
    from svclab.testbed.providers import provider_for

    kind = provider_for("kind")
    assert kind.attach("lab") is None
    kind_cluster.bring_up(load_spec(SPEC_FILE), "lab", image="svclab:t")
    found = kind.attach("lab")
    assert isinstance(found, kind_cluster.KindCluster) and found.nodes == (
        "lab-control-plane",
        "lab-worker",
        "lab-worker2",
    )
    assert kind.down("lab") is True and kind.down("lab") is False
    assert kind.attach("lab") is None


# --- svclab image ---------------------------------------------------------------


def _image_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="svclab image")
    image_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_image_build_runs_docker_build_on_the_checkout(tools: Path) -> None:
    assert image_command.run(_image_args("build", "--tag", "svclab:t")) == 0
    docker_calls = argvs(tools, "docker")
    assert docker_calls[0][0] == "info"
    assert docker_calls[-1] == ["build", "--tag", "svclab:t", "--file", str(REPO / "Dockerfile"), str(REPO)]
    assert build_image() == DEFAULT_IMAGE and DEFAULT_IMAGE.startswith("svclab:")


def test_image_build_without_engine_is_one_line(
    tools: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    assert image_command.run(_image_args("build")) == 1
    err = capsys.readouterr().err
    assert err == (
        f"svclab image build: building the image needs a running Docker engine: 'docker info' failed: {DOCKER_DOWN}\n"
    )
    assert all(argv[0] != "build" for argv in argvs(tools, "docker"))


def test_image_manifests_prints_them_for_the_testbed(capsys: pytest.CaptureFixture[str]) -> None:
    assert image_command.run(_image_args("manifests", "--testbed", str(SPEC_FILE), "--image", "svclab:t")) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = [o["kind"] for o in objects]
    assert kinds.count("ClusterRole") == 4 and kinds[-2:] == ["Deployment", "DaemonSet"]
    env = objects[-1]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "KUBERNETES_SERVICE_HOST", "value": "kind-iptables-control-plane"} in env


def test_image_manifests_rejects_a_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: svclab.dev/v1alpha1\nkind: Testbed\nmetadata: {name: x}\nspec: {proxy: {mode: warp}}\n"
    )
    assert image_command.run(_image_args("manifests", "--testbed", str(tmp_path / "bad.yaml"))) == 2
    assert "spec.proxy.mode: must be one of" in capsys.readouterr().err


def test_dockerfile_pins_its_base_and_installs_the_proxy_tools() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    base = next(line for line in dockerfile.splitlines() if line.startswith("FROM "))
    assert base.startswith("FROM python:3.11.") and "slim-bookworm" in base and "latest" not in base
    for package in ("iptables", "nftables", "ipset", "ipvsadm", "conntrack", "iproute2"):
        assert f" {package}" in dockerfile
    assert "USER 10001" in dockerfile and 'ENTRYPOINT ["svclab"]' in dockerfile
