"""LoadRunner end to end against a tiny HTTP server on 127.0.0.1 (no cluster, no root).

Plan: one threaded HTTP/1.1 server on 127.0.0.1:<ephemeral> answering
``GET /hostname`` with ``backend`` and honouring ``Connection: close``; it
counts accepted TCP connections and requests.  ``exec_in_pod`` runs the worker
as a local subprocess (the "pod" is this host).  Runs last 1 s with 2 users.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from svclab.load import (
    PROFILES,
    ClientPod,
    LoadError,
    LoadRunner,
    LoadTarget,
    Scenario,
    TargetKind,
    build_targets,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@dataclass
class Counters:
    connections: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(socketserver.StreamRequestHandler):
    counters: Counters

    def handle(self) -> None:
        with self.counters.lock:
            self.counters.connections += 1
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            with self.counters.lock:
                self.counters.requests += 1
            close = b"connection: close" in head.lower()
            body = b"backend"
            # one write per response: split writes meet delayed ACKs on keep-alive
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (
                len(body), b"Connection: close\r\n" if close else b"", body))
            if close:
                return


@pytest.fixture
def server() -> Iterator[tuple[str, Counters]]:
    counters = Counters()
    handler = type("CountingHandler", (Handler,), {"counters": counters})
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{srv.server_address[1]}/hostname", counters
        srv.shutdown()


def exec_locally(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def make_runner(tmp_path: Path) -> tuple[LoadRunner, list[float]]:
    cpu_readings = [10.0, 12.5]
    return LoadRunner(mode="test", client=ClientPod("default", "client", python=sys.executable),
                      exec_in_pod=exec_locally, work_dir=tmp_path,
                      proxy_cpu_seconds=lambda: cpu_readings.pop(0)), cpu_readings


def test_new_connection_scenario_opens_a_connection_per_request(
        tmp_path: Path, server: tuple[str, Counters]) -> None:
    url, counters = server
    runner, _ = make_runner(tmp_path)
    m = runner.measure(LoadTarget(TargetKind.CLUSTER_IP, (url,)), Scenario.NEW_CONNECTION,
                       users=2, run_time_s=1.0)
    assert m.stats.requests > 20 and m.stats.failures == 0
    assert sum(m.stats.response_times_ms.values()) == m.stats.requests
    # stats are reset after spawning, so the server saw at least as many; a user
    # stopped between connect and send leaves one connection without a request
    assert counters.requests <= counters.connections <= counters.requests + 2
    assert counters.requests >= m.stats.requests
    assert m.proxy_cpu_s == pytest.approx(2.5)
    assert m.stats.html_report and Path(m.stats.html_report).read_text().startswith("<!")


def test_keepalive_scenario_reuses_one_connection_per_user(
        tmp_path: Path, server: tuple[str, Counters]) -> None:
    url, counters = server
    runner, _ = make_runner(tmp_path)
    m = runner.measure(LoadTarget(TargetKind.DIRECT, (url,)), Scenario.KEEPALIVE,
                       users=2, run_time_s=1.0)
    assert m.stats.requests > 20 and m.stats.failures == 0
    assert counters.connections <= 2 < counters.requests


def test_unreachable_target_counts_failures(tmp_path: Path) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        port = closed.server_address[1]
    runner, _ = make_runner(tmp_path)
    m = runner.measure(LoadTarget(TargetKind.CLUSTER_IP, (f"http://127.0.0.1:{port}/hostname",)),
                       Scenario.KEEPALIVE, users=1, run_time_s=0.5)
    assert m.stats.failures == m.stats.requests > 0
    assert any("refused" in error.lower() for error in m.stats.errors)


def test_worker_failure_is_a_load_error_naming_the_pod(tmp_path: Path) -> None:
    def failing(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 3, "", "boom")

    runner = LoadRunner(mode="m", client=ClientPod("ns", "client"), exec_in_pod=failing,
                        work_dir=tmp_path)
    with pytest.raises(LoadError, match=r"ns/client exited 3: boom"):
        runner.measure(LoadTarget(TargetKind.DIRECT, ("http://x/",)), Scenario.KEEPALIVE,
                       users=1, run_time_s=1)


def test_measure_all_runs_only_sweep_targets_beyond_count_zero(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def fake_worker(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        args = list(argv)
        seen.append((args[args.index("--url") + 1], args[args.index("--scenario") + 1]))
        Path(args[args.index("--json") + 1]).write_text(
            '{"schema": "svclab.load-worker/v1", "requests": 10, "failures": 0,'
            ' "duration_s": 1.0, "response_times_ms": {"1": 10}, "html_report": '
            + ('"x.html"' if "--html" in args else "null") + "}")
        return subprocess.CompletedProcess(args, 0, "", "")

    runner = LoadRunner(mode="m", client=ClientPod("ns", "client"), exec_in_pod=fake_worker,
                        work_dir=tmp_path)
    targets = build_targets(pod_ips=["10.244.1.2", "10.244.2.2"], cluster_ip="10.96.0.10",
                            node_ip="172.18.0.3", node_port=30080)
    assert runner.measure_all(targets, PROFILES["quick"], services=0)[0].target is TargetKind.DIRECT
    assert len(seen) == 6
    seen.clear()
    swept = runner.measure_all(targets, PROFILES["quick"], services=1000)
    assert {m.target for m in swept} == {TargetKind.CLUSTER_IP}
    assert seen == [("http://10.96.0.10:8080/hostname", "keepalive"),
                    ("http://10.96.0.10:8080/hostname", "new-connection")]
    # locust's ~1 MB report is kept for count-0 runs only
    assert swept[0].stats.html_report is None


def test_locustfile_runs_under_the_locust_cli(tmp_path: Path, server: tuple[str, Counters]) -> None:
    """The distributed-mode entry point: same users, URLs from --svclab-url."""
    url, counters = server
    locustfile = Path(__file__).parents[2] / "loadtests" / "locustfile.py"
    locust = Path(sys.executable).parent / "locust"
    done = subprocess.run(
        [str(locust), "-f", str(locustfile), "--headless", "-u", "2", "-r", "2", "-t", "1s",
         "--svclab-url", url, "--json", "--only-summary", "--loglevel", "WARNING",
         "NewConnectionUser"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (total,) = json.loads(done.stdout)
    assert total["num_requests"] > 10 and total["num_failures"] == 0
    # a user stopped between connect and send leaves one connection without a request
    assert counters.requests <= counters.connections <= counters.requests + 2
    assert counters.requests >= total["num_requests"]


def test_build_targets_brackets_ipv6_and_keeps_every_backend() -> None:
    direct, cluster_ip, node_port = build_targets(
        pod_ips=["10.244.1.2", "fd00::5"], cluster_ip="fd00:96::10", node_ip="172.18.0.3",
        node_port=30080)
    assert direct.urls == ("http://10.244.1.2:8080/hostname", "http://[fd00::5]:8080/hostname")
    assert cluster_ip.urls == ("http://[fd00:96::10]:8080/hostname",)
    assert node_port.urls == ("http://172.18.0.3:30080/hostname",)
