"""`svclab bench endpoints`: from a pod turning Ready to the Endpoints and
EndpointSlice showing it.

Runs `svclab apiserver` and `svclab controller-manager` as processes (no
cluster, no root: the pods are API objects bound to a hollow Node, and the
benchmark writes their status the way a kubelet would, as kubemark does).
Creates S Services with P pods each, all not ready, then turns the pods Ready
one by one at a steady pace and watches Endpoints and EndpointSlices. The
latency of a pod is from its status write being acknowledged to the first
watch event that lists its IP as ready; p50/p99 over all pods.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from svclab.bench.apiserver import percentile
from svclab.kube.models import from_dict

__all__ = ["add_arguments", "run"]

NODE = "hollow-node-0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--pods-per-service", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="pods turned Ready per second")


def _pod_ip(i: int) -> str:
    return f"10.244.{1 + i // 250}.{1 + i % 250}"


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "svclab.cli", *argv], stdout=out, stderr=subprocess.STDOUT)


def _status(ip: str, ready: bool) -> dict[str, object]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    flag = "True" if ready else "False"
    return {
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "172.18.0.3",
            "qosClass": "BestEffort",
            "conditions": [
                {"type": t, "status": flag, "lastTransitionTime": stamp} for t in ("Ready", "ContainersReady")
            ],
        }
    }


async def _watch_ready_ips(client: object, resource: type, seen: dict[str, float]) -> None:
    async for _, obj in client.watch(resource, namespace="bench"):  # type: ignore[attr-defined]
        now = time.perf_counter()
        if resource.__name__ == "Endpoints":
            ips = [a.ip for s in obj.subsets or [] for a in s.addresses or []]
        else:
            ips = [e.addresses[0] for e in obj.endpoints or [] if e.conditions.ready]
        for ip in ips:
            seen.setdefault(ip, now)


async def _seed(client: Any, args: argparse.Namespace) -> list[str]:
    """A node, a namespace, the Services and their not-ready pods; returns the pod names."""
    from lightkube.resources.core_v1 import Namespace, Node, Pod, Service

    await client.create(
        from_dict(Node, {"metadata": {"name": NODE, "labels": {"topology.kubernetes.io/zone": "zone-a"}}})
    )
    await client.create(from_dict(Namespace, {"metadata": {"name": "bench"}}))
    sem = asyncio.Semaphore(16)

    async def create_service(s: int) -> None:
        async with sem:
            spec = {"selector": {"app": f"svc-{s}"}, "ports": [{"port": 80, "targetPort": 8080}]}
            await client.create(
                from_dict(Service, {"metadata": {"name": f"svc-{s}", "namespace": "bench"}, "spec": spec})
            )

    total = args.services * args.pods_per_service
    names = [f"pod-{i}" for i in range(total)]

    async def create_pod(i: int) -> None:
        labels = {"app": f"svc-{i // args.pods_per_service}"}
        pod = {
            "metadata": {"name": names[i], "namespace": "bench", "labels": labels},
            "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "x:1"}]},
        }
        async with sem:
            await client.create(from_dict(Pod, pod))
            await client.patch(Pod.Status, names[i], _status(_pod_ip(i), False), namespace="bench")

    await asyncio.gather(*(create_service(s) for s in range(args.services)))
    await asyncio.gather(*(create_pod(i) for i in range(total)))
    return names


async def _mark_ready_paced(client: Any, names: list[str], rate: float) -> dict[str, float]:
    """Flip each pod Ready at `rate` per second; returns pod IP -> when its status write returned."""
    from lightkube.resources.core_v1 import Pod

    ready_at: dict[str, float] = {}
    interval = 1.0 / rate
    for i, name in enumerate(names):
        started = time.perf_counter()
        ip = _pod_ip(i)
        await client.patch(Pod.Status, name, _status(ip, True), namespace="bench")
        ready_at[ip] = time.perf_counter()
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return ready_at


async def _bench(kubeconfig: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.resources.core_v1 import Endpoints
    from lightkube.resources.discovery_v1 import EndpointSlice

    client = AsyncClient(KubeConfig.from_file(str(kubeconfig)))
    seen_ep: dict[str, float] = {}
    seen_slice: dict[str, float] = {}
    watchers: list[asyncio.Task[None]] = []
    try:
        names = await _seed(client, args)
        total = len(names)
        watchers = [
            asyncio.create_task(_watch_ready_ips(client, Endpoints, seen_ep)),
            asyncio.create_task(_watch_ready_ips(client, EndpointSlice, seen_slice)),
        ]
        await asyncio.sleep(2)  # controllers settle on the not-ready state
        ready_at = await _mark_ready_paced(client, names, args.rate)
        deadline = time.perf_counter() + 60
        while (len(seen_ep) < total or len(seen_slice) < total) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
    finally:
        for task in watchers:
            task.cancel()
        await client.close()
    return {
        "endpoints": [(seen_ep[ip] - t) * 1000 for ip, t in ready_at.items() if ip in seen_ep],
        "endpointslices": [(seen_slice[ip] - t) * 1000 for ip, t in ready_at.items() if ip in seen_slice],
        "total": [float(total)],
    }


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="svclab-bench-") as tmp:
        state = Path(tmp) / "apiserver"
        api = _start(
            ["apiserver", "--state-dir", str(state), "--listen", "127.0.0.1:0", "--log-level", "WARNING"],
            Path(tmp) / "apiserver.log",
        )
        deadline = time.monotonic() + 30
        while not (state / "kubeconfig").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cm = _start(
            ["controller-manager", "--kubeconfig", str(state / "kubeconfig"), "--log-level", "WARNING"],
            Path(tmp) / "controller-manager.log",
        )
        try:
            result = asyncio.run(_bench(state / "kubeconfig", args))
        finally:
            for proc in (cm, api):
                proc.terminate()
                proc.wait(15)
    total = int(result["total"][0])
    print(
        f"endpoints: {args.services} Services x {args.pods_per_service} pods, "
        f"{args.rate:.0f} pods turned Ready per second"
    )
    for kind in ("endpoints", "endpointslices"):
        lat = result[kind]
        if not lat:
            print(f"  {kind:<15} no pod seen")
            continue
        print(
            f"  {kind:<15} p50 {percentile(lat, 0.5):6.1f} ms   p99 "
            f"{percentile(lat, 0.99):6.1f} ms   ({len(lat)}/{total} pods seen)"
        )
    return 0
