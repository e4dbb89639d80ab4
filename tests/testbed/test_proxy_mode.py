"""Reading the mode a cluster's proxies really run (fake handle: no cluster needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from svclab.testbed.cluster import ClusterRecord, NodeInfo
from svclab.testbed.provider import ExecResult, NodeAccessUnavailable
from svclab.testbed.proxy_mode import describe_mode, effective_proxy_mode

NODES = ("n-control-plane", "n-worker")


class FakeHandle:
    """Answers /proxyMode per node from a script of answers (None: not yet serving)."""

    def __init__(self, answers: dict[str, list[str | None]], *, node_access: bool = True) -> None:
        self.answers = answers
        self.node_access = node_access
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        if not self.node_access:
            raise NodeAccessUnavailable("no node access")
        self.calls.append((node, tuple(argv)))
        script = self.answers[node]
        answer = script.pop(0) if len(script) > 1 else script[0]
        return ExecResult(0, answer, "") if answer else ExecResult(7, "", "connection refused")


def record(mode: str, *, has_proxy: bool = True) -> ClusterRecord:
    nodes = tuple(NodeInfo(name, "worker", i, "", f"172.18.0.{2 + i}", "", (), ()) for i, name in enumerate(NODES))
    return ClusterRecord("n", "local", Path("/k"), mode, has_proxy, True, "10.96.0.0/16", "172.18.0.2", nodes)


def test_a_fallen_back_cluster_reads_as_iptables() -> None:
    handle = FakeHandle({"n-control-plane": ["iptables"], "n-worker": [None, None, "iptables"]})
    assert effective_proxy_mode(handle, record("ipvs"), sleep=lambda _: None) == "iptables"  # type: ignore[arg-type]
    _, argv = handle.calls[0]
    assert argv[0] == "curl" and argv[-1] == "http://127.0.0.1:10249/proxyMode"
    assert [n for n, _ in handle.calls].count("n-worker") == 3  # asked again until it answered


def test_ipvs_running_ipvs_reads_as_ipvs() -> None:
    handle = FakeHandle({node: ["ipvs"] for node in NODES})
    assert effective_proxy_mode(handle, record("ipvs")) == "ipvs"  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "has_proxy"), [("iptables", True), ("none", False), ("ipvs", False)])
def test_modes_that_cannot_fall_back_are_not_asked(mode: str, has_proxy: bool) -> None:
    handle = FakeHandle({})
    assert effective_proxy_mode(handle, record(mode, has_proxy=has_proxy)) == mode  # type: ignore[arg-type]
    assert handle.calls == []


def test_no_node_access_keeps_the_spec_mode() -> None:
    handle = FakeHandle({}, node_access=False)
    assert effective_proxy_mode(handle, record("ipvs")) == "ipvs"  # type: ignore[arg-type]


def test_proxies_disagreeing_or_silent_is_an_error() -> None:
    mixed = FakeHandle({"n-control-plane": ["iptables"], "n-worker": ["ipvs"]})
    with pytest.raises(RuntimeError, match="differ or are missing"):
        effective_proxy_mode(mixed, record("ipvs"))  # type: ignore[arg-type]
    silent = FakeHandle({"n-control-plane": ["ipvs"], "n-worker": [None]})
    with pytest.raises(RuntimeError, match="n-worker"):
        effective_proxy_mode(silent, record("ipvs"), timeout=0.0, sleep=lambda _: None)  # type: ignore[arg-type]


def test_describe_mode() -> None:
    assert describe_mode("ipvs", "ipvs") == "ipvs"
    assert describe_mode("ipvs", "iptables") == "ipvs -> iptables (no IPVS in this kernel)"


@pytest.mark.parametrize(("rules", "expected"), [(None, "unknown"), ("nftables", "nftables")])
def test_an_external_proxy_reads_as_its_rules_dump_or_unknown(rules: str | None, expected: str) -> None:
    handle = FakeHandle({})
    external = replace(record("external"), proxy_rules=rules)
    assert effective_proxy_mode(handle, external) == expected  # type: ignore[arg-type]
    assert handle.calls == []  # its /proxyMode (if any) is not ours to trust


def test_describe_an_external_proxy() -> None:
    assert describe_mode("external: my-proxy", "unknown") == "external: my-proxy"
    assert describe_mode("external: my-proxy", "iptables") == "external: my-proxy (rules read as iptables)"
