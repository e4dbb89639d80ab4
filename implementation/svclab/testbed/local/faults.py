"""The local provider's fault hooks (``svclab.testbed.faults``), host and UML alike.

Process faults signal the supervisor's child by its name (``apiserver``,
``scheduler``, ``controller-manager``, ``proxy-<node>``, ``node-agent-<node>``);
the supervisor restarts a killed one after its backoff. Node faults run one
command in the node's namespace through the handle's ``exec_on_node`` (the
path ``svclab node-exec`` takes; inside a User-Mode Linux guest its exec
agent), so the host's root namespace is never touched. The guest's kernel has
no nftables for IPv4, so a cut-off there is an ``iptables-legacy`` rule
instead of the ``svclab-fault`` nft table.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from svclab.testbed import faults
from svclab.testbed.faults import FaultAction, FaultError, FaultRequest
from svclab.testbed.local import naming
from svclab.testbed.local.record import ClusterInfo
from svclab.testbed.provider import ProviderError

if TYPE_CHECKING:
    from svclab.testbed.local.provider import LocalClusterHandle

__all__ = ["component_names", "effective_mode", "inject", "node_command"]

_SIGNALS = {
    FaultAction.KILL: (signal.SIGKILL, "killed", "its supervisor restarts it"),
    FaultAction.STOP: (signal.SIGSTOP, "stopped", "frozen until `continue`"),
    FaultAction.CONTINUE: (signal.SIGCONT, "continued", "running again"),
}


def component_names(info: ClusterInfo) -> list[str]:
    """The supervisor's children, by the names ``kill``/``stop``/``continue`` take. Side-effect-free."""
    from svclab.testbed.local.supervisor import plan_children

    return [child.name for child in plan_children(info, base=[])]


def effective_mode(info: ClusterInfo) -> str:
    """The mode the proxies run: the spec's, or its fallback where the host lacks the mode."""
    from svclab.proxy import modes

    mode = info.proxy_mode
    if info.proxy_fallback and info.uml is None and mode != "none" and modes.get(mode).supported() is not None:
        return info.proxy_fallback
    return mode


def node_command(info: ClusterInfo, request: FaultRequest) -> list[str]:
    """The command a node fault runs in the node's namespace. Side-effect-free."""
    iptables = "iptables" if info.uml is None else "iptables-legacy"
    nft = info.uml is None
    if request.action is FaultAction.FLUSH_RULES:
        mode = effective_mode(info)
        if mode == "none":
            raise faults.FaultUnavailable(f"cluster {info.name} runs no proxy: it has no rules to flush")
        return faults.rules_flush_command(mode, iptables=iptables)
    if request.action is FaultAction.FLUSH_CONNTRACK:
        return faults.conntrack_flush_command()
    build = faults.cut_off_command if request.action is FaultAction.CUT_OFF else faults.heal_command
    return build(info.advertise_address, naming.APISERVER_PORT, nft=nft, iptables=iptables)


def inject(handle: LocalClusterHandle, request: FaultRequest) -> str:
    """Inject one fault now; the line says what was done. Raises FaultError for a target
    this cluster lacks, ProviderError when the signal or the node command failed."""
    info = handle.info
    if request.action in faults.PROCESS_ACTIONS:
        return _signal(handle, request)
    try:
        info.node(request.target)
    except KeyError as exc:
        raise FaultError(str(exc.args[0])) from None
    argv = node_command(info, request)
    result = handle.exec_on_node(request.target, argv, timeout=30)
    if result.rc != 0:
        raise ProviderError(
            f"{request.action.value} {request.target}: `{' '.join(argv)}` failed: {result.stderr.strip()}"
        )
    return f"{info.name}: {_node_summary(info, request)}"


def _signal(handle: LocalClusterHandle, request: FaultRequest) -> str:
    names = component_names(handle.info)
    if request.target not in names:
        raise FaultError(f"cluster {handle.name} has no component {request.target} (components: {', '.join(names)})")
    signum, verb, after = _SIGNALS[request.action]
    pid = handle.signal_child(request.target, signum, stopped=request.action is FaultAction.CONTINUE)
    if pid is None and request.action is FaultAction.KILL:  # a frozen one can be killed too
        pid = handle.signal_child(request.target, signum, stopped=True)
    if pid is None:
        state = "stopped" if request.action is FaultAction.CONTINUE else "running (restarting or stopped?)"
        raise ProviderError(f"{handle.name}: {request.target} is not {state} now")
    return f"{handle.name}: {verb} {request.target} (pid {pid}, {signum.name}); {after}"


def _node_summary(info: ClusterInfo, request: FaultRequest) -> str:
    node, api = request.target, f"{info.advertise_address}:{naming.APISERVER_PORT}"
    if request.action is FaultAction.FLUSH_RULES:
        what = {"nftables": "deleted the nft table kube-proxy", "ipvs": "cleared the IPVS table and flushed iptables"}
        return f"{what.get(effective_mode(info), 'flushed iptables (mangle, nat, filter)')} on {node}"
    if request.action is FaultAction.FLUSH_CONNTRACK:
        return f"flushed the conntrack table of {node}"
    if request.action is FaultAction.CUT_OFF:
        return f"cut {node} off from the API server ({api} dropped inside the node) until `heal`"
    return f"healed {node}: its traffic to the API server ({api}) flows again"
