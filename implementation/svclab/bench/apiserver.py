"""`svclab bench apiserver`: how fast the API server takes creates while watched.

Starts a fresh `svclab apiserver` process, attaches watchers to Services in
the namespace, then creates N Services over a few keep-alive connections.
Prints creates per second and the delivery latency from issuing a create to
each watcher seeing its ADDED event (p50/p99 over all watchers and objects).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import yaml

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="concurrent create requests in flight")


def _start_server(state: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "svclab.cli",
            "apiserver",
            "--state-dir",
            str(state),
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "WARNING",
        ]
    )
    deadline = time.monotonic() + 30
    while not (state / "kubeconfig").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    return proc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _watch(
    session: aiohttp.ClientSession, url: str, rv: str, want: int, seen: dict[str, float], ready: asyncio.Event
) -> None:
    params = {"watch": "true", "resourceVersion": rv}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        ready.set()
        count = 0
        async for line in resp.content:
            event = orjson.loads(line)
            if event["type"] == "ADDED":
                seen[event["object"]["metadata"]["name"]] = time.perf_counter()
                count += 1
                if count == want:
                    return


async def _bench(kubeconfig: Path, args: argparse.Namespace) -> dict[str, float]:
    cfg = yaml.safe_load(kubeconfig.read_text())  # noqa: ASYNC240 - once, before any request
    server = cfg["clusters"][0]["cluster"]["server"]
    token = cfg["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cafile=str(kubeconfig.parent / "pki" / "ca.crt"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = f"{server}/api/v1/namespaces/default/services"
    connector = aiohttp.TCPConnector(ssl=ctx, limit=args.connections + args.watchers + 2)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        async with session.get(url) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        seen_by = [dict[str, float]() for _ in range(args.watchers)]
        readies = [asyncio.Event() for _ in range(args.watchers)]
        watchers = [
            asyncio.create_task(_watch(session, url, rv, args.services, seen, ready))
            for seen, ready in zip(seen_by, readies)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        issued: dict[str, float] = {}
        names = iter(f"bench-{i:05d}" for i in range(args.services))

        async def creator() -> None:
            for name in names:
                body = orjson.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": name},
                        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
                    }
                )
                issued[name] = time.perf_counter()
                async with session.post(url, data=body) as resp:
                    if resp.status != 201:
                        raise RuntimeError(f"create {name}: {resp.status} {await resp.text()}")
                    await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*(creator() for _ in range(args.connections)))
        elapsed = time.perf_counter() - start
        await asyncio.wait_for(asyncio.gather(*watchers), 120)
    latencies = [(seen[n] - issued[n]) * 1000 for seen in seen_by for n in issued]
    return {
        "services": args.services,
        "seconds": elapsed,
        "creates_per_second": args.services / elapsed,
        "delivery_p50_ms": percentile(latencies, 0.50),
        "delivery_p99_ms": percentile(latencies, 0.99),
        "delivery_mean_ms": statistics.fmean(latencies),
    }


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="svclab-bench-") as tmp:
        state = Path(tmp) / "apiserver"
        proc = _start_server(state)
        try:
            result = asyncio.run(_bench(state / "kubeconfig", args))
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        f"apiserver: {result['services']} Service creates with {args.watchers} watchers, {args.connections} in flight"
    )
    print(f"  creates/s            {result['creates_per_second']:.0f}  ({result['seconds']:.2f} s)")
    print(f"  watch delivery p50   {result['delivery_p50_ms']:.1f} ms  (create issued -> event seen)")
    print(f"  watch delivery p99   {result['delivery_p99_ms']:.1f} ms")
    return 0
