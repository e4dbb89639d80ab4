"""`svclab scheduler`: the local cluster's scheduler (see :mod:`.scheduler`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for noisy in ("httpx", "httpx2", "httpcore"):  # one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_main(args))
