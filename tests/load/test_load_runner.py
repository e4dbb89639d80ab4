"""LoadRunner end to end against tiny HTTP servers on 127.0.0.1 (no cluster, no root).

Plan: threaded HTTP/1.1 servers on 127.0.0.1:<ephemeral> answering
``GET /hostname`` with ``backend`` (optionally after a delay) and honouring
``Connection: close``; each counts accepted TCP connections and requests and
notes when each request arrived.  ``exec_in_pod`` runs the worker as a local
subprocess (the "pod" is this host).  Runs last 1 s per target with 2 users;
interleaved runs use two servers, "direct" (fast) and "clusterip" (20 ms
slower), in 0.2 s slices.  The proxy-CPU test serves one target from a
separate server process whose pid stands in for the proxy's.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from svclab.load import (
    PROFILES,
    WORKER_SCHEMA,
    ClientPod,
    LoadError,
    LoadRunner,
    LoadTarget,
    Scenario,
    TargetKind,
    build_targets,
    parse_worker_argv,
    percentile_ms,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SLOW_MS = 20


@dataclass
class Counters:
    connections: int = 0
    requests: int = 0
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() per request
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(socketserver.StreamRequestHandler):
    counters: Counters
    delay_s: float = 0.0

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
                self.counters.arrivals.append(time.monotonic())
            close = b"connection: close" in head.lower()
            body = b"backend"
            time.sleep(self.delay_s)
            # one write per response: split writes meet delayed ACKs on keep-alive
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s"
                % (len(body), b"Connection: close\r\n" if close else b"", body)
            )
            if close:
                return


StartServer = Callable[..., tuple[str, Counters]]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start a counting server (``delay_s`` before each response); stopped after the test."""
    servers: list[socketserver.ThreadingTCPServer] = []

    def start(delay_s: float = 0.0) -> tuple[str, Counters]:
        counters = Counters()
        handler = type("CountingHandler", (Handler,), {"counters": counters, "delay_s": delay_s})
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{srv.server_address[1]}/hostname", counters

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server(start_server: StartServer) -> tuple[str, Counters]:
    return start_server()


def exec_locally(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def make_runner(tmp_path: Path, proxy_pid: int | None = None) -> LoadRunner:
    return LoadRunner(
        mode="test",
        client=ClientPod("default", "client", python=sys.executable),
        exec_in_pod=exec_locally,
        work_dir=tmp_path,
        proxy_pid=proxy_pid,
    )


def test_new_connection_scenario_opens_a_connection_per_request(tmp_path: Path, server: tuple[str, Counters]) -> None:
    url, counters = server
    (m,) = make_runner(tmp_path).measure(
        [LoadTarget(TargetKind.CLUSTER_IP, (url,))], Scenario.NEW_CONNECTION, users=2, run_time_s=1.0
    )
    assert m.stats.requests > 20 and m.stats.failures == 0
    assert sum(m.stats.response_times_ms.values()) == m.stats.requests
    # stats are reset after spawning, so the server saw at least as many; a user
    # stopped between connect and send leaves one connection without a request
    assert counters.requests <= counters.connections <= counters.requests + 2
    assert counters.requests >= m.stats.requests
    assert m.proxy_cpu_s is None  # no proxy pid given
    assert m.stats.html_report and Path(m.stats.html_report).read_text().startswith("<!")


def test_keepalive_scenario_reuses_one_connection_per_user(tmp_path: Path, server: tuple[str, Counters]) -> None:
    url, counters = server
    (m,) = make_runner(tmp_path).measure(
        [LoadTarget(TargetKind.DIRECT, (url,))], Scenario.KEEPALIVE, users=2, run_time_s=1.0
    )
    assert m.stats.requests > 20 and m.stats.failures == 0
    assert counters.connections <= 2 < counters.requests


def _runs(arrivals: dict[str, list[float]], min_length: int) -> list[str]:
    """Which server got the requests, in order, as runs of at least ``min_length``."""
    timeline = sorted((t, name) for name, times in arrivals.items() for t in times)
    runs: list[tuple[str, int]] = []
    for _, name in timeline:
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + 1)
        else:
            runs.append((name, 1))
    long_runs = [name for name, length in runs if length >= min_length]
    return [name for i, name in enumerate(long_runs) if i == 0 or long_runs[i - 1] != name]


@pytest.mark.parametrize("scenario", [Scenario.KEEPALIVE, Scenario.NEW_CONNECTION])
def test_targets_alternate_slice_by_slice_with_stats_per_target(
    tmp_path: Path, start_server: StartServer, scenario: Scenario
) -> None:
    fast_url, fast = start_server()
    slow_url, slow = start_server(delay_s=SLOW_MS / 1000)
    direct, cluster_ip = make_runner(tmp_path).measure(
        [LoadTarget(TargetKind.DIRECT, (fast_url,)), LoadTarget(TargetKind.CLUSTER_IP, (slow_url,))],
        scenario,
        users=2,
        run_time_s=1.0,
        slice_s=0.2,
    )
    # five slices each, taken in turns: the servers' request streams alternate
    # (a slice stalled by a busy machine may merge two turns, hence at least 8)
    turns = _runs({"direct": fast.arrivals, "clusterip": slow.arrivals}, min_length=3)
    assert turns[:2] == ["direct", "clusterip"] and 8 <= len(turns) <= 10
    for m in (direct, cluster_ip):
        assert m.stats.failures == 0 and m.stats.requests > 5
        assert sum(m.stats.response_times_ms.values()) == m.stats.requests
        assert 0.9 <= m.stats.duration_s <= 1.5  # the sum of its slices, not of the run
    assert (direct.target, cluster_ip.target) == (TargetKind.DIRECT, TargetKind.CLUSTER_IP)
    # each target's histogram holds only its own server's answers (the fast
    # server has outliers on a busy machine, the slow one never answers sooner)
    assert percentile_ms(direct.stats.response_times_ms, 0.5) < SLOW_MS
    assert min(cluster_ip.stats.response_times_ms) >= SLOW_MS
    assert fast.requests >= direct.stats.requests and slow.requests >= cluster_ip.stats.requests
    # one run, one report, linked from both targets
    assert direct.stats.html_report and direct.stats.html_report == cluster_ip.stats.html_report
    if scenario is Scenario.KEEPALIVE:
        # switching targets keeps each target's connections open
        assert fast.connections <= 2 and slow.connections <= 2


def test_the_probe_times_connect_and_first_response_per_round(tmp_path: Path, start_server: StartServer) -> None:
    """The server waits 20 ms before answering: only the first response of the slow target shows it."""
    fast_url, fast = start_server()
    slow_url, slow = start_server(delay_s=SLOW_MS / 1000)
    direct, cluster_ip = make_runner(tmp_path).measure(
        [LoadTarget(TargetKind.DIRECT, (fast_url,)), LoadTarget(TargetKind.CLUSTER_IP, (slow_url,))],
        Scenario.CONNECT_PROBE,
        users=1,
        run_time_s=1.2,
        slice_s=0.2,
        rounds=3,
    )
    for m in (direct, cluster_ip):
        assert m.stats.failures == 0 and len(m.stats.rounds) == 3
        assert sum(r.requests for r in m.stats.rounds) == m.stats.requests > 10
        assert all(0.3 <= r.seconds <= 0.6 for r in m.stats.rounds)  # two 0.2 s slices each
        # a new connection per sample, none kept alive
        assert all(r.latency_ms["CONNECT"]["p50"] < SLOW_MS for r in m.stats.rounds)
    assert fast.connections == fast.requests and slow.connections == slow.requests
    assert all(r.latency_ms["FIRST_RESPONSE"]["p50"] < SLOW_MS for r in direct.stats.rounds)
    assert all(r.latency_ms["FIRST_RESPONSE"]["p50"] >= SLOW_MS for r in cluster_ip.stats.rounds)


SERVER_PROCESS = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "7"); self.end_headers()
        self.wfile.write(b"backend")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def test_proxy_cpu_is_charged_to_the_slices_target(tmp_path: Path, server: tuple[str, Counters]) -> None:
    """The "proxy" is a server process that only the clusterip target uses."""
    direct_url, _ = server
    proxy = subprocess.Popen([sys.executable, "-c", SERVER_PROCESS], stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None
        port = int(proxy.stdout.readline())
        direct, cluster_ip = make_runner(tmp_path, proxy_pid=proxy.pid).measure(
            [
                LoadTarget(TargetKind.DIRECT, (direct_url,)),
                LoadTarget(TargetKind.CLUSTER_IP, (f"http://127.0.0.1:{port}/hostname",)),
            ],
            Scenario.KEEPALIVE,
            users=2,
            run_time_s=1.0,
            slice_s=0.25,
        )
    finally:
        proxy.terminate()
        proxy.wait(10)
    assert cluster_ip.stats.requests > 20 and cluster_ip.stats.failures == 0
    assert direct.proxy_cpu_s is not None and cluster_ip.proxy_cpu_s is not None
    # the proxy works in clusterip slices only (direct gets at most a boundary's stragglers)
    assert cluster_ip.proxy_cpu_s > 0 and direct.proxy_cpu_s < cluster_ip.proxy_cpu_s / 3


def test_unreadable_proxy_pid_gives_no_cpu(tmp_path: Path, server: tuple[str, Counters]) -> None:
    url, _ = server
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (m,) = make_runner(tmp_path, proxy_pid=gone.pid).measure(
        [LoadTarget(TargetKind.DIRECT, (url,))], Scenario.KEEPALIVE, users=1, run_time_s=0.3
    )
    assert m.stats.requests > 0 and m.proxy_cpu_s is None


def test_unreachable_target_counts_failures(tmp_path: Path) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        port = closed.server_address[1]
    (m,) = make_runner(tmp_path).measure(
        [LoadTarget(TargetKind.CLUSTER_IP, (f"http://127.0.0.1:{port}/hostname",))],
        Scenario.KEEPALIVE,
        users=1,
        run_time_s=0.5,
    )
    assert m.stats.failures == m.stats.requests > 0
    assert any("refused" in error.lower() for error in m.stats.errors)


def test_worker_failure_is_a_load_error_naming_the_pod(tmp_path: Path) -> None:
    def failing(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 3, "", "boom")

    runner = LoadRunner(mode="m", client=ClientPod("ns", "client"), exec_in_pod=failing, work_dir=tmp_path)
    with pytest.raises(LoadError, match=r"ns/client exited 3: boom"):
        runner.measure([LoadTarget(TargetKind.DIRECT, ("http://x/",))], Scenario.KEEPALIVE, users=1, run_time_s=1)


def test_measure_all_interleaves_the_direct_baseline_at_every_count(tmp_path: Path) -> None:
    runs: list[tuple[list[str], str, bool]] = []

    def fake_worker(namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        options = parse_worker_argv(list(argv)[3:])
        runs.append(([name for name, _ in options.targets], options.scenario.value, options.html_out is not None))
        html = None if options.html_out is None else str(options.html_out)
        targets = [
            {
                "name": name,
                "urls": list(urls),
                "requests": 10,
                "failures": 0,
                "duration_s": 1.0,
                "slices": 6,
                "response_times_ms": {"1": 10},
                "errors": {},
                "proxy_cpu_s": None,
            }
            for name, urls in options.targets
        ]
        options.json_out.write_text(json.dumps({"schema": WORKER_SCHEMA, "targets": targets, "html_report": html}))
        return subprocess.CompletedProcess(list(argv), 0, "", "")

    runner = LoadRunner(mode="m", client=ClientPod("ns", "client"), exec_in_pod=fake_worker, work_dir=tmp_path)
    targets = build_targets(
        pod_ips=["10.244.1.2", "10.244.2.2"],
        cluster_ip="10.96.0.10",
        node_ip="172.18.0.3",
        node_port=30080,
        typical_cluster_ip="10.96.0.11",
    )
    first = runner.measure_all(targets, PROFILES["quick"], services=0)
    all_three = ["direct", "clusterip", "nodeport"]
    scenarios = ("connect-probe", "keepalive", "new-connection")
    # the mid-chain ClusterIP is timed by the probe only, beside the others
    assert runs == [
        ([*all_three, "clusterip-typical"], "connect-probe", True),
        (all_three, "keepalive", True),
        (all_three, "new-connection", True),
    ]
    # one Measurement per target and scenario, ordered by target as before
    assert [(m.target.value, m.scenario.value) for m in first] == [
        *((t, s) for t in all_three for s in scenarios),
        ("clusterip-typical", "connect-probe"),
    ]
    assert len({m.stats.html_report for m in first}) == 3  # one report per run
    runs.clear()
    swept = runner.measure_all(targets, PROFILES["quick"], services=1000)
    # the quick sweep times connections only, worst and typical place; the full one runs every scenario
    assert runs == [(["direct", "clusterip", "clusterip-typical"], "connect-probe", False)]
    assert {(m.target, m.services) for m in swept} == {
        (TargetKind.DIRECT, 1000),
        (TargetKind.CLUSTER_IP, 1000),
        (TargetKind.CLUSTER_IP_TYPICAL, 1000),
    }
    # locust's ~1 MB report is kept for count-0 runs only
    assert all(m.stats.html_report is None for m in swept)
    runs.clear()
    runner.measure_all(targets, PROFILES["full"], services=1000)
    assert runs == [
        (["direct", "clusterip", "clusterip-typical"], "connect-probe", False),
        (["direct", "clusterip"], "keepalive", False),
        (["direct", "clusterip"], "new-connection", False),
    ]


def test_locustfile_runs_under_the_locust_cli(tmp_path: Path, server: tuple[str, Counters]) -> None:
    """The distributed-mode entry point: same users, URLs from --svclab-url."""
    url, counters = server
    locustfile = Path(__file__).parents[2] / "loadtests" / "locustfile.py"
    locust = Path(sys.executable).parent / "locust"
    done = subprocess.run(
        [
            str(locust),
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            # a loaded 2-core machine may spend the first second starting the users
            "3s",
            "--svclab-url",
            url,
            "--json",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "NewConnectionUser",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (total,) = json.loads(done.stdout)
    assert total["num_requests"] > 10 and total["num_failures"] == 0
    # a user stopped between connect and send leaves one connection without a request
    assert counters.requests <= counters.connections <= counters.requests + 2
    assert counters.requests >= total["num_requests"]


def test_build_targets_brackets_ipv6_and_keeps_every_backend() -> None:
    direct, cluster_ip, node_port = build_targets(
        pod_ips=["10.244.1.2", "fd00::5"], cluster_ip="fd00:96::10", node_ip="172.18.0.3", node_port=30080
    )
    assert direct.urls == ("http://10.244.1.2:8080/hostname", "http://[fd00::5]:8080/hostname")
    assert cluster_ip.urls == ("http://[fd00:96::10]:8080/hostname",)
    assert node_port.urls == ("http://172.18.0.3:30080/hostname",)
