"""Faults a provider can inject into a running cluster, and how they are spelt.

``svclab fault CLUSTER ACTION [TARGET] [--for SECONDS]`` and the conformance
suite's ``disruption`` area use the same hooks, ``ClusterHandle.fault``:

* ``kill`` / ``stop`` / ``continue`` TARGET: SIGKILL, SIGSTOP or SIGCONT to a
  component, named as the local supervisor names its children (``apiserver``,
  ``scheduler``, ``controller-manager``, ``proxy-<node>``, ``node-agent-<node>``);
* ``flush-rules`` NODE: remove the node's proxy rules as an outsider would (a
  firewall reload): the iptables tables (iptables and userspace modes), the nft
  ``kube-proxy`` table (nftables), the IPVS table and the iptables side (ipvs);
* ``flush-conntrack`` NODE: ``conntrack -F`` on the node;
* ``cut-off`` / ``heal`` NODE: drop the node's own packets to the API server
  (inside the node, never on the host) and take that rule away again.

``--for SECONDS`` after ``stop`` or ``cut-off`` undoes the fault after that
time (``continue`` / ``heal``); ``run_fault`` does that for any handle.

Everything here is side-effect-free except ``run_fault``, which calls the
handle and sleeps through the injected ``sleep``.
"""

from __future__ import annotations

import enum
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from svclab.testbed.provider import ProviderError

__all__ = [
    "CUT_OFF_TABLE",
    "FaultAction",
    "FaultError",
    "FaultRequest",
    "FaultUnavailable",
    "Faultable",
    "NODE_ACTIONS",
    "PROCESS_ACTIONS",
    "conntrack_flush_command",
    "cut_off_command",
    "heal_command",
    "parse_fault",
    "rules_flush_command",
    "run_fault",
]

# An nft table of our own: its output hook drops the node's packets to the API server;
# deleting the table heals. No proxy mode touches it (the nftables mode owns only
# ``kube-proxy``), and priority -300 runs it before any of their hooks.
CUT_OFF_TABLE = "svclab-fault"
CUT_OFF_COMMENT = "svclab-fault"  # marks the iptables rule where nft cannot be used (UML)


class FaultAction(enum.StrEnum):
    KILL = "kill"
    STOP = "stop"
    CONTINUE = "continue"
    FLUSH_RULES = "flush-rules"
    FLUSH_CONNTRACK = "flush-conntrack"
    CUT_OFF = "cut-off"
    HEAL = "heal"


PROCESS_ACTIONS = frozenset({FaultAction.KILL, FaultAction.STOP, FaultAction.CONTINUE})
NODE_ACTIONS = frozenset({FaultAction.FLUSH_RULES, FaultAction.FLUSH_CONNTRACK, FaultAction.CUT_OFF, FaultAction.HEAL})
# What ``--for`` undoes a fault with.
_UNDO = {FaultAction.STOP: FaultAction.CONTINUE, FaultAction.CUT_OFF: FaultAction.HEAL}


class FaultError(ProviderError):
    """A fault request that makes no sense (exit status 2): unknown action, missing target."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


class FaultUnavailable(ProviderError):
    """This provider cannot inject that fault; the message says why."""


@dataclass(frozen=True, slots=True)
class FaultRequest:
    action: FaultAction
    target: str
    seconds: float | None = None  # undo after this long (stop, cut-off only)

    @property
    def undo(self) -> FaultRequest | None:
        """The request that ends this fault after ``seconds``; None without ``--for``."""
        if self.seconds is None:
            return None
        return FaultRequest(_UNDO[self.action], self.target)


def parse_fault(action: str, target: str | None, seconds: float | None = None) -> FaultRequest:
    """Check and build a request; raises FaultError (one line) for a bad one."""
    try:
        fault = FaultAction(action)
    except ValueError:
        allowed = ", ".join(a.value for a in FaultAction)
        raise FaultError(f"unknown fault {action!r} (one of: {allowed})") from None
    if not target:
        what = "a component (apiserver, proxy-NODE, ...)" if fault in PROCESS_ACTIONS else "a node"
        raise FaultError(f"{fault.value} needs a target: {what}")
    if seconds is not None:
        if fault not in _UNDO:
            raise FaultError(f"--for only goes with {' or '.join(a.value for a in _UNDO)}, not {fault.value}")
        if seconds <= 0:
            raise FaultError(f"--for must be positive, got {seconds:g}")
    return FaultRequest(fault, target, seconds)


def rules_flush_command(mode: str, *, iptables: str = "iptables") -> list[str]:
    """One command that removes a node's ``mode`` proxy rules, as ``iptables -F`` by an
    outsider would. ``iptables`` is the binary (``iptables-legacy`` inside UML)."""
    # One atomic restore of empty tables flushes and deletes every chain in them, as a
    # firewall reload does (``-F`` then ``-X`` per table races the proxy's own repair).
    empty = "".join(f"*{table}\\nCOMMIT\\n" for table in ("mangle", "nat", "filter"))
    flush_tables = f"printf '{empty}' | {iptables}-restore -w"
    if mode in ("iptables", "userspace"):
        script = flush_tables
    elif mode == "ipvs":
        script = f"ipvsadm -C && {flush_tables}"
    elif mode == "nftables":
        script = "nft delete table ip kube-proxy"
    else:
        raise FaultUnavailable(f"proxy mode {mode} has no rules svclab knows how to flush")
    return ["sh", "-c", script]


def conntrack_flush_command() -> list[str]:
    return ["conntrack", "-F"]


def cut_off_command(apiserver_ip: str, port: int, *, nft: bool = True, iptables: str = "iptables") -> list[str]:
    """Drop this node's own TCP packets to ``apiserver_ip:port``: established watches
    stall (no reset), new connections time out, as across a real partition."""
    if nft:
        script = (
            f"add table ip {CUT_OFF_TABLE}; "
            f"add chain ip {CUT_OFF_TABLE} output {{ type filter hook output priority -300; policy accept; }}; "
            f"add rule ip {CUT_OFF_TABLE} output ip daddr {apiserver_ip} tcp dport {port} drop"
        )
        return ["nft", script]
    return [iptables, "-w", *_iptables_cut_off_rule("-I", apiserver_ip, port)]


def heal_command(apiserver_ip: str, port: int, *, nft: bool = True, iptables: str = "iptables") -> list[str]:
    """Undo ``cut_off_command`` (a no-op when the node is not cut off)."""
    if nft:
        return ["sh", "-c", f"nft delete table ip {CUT_OFF_TABLE} 2>/dev/null || true"]
    delete = shlex.join([iptables, "-w", *_iptables_cut_off_rule("-D", apiserver_ip, port)])
    return ["sh", "-c", f"while {delete} 2>/dev/null; do :; done"]


def _iptables_cut_off_rule(verb: str, apiserver_ip: str, port: int) -> list[str]:
    where = ["-d", apiserver_ip, "-p", "tcp", "--dport", str(port)]
    return [verb, "OUTPUT", *where, "-m", "comment", "--comment", CUT_OFF_COMMENT, "-j", "DROP"]


class Faultable(Protocol):
    def fault(self, request: FaultRequest) -> str: ...


def run_fault(
    handle: Faultable,
    request: FaultRequest,
    *,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """Inject ``request`` and, with ``seconds``, wait and undo it; each line says what was
    done and goes to ``report`` as soon as it is done.

    The undo runs even when the wait is interrupted (Ctrl-C), so a frozen component or a
    cut-off node is never left behind by an interrupted ``svclab fault ... --for``.
    """
    lines = [handle.fault(request)]
    report(lines[-1])
    undo = request.undo
    if undo is None or request.seconds is None:
        return lines
    try:
        sleep(request.seconds)
    finally:
        lines.append(handle.fault(undo))
        report(lines[-1])
    return lines
