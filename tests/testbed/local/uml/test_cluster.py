"""A local cluster inside a User-Mode Linux guest: exec agent protocol (pure), the
uml parts of cluster.json and the supervisor plan, and (root, UML) a whole
3-node ipvs cluster brought up, used from the host and brought down.

Address plan: the guest's ``vec0`` is 10.250.0.2/30 (tap 10.250.0.1 in
``svclab-<name>-uml``); the API server listens there on 6443, the exec agent on
10250; the host reaches the API through 127.0.0.1:<free port>. Inside the
guest, nodes are 172.18.0.2-4, pods 10.244.<node>.0/24, Services 10.96.0.0/16.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from svclab.testbed.local.record import ClusterInfo, UmlAccess, describe_cluster
from svclab.testbed.local.supervisor import plan_children
from svclab.testbed.local.uml.exec_agent import (
    ExecAgent,
    ExecTarget,
    FrameDecoder,
    FrameKind,
    TargetError,
    decode_request,
    encode_frame,
    encode_request,
    exit_status,
    run_remote,
)
from svclab.testbed.spec import load_spec

REPO = Path(__file__).resolve().parents[4]
ACCESS = UmlAccess(
    guest_address="10.250.0.2", api_port=6443, host_api_port=40123, agent_port=10250, kernel_version="6.1.176"
)


def _uml_info(tmp_path: Path) -> ClusterInfo:
    return replace(describe_cluster(load_spec(REPO / "clusters/ipvs.yaml"), tmp_path), uml=ACCESS)


# --------------------------------------------------------------------------- pure parts


def test_request_round_trip_and_validation() -> None:
    wire = encode_request("tok", ["ipvsadm", "-Ln"], {"node": "ipvs-worker"})
    assert int.from_bytes(wire[:4], "big") == len(wire) - 4
    assert decode_request(wire[4:]) == ("tok", ["ipvsadm", "-Ln"], {"node": "ipvs-worker"})
    for bad in (
        b'{"argv": [], "target": {}}',
        b'{"argv": ["x", 1], "target": {}}',
        b'{"argv": ["x"], "target": "pod"}',
        b"not json",
    ):
        with pytest.raises(ValueError):
            decode_request(bad)


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000], ids=lambda n: f"chunks-of-{n}")
def test_frames_survive_any_split(chunk: int) -> None:
    wire = (
        encode_frame(FrameKind.STDOUT, b"hello\n")
        + encode_frame(FrameKind.STDERR, b"")
        + encode_frame(FrameKind.STDOUT, b"x" * 300)
        + encode_frame(FrameKind.EXIT, b"7")
    )
    decoder, frames = FrameDecoder(), []
    for start in range(0, len(wire), chunk):
        frames += decoder.feed(wire[start : start + chunk])
    assert frames == [
        (FrameKind.STDOUT, b"hello\n"),
        (FrameKind.STDERR, b""),
        (FrameKind.STDOUT, b"x" * 300),
        (FrameKind.EXIT, b"7"),
    ]


@pytest.mark.parametrize(("returncode", "status"), [(0, 0), (3, 3), (-9, 137), (-15, 143)])
def test_exit_status_like_a_shell(returncode: int, status: int) -> None:
    assert exit_status(returncode) == status


def test_cluster_json_keeps_uml_access(tmp_path: Path) -> None:
    info = _uml_info(tmp_path)
    data = info.to_json()
    assert data["kernel"] == "uml" and data["uml"]["hostApiPort"] == 40123
    assert ClusterInfo.from_json(data) == info
    host = replace(info, uml=None)
    assert host.to_json()["kernel"] == "host" and "uml" not in host.to_json()
    assert ClusterInfo.from_json(host.to_json()).uml is None
    assert info.kubeconfig == tmp_path / "kubeconfig"  # the host's (forwarder)
    assert info.kubeconfig_loopback == tmp_path / "apiserver" / "kubeconfig"
    assert host.kubeconfig_loopback == host.kubeconfig


def test_supervisor_plan_listens_on_vec0_and_keeps_components_on_guest_loopback(tmp_path: Path) -> None:
    children = {c.name: c for c in plan_children(_uml_info(tmp_path), base=["svclab"])}
    api = list(children["apiserver"].argv)
    listens = [api[i + 1] for i, arg in enumerate(api) if arg == "--listen"]
    assert listens == ["127.0.0.1:0", "10.250.0.2:6443"]  # the first one is the loopback kubeconfig's
    scheduler = list(children["scheduler"].argv)
    assert scheduler[scheduler.index("--kubeconfig") + 1] == str(tmp_path / "apiserver" / "kubeconfig")
    host_plan = plan_children(replace(_uml_info(tmp_path), uml=None), base=["svclab"])
    assert "10.250.0.2:6443" not in host_plan[0].argv


def test_host_kubeconfig_points_at_the_forwarder(tmp_path: Path) -> None:
    from svclab.testbed.local.uml.cluster import write_host_kubeconfig

    info = _uml_info(tmp_path)
    (tmp_path / "apiserver").mkdir()
    guest_config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ipvs",
        "clusters": [
            {"name": "ipvs", "cluster": {"server": "https://127.0.0.1:33333", "certificate-authority-data": "Q0E="}}
        ],
        "users": [{"name": "ipvs-admin", "user": {"token": "t0k"}}],
    }
    info.kubeconfig_loopback.write_text(yaml.safe_dump(guest_config))
    written = yaml.safe_load(write_host_kubeconfig(info).read_text())
    assert written["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:40123",
        "certificate-authority-data": "Q0E=",
    }
    assert written["users"] == guest_config["users"]
    assert info.kubeconfig.stat().st_mode & 0o077 == 0


def test_progress_relay_repeats_only_complete_new_lines(tmp_path: Path) -> None:
    from svclab.testbed.local.uml.cluster import _Relay

    shown: list[str] = []
    output = tmp_path / "output.log"
    relay = _Relay(output, shown.append)
    relay()  # no file yet
    output.write_text("network: 3 nodes\napiserver: rea")
    relay()
    with output.open("a") as stream:
        stream.write("dy\n")
    relay()
    relay()
    assert shown == ["uml: network: 3 nodes", "uml: apiserver: ready"]


# --------------------------------------------------------------------------- agent, no namespaces


def _ask(port: int, token: str, target: dict[str, Any]) -> tuple[int, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        status = run_remote(sock, token, ["true"], target, stdout=out, stderr=err)
    return status, err.getvalue()


async def test_agent_refuses_a_wrong_token_and_unknown_targets() -> None:
    def resolve(target: dict[str, Any]) -> ExecTarget:
        raise TargetError(f"no such node {target.get('node')}")

    agent = ExecAgent("secret", resolve)
    await agent.start("127.0.0.1", 0)
    assert agent.server is not None
    port = agent.server.sockets[0].getsockname()[1]
    try:
        assert await asyncio.to_thread(_ask, port, "guess", {"node": "n"}) == (
            1,
            b"exec agent: unauthorized (wrong token)\n",
        )
        assert await asyncio.to_thread(_ask, port, "secret", {"node": "n"}) == (1, b"no such node n\n")
    finally:
        await agent.close()


# --------------------------------------------------------------------------- a real UML cluster


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, UML)"
    from svclab.testbed.local.uml import can_run_uml

    return can_run_uml()


def _svclab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svclab.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def uml_cluster() -> Iterator[tuple[str, Path]]:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    name = f"umlt{os.getpid() % 10000}"
    started = time.monotonic()
    up = _svclab("up", str(REPO / "clusters/ipvs.yaml"), "--name", name, "--timeout", "120", timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        kubeconfig = Path(up.stdout.strip().splitlines()[-1].removeprefix("kubeconfig: "))
        print(f"\nUML cluster {name}: up in {time.monotonic() - started:.1f}s\n{up.stdout}")
        yield name, kubeconfig
    finally:
        _svclab("down", name, timeout=120)


def _manifests() -> list[Any]:
    from lightkube.models.core_v1 import Container, HTTPGetAction, PodSpec, Probe, ServicePort, ServiceSpec
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Pod, Service

    image = "registry.k8s.io/e2e-test-images/agnhost:2.53"
    probe = Probe(httpGet=HTTPGetAction(path="/", port=8080), periodSeconds=1)
    return [
        Pod(
            metadata=ObjectMeta(name="web", labels={"app": "web"}),
            spec=PodSpec(
                containers=[
                    Container(name="web", image=image, args=["netexec", "--http-port=8080"], readinessProbe=probe)
                ]
            ),
        ),
        Pod(
            metadata=ObjectMeta(name="client"),
            spec=PodSpec(containers=[Container(name="client", image=image, args=["pause"])]),
        ),
        Service(
            metadata=ObjectMeta(name="web"),
            spec=ServiceSpec(selector={"app": "web"}, ports=[ServicePort(port=80, targetPort=8080)]),
        ),
    ]


def _ready(status: Any) -> bool:
    return status is not None and any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def _poll(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.timeout(600)
def test_uml_cluster_is_usable_from_the_host(uml_cluster: tuple[str, Path]) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import Node, Pod, Service

    name, kubeconfig = uml_cluster
    client = Client(KubeConfig.from_file(str(kubeconfig)))
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:")
    nodes = list(client.list(Node))
    assert len(nodes) == 3 and all(_ready(n.status) for n in nodes)
    listed = _svclab("list")
    assert any(line.split()[:5] == [name, "3", "ipvs", "uml", "uml"] for line in listed.stdout.splitlines()), (
        listed.stdout
    )
    for obj in _manifests():
        client.create(obj)
    _poll(lambda: all(_ready(client.get(Pod, p).status) for p in ("web", "client")), "pods Ready")
    hostname = _svclab("exec", name, "-n", "default", "web", "--", "hostname")
    assert (hostname.returncode, hostname.stdout.strip()) == (0, "web"), hostname.stderr
    assert _svclab("exec", name, "client", "--", "sh", "-c", "exit 3").returncode == 3
    worker = f"{name}-worker"
    spec = client.get(Service, "web").spec
    assert spec is not None
    cluster_ip = spec.clusterIP

    def virtual_servers() -> str | None:
        out = _svclab("node-exec", name, worker, "--", "ipvsadm", "-Ln").stdout
        return out if f"{cluster_ip}:80" in out else None

    def through_cluster_ip() -> str | None:
        done = _svclab("exec", name, "client", "--", "curl", "-s", "--max-time", "3", f"http://{cluster_ip}/hostname")
        return done.stdout if done.returncode == 0 else None

    ipvs = _poll(virtual_servers, "IPVS virtual server of default/web")
    assert "TCP  10.96.0.1:443 rr" in ipvs  # default/kubernetes
    assert _poll(through_cluster_ip, "a ClusterIP answer through IPVS").strip() == "web"
    client.close()


@pytest.mark.timeout(120)
def test_down_leaves_nothing_behind(uml_cluster: tuple[str, Path]) -> None:
    from svclab.testbed.local import naming
    from svclab.testbed.local.uml import load_guest

    name, _ = uml_cluster
    guest = load_guest(naming.state_dir(name))
    assert guest is not None
    down = _svclab("down", name, timeout=120)
    assert down.returncode == 0, down.stderr
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [line for line in netns.splitlines() if line.startswith(f"svclab-{name}-")]
    assert not naming.state_dir(name).exists()
    for pid in (guest.pid, *guest.forwarder_pids):
        assert not _running(pid), f"process {pid} survived svclab down"


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")
