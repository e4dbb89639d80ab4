"""`svclab supervisor --state-dir DIR`: run a local cluster's processes.

Started detached by `svclab up`, which has written DIR/cluster.json. Runs in
the foreground until SIGTERM, then stops every child and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys

from svclab.testbed.local.record import read_cluster
from svclab.testbed.local.supervisor import Supervisor, plan_children

__all__ = ["add_arguments", "run"]

log = logging.getLogger("svclab.supervisor")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", required=True, help="the cluster's state directory (holds cluster.json)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    info = read_cluster(args.state_dir)
    children = plan_children(info)
    log.info("supervising cluster=%s children=%s", info.name, ",".join(child.name for child in children))
    supervisor = Supervisor(info, children)
    supervisor.install_signals()
    supervisor.run()
    log.info("stopped cluster=%s", info.name)
    return 0
