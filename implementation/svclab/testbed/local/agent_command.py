"""`svclab node-agent`: kubelet's role on one node of a local cluster.

Started by the cluster supervisor inside the node's network namespace; see
:mod:`svclab.testbed.local.agent` for what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svclab.testbed.local.component_logging import configure_logging

if TYPE_CHECKING:
    from .agent.mirror import MirrorPods, StaticPod
    from .agent.node import NodeOptions

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--cluster", required=True, help="cluster name (prefix of pod namespaces)")
    parser.add_argument("--netns", default="", help="the node's network namespace (hostNetwork pods run there)")
    parser.add_argument("--node-ip", required=True, help="the node's address, or ipv4,ipv6 (dual stack)")
    parser.add_argument("--pod-cidr", required=True, help="the node's pod CIDR, or one per family comma-separated")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--labels", default="", help="k=v,k2=v2 node labels")
    parser.add_argument("--register-with-taints", default="", help="key=value:Effect,... taints")
    parser.add_argument(
        "--static-pods",
        default="",
        help="component=supervisor-child,...: components of this node published as mirror pods in kube-system",
    )
    parser.add_argument("-v", "--verbose", action="store_true")


def _install_stop_signals(task: asyncio.Future[None]) -> None:
    """SIGTERM/SIGINT cancel ``task``, through plain signal handlers on purpose.

    pyroute2 forks helper processes (netns creation) and stops them with
    SIGTERM. With ``loop.add_signal_handler`` a signal that hits such a child
    before it resets its handlers is written to the wakeup socket the child
    shares with the agent, and the agent would stop itself. A plain handler
    runs in the process that got the signal; in a forked child it just exits.
    """
    loop = asyncio.get_running_loop()
    agent_pid = os.getpid()

    def on_signal(signum: int, _frame: object) -> None:
        if os.getpid() != agent_pid:
            os._exit(128 + signum)
        logging.getLogger(__name__).info("stopping on signal %s", signal.Signals(signum).name)
        loop.call_soon_threadsafe(task.cancel)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)


def _mirror_pods(client: Any, args: argparse.Namespace, node: NodeOptions) -> MirrorPods | None:
    """The mirror-pod publisher of ``--static-pods``; a component's process is found the way
    ``svclab fault`` finds it, in the cluster state directory (``STATE/nodes/NODE`` is ours)."""
    from .agent.mirror import MirrorPods, parse_static_pods
    from .supervisor import running_child_pid

    static_pods = parse_static_pods(args.static_pods)
    if not static_pods:
        return None
    cluster_state = Path(args.state_dir).parent.parent

    def find(static: StaticPod) -> tuple[int, list[str]] | None:
        pid = running_child_pid(cluster_state, static.child)
        if pid is None:
            return None
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            return None
        return pid, [part.decode(errors="replace") for part in argv]

    return MirrorPods(client, node_name=args.node_name, node_ips=node.node_ips, static_pods=static_pods, find=find)


async def _main(args: argparse.Namespace) -> int:
    from svclab.kube import make_client

    from .agent.agent import NodeAgent
    from .agent.node import NodeOptions, parse_labels, parse_taints

    node = NodeOptions(
        name=args.node_name,
        node_ip=args.node_ip,
        pod_cidr=args.pod_cidr,
        netns=args.netns,
        labels=parse_labels(args.labels),
        taints=parse_taints(args.register_with_taints),
    )
    client = make_client(args.kubeconfig, field_manager="svclab-node-agent")
    agent = NodeAgent(
        client, cluster=args.cluster, node=node, state_dir=args.state_dir, mirror_pods=_mirror_pods(client, args, node)
    )
    task = asyncio.ensure_future(agent.run())
    _install_stop_signals(task)
    try:
        await task
    except asyncio.CancelledError:
        await agent.shutdown()
    except Exception:
        logging.getLogger(__name__).exception("node agent failed")
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging(args.verbose)
    try:
        return asyncio.run(_main(args))
    except ValueError as exc:
        print(f"svclab node-agent: {exc}")
        return 2
