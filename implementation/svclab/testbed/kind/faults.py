"""The kind provider's fault hooks: what the platform allows, as commands.

``fault_commands`` (side-effect-free) says which commands inject a fault on a
kind cluster; ``inject`` runs them. On kind the components are pods and node
containers, so:

* ``kill proxy-<node>`` / ``kill controller-manager``: force-delete the pod (our
  DaemonSet or Deployment makes a new one, as a crash would get restarted);
* ``kill apiserver`` / ``kill scheduler``: stop the static pod's container with
  ``crictl`` in the control-plane container (the kubelet starts it again);
* ``kill node-agent-<node>``: SIGKILL the node's kubelet (systemd restarts it);
* ``stop`` / ``continue`` NODE: ``docker pause`` / ``unpause`` of the whole node
  container; a single component cannot be frozen there;
* ``flush-rules``, ``flush-conntrack``, ``cut-off``, ``heal`` NODE: the same
  commands as on a local node, through ``docker exec`` (kind's nodes run
  iptables-nft; the cut-off is an iptables rule in the node's OUTPUT chain).

Nothing here was run against a real kind cluster on this machine (no Docker);
the unit tests pin the commands.
"""

from __future__ import annotations

from collections.abc import Sequence

from svclab.testbed import faults
from svclab.testbed.faults import FaultAction, FaultError, FaultRequest, FaultUnavailable
from svclab.testbed.kind.rbac import NAMESPACE  # where the proxy and the controller-manager run

__all__ = ["APISERVER_PORT", "fault_commands"]

APISERVER_PORT = 6443

_STATIC_PODS = {"apiserver": "kube-apiserver", "scheduler": "kube-scheduler"}


def _component_label(component: str) -> str:
    return f"app.kubernetes.io/name=svclab,app.kubernetes.io/component={component}"


def _kill_commands(target: str, *, nodes: Sequence[str], control_plane: str, kubectl: Sequence[str]) -> list[list[str]]:
    force = ["--grace-period=0", "--force", "--wait=false"]
    if target in _STATIC_PODS:
        script = f"crictl ps -q --name {_STATIC_PODS[target]} | xargs -r crictl stop --timeout 0"
        return [["docker", "exec", control_plane, "sh", "-c", script]]
    if target == "controller-manager":
        return [[*kubectl, "-n", NAMESPACE, "delete", "pod", "-l", _component_label("controller-manager"), *force]]
    for prefix in ("proxy-", "node-agent-"):
        node = target.removeprefix(prefix)
        if target.startswith(prefix) and node in nodes:
            if prefix == "node-agent-":
                return [["docker", "exec", node, "systemctl", "kill", "--signal=SIGKILL", "kubelet"]]
            selector = ["-l", _component_label("proxy"), "--field-selector", f"spec.nodeName={node}"]
            return [[*kubectl, "-n", NAMESPACE, "delete", "pod", *selector, *force]]
    raise FaultError(f"no component {target} (apiserver, scheduler, controller-manager, proxy-NODE, node-agent-NODE)")


def fault_commands(
    request: FaultRequest,
    *,
    nodes: Sequence[str],
    control_plane: str,
    mode: str,
    apiserver_ip: str,
    kubectl: Sequence[str] = ("kubectl",),
) -> list[list[str]]:
    """The commands (run on this host) that inject ``request``. Side-effect-free.

    Raises FaultUnavailable for what kind cannot do (freezing one component) and
    FaultError for a target the cluster lacks.
    """
    if request.action is FaultAction.KILL:
        return _kill_commands(request.target, nodes=nodes, control_plane=control_plane, kubectl=kubectl)
    if request.target not in nodes:
        if request.action in faults.PROCESS_ACTIONS:
            raise FaultUnavailable(
                f"kind cannot {request.action.value} one component; give a node to `docker pause` it whole"
            )
        raise FaultError(f"no node {request.target} (nodes: {', '.join(nodes)})")
    node = request.target
    if request.action in (FaultAction.STOP, FaultAction.CONTINUE):
        return [["docker", "pause" if request.action is FaultAction.STOP else "unpause", node]]
    if request.action is FaultAction.FLUSH_RULES:
        argv = faults.rules_flush_command(mode)
    elif request.action is FaultAction.FLUSH_CONNTRACK:
        argv = faults.conntrack_flush_command()
    elif request.action is FaultAction.CUT_OFF:
        argv = faults.cut_off_command(apiserver_ip, APISERVER_PORT, nft=False)
    else:
        argv = faults.heal_command(apiserver_ip, APISERVER_PORT, nft=False)
    return [["docker", "exec", node, *argv]]
