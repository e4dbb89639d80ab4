"""read_placements against a fake cluster handle: one dump per command, every address looked up.

Plan: the client's node ``n1`` runs iptables; ``web`` is 10.96.0.10:8080 and
the typical Service 10.96.0.20:8080, each in KUBE-SERVICES.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svclab.load.position import Placement
from svclab.run.cluster import RunCluster
from svclab.run.placement import read_placements
from svclab.testbed.provider import NodeAccessUnavailable

NAT = """*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 8080 -j KUBE-SVC-AAAAAAAAAAAAAAAA
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 8080 -j KUBE-SVC-BBBBBBBBBBBBBBBB
COMMIT
"""


@dataclass
class Done:
    rc: int
    stdout: str
    stderr: str = ""


@dataclass
class FakeHandle:
    rc: int = 0
    reachable: bool = True
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def exec_on_node(self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0) -> Done:
        if not self.reachable:
            raise NodeAccessUnavailable("no node access here")
        self.calls.append((node, tuple(argv)))
        return Done(self.rc, NAT)


def cluster(handle: FakeHandle) -> RunCluster:
    c = RunCluster(name="pos", spec_file=Path("x.yaml"), log_dir=Path("."))
    c.handle = handle  # type: ignore[assignment]
    return c


ADDRESSES = {"worst": ("10.96.0.10", 8080), "typical": ("10.96.0.20", 8080)}


def test_one_dump_serves_every_measured_address() -> None:
    handle = FakeHandle()
    found = read_placements(cluster(handle), "n1", "iptables", ADDRESSES)
    assert found == {
        "worst": Placement(position=2, total=2, chain="KUBE-SERVICES"),
        "typical": Placement(position=1, total=2, chain="KUBE-SERVICES"),
    }
    assert handle.calls == [("n1", ("iptables-save", "-t", "nat"))]


def test_unreadable_nodes_give_nothing_rather_than_a_guess() -> None:
    failed: Any = read_placements(cluster(FakeHandle(rc=1)), "n1", "iptables", ADDRESSES)
    unreachable: Any = read_placements(cluster(FakeHandle(reachable=False)), "n1", "iptables", ADDRESSES)
    unknown_mode: Any = read_placements(cluster(FakeHandle()), "n1", "external", ADDRESSES)
    assert failed == unreachable == unknown_mode == {}
