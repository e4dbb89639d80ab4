"""Measuring the userspace proxy: throughput through it vs direct, and its CPU cost.

``bench_userspace`` runs a backend server, the proxy under test and one
client process per measurement (``proxy_userspace_proc``). Two topologies:

* ``namespaces`` (root): a client pod, a server pod and a node, each a
  network namespace ``svclab-bench-<pid>-*`` joined by veth pairs; the node
  routes pod to pod (the *direct* path) and runs the proxy, reached through
  a ClusterIP and the real ``KUBE-PORTALS-CONTAINER`` REDIRECT rule, exactly
  the userspace-mode data path. The namespaces are deleted afterwards.
* ``loopback`` (no root): everything on 127.0.0.1, the client dialling the
  proxy port directly.

Figures per path (direct, and through the proxy per ``CopyMode``), each the
best of ``rounds`` interleaved runs: bulk TCP throughput in MB/s; HTTP/1.1
requests/s over keep-alive connections and with a new connection per
request (``concurrency`` in parallel); the proxy's CPU seconds (utime +
stime from ``/proc/<pid>/stat``) per 10,000 requests. The reference point
is the Go userspace proxy at 36% of direct pod-to-pod throughput
(kubernetes PR #16344). ``python -m svclab.bench.proxy_userspace`` prints
the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from svclab.proxy.userspace.relay import CopyMode

__all__ = ["BenchFigures", "PathFigures", "Topology", "bench_userspace"]

_HELPER = (sys.executable, "-m", "svclab.bench.proxy_userspace_proc")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class PathFigures:
    """One path's results; CPU figures are 0 for the direct path (no proxy)."""

    bulk_mb_s: float
    keepalive_rps: float
    new_connection_rps: float
    cpu_s_per_10k_keepalive: float = 0.0
    cpu_s_per_10k_new_connection: float = 0.0


@dataclass(frozen=True, slots=True)
class BenchFigures:
    """Direct figures and proxied figures per copy mode, and where they were taken."""

    topology: str
    direct: PathFigures
    proxied: Mapping[CopyMode, PathFigures]

    def ratio(self, mode: CopyMode) -> float:
        """Proxied bulk throughput as a fraction of direct."""
        return self.proxied[mode].bulk_mb_s / self.direct.bulk_mb_s

    def render(self) -> str:
        rows = [("direct", self.direct, "")] + [
            (f"userspace/{m.value}", f, f"{self.ratio(m):.0%}") for m, f in self.proxied.items()
        ]
        out = [
            f"topology: {self.topology}",
            f"{'path':<22}{'bulk MB/s':>11}{'of direct':>11}{'keepalive r/s':>15}{'new-conn r/s':>14}"
            f"{'CPU s/10k ka':>14}{'CPU s/10k new':>15}",
        ]
        for label, f, ratio in rows:
            out.append(
                f"{label:<22}{f.bulk_mb_s:>11.0f}{ratio:>11}{f.keepalive_rps:>15.0f}"
                f"{f.new_connection_rps:>14.0f}{f.cpu_s_per_10k_keepalive:>14.2f}"
                f"{f.cpu_s_per_10k_new_connection:>15.2f}"
            )
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Topology:
    """Where each process runs (command prefixes) and the addresses involved."""

    name: str
    server_host: str
    proxy_spec: Mapping[str, Any]
    server_prefix: tuple[str, ...] = ()
    client_prefix: tuple[str, ...] = ()
    proxy_prefix: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = field(default=())


@contextlib.contextmanager
def loopback() -> Iterator[Topology]:
    """Everything on 127.0.0.1 in the current namespace."""
    yield Topology("loopback (127.0.0.1)", "127.0.0.1", {"listen": "127.0.0.1"})


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def namespaces(modes: Sequence[CopyMode]) -> Iterator[Topology]:
    """Client pod 10.98.1.2 and server pod 10.98.2.2 routed by a node (10.98.1.1 / 10.98.2.1)."""
    base = f"svclab-bench-{os.getpid()}"
    node, client, server = f"{base}-node", f"{base}-client", f"{base}-server"
    created: list[str] = []
    try:
        for ns in (node, client, server):
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for pod, net in ((client, "10.98.1"), (server, "10.98.2")):
            side = "vc" if pod == client else "vs"
            _ip("-n", node, "link", "add", side, "type", "veth", "peer", "name", "eth0", "netns", pod)
            _ip("-n", node, "addr", "add", f"{net}.1/24", "dev", side)
            _ip("-n", node, "link", "set", side, "up")
            _ip("-n", pod, "addr", "add", f"{net}.2/24", "dev", "eth0")
            _ip("-n", pod, "link", "set", "eth0", "up")
            _ip("-n", pod, "route", "add", "default", "via", f"{net}.1")
        subprocess.run(["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        yield Topology(
            "network namespaces (client pod -> node -> server pod; proxy on the node via ClusterIP)",
            "10.98.2.2",
            {
                "listen": "0.0.0.0",
                "host_ip": "10.98.1.1",
                "cluster_ips": [f"10.96.0.{10 + i}" for i in range(len(modes))],
            },
            server_prefix=("ip", "netns", "exec", server),
            client_prefix=("ip", "netns", "exec", client),
            proxy_prefix=("ip", "netns", "exec", node),
            namespaces=tuple(created),
        )
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


async def _spawn(*command: str) -> tuple[asyncio.subprocess.Process, Any]:
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        await process.wait()
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode} before reporting")
    return process, json.loads(line)


async def _run_client(topology: Topology, *args: object) -> float:
    process = await asyncio.create_subprocess_exec(
        *topology.client_prefix, *_HELPER, "client", *map(str, args), stdout=subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench client {args} exited with {process.returncode}")
    return float(json.loads(stdout)["seconds"])


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def _measure_round(
    topology: Topology, host: str, ports: Mapping[str, int], proxy_pid: int | None, sizes: Mapping[str, int]
) -> PathFigures:
    """One round on one path; CPU is the proxy process's during each HTTP run."""
    bulk = await _run_client(topology, "bulk", host, ports["bulk"], sizes["bulk_bytes"])
    cpu = _cpu_seconds(proxy_pid)
    keepalive = await _run_client(topology, "keepalive", host, ports["http"], sizes["requests"], sizes["concurrency"])
    cpu_keepalive, cpu = _cpu_seconds(proxy_pid) - cpu, _cpu_seconds(proxy_pid)
    new_conn = await _run_client(topology, "new", host, ports["http"], sizes["new_conn_requests"], sizes["concurrency"])
    cpu_new = _cpu_seconds(proxy_pid) - cpu
    return PathFigures(
        bulk_mb_s=sizes["bulk_bytes"] / bulk / 1e6,
        keepalive_rps=sizes["requests"] / keepalive,
        new_connection_rps=sizes["new_conn_requests"] / new_conn,
        cpu_s_per_10k_keepalive=cpu_keepalive / sizes["requests"] * 10_000,
        cpu_s_per_10k_new_connection=cpu_new / sizes["new_conn_requests"] * 10_000,
    )


def _best(rounds: Sequence[PathFigures]) -> PathFigures:
    """Best throughput and lowest CPU over the rounds (other load only ever slows a run down)."""
    return PathFigures(
        bulk_mb_s=max(r.bulk_mb_s for r in rounds),
        keepalive_rps=max(r.keepalive_rps for r in rounds),
        new_connection_rps=max(r.new_connection_rps for r in rounds),
        cpu_s_per_10k_keepalive=min(r.cpu_s_per_10k_keepalive for r in rounds),
        cpu_s_per_10k_new_connection=min(r.cpu_s_per_10k_new_connection for r in rounds),
    )


async def _bench(topology: Topology, modes: Sequence[CopyMode], rounds: int, sizes: Mapping[str, int]) -> BenchFigures:
    server, server_ports = await _spawn(*topology.server_prefix, *_HELPER, "serve", topology.server_host)
    proxy: asyncio.subprocess.Process | None = None
    try:
        spec = {
            **topology.proxy_spec,
            "backend": topology.server_host,
            "ports": server_ports,
            "modes": [m.value for m in modes],
        }
        proxy, targets = await _spawn(*topology.proxy_prefix, *_HELPER, "proxy", json.dumps(spec))
        results: dict[CopyMode | None, list[PathFigures]] = {None: [], **{m: [] for m in modes}}
        for _ in range(rounds):  # interleaved, so a burst of other load hits every path alike
            results[None].append(await _measure_round(topology, topology.server_host, server_ports, None, sizes))
            for mode in modes:
                target = targets[mode.value]
                results[mode].append(await _measure_round(topology, target["host"], target, proxy.pid, sizes))
    finally:
        for process in (proxy, server):
            if process is not None and process.returncode is None:
                process.terminate()
                await process.wait()
    return BenchFigures(topology.name, _best(results[None]), {m: _best(results[m]) for m in modes})


def bench_userspace(
    *,
    topology: str = "auto",
    bulk_bytes: int = 1 << 30,
    requests: int = 20_000,
    new_conn_requests: int = 5_000,
    concurrency: int = 8,
    rounds: int = 3,
    modes: Sequence[CopyMode] = (CopyMode.SPLICE, CopyMode.TRANSPORT),
) -> BenchFigures:
    """Run the comparison (tens of seconds) and return the figures; see the module docstring.

    ``topology``: ``namespaces`` (root), ``loopback``, or ``auto`` (namespaces when root).
    """
    import uvloop

    use_namespaces = topology == "namespaces" or (topology == "auto" and os.geteuid() == 0)
    sizes = {
        "bulk_bytes": bulk_bytes,
        "requests": requests,
        "new_conn_requests": new_conn_requests,
        "concurrency": concurrency,
    }
    with namespaces(modes) if use_namespaces else loopback() as where:
        return uvloop.run(_bench(where, modes, rounds, sizes))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svclab.bench.proxy_userspace")
    parser.add_argument("--topology", choices=("auto", "namespaces", "loopback"), default="auto")
    parser.add_argument("--bulk-mb", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--new-conn-requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=[m.value for m in CopyMode], action="append")
    options = parser.parse_args(argv)
    modes = [CopyMode(m) for m in options.mode] if options.mode else list(CopyMode)
    print(
        bench_userspace(
            topology=options.topology,
            bulk_bytes=options.bulk_mb << 20,
            requests=options.requests,
            new_conn_requests=options.new_conn_requests,
            concurrency=options.concurrency,
            rounds=options.rounds,
            modes=modes,
        ).render()
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
