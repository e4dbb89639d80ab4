"""Parsing the run's files: JUnit areas and outcomes, convergence samples, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svclab.report import AreaCounts, parse_convergence, parse_junit, write_environment
from svclab.report.environment import first_version
from svclab.report.inputs import area_of

JUNIT = """<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="conformance.test_services.TestClusterIP" name="test_a"/>
<testcase classname="conformance.test_services.TestClusterIP" name="test_b"><failure message="x"/></testcase>
<testcase classname="conformance.test_session_affinity" name="test_c"><skipped message="no"/></testcase>
<testcase classname="conformance.test_nodes" name="test_d"><error message="setup"/></testcase>
</testsuite></testsuites>"""


@pytest.mark.parametrize(
    ("classname", "file", "area"),
    [
        ("conformance.test_services.TestClusterIP", None, "services"),
        ("conformance.test_session_affinity", None, "session-affinity"),
        ("conformance.harness.Thing", "conformance/test_pods.py", "pods"),
        ("standalone", None, "standalone"),
        ("", None, "other"),
    ],
)
def test_area_of(classname: str, file: str | None, area: str) -> None:
    assert area_of(classname, file) == area


def test_junit_counts_failures_and_errors_as_failed() -> None:
    areas, failed = parse_junit(JUNIT)
    assert areas == {
        "nodes": AreaCounts(failed=1),
        "services": AreaCounts(passed=1, failed=1),
        "session-affinity": AreaCounts(skipped=1),
    }
    assert list(areas) == sorted(areas)
    assert failed == ("conformance.test_services.TestClusterIP::test_b", "conformance.test_nodes::test_d")


def test_tests_run_per_ip_family_are_counted_per_family() -> None:
    junit = """<testsuites><testsuite name="pytest">
<testcase classname="conformance.test_dual_stack_traffic" name="test_a[nftables-IPv4]"/>
<testcase classname="conformance.test_dual_stack_traffic" name="test_a[nftables-IPv6]"><failure message="x"/></testcase>
<testcase classname="conformance.test_dual_stack_traffic" name="test_b[nftables]"/>
<testcase classname="conformance.test_traffic" name="test_c[IPv6-nftables]"/>
</testsuite></testsuites>"""
    areas, _ = parse_junit(junit)
    assert areas == {
        "dual-stack-traffic": AreaCounts(passed=1),
        "dual-stack-traffic (IPv4)": AreaCounts(passed=1),
        "dual-stack-traffic (IPv6)": AreaCounts(failed=1),
        "traffic (IPv6)": AreaCounts(passed=1),
    }


def test_bad_junit_names_its_source() -> None:
    with pytest.raises(ValueError, match="junit-x.xml"):
        parse_junit("<testsuites", source="junit-x.xml")


def test_convergence_samples_and_errors() -> None:
    samples = parse_convergence('[{"what": "svc", "seconds": 1.5, "test": "t"}]')
    assert [(s.what, s.seconds) for s in samples] == [("svc", 1.5)]
    with pytest.raises(ValueError, match="convergence-a.json"):
        parse_convergence('{"what": "svc"}', source="convergence-a.json")
    with pytest.raises(ValueError, match="seconds"):
        parse_convergence('[{"what": "svc"}]')


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("iptables v1.8.9 (nf_tables)", "v1.8.9"),
        ("nftables v1.0.6 (Lester Gooch #5)", "v1.0.6"),
        ("Client Version: v1.37.1\nKustomize Version: v5.8.1", "v1.37.1"),
        ("no digits", None),
    ],
)
def test_first_version(text: str, version: str | None) -> None:
    assert first_version(text) == version


def test_write_environment_keeps_given_host(tmp_path: Path) -> None:
    path = write_environment(
        tmp_path / "environment.json",
        started="2026-01-01T00:00:00Z",
        finished=None,
        profile="quick",
        host={"kernel": "k"},
        testbeds={"ipvs": {"runtime": "uml"}},
    )
    data = json.loads(path.read_text())
    assert data["host"] == {"kernel": "k"} and data["testbeds"]["ipvs"]["runtime"] == "uml"
