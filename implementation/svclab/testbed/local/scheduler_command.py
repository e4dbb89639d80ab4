"""`svclab scheduler`: the local cluster's scheduler (see :mod:`.scheduler`)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from svclab.testbed.local.component_logging import configure_logging

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("-v", "--verbose", action="store_true")


async def _main(args: argparse.Namespace) -> int:
    from svclab.kube import make_client

    from .scheduler import Scheduler

    scheduler = Scheduler(make_client(args.kubeconfig, field_manager="svclab-scheduler"))
    task = asyncio.ensure_future(scheduler.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging(args.verbose)
    return asyncio.run(_main(args))
