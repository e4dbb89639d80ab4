"""``svclab explain``'s shell over a fake cluster handle: which node, which packet, which dumps, which errors.

The fake answers ``/proxyMode`` with its mode and the one ``sh -c`` that
reads the node's dumps with the iptables worker's recording
(``tests/golden/explain/iptables/recorded``: node 172.18.0.3, client pod
10.244.1.2, Service ``web`` 10.96.148.143:80 with three endpoints,
``web-local`` NodePort 30080 with externalTrafficPolicy Local).
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
}
PODS = {"client": {"status": {"podIP": "10.244.1.2"}, "spec": {"nodeName": WORKER}}}


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
            NodeInfo(WORKER, "worker", 1, "", WORKER_IP, "", (), ()),
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
        dumps = [(RECORDED / "ip-addr.txt").read_text(), (RECORDED / "iptables-save.txt").read_text()]
        return ExecResult(0, mark.join(dumps), "")


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
