"""The kind provider's cluster life cycle: up, handle, down.

``bring_up(spec, name)`` turns a testbed spec into a kind cluster running our
components instead of upstream's:

1. preflight: kind, kubectl and a running Docker engine (one-line error
   otherwise), and the svclab image present locally (``svclab image build``);
2. the spec's ``cluster`` section goes to kind as it is, except that
   ``networking.kubeProxyMode`` becomes ``none`` (no kube-proxy) and a kubeadm
   patch switches off kube-controller-manager's endpoints, EndpointSlice and
   EndpointSlice-mirroring controllers and whichever workload controllers the
   spec runs (``kind_config``, ``kcm_controllers``);
3. the cluster is created through pytest-kind-ng's ``KindCluster``, with the
   kind and kubectl found on PATH (it never downloads them);
4. ``kind load docker-image`` puts the image on every node, ``kubectl apply``
   creates the manifests, ``kubectl rollout status`` waits for them.

State (kind config, kubeconfig, manifests, ``cluster.json``) lives in
``$SVCLAB_KIND_DIR/NAME`` (default ``~/.local/state/svclab/kind/NAME``).
``handle(name)`` rebuilds the handle of a cluster that is up; ``tear_down``
deletes it. Nodes are kind's node containers, so node checks go through
``docker exec`` and testinfra's ``docker://NODE`` backend.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from svclab.testbed.faults import FaultAction, FaultRequest
from svclab.testbed.kind.image import DEFAULT_IMAGE
from svclab.testbed.kind.manifests import (
    CONTROLLER_MANAGER_NAME,
    PROXY_NAME,
    dump_manifests,
    render_manifests,
)
from svclab.testbed.kind.rbac import NAMESPACE
from svclab.testbed.kind.tools import (
    KindError,
    Tool,
    ToolPaths,
    find_tool,
    find_tools,
    preflight,
    run_tool,
)
from svclab.testbed.kubeconfig import KubeconfigCluster
from svclab.testbed.provider import ExecResult, ProviderError, run_captured

__all__ = [
    "KCM_CONTROLLERS",
    "KCM_WORKLOAD_ALIASES",
    "KindCluster",
    "apiserver_endpoint",
    "bring_up",
    "handle",
    "kcm_controllers",
    "kind_config",
    "kubeconfig_path",
    "list_testbeds",
    "state_dir",
    "state_root",
    "tear_down",
]

# kube-controller-manager --controllers: kubeadm's own default ("*" plus the
# two bootstrap-token controllers it needs; setting the flag replaces that
# default, see kubernetes/kubeadm#3251) minus the three endpoint controllers,
# which are always ours. The short names are the aliases every
# kube-controller-manager accepts (canonical since 1.28:
# endpoints-controller, endpointslice-controller,
# endpointslice-mirroring-controller).
KCM_CONTROLLERS = "*,bootstrapsigner,tokencleaner,-endpoint,-endpointslice,-endpointslicemirroring"
# spec.controllers workload name -> kube-controller-manager's alias for its copy
# (canonical: replicaset-controller, replicationcontroller-controller, ...).
KCM_WORKLOAD_ALIASES = {
    "replicaset": "replicaset",
    "replicationcontroller": "replicationcontroller",
    "deployment": "deployment",
    "daemonset": "daemonset",
    "job": "job",
}
KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
APISERVER_PORT = 6443  # the API server's port inside the kind network
ROLLOUT_TIMEOUT = 300.0
Progress = Callable[[str], None]


def state_root() -> Path:
    return Path(os.environ.get("SVCLAB_KIND_DIR", Path.home() / ".local" / "state" / "svclab" / "kind")).absolute()


def state_dir(name: str) -> Path:
    return state_root() / name


def kcm_controllers(spec: Any) -> str:
    """kube-controller-manager's ``--controllers`` for ``spec``: without the endpoint
    controllers and without each workload controller the spec runs ours of
    (two copies would fight over the same objects). Side-effect-free."""
    chosen = {controller.value for controller in spec.controllers}
    switched_off = [f"-{alias}" for name, alias in KCM_WORKLOAD_ALIASES.items() if name in chosen]
    return ",".join([KCM_CONTROLLERS, *switched_off])


def _controller_manager_patch(spec: Any) -> str:
    # No apiVersion: kind then applies it to whichever kubeadm API it generates
    # (v1beta3, or v1beta4 where it converts the extraArgs map into a list).
    text: str = yaml.safe_dump(
        {"kind": "ClusterConfiguration", "controllerManager": {"extraArgs": {"controllers": kcm_controllers(spec)}}},
        sort_keys=False,
    )
    return text


def kind_config(spec: Any) -> dict[str, Any]:
    """The kind Cluster config for ``spec``: its ``cluster`` section, no kube-proxy,
    no upstream endpoints controllers, nor upstream copies of the workload controllers
    the spec runs. Side-effect-free."""
    config: dict[str, Any] = copy.deepcopy(dict(spec.cluster))
    config.setdefault("kind", "Cluster")
    config.setdefault("apiVersion", KIND_API_VERSION)
    networking = dict(config.get("networking") or {})
    networking["kubeProxyMode"] = "none"
    config["networking"] = networking
    config["kubeadmConfigPatches"] = [*config.get("kubeadmConfigPatches", []), _controller_manager_patch(spec)]
    return config


def apiserver_endpoint(name: str, spec: Any) -> str:
    """``HOST:PORT`` of the API server as kind's nodes reach it (by container name)."""
    control_planes = sum(1 for node in spec.nodes if node.role.value == "control-plane")
    host = f"{name}-external-load-balancer" if control_planes > 1 else f"{name}-control-plane"
    return f"{host}:{APISERVER_PORT}"


@dataclass(frozen=True, slots=True)
class KindCluster(KubeconfigCluster):
    """A kind cluster: the common hooks plus node access through the node containers."""

    docker: str = "docker"
    nodes: tuple[str, ...] = ()

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        """Run ``argv`` in the node's container (``docker exec``)."""
        if node not in self.nodes:
            raise KeyError(f"cluster {self.name} has no node {node} (nodes: {', '.join(self.nodes)})")
        return run_captured([self.docker, "exec", *([] if capture else ["-i"]), node, *argv], timeout, capture=capture)

    def fault(self, request: FaultRequest) -> str:
        """Inject one fault the kind way (``svclab.testbed.kind.faults``); one line says what."""
        from svclab.testbed.kind.faults import fault_commands

        control_plane = next((n for n in self.nodes if n.endswith("-control-plane")), self.nodes[0])
        needs_ip = request.action in (FaultAction.CUT_OFF, FaultAction.HEAL)
        address = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        inspect = [self.docker, "inspect", "-f", address, control_plane]
        apiserver_ip = run_captured(inspect, 30).check().stdout.strip() if needs_ip else ""
        commands = fault_commands(
            request,
            nodes=self.nodes,
            control_plane=control_plane,
            mode=self.proxy_mode,
            apiserver_ip=apiserver_ip,
            kubectl=self.kubectl_argv(),
        )
        for argv in commands:
            done = run_captured([self.docker, *argv[1:]] if argv[0] == "docker" else argv, 60)
            if done.rc != 0:
                raise ProviderError(f"{request.action.value} {request.target}: {' '.join(argv)}: {done.stderr.strip()}")
        return f"{self.name}: {request.action.value} {request.target}: ran {'; '.join(' '.join(c) for c in commands)}"

    def node_host(self, node: str) -> Any:
        """A testinfra Host on the node, through its ``docker://`` backend."""
        import testinfra

        return testinfra.get_host(f"docker://{node}")


def _kind_cluster(name: str, state: Path, tools: ToolPaths) -> Any:
    """pytest-kind-ng's KindCluster with our paths; it must never download anything."""
    from pytest_kind import KindCluster

    class _NoDownloadKindCluster(KindCluster):  # type: ignore[misc]
        def ensure_kind(self) -> None:
            if not Path(self.kind_path).exists():
                raise KindError(f"kind binary {self.kind_path} vanished")

        def ensure_kubectl(self) -> None:
            if not Path(self.kubectl_path).exists():
                raise KindError(f"kubectl binary {self.kubectl_path} vanished")

    # KindCluster makes a ".pytest-kind/NAME" folder under the working
    # directory; keep it inside our state directory.
    with contextlib.chdir(state):
        return _NoDownloadKindCluster(
            name, kubeconfig=state / "kubeconfig", kind_path=Path(tools.kind), kubectl_path=Path(tools.kubectl)
        )


def _check_image(tools: ToolPaths, image: str) -> None:
    try:
        run_tool([tools.docker, "image", "inspect", "--format", "{{.Id}}", image], timeout=60)
    except KindError as exc:
        raise KindError(
            f"image {image} is not in the local Docker engine; build it with `svclab image build --tag {image}`"
        ) from exc


def _write_state(state: Path, spec: Any, name: str, image: str) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    config_file = state / "kind-config.yaml"
    config_file.write_text(yaml.safe_dump(kind_config(spec), sort_keys=False))
    (state / "manifests.yaml").write_text(
        dump_manifests(render_manifests(spec, image, apiserver=apiserver_endpoint(name, spec)))
    )
    (state / "cluster.json").write_text(
        json.dumps(
            {
                "name": name,
                "spec_file": spec.source,
                "image": image,
                "proxy_mode": spec.proxy.mode.value,
                "controllers": [c.value for c in spec.controllers],
                "service_subnet": spec.service_subnet,
            },
            indent=2,
        )
    )
    return config_file


def _create_cluster(kind: Any, config_file: Path) -> None:
    import subprocess

    try:
        kind.create(config_file)
    except subprocess.CalledProcessError as exc:
        raise KindError(f"`kind create cluster` failed (exit status {exc.returncode}); see its output above") from exc


def _kubectl(tools: ToolPaths, kubeconfig: Path, *args: str, timeout: float = 120.0) -> str:
    return run_tool([tools.kubectl, f"--kubeconfig={kubeconfig}", *args], timeout=timeout)


def _deploy(tools: ToolPaths, state: Path, spec: Any, *, timeout: float, progress: Progress) -> None:
    kubeconfig = state / "kubeconfig"
    _kubectl(tools, kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(state / "manifests.yaml"))
    workloads = []
    if spec.proxy.mode.value != "none":
        workloads.append(f"daemonset/{PROXY_NAME}")
    if spec.controllers:
        workloads.append(f"deployment/{CONTROLLER_MANAGER_NAME}")
    for workload in workloads:  # the proxy first: the controllers reach the API through it
        progress(f"waiting for {workload}")
        _kubectl(
            tools,
            kubeconfig,
            "rollout",
            "status",
            "-n",
            NAMESPACE,
            workload,
            f"--timeout={timeout:g}s",
            timeout=timeout + 30,
        )
    progress("waiting for every node to be Ready")
    _kubectl(
        tools,
        kubeconfig,
        "wait",
        "--for=condition=Ready",
        "node",
        "--all",
        f"--timeout={timeout:g}s",
        timeout=timeout + 30,
    )


def _node_names(tools: ToolPaths, name: str) -> tuple[str, ...]:
    out = run_tool([tools.kind, "get", "nodes", "--name", name], timeout=60)
    return tuple(sorted(line.strip() for line in out.splitlines() if line.strip()))


def _handle(name: str, state: Path, tools: ToolPaths) -> KindCluster:
    info = json.loads((state / "cluster.json").read_text())
    return KindCluster(
        name=name,
        provider="kind",
        kubeconfig=state / "kubeconfig",
        kubectl=tools.kubectl,
        proxy_mode=info["proxy_mode"],
        service_subnet=info["service_subnet"],
        has_proxy=info["proxy_mode"] != "none",
        has_controllers=bool(info["controllers"]),
        node_access=True,
        node_access_reason="",
        docker=tools.docker,
        nodes=_node_names(tools, name),
    )


def bring_up(
    spec: Any,
    name: str | None = None,
    *,
    image: str = DEFAULT_IMAGE,
    progress: Progress = lambda line: None,
    timeout: float = ROLLOUT_TIMEOUT,
    keep_on_failure: bool = False,
) -> KindCluster:
    """Create the kind cluster for ``spec`` (a Testbed) and deploy svclab on it.

    Raises KindError (one line) before creating anything when a tool, the
    engine or the image is missing; a later failure deletes the cluster
    unless ``keep_on_failure``.
    """
    name = name or spec.name
    problem = preflight(spec)
    if problem is not None:
        raise KindError(problem)
    tools = find_tools()
    _check_image(tools, image)
    state = state_dir(name)
    config_file = _write_state(state, spec, name, image)
    kind = _kind_cluster(name, state, tools)
    progress(f"creating kind cluster {name}")
    try:
        _create_cluster(kind, config_file)
        progress(f"loading image {image}")
        run_tool([tools.kind, "load", "docker-image", "--name", name, image], timeout=600)
        progress("applying manifests")
        _deploy(tools, state, spec, timeout=timeout, progress=progress)
        return _handle(name, state, tools)
    except BaseException:
        if not keep_on_failure:
            tear_down(name)
        raise


def handle(name: str) -> KindCluster:
    """The handle of a kind cluster brought up by ``bring_up``; FileNotFoundError if none."""
    state = state_dir(name)
    if not (state / "cluster.json").is_file():
        raise FileNotFoundError(f"no kind testbed {name} (looked in {state})")
    return _handle(name, state, find_tools())


def kubeconfig_path(name: str) -> Path | None:
    """The kubeconfig of kind testbed ``name`` if it is up (for ``svclab kubeconfig``)."""
    state = state_dir(name)
    return state / "kubeconfig" if (state / "cluster.json").is_file() else None


def list_testbeds() -> list[str]:
    """Names of the kind testbeds brought up here and not torn down (for ``svclab list``)."""
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if (entry / "cluster.json").is_file())


def tear_down(name: str) -> bool:
    """Delete the kind cluster and its state; False if there was no state for it."""
    state = state_dir(name)
    existed = state.exists()
    run_tool(
        [find_tool(Tool.KIND), "delete", "cluster", f"--name={name}", f"--kubeconfig={state / 'kubeconfig'}"],
        timeout=300,
    )
    shutil.rmtree(state, ignore_errors=True)
    return existed
