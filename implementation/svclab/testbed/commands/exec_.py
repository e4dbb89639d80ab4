"""`svclab exec NAME -n NS POD -- CMD...`: run a command in a pod.

The node agent records each pod's sandbox in
``DIR/nodes/<node>/pods/<ns>_<pod>/info.json`` (keys ``netns``: the pod's
namespace name or path, and optionally ``uts``: a UTS namespace path, or
``pid``: a process holding the pod's namespaces) and annotates the Pod with
``svclab.dev/netns``. The command joins the pod's network namespace and its UTS
namespace when known; otherwise a fresh UTS namespace named after the pod, so
``hostname`` prints the pod name either way. The exit status is the command's.
For a cluster inside a User-Mode Linux guest the command goes to the guest's
exec agent, which does the same there (stdin is then /dev/null).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.commands._enter import become, command_after_dashes, in_guest
from svclab.testbed.local.cluster import ClusterInfo, read_cluster

__all__ = ["PodSandbox", "add_arguments", "find_sandbox", "run"]

NETNS_ANNOTATION = "svclab.dev/netns"


@dataclass(frozen=True, slots=True)
class PodSandbox:
    netns: str  # a name under /run/netns or a path
    uts: str | None  # a UTS namespace path, when the agent gave one


def _sandbox_from_info(info_file: Path) -> PodSandbox:
    data = json.loads(info_file.read_text())
    uts = data.get("uts")
    if uts is None and data.get("pid"):
        candidate = Path(f"/proc/{int(data['pid'])}/ns/uts")
        uts = str(candidate) if candidate.exists() else None
    return PodSandbox(netns=data["netns"], uts=uts)


def _netns_from_api(cluster: ClusterInfo, namespace: str, pod: str) -> str | None:
    from lightkube import Client, KubeConfig
    from lightkube.core.exceptions import ApiError
    from lightkube.resources.core_v1 import Pod

    client = Client(KubeConfig.from_file(str(cluster.kubeconfig_loopback)))
    try:
        found = client.get(Pod, pod, namespace=namespace)
    except ApiError:
        return None
    finally:
        client.close()
    return (found.metadata.annotations or {}).get(NETNS_ANNOTATION) if found.metadata else None


def find_sandbox(cluster: ClusterInfo, namespace: str, pod: str) -> PodSandbox | None:
    """The pod's namespaces: the agent's info.json first, else the Pod's annotation."""
    nodes = Path(cluster.state_dir) / "nodes"
    for info_file in sorted(nodes.glob(f"*/pods/{namespace}_{pod}/info.json")):
        return _sandbox_from_info(info_file)
    netns = _netns_from_api(cluster, namespace, pod)
    return PodSandbox(netns, None) if netns else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("-n", "--namespace", default="default", help="the pod's namespace")
    parser.add_argument("pod", help="pod name")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def run(args: argparse.Namespace) -> int:
    try:
        cluster = read_cluster(args.name)
    except FileNotFoundError:
        print(f"svclab exec: cluster {args.name} is not up", file=sys.stderr)
        return 1
    if cluster.uml is not None:
        return in_guest("svclab exec", cluster, {"pod": {"namespace": args.namespace, "name": args.pod}}, args.command)
    sandbox = find_sandbox(cluster, args.namespace, args.pod)
    if sandbox is None:
        print(f"svclab exec: pod {args.namespace}/{args.pod} not found or has no sandbox yet", file=sys.stderr)
        return 1
    return become("svclab exec", command_after_dashes(args.command), sandbox.netns, uts=sandbox.uts, hostname=args.pod)
