"""``svclab explain``'s shell: read a Service, its source and the node's live rules from a running cluster.

``explain_service`` finds the Service port (``kubectl get``), the packet's
source (a pod: its IP and node, hook PREROUTING; a node: its IP, hook
OUTPUT) and destination (the ClusterIP and port, or with ``node_port`` the
source node's address and the NodePort), asks the node's proxy which mode
it runs (``/proxyMode``; the record's mode when it does not answer), reads
the node's dumps for that mode in one ``exec_on_node`` (``NODE_DUMPS``),
and hands them to the pure evaluator in ``svclab.proxy.explain``. Errors
(no such Service, port, pod or node; a mode without a readable ruleset)
raise ``ExplainError`` with one line saying which.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from svclab.proxy import modes
from svclab.proxy.explain import (
    Explanation,
    Probe,
    explain_iptables,
    explain_ipvs,
    explain_nftables,
    explain_userspace,
    local_addresses,
)
from svclab.testbed.provider import ClusterHandle, NodeAccessUnavailable, run_captured
from svclab.testbed.proxy_mode import METRICS_PORT, read_node_proxy_mode

__all__ = ["ApiGet", "ExplainError", "NODE_DUMPS", "Target", "explain_service", "read_dumps"]

# one iptables-save; iptables-legacy-save only where the default backend holds no nat table (a UML guest)
_SAVE = (
    "out=$(iptables-save 2>/dev/null); "
    "case \"$out\" in *'*nat'*) printf '%s\\n' \"$out\";; *) iptables-legacy-save;; esac"
)


def _registry_dump(mode: str) -> str:
    """The mode's own rules-dump command from the mode registry (what the conformance suite reads too)."""
    spec = modes.get(mode)
    assert spec.rules_dump is not None, f"mode {mode} has no rules dump"
    return spec.rules_dump.command


#: what each mode's explanation reads on the node (shell commands, run in this order)
NODE_DUMPS: dict[str, tuple[str, ...]] = {
    "iptables": (_SAVE,),
    "nftables": (_registry_dump("nftables"),),
    "ipvs": (_SAVE, "ipset save", _registry_dump("ipvs")),
    "userspace": (_SAVE, f"curl --silent --fail --max-time 5 http://127.0.0.1:{METRICS_PORT}/debug/backends"),
}
_ADDRESSES = "ip -o addr show"
_MARK = "----- svclab explain -----"


class ExplainError(RuntimeError):
    """What stops an explanation, in one line."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to explain: Service ``namespace/name``, its port (name or number; "" the first), the source."""

    namespace: str
    name: str
    port: str = ""
    source: str = ""  # a pod name (in ``namespace``), "node/NAME", or "" (the first worker node)
    node_port: bool = False


#: reads one API object as JSON: ``get(handle, "service", "-n", NS, NAME)`` (kubectl by default; tests inject)
ApiGet = Callable[..., Any]


def _kubectl_json(handle: ClusterHandle, *args: str) -> Any:
    context = handle.describe().context
    argv = ["kubectl", "--kubeconfig", str(handle.kubeconfig), *(["--context", context] if context else [])]
    result = run_captured([*argv, "get", *args, "-o", "json", "--request-timeout=10s"], 20)
    if result.rc != 0:
        raise ExplainError(f"kubectl get {' '.join(args)}: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout)


def _service_port(service: Mapping[str, Any], wanted: str) -> Mapping[str, Any]:
    ports = service.get("spec", {}).get("ports") or []
    for port in ports:
        if not wanted or wanted in (str(port.get("name", "")), str(port.get("port"))):
            return dict(port)
    names = ", ".join(f"{p.get('name') or '-'}/{p.get('port')}" for p in ports) or "none"
    raise ExplainError(f"service has no port {wanted!r} (ports: {names})")


def _source(handle: ClusterHandle, target: Target, get: ApiGet) -> tuple[str, str, bool, str]:
    """(source IP, node it enters, whether it is the node's own packet, words for it)."""
    record = handle.describe()
    if not target.source or target.source.startswith("node/"):
        name = target.source.removeprefix("node/")
        nodes = (
            [n for n in record.nodes if n.name == name]
            if name
            else [n for n in record.nodes if n.role != "control-plane"] or list(record.nodes)
        )
        if not nodes:
            raise ExplainError(f"cluster {record.name} has no node {name}")
        return nodes[0].ip, nodes[0].name, True, f"node {nodes[0].name}"
    pod = get(handle, "pod", "-n", target.namespace, target.source)
    ip, node = pod.get("status", {}).get("podIP"), pod.get("spec", {}).get("nodeName")
    if not ip or not node:
        raise ExplainError(f"pod {target.namespace}/{target.source} has no IP or node yet")
    return ip, node, False, f"pod {target.namespace}/{target.source}"


def read_dumps(handle: ClusterHandle, node: str, mode: str) -> list[str]:
    """The node's ``ip -o addr`` output, then each of the mode's ``NODE_DUMPS``, in one exec."""
    commands = (_ADDRESSES, *NODE_DUMPS[mode])
    script = f"; echo '{_MARK}'; ".join(f"{{ {c}; }}" for c in commands)
    try:
        result = handle.exec_on_node(node, ["sh", "-c", script], timeout=60)
    except NodeAccessUnavailable as exc:
        raise ExplainError(f"cannot read node {node}'s rules: {exc}") from exc
    parts = result.stdout.split(_MARK + "\n")
    if len(parts) != len(commands):
        raise ExplainError(f"reading node {node}'s rules failed: {result.stderr.strip()[-300:]}")
    return parts


def explain_service(handle: ClusterHandle, target: Target, *, get: ApiGet = _kubectl_json) -> Explanation:
    """Explain the first packet from ``target.source`` to the Service (see the module docstring)."""
    service = get(handle, "service", "-n", target.namespace, target.name)
    port = _service_port(service, target.port)
    src, node, from_node, words = _source(handle, target, get)
    try:
        mode = read_node_proxy_mode(handle, node) or handle.describe().proxy_mode
    except NodeAccessUnavailable as exc:
        raise ExplainError(f"cannot read node {node}'s rules: {exc}") from exc
    if mode not in NODE_DUMPS:
        raise ExplainError(f"node {node} runs proxy mode {mode!r}: svclab explain reads {', '.join(NODE_DUMPS)}")
    addresses, *dumps = read_dumps(handle, node, mode)
    local = local_addresses(addresses)
    if target.node_port:
        if not port.get("nodePort"):
            raise ExplainError(f"service {target.namespace}/{target.name} port {port.get('port')} has no NodePort")
        dst, dport = handle.describe().node(node).ip, int(port["nodePort"])  # the node the packet enters
    else:
        dst, dport = str(service.get("spec", {}).get("clusterIP", "")), int(port["port"])
    probe = Probe(src, dst, dport, str(port.get("protocol", "TCP")).lower(), from_node, local)
    label = f"{target.namespace}/{target.name}:{port.get('name') or port.get('port')}"
    return _explain_mode(mode, dumps, probe, label, node, words)


def _explain_mode(mode: str, dumps: list[str], probe: Probe, label: str, node: str, words: str) -> Explanation:
    if mode == "iptables":
        found = explain_iptables(dumps[0], probe, service=label, node=node)
    elif mode == "nftables":
        found = explain_nftables(dumps[0], probe, service=label, node=node)
    elif mode == "ipvs":
        found = explain_ipvs(dumps[0], dumps[1], dumps[2], probe, service=label, node=node)
    else:
        try:
            backends = json.loads(dumps[1] or "[]")
        except json.JSONDecodeError as exc:
            raise ExplainError(f"node {node}'s proxy answered no /debug/backends: {exc}") from exc
        found = explain_userspace(dumps[0], backends, probe, service=label, node=node)
    return replace(found, source=words)
