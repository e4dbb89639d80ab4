"""`svclab controller-manager`: run the endpoints and workload controllers against a cluster.

Like kube-controller-manager restricted to the endpoints, EndpointSlice and
EndpointSlice-mirroring controllers (the default set) and, when named in
``--controllers``, the workload controllers (replicaset,
replicationcontroller, deployment, daemonset, job; upstream's names):
shared informers, one work queue and ``--concurrent-syncs`` workers per
controller, and optional leader election on a Lease so that of several
replicas only one writes.  SIGTERM or SIGINT stops the controllers, flushes
events and releases the Lease; the exit code is 0.  Losing the Lease while
running exits with 1 (as upstream, which exits so that a fresh process
competes again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .endpoints_controller import EndpointsController
from .endpointslice_controller import EndpointSliceController
from .informers import SharedInformers
from .mirroring_controller import EndpointSliceMirroringController
from .queue_controller import QueueController
from .workloads.daemonset_controller import DaemonSetController
from .workloads.deployment_controller import DeploymentController
from .workloads.job_controller import JobController
from .workloads.replicaset_controller import ReplicaSetController, ReplicationControllerController

__all__ = [
    "CONTROLLERS",
    "DEFAULT_CONTROLLERS",
    "add_arguments",
    "build_controllers",
    "run",
    "run_controllers",
]

log = logging.getLogger("svclab.controllers")

# --controllers name -> (class, event source component as upstream names it)
CONTROLLERS: dict[str, tuple[type[QueueController], str]] = {
    "endpoints": (EndpointsController, "endpoint-controller"),
    "endpointslice": (EndpointSliceController, "endpoint-slice-controller"),
    "endpointslice-mirroring": (EndpointSliceMirroringController, "endpoint-slice-mirroring-controller"),
    "replicaset": (ReplicaSetController, "replicaset-controller"),
    "replicationcontroller": (ReplicationControllerController, "replication-controller"),
    "deployment": (DeploymentController, "deployment-controller"),
    "daemonset": (DaemonSetController, "daemonset-controller"),
    "job": (JobController, "job-controller"),
}
# Run when --controllers is not given: the endpoint controllers only.  The
# workload controllers are opt-in: on kind, kube-controller-manager already
# runs upstream's; a local API server without apps/v1 would stall their caches.
DEFAULT_CONTROLLERS = ("endpoints", "endpointslice", "endpointslice-mirroring")
DEFAULT_LEASE_NAME = "svclab-controller-manager"
DEFAULT_LEASE_NAMESPACE = "kube-system"
EXIT_LEADERSHIP_LOST = 1


def _controller_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTROLLERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown controller(s) {', '.join(unknown) or '(none given)'}; allowed: {', '.join(CONTROLLERS)}"
        )
    return list(dict.fromkeys(names))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then in-cluster)")
    parser.add_argument(
        "--controllers",
        type=_controller_list,
        default=list(DEFAULT_CONTROLLERS),
        help=(
            f"comma-separated controllers to run, of {','.join(CONTROLLERS)} (default: {','.join(DEFAULT_CONTROLLERS)})"
        ),
    )
    parser.add_argument("--concurrent-syncs", type=_positive, default=5, help="workers per controller (default: 5)")
    parser.add_argument("--leader-elect", action="store_true", help="run only while holding the leader-election Lease")
    parser.add_argument("--leader-elect-lease-name", default=DEFAULT_LEASE_NAME)
    parser.add_argument("--leader-elect-namespace", default=DEFAULT_LEASE_NAMESPACE)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def build_controllers(
    client: Any,
    names: Sequence[str],
    *,
    workers: int,
    recorder_factory: Callable[[Any, str], Any] | None = None,
) -> tuple[SharedInformers, list[QueueController], list[Any]]:
    """Wire the named controllers to one set of shared informers.

    Returns (informers, controllers, recorders).  ``recorder_factory(client,
    component)`` defaults to ``svclab.kube.events.EventRecorder``.
    """
    if recorder_factory is None:
        from svclab.kube.events import EventRecorder

        recorder_factory = EventRecorder
    informers = SharedInformers(client)
    controllers, recorders = [], []
    for name in names:
        cls, component = CONTROLLERS[name]
        recorder = recorder_factory(client, component)
        recorders.append(recorder)
        controllers.append(cls(informers, client, recorder, workers=workers))
    return informers, controllers, recorders


async def run_controllers(client: Any, names: Sequence[str], *, workers: int) -> None:
    """Run the named controllers until cancelled; queued events are flushed on the way out."""
    informers, controllers, recorders = build_controllers(client, names, workers=workers)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(informers.run(), name="informers")
            for recorder in recorders:
                group.create_task(recorder.run(), name="events")
            for controller in controllers:
                group.create_task(controller.run(), name=f"controller-{controller.name}")
    finally:
        for recorder in recorders:
            with contextlib.suppress(Exception):
                await asyncio.shield(recorder.flush())


async def _main(args: argparse.Namespace) -> int:
    from svclab.kube.client import make_client

    client = make_client(args.kubeconfig, field_manager="svclab-controller-manager")
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    stopping = False

    def stop(signum: int) -> None:
        nonlocal stopping
        log.info("stopping signal=%s", signal.Signals(signum).name)
        stopping = True
        if task is not None:
            task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    log.info(
        "controller-manager starting controllers=%s concurrent_syncs=%d leader_elect=%s",
        ",".join(args.controllers),
        args.concurrent_syncs,
        args.leader_elect,
    )
    try:
        if not args.leader_elect:
            await run_controllers(client, args.controllers, workers=args.concurrent_syncs)
            return 0
        return await _run_elected(client, args)
    except asyncio.CancelledError:
        if not stopping:
            raise
        return 0
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        log.info("controller-manager stopped")


async def _run_elected(client: Any, args: argparse.Namespace) -> int:
    from svclab.kube.leaderelection import LeaderElectionConfig, LeaderElector

    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    elector = LeaderElector(
        client,
        LeaderElectionConfig(
            lease_name=args.leader_elect_lease_name,
            lease_namespace=args.leader_elect_namespace,
            identity=identity,
        ),
    )

    async def lead() -> None:
        log.info("leader election: started leading identity=%s", identity)
        await run_controllers(client, args.controllers, workers=args.concurrent_syncs)

    def stopped() -> None:
        log.info("leader election: stopped leading identity=%s", identity)

    await elector.run(lead, stopped)
    log.error("leader election lost identity=%s", identity)
    return EXIT_LEADERSHIP_LOST


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )
    if args.log_level != "DEBUG":
        # One line per HTTP request drowns the controllers' own lines.
        for noisy in ("httpx", "httpx2", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_main(args))
