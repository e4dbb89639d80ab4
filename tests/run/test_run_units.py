"""`svclab run` pieces that need no cluster: the summary, JUnit counting,
skipping testbeds this machine cannot run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from svclab.run.conformance_phase import _counts
from svclab.run.progress import PhaseResult, TestbedResult, summary_lines

REPO = Path(__file__).resolve().parents[2]


def test_summary_marks_failures_and_skips() -> None:
    ok = TestbedResult(
        "iptables",
        "iptables",
        kernel="host 6.1",
        phases=[PhaseResult("up", True, 3.2), PhaseResult("conformance", True, 80, "40 passed")],
    )
    bad = TestbedResult("nftables", "nftables", phases=[PhaseResult("conformance", False, 90, "1 failed")])
    skipped = TestbedResult("kind-iptables", "iptables", skipped_reason="no Docker engine")
    lines = summary_lines([ok, bad, skipped], "reports/index.html")
    text = "\n".join(lines)
    assert "iptables         ok       mode iptables, kernel host 6.1" in text
    assert "nftables         FAILED" in text and "FAIL" in text
    assert "kind-iptables    SKIPPED  no Docker engine" in text
    assert lines[-1] == "report: reports/index.html"
    assert bad.conformance_failed and not ok.failed and not skipped.failed


def test_environment_entry_records_phases_for_the_report() -> None:
    from svclab.run.command import _environment_entry

    result = TestbedResult(
        "ipvs",
        "ipvs",
        kernel="uml 6.12.38",
        phases=[PhaseResult("up", True, 42.46), PhaseResult("load", False, 9.0, "TimeoutError: x")],
    )
    assert _environment_entry(result) == {
        "mode": "ipvs",
        "provider": "local",
        "runtime": "uml",
        "kernel": "uml 6.12.38",
        "skipped": "",
        "phases": [
            {"name": "up", "ok": True, "seconds": 42.5, "detail": ""},
            {"name": "load", "ok": False, "seconds": 9.0, "detail": "TimeoutError: x"},
        ],
    }
    skipped = _environment_entry(
        TestbedResult("kind-iptables", "iptables", provider="kind", skipped_reason="no Docker engine")
    )
    assert skipped["skipped"] == "no Docker engine" and skipped["phases"] == []


def test_an_unreadable_spec_fails_its_testbed_at_assessment(tmp_path: Path) -> None:
    from svclab.run.command import _assess

    bad = tmp_path / "broken.yaml"
    bad.write_text("spec: [unclosed\n")
    spec, result = _assess(bad)
    assert spec is None and result.failed
    assert result.phases[0].name == "setup" and result.phases[0].detail


def test_junit_counts(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" skipped="3"/></testsuites>'
    )
    assert _counts(junit) == (5, 2, 3)
    assert _counts(tmp_path / "missing.xml") == (0, 0, 0)


def test_kind_testbed_is_skipped_without_kind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from svclab.run.cluster import provider_problem
    from svclab.testbed.spec import load_spec

    monkeypatch.setenv("PATH", str(tmp_path))
    reason = provider_problem(load_spec(REPO / "clusters" / "kind-iptables.yaml"))
    assert reason is not None and "kind" in reason


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the non-root message")
def test_local_testbed_needs_root() -> None:
    from svclab.run.cluster import provider_problem
    from svclab.testbed.spec import load_spec

    assert provider_problem(load_spec(REPO / "clusters" / "iptables.yaml")) == (
        "the local provider needs root (network namespaces)"
    )


def test_each_target_of_a_run_links_the_runs_one_locust_report(tmp_path: Path) -> None:
    from svclab.load import Measurement, Scenario, TargetKind, WorkerStats
    from svclab.run.load_phase import _collect_html

    work, results = tmp_path / "work", tmp_path / "results"
    work.mkdir()
    results.mkdir()
    report = work / "locust-iptables-keepalive-0.html"
    report.write_text("<!DOCTYPE html>")
    stats = WorkerStats(requests=1, failures=0, duration_s=1.0, response_times_ms={1: 1}, html_report=str(report))
    collected = [
        _collect_html(
            Measurement("iptables", target, Scenario.KEEPALIVE, 0, 1, stats, None),
            "iptables",
            "local-iptables",
            results,
        )
        for target in (TargetKind.DIRECT, TargetKind.CLUSTER_IP)
    ]
    assert {m.stats.html_report for m in collected} == {"locust-local-iptables-keepalive-0.html"}
    assert (results / "locust-local-iptables-keepalive-0.html").read_text() == "<!DOCTYPE html>"


def test_default_testbeds_leave_the_opt_in_ones_out() -> None:
    from svclab.run.command import default_testbeds

    names = [path.name for path in default_testbeds(REPO / "clusters")]
    assert "ipvs-fallback.yaml" not in names
    assert "dual-iptables.yaml" not in names  # opt-in until the lead adds it (issue 18)
    assert "dual-ipvs.yaml" not in names  # likewise, and it needs the UML guest here
    assert {"iptables.yaml", "nftables.yaml", "ipvs.yaml", "userspace.yaml"} <= set(names)


class _FallenBack:
    """A cluster whose proxies answer /proxyMode with iptables although ipvs was asked for."""

    def __init__(self) -> None:
        from svclab.testbed.cluster import ClusterRecord, NodeInfo

        node = NodeInfo("fb-control-plane", "control-plane", 0, "", "172.18.0.2", "", (), ())
        self.record = ClusterRecord("fb", "local", Path("/k"), "ipvs", True, True, None, "172.18.0.2", (node,))
        self.handle = self

    def describe(self) -> object:
        return self.record

    def exec_on_node(self, node: str, argv: object, *, timeout: float | None = 30.0, capture: bool = True) -> object:
        from svclab.testbed.provider import ExecResult

        return ExecResult(0, "iptables", "")


def test_a_fallback_is_named_in_the_testbeds_mode() -> None:
    from svclab.run.command import _effective_mode

    result = TestbedResult("ipvs-fallback", "ipvs")
    lines: list[str] = []
    assert _effective_mode(_FallenBack(), result, lines.append) == "iptables"  # type: ignore[arg-type]
    assert result.mode == "ipvs -> iptables (no IPVS in this kernel)"
    assert _environment_entry_mode(result) == "ipvs -> iptables (no IPVS in this kernel)"
    assert lines == ["ipvs-fallback: proxy mode ipvs -> iptables (no IPVS in this kernel)"]


def _environment_entry_mode(result: TestbedResult) -> object:
    from svclab.run.command import _environment_entry

    return _environment_entry(result)["mode"]


def test_the_conformance_phase_says_how_many_tests_it_left_out_and_where_they_ran() -> None:
    from svclab.run.conformance_phase import ConformanceOutcome, _deselected

    assert _deselected("...\n60 passed, 3 skipped, 24 deselected in 300.1s\n") == 24
    assert _deselected("60 passed in 3s") == 0
    described = ConformanceOutcome(0, 60, 0, 3, left_out=33, selection="not breadth and not disruption").describe()
    assert described.endswith(
        "33 tests left out by the quick profile (not breadth and not disruption; --profile full runs them)"
    )
    described = ConformanceOutcome(
        0, 20, 0, 1, left_out=70, selection="needs_proxy and not breadth", neutral_on="iptables, nftables"
    ).describe()
    assert described.endswith(
        "70 tests left out by the quick profile (needs_proxy and not breadth; "
        "the mode-neutral ones ran on iptables, nftables; --profile full runs them)"
    )
    described = ConformanceOutcome(
        0, 60, 0, 1, left_out=40, selection="not breadth", neutral_on="shared with nftables"
    ).describe()
    assert "(not breadth; the mode-neutral ones are shared with nftables; --profile full" in described


EXTERNAL_SPEC = """\
apiVersion: svclab.dev/v1alpha1
kind: Testbed
metadata: {name: mine}
spec:
  proxy: {mode: external, command: [/opt/bin/my-proxy, --kubeconfig, "{kubeconfig}"], rules: nftables}
  cluster: {nodes: [{role: control-plane}]}
"""


def test_an_external_proxy_is_labelled_by_its_command_and_its_rules_dump(tmp_path: Path) -> None:
    from dataclasses import replace

    from svclab.run.command import _assess, _effective_mode

    path = tmp_path / "my-proxy.yaml"
    path.write_text(EXTERNAL_SPEC)
    _, result = _assess(path)
    assert result.mode == "external: my-proxy"
    cluster = _FallenBack()
    cluster.record = replace(cluster.record, proxy_mode="external", proxy_rules="nftables")
    lines: list[str] = []
    assert _effective_mode(cluster, result, lines.append) == "nftables"  # type: ignore[arg-type]
    assert _environment_entry_mode(result) == "external: my-proxy (rules read as nftables)"


def test_testbed_option_adds_a_spec_beside_the_default_ones() -> None:
    from svclab.run.command import chosen_testbeds

    clusters = REPO / "clusters"
    mine = Path("my-proxy.yaml")
    defaults = chosen_testbeds([], [], clusters)
    assert chosen_testbeds([], [mine, mine], clusters) == [*defaults, mine]
    named = [clusters / "iptables.yaml"]
    assert chosen_testbeds(named, [mine, named[0]], clusters) == [*named, mine]
