"""``svclab explain``'s shell over a fake cluster handle: which node, which packet, which dumps, which errors.

The fake answers ``/proxyMode`` with its mode and the one ``sh -c`` that
reads the node's dumps with the iptables worker's recording
(``tests/golden/explain/iptables/recorded``: node 172.18.0.3, client pod
10.244.1.2, Service ``web`` 10.96.148.143:80 with three endpoints,
``web-local`` NodePort 30080 with externalTrafficPolicy Local). Dual-stack:
the worker is also 2001:db8::2, the client pod also fd00:10::2, and ``dual``
has ClusterIPs 172.30.0.41 and fd00:172:30::41, whose IPv6 rules are the
IPv6 overall golden (``tests/golden/iptables/overall-ipv6.rules``:
endpoint [fd00:10:180::1]:80).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from svclab.proxy.explain import Outcome
from svclab.testbed.cluster import ClusterRecord, NodeInfo
from svclab.testbed.explain import ExplainError, Target, explain_service
from svclab.testbed.provider import ExecResult, NodeAccessUnavailable

RECORDED = Path(__file__).resolve().parent.parent / "golden" / "explain" / "iptables" / "recorded"
WORKER, WORKER_IP = "k-worker", "172.18.0.3"
SERVICES = {
    "web": {"spec": {"clusterIP": "10.96.148.143", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
    "web-local": {"spec": {"clusterIP": "10.96.167.162", "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}},
    "dual": {
        "spec": {
            "clusterIP": "172.30.0.41",
            "clusterIPs": ["172.30.0.41", "fd00:172:30::41"],
            "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}],
        }
    },
}
PODS = {
    "client": {
        "status": {"podIP": "10.244.1.2", "podIPs": [{"ip": "10.244.1.2"}, {"ip": "fd00:10::2"}]},
        "spec": {"nodeName": WORKER},
    }
}
IPV6_RULES = Path(__file__).resolve().parent.parent / "golden" / "iptables" / "overall-ipv6.rules"


class FakeHandle:
    """A cluster of a control plane and one worker whose proxy runs ``mode``; records every exec."""

    name = "k"
    kubeconfig = Path("/k")

    def __init__(self, mode: str = "iptables", *, node_access: bool = True) -> None:
        self.mode = mode
        self.node_access = node_access
        self.execs: list[tuple[str, tuple[str, ...]]] = []

    def describe(self) -> ClusterRecord:
        nodes = (
            NodeInfo("k-control-plane", "control-plane", 0, "", "172.18.0.2", "", (), ()),
            NodeInfo(WORKER, "worker", 1, "", WORKER_IP, "", (), (), secondary_ip="2001:db8::2"),
        )
        return ClusterRecord("k", "local", Path("/k"), self.mode, True, True, "10.96.0.0/16", "172.18.0.2", nodes)

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        if not self.node_access:
            raise NodeAccessUnavailable("a cluster tested as it is: no node access")
        self.execs.append((node, tuple(argv)))
        if argv[0] == "curl":
            return ExecResult(0, self.mode, "")
        mark = "----- svclab explain -----\n"
        rules = _ip6tables_save() if "ip6tables-save" in argv[-1] else (RECORDED / "iptables-save.txt").read_text()
        dumps = [(RECORDED / "ip-addr.txt").read_text(), rules]
        return ExecResult(0, mark.join(dumps), "")


def _ip6tables_save() -> str:
    """The golden's restore text with the jumps from the built-in chains that the proxier adds apart."""
    jumps = '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    return IPV6_RULES.read_text().replace("*nat\n", f"*nat\n:PREROUTING ACCEPT [0:0]\n{jumps}\n", 1)


def get(handle: Any, kind: str, _: str, namespace: str, name: str) -> Any:
    found = (SERVICES if kind == "service" else PODS).get(name)
    if found is None:
        raise ExplainError(f"{kind} {namespace}/{name} not found")
    return found


def test_from_a_pod_enters_its_node_at_prerouting_and_reaches_every_endpoint() -> None:
    handle = FakeHandle()
    found = explain_service(handle, Target("default", "web", source="client"), get=get)
    assert (found.node, found.source, found.probe.hook) == (WORKER, "pod default/client", "PREROUTING")
    assert (found.probe.src, found.probe.dst, found.probe.dport) == ("10.244.1.2", "10.96.148.143", 80)
    assert found.endpoints() == ["10.244.1.3:8080", "10.244.2.2:8080", "10.244.2.3:8080"]
    assert [node for node, _ in handle.execs] == [WORKER, WORKER]  # /proxyMode, then one read of the dumps


def test_default_source_is_the_first_worker_node_itself() -> None:
    found = explain_service(FakeHandle(), Target("default", "web"), get=get)
    assert (found.probe.src, found.probe.hook, found.source) == (WORKER_IP, "OUTPUT", f"node {WORKER}")


def test_node_port_aims_at_the_entry_node_and_keeps_to_its_local_endpoint() -> None:
    found = explain_service(FakeHandle(), Target("default", "web-local", source="client", node_port=True), get=get)
    assert (found.probe.dst, found.probe.dport) == (WORKER_IP, 30080)
    assert found.outcome is Outcome.DNAT and found.endpoints() == ["10.244.1.3:8080"]


@pytest.mark.parametrize(
    ("target", "mode", "message"),
    [
        (Target("default", "web", port="https"), "iptables", "has no port 'https' (ports: http/80)"),
        (Target("default", "web", node_port=True), "iptables", "has no NodePort"),
        (Target("default", "web", source="node/nope"), "iptables", "has no node nope"),
        (Target("default", "web"), "kernelspace", "runs proxy mode 'kernelspace'"),
    ],
)
def test_what_cannot_be_explained_says_why(target: Target, mode: str, message: str) -> None:
    with pytest.raises(ExplainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        explain_service(FakeHandle(mode), target, get=get)


def test_no_node_access_is_said_in_one_line() -> None:
    # the conformance test skips on this message; the command prints it
    with pytest.raises(ExplainError, match="cannot read node k-worker's rules: a cluster tested as it is"):
        explain_service(FakeHandle(node_access=False), Target("default", "web", source="client"), get=get)


def test_the_ipv6_clusterip_of_a_dual_stack_service_is_explained_over_the_ipv6_rules() -> None:
    handle = FakeHandle()
    found = explain_service(handle, Target("default", "dual", source="client", family="IPv6"), get=get)
    assert (found.probe.src, found.probe.dst, found.probe.dport) == ("fd00:10::2", "fd00:172:30::41", 80)
    assert found.outcome is Outcome.DNAT and found.endpoints() == ["[fd00:10:180::1]:80"]
    script = handle.execs[-1][1][-1]
    assert "ip6tables-save" in script and "iptables-save 2>" not in script.replace("ip6tables-save", "")


def test_the_ipv6_family_from_a_node_uses_its_ipv6_address() -> None:
    found = explain_service(FakeHandle(), Target("default", "dual", family="ipv6"), get=get)
    assert (found.probe.src, found.probe.hook) == ("2001:db8::2", "OUTPUT")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (Target("default", "web", family="IPv6"), "service default/web has no IPv6 address (10.96.148.143)"),
        (Target("default", "dual", family="IPv5"), "unknown IP family 'IPv5'"),
    ],
)
def test_a_family_the_service_lacks_is_said(target: Target, message: str) -> None:
    with pytest.raises(ExplainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        explain_service(FakeHandle(), target, get=get)
