"""`svclab bench up`: time to a Ready local cluster, then to 100 Ready pods.

Brings up a testbed (default clusters/iptables.yaml) under a throwaway name,
reports how long until every node was Ready, creates N pods of the built-in
agnhost `pause` image across the workers and reports how long until all of
them were Ready, then tears the cluster down again. Needs root.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from svclab.kube.models import from_dict, name_of

__all__ = ["add_arguments", "run"]

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("testbed", nargs="?", default="clusters/iptables.yaml", type=Path)
    parser.add_argument("--pods", type=int, default=100)


def _pod(i: int) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"bench-{i:03d}", "namespace": "bench", "labels": {"app": "bench"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "pause", "image": AGNHOST, "args": ["pause"]}],
        },
    }


def _ready(pod: object) -> bool:
    conditions = getattr(getattr(pod, "status", None), "conditions", None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


async def _pods_ready(kubeconfig: Path, count: int, timeout: float = 120) -> float:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.resources.core_v1 import Namespace, Pod

    client = AsyncClient(KubeConfig.from_file(str(kubeconfig)))
    try:
        await client.create(from_dict(Namespace, {"metadata": {"name": "bench"}}))
        start = time.perf_counter()
        sem = asyncio.Semaphore(16)

        async def create(i: int) -> None:
            async with sem:
                await client.create(from_dict(Pod, _pod(i)))

        await asyncio.gather(*(create(i) for i in range(count)))
        ready: set[str] = set()
        try:
            async with asyncio.timeout(timeout):
                async for _, pod in client.watch(Pod, namespace="bench"):
                    if _ready(pod):
                        ready.add(name_of(pod))
                    if len(ready) == count:
                        return time.perf_counter() - start
        except TimeoutError:
            pending = [
                f"{name_of(p)}: {p.status.phase if p.status else '?'}"
                async for p in client.list(Pod, namespace="bench")
                if not _ready(p)
            ]
            raise RuntimeError(
                f"{len(pending)} of {count} pods not Ready after {timeout:.0f} s: " + ", ".join(pending[:10])
            ) from None
        raise RuntimeError("watch ended early")
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    from svclab.testbed.local.lifecycle import bring_up, tear_down

    if os.geteuid() != 0:
        print("svclab bench up: must run as root (it creates network namespaces)")
        return 1
    name = f"bench{os.getpid()}"
    start = time.perf_counter()
    handle = bring_up(args.testbed, name, progress=lambda _: None)
    cluster_seconds = time.perf_counter() - start
    try:
        pods_seconds = asyncio.run(_pods_ready(handle.kubeconfig, args.pods))
    finally:
        tear_down(name)
    nodes = len(handle.info.nodes)
    print(f"up: {args.testbed} as {name}")
    print(f"  {nodes}-node cluster, all nodes Ready   {cluster_seconds:.2f} s")
    for phase, seconds in handle.timings:
        print(f"    {phase:<32} {seconds:.2f} s")
    print(f"  {args.pods} pods Ready (from first create)   {pods_seconds:.2f} s")
    return 0
