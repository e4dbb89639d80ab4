"""The proxy mode a cluster really runs, read from its proxies.

A spec asks for a mode; with ``proxy.ipvsFallback`` a proxy on a kernel
without IPVS runs iptables instead and says so on ``/proxyMode`` (as
kube-proxy serves it, beside ``/metrics``). ``effective_proxy_mode(handle,
record)`` asks every node's proxy through the provider's ``exec_on_node`` (the
path ``svclab node-exec`` takes) and returns the mode they all run;
``describe_mode(requested, effective)`` is how a report names it, e.g.
``ipvs -> iptables (no IPVS in this kernel)``.

Only a requested mode that has a fallback is asked about (the others cannot
differ), so this costs nothing on most testbeds. An ``external`` proxy (the
user's own, issue 19) is not asked either: its mode is the rules dump its spec
names (``spec.proxy.rules``), else ``unknown``, so mode-specific checks skip.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from svclab.proxy import modes as proxy_modes
from svclab.testbed.cluster import UNKNOWN_PROXY_MODE, ClusterRecord
from svclab.testbed.external import EXTERNAL
from svclab.testbed.provider import ClusterHandle, NodeAccessUnavailable

__all__ = ["METRICS_PORT", "describe_mode", "effective_proxy_mode", "read_node_proxy_mode"]

METRICS_PORT = 10249  # `svclab proxy --metrics-bind-address`'s default port, as kube-proxy's
READ_TIMEOUT = 30.0
# Why a mode falls back, as a report says it; the mode registry knows only the long form.
_FALLBACK_REASONS = {"ipvs": "no IPVS in this kernel"}


def read_node_proxy_mode(handle: ClusterHandle, node: str, *, port: int = METRICS_PORT) -> str | None:
    """What ``node``'s proxy serves on ``/proxyMode``; None while it does not answer."""
    result = handle.exec_on_node(
        node, ["curl", "--silent", "--fail", "--max-time", "5", f"http://127.0.0.1:{port}/proxyMode"], timeout=15
    )
    mode = result.stdout.strip()
    return mode if result.rc == 0 and mode else None


def effective_proxy_mode(
    handle: ClusterHandle,
    record: ClusterRecord,
    *,
    timeout: float = READ_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The mode every node's proxy runs (the record's when it cannot differ or cannot be read).

    Raises RuntimeError when the proxies do not all answer within ``timeout``
    or run different modes: then no mode-specific check can be trusted.
    """
    if record.proxy_mode == EXTERNAL:
        return record.proxy_rules or UNKNOWN_PROXY_MODE
    spec = proxy_modes.find(record.proxy_mode)
    if not record.has_proxy or spec is None or spec.fallback is None:
        return record.proxy_mode
    deadline = time.monotonic() + timeout
    answers: dict[str, str | None] = {node.name: None for node in record.nodes}
    while True:
        for node in [name for name, mode in answers.items() if mode is None]:
            try:
                answers[node] = read_node_proxy_mode(handle, node)
            except NodeAccessUnavailable:
                return record.proxy_mode  # no way onto the nodes: the spec's word is all there is
        if all(answers.values()) or time.monotonic() > deadline:
            break
        sleep(1.0)
    found = set(answers.values())
    if None in found or len(found) != 1:
        raise RuntimeError(f"cluster {record.name}: the proxies' /proxyMode answers differ or are missing: {answers}")
    return str(found.pop())


def describe_mode(requested: str, effective: str) -> str:
    """``requested``, or ``requested -> effective (why)`` after a fallback. Side-effect-free.

    An external proxy (``requested`` is its label, ``external: <command>``) is named as it
    is, with the rules dump the suite reads when there is one: ``external: my-proxy
    (rules read as iptables)``.
    """
    if requested.startswith(EXTERNAL):
        return requested if effective == UNKNOWN_PROXY_MODE else f"{requested} (rules read as {effective})"
    if effective == requested:
        return requested
    reason = _FALLBACK_REASONS.get(requested, f"this kernel cannot run {requested}")
    return f"{requested} -> {effective} ({reason})"
