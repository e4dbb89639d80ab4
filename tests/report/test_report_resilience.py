"""The report's resilience section, from recovery times the disruption area records.

Plan: testbed ``iptables`` recovered from a proxy kill in 2.0, 2.6 and 3.1 s
(three runs) and from a flush in 1.2 s; ``userspace`` took 29.5 s after the
flush (over the 5 s goal) in a test that failed. Ordinary convergence times
stay in the convergence section and never show up as faults.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest

from svclab.report import render_report
from svclab.report.inputs import ConvergenceSample, TestbedInputs
from svclab.report.resilience import resilience_rows

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).parent / "data"
NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
KILL = "proxy kill -9 while a backend goes away"
FLUSH = "proxy rules flushed by an outsider"
TEST = "conformance/test_disruption_proxy.py::test_{}[cluster-{}]"


def recovery(fault: str, seconds: float, test: str) -> ConvergenceSample:
    return ConvergenceSample(what=f"recovery: {fault}", seconds=seconds, fault=fault, test=test)


def test_rows_per_fault_with_median_max_runs_goal_and_outcome() -> None:
    iptables = TestbedInputs(
        "iptables",
        convergence=(
            ConvergenceSample("service created → rules", 1.0),
            *(recovery(KILL, s, TEST.format("kill", "iptables")) for s in (2.0, 3.1, 2.6)),
            recovery(FLUSH, 1.2, TEST.format("flush", "iptables")),
        ),
    )
    userspace = TestbedInputs(
        "userspace",
        failed_tests=("conformance.test_disruption_proxy::test_flush[cluster-userspace]",),
        convergence=(recovery(FLUSH, 29.5, TEST.format("flush", "userspace")),),
    )
    rows = resilience_rows([iptables, userspace])
    assert [r["fault"] for r in rows] == [KILL, FLUSH]
    kill, flush = rows
    assert kill["cells"] == [
        {"median": 2.6, "max": 3.1, "n": 3, "over_goal": False, "outcome": "passed"},
        None,
    ]
    assert flush["cells"][1] == {"median": 29.5, "max": 29.5, "n": 1, "over_goal": True, "outcome": "failed"}


def test_the_section_is_rendered_and_convergence_keeps_only_changes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(DATA, results)
    path = results / "convergence-iptables.json"
    samples = json.loads(path.read_text())
    samples.append(
        {"what": f"recovery: {KILL}", "seconds": 2.345, "fault": KILL, "test": TEST.format("kill", "iptables")}
    )
    path.write_text(json.dumps(samples))
    html = render_report(results, tmp_path / "out", now=NOW).read_text()
    section = html[html.index('<section id="resilience">') : html.index('<section id="details">')]
    assert KILL in section and "2.35 s" in section and "✓" in section
    convergence = html[html.index('<section id="convergence">') : html.index('<section id="resilience">')]
    assert "recovery:" not in convergence


def test_no_recovery_times_no_section(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(DATA, results)
    html = render_report(results, tmp_path / "out", now=NOW).read_text()
    assert 'id="resilience"' not in html


def test_a_testbed_without_junit_beside_one_with_it_renders(tmp_path: Path) -> None:
    # Only recovery figures for nftables (its conformance phase left no JUnit file): its
    # matrix cells are "not run", and the page still renders.
    shutil.copy(DATA / "junit-iptables.xml", tmp_path)
    record = {"what": f"recovery: {KILL}", "seconds": 3.0, "fault": KILL, "test": TEST.format("kill", "nftables")}
    (tmp_path / "convergence-nftables.json").write_text(json.dumps([record]))
    html = render_report(tmp_path, tmp_path / "out", now=NOW).read_text()
    assert 'title="not run"' in html and "3.00 s" in html
