"""Become a command inside a local cluster's node or pod (``svclab exec`` / ``node-exec``).

The process enters the namespaces and then ``execvp``s the command, so the
command's exit status is ours and its stdin/stdout/stderr are the caller's.
For a cluster inside a User-Mode Linux guest ``in_guest`` asks the guest's
exec agent instead and passes its exit status on.

Where a pod lives: the node agent records each pod's sandbox in
``DIR/nodes/<node>/pods/<ns>_<pod>/info.json`` (keys ``netns``: the pod's
namespace name or path, and optionally ``uts``: a UTS namespace path, or
``pid``: a process holding the pod's namespaces) and annotates the Pod with
``svclab.dev/netns`` (``find_sandbox``). A pod's command joins its network
namespace and its UTS namespace when known; otherwise a fresh UTS namespace
named after the pod, so ``hostname`` prints the pod name either way.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svclab.testbed.local.nsexec import enter_namespaces
from svclab.testbed.local.record import ClusterInfo

__all__ = ["PodSandbox", "become", "command_after_dashes", "exec_in_pod", "exec_on_node", "find_sandbox", "in_guest"]

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


def command_after_dashes(rest: Sequence[str]) -> list[str]:
    """argparse.REMAINDER keeps a leading ``--``; drop it."""
    command = list(rest)
    return command[1:] if command[:1] == ["--"] else command


def become(prog: str, command: list[str], netns: str, *, uts: str | None = None, hostname: str | None = None) -> int:
    """Enter the namespaces and exec ``command``; returns only on failure."""
    if not command:
        print(f"{prog}: no command given (after --)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{prog}: must run as root (it enters network namespaces)", file=sys.stderr)
        return 1
    try:
        enter_namespaces(netns, uts=uts, hostname=hostname)
    except OSError as exc:
        print(f"{prog}: cannot enter {netns}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        print(f"{prog}: {command[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"{prog}: {command[0]}: permission denied", file=sys.stderr)
        return 126
    return 1  # not reached: execvp either replaces us or raises


def in_guest(prog: str, cluster: ClusterInfo, target: dict[str, Any], command: list[str]) -> int:
    """Run ``command`` through the UML guest's exec agent; its exit status."""
    from svclab.testbed.local.uml.cluster import exec_in_guest

    if not command:
        print(f"{prog}: no command given (after --)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{prog}: must run as root (it enters the guest's network namespace)", file=sys.stderr)
        return 1
    try:
        return exec_in_guest(cluster, target, command)
    except OSError as exc:
        print(f"{prog}: cannot reach the exec agent of {cluster.name} in its UML guest: {exc}", file=sys.stderr)
        return 1


def exec_in_pod(cluster: ClusterInfo, namespace: str, pod: str, command: list[str]) -> int:
    """``svclab exec``: become ``command`` in the pod (returns only on failure, or from a UML guest)."""
    prog = "svclab exec"
    if cluster.uml is not None:
        return in_guest(prog, cluster, {"pod": {"namespace": namespace, "name": pod}}, command)
    sandbox = find_sandbox(cluster, namespace, pod)
    if sandbox is None:
        print(f"{prog}: pod {namespace}/{pod} not found or has no sandbox yet", file=sys.stderr)
        return 1
    return become(prog, command, sandbox.netns, uts=sandbox.uts, hostname=pod)


def exec_on_node(cluster: ClusterInfo, node_name: str, command: list[str]) -> int:
    """``svclab node-exec``: become ``command`` on the node (as ``exec_in_pod``)."""
    prog = "svclab node-exec"
    try:
        node = cluster.node(node_name)
    except KeyError as exc:
        print(f"{prog}: {exc.args[0]}", file=sys.stderr)
        return 1
    if cluster.uml is not None:
        return in_guest(prog, cluster, {"node": node.name}, command)
    return become(prog, command, node.netns, hostname=node.name)
