"""``svclab explain``'s shell: read a Service, its source and the node's live rules from a running cluster.

``explain_service`` finds the Service port (``kubectl get``), the packet's
source (a pod: its IP and node, hook PREROUTING; a node: its IP, hook
OUTPUT) and destination (the ClusterIP and port, or with ``node_port`` the
source node's address and the NodePort), asks the node's proxy which mode
it runs (``/proxyMode``; the record's mode when it does not answer), reads
the node's dumps for that mode in one ``exec_on_node`` (``NODE_DUMPS``),
and hands them to the pure evaluator in ``svclab.proxy.explain``. Errors
(no such Service, port, pod or node; a mode without a readable ruleset)
raise ``ExplainError`` with one line saying which. On a dual-stack cluster
``Target.family`` picks the Service's ClusterIP of that family, the source's
address of it, and the IPv6 proxier's dumps (``node_dumps``:
``ip6tables-save``, ``nft list table ip6 kube-proxy``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
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
from svclab.proxy.service_port import IPFamily
from svclab.testbed.provider import ClusterHandle, NodeAccessUnavailable, run_captured
from svclab.testbed.proxy_mode import METRICS_PORT, read_node_proxy_mode

__all__ = ["ApiGet", "ExplainError", "NODE_DUMPS", "Target", "explain_service", "node_dumps", "read_dumps"]


def _save(tool: str) -> str:
    """One ``iptables-save`` (``ip6tables-save``); the legacy one only where the default backend holds
    no nat table (a UML guest)."""
    return (
        f"out=$({tool}-save 2>/dev/null); "
        f"case \"$out\" in *'*nat'*) printf '%s\\n' \"$out\";; *) {tool}-legacy-save;; esac"
    )


_SAVE = _save("iptables")


def _registry_dump(mode: str, family: IPFamily = IPFamily.IPV4) -> str:
    """The mode's own rules-dump command of ``family`` from the mode registry (what the conformance
    suite reads too)."""
    spec = modes.get(mode)
    assert spec.rules_dump is not None, f"mode {mode} has no rules dump"
    return spec.rules_dump.command_for(family)


#: what each mode's explanation reads on the node (shell commands, run in this order)
NODE_DUMPS: dict[str, tuple[str, ...]] = {
    "iptables": (_SAVE,),
    "nftables": (_registry_dump("nftables"),),
    "ipvs": (_SAVE, "ipset save", _registry_dump("ipvs")),
    "userspace": (_SAVE, f"curl --silent --fail --max-time 5 http://127.0.0.1:{METRICS_PORT}/debug/backends"),
}


def node_dumps(mode: str, family: IPFamily) -> tuple[str, ...]:
    """What ``mode``'s explanation reads on the node for a packet of ``family`` (``NODE_DUMPS`` for
    IPv4; the IPv6 proxier's rules are in ``ip6tables-save`` / ``nft list table ip6 kube-proxy``,
    its ipsets in the same ``ipset save``, its virtual servers in the same IPVS table)."""
    if family is IPFamily.IPV4:
        return NODE_DUMPS[mode]
    replaced = {_SAVE: _save("ip6tables")}
    if modes.get(mode).rules_dump is not None:
        replaced[_registry_dump(mode)] = _registry_dump(mode, family)
    return tuple(replaced.get(c, c) for c in NODE_DUMPS[mode])


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
    family: str = ""  # "IPv4" | "IPv6": which of a dual-stack Service's ClusterIPs; "" its primary


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


def _of_family(addresses: Sequence[str], family: IPFamily, what: str) -> str:
    found = next((a for a in addresses if family.owns(a)), None)
    if found is None:
        raise ExplainError(f"{what} has no {family.value} address ({', '.join(addresses) or 'none'})")
    return found


def _destination(service: Mapping[str, Any], target: Target) -> tuple[str, IPFamily]:
    """The ClusterIP of the asked family (the primary one by default) and that family."""
    spec = service.get("spec", {})
    cluster_ips = [str(ip) for ip in spec.get("clusterIPs") or [spec.get("clusterIP", "")] if ip]
    primary = str(spec.get("clusterIP", "")) or (cluster_ips[0] if cluster_ips else "")
    if not target.family:
        return primary, IPFamily.IPV6 if ":" in primary else IPFamily.IPV4
    family = next((f for f in IPFamily if f.value.lower() == target.family.lower()), None)
    if family is None:
        raise ExplainError(f"unknown IP family {target.family!r} (IPv4 or IPv6)")
    return _of_family(cluster_ips, family, f"service {target.namespace}/{target.name}"), family


def _source(handle: ClusterHandle, target: Target, get: ApiGet, family: IPFamily) -> tuple[str, str, bool, str]:
    """(source IP of ``family``, node it enters, whether it is the node's own packet, words for it)."""
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
        ip = _of_family(nodes[0].ips, family, f"node {nodes[0].name}")
        return ip, nodes[0].name, True, f"node {nodes[0].name}"
    pod = get(handle, "pod", "-n", target.namespace, target.source)
    status = pod.get("status", {})
    ips = [str(p.get("ip", "")) for p in status.get("podIPs") or []] or [str(status.get("podIP") or "")]
    node = pod.get("spec", {}).get("nodeName")
    if not any(ips) or not node:
        raise ExplainError(f"pod {target.namespace}/{target.source} has no IP or node yet")
    ip = _of_family([i for i in ips if i], family, f"pod {target.namespace}/{target.source}")
    return ip, node, False, f"pod {target.namespace}/{target.source}"


def read_dumps(handle: ClusterHandle, node: str, mode: str, family: IPFamily = IPFamily.IPV4) -> list[str]:
    """The node's ``ip -o addr`` output, then each of the mode's dumps of ``family`` (``node_dumps``),
    in one exec."""
    commands = (_ADDRESSES, *node_dumps(mode, family))
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
    cluster_ip, family = _destination(service, target)
    src, node, from_node, words = _source(handle, target, get, family)
    try:
        mode = read_node_proxy_mode(handle, node) or handle.describe().proxy_mode
    except NodeAccessUnavailable as exc:
        raise ExplainError(f"cannot read node {node}'s rules: {exc}") from exc
    if mode not in NODE_DUMPS:
        raise ExplainError(f"node {node} runs proxy mode {mode!r}: svclab explain reads {', '.join(NODE_DUMPS)}")
    addresses, *dumps = read_dumps(handle, node, mode, family)
    local = local_addresses(addresses)
    if target.node_port:
        if not port.get("nodePort"):
            raise ExplainError(f"service {target.namespace}/{target.name} port {port.get('port')} has no NodePort")
        entry = handle.describe().node(node)  # the node the packet enters, its address of the family
        dst, dport = _of_family(entry.ips, family, f"node {node}"), int(port["nodePort"])
    else:
        dst, dport = cluster_ip, int(port["port"])
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
