"""What a report is made from: the files a ``svclab run`` leaves in its results directory.

Per testbed ``<tb>``:

* ``junit-<tb>.xml``: pytest's JUnit XML of the conformance run.  A test's
  *area* is its module without the ``test_`` prefix
  (``conformance.test_services.TestClusterIP`` -> ``services``).
* ``conformance-<tb>.html``: pytest-html's report (linked when present).
* ``load-<tb>.json`` (+ ``.csv``): load figures, schema ``svclab.load/v1``.
* ``convergence-<tb>.json``: how long things took to converge during the
  conformance run, a JSON list of ``{"what": str, "seconds": float}`` (more
  keys are allowed and ignored); one entry per observation, the same ``what``
  repeated for repeated observations. The disruption area's recovery times
  carry ``"fault"`` (what was broken) and ``"test"`` (the pytest node id).

Once per run, ``environment.json`` (see ``environment``).

Parsing is side-effect-free (text in, values out); ``load_inputs`` does the
reading.  A missing file is not an error (a phase may have been skipped); a
malformed one raises ValueError naming the file.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svclab.load.figures import LoadResults, read_results

__all__ = [
    "AreaCounts",
    "ConvergenceSample",
    "Outcome",
    "ReportInputs",
    "TestbedInputs",
    "area_of",
    "load_inputs",
    "parse_convergence",
    "parse_junit",
]

_FAMILY = re.compile(r"[\[-](?P<family>IPv4|IPv6)[\]-]")  # a test parametrized per IP family
_FILE = re.compile(r"^(junit|conformance|load|convergence)-(?P<testbed>[A-Za-z0-9_.-]+)\.(xml|html|json)$")


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # a failure or an error
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class AreaCounts:
    """Outcome counts of one conformance area on one testbed."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def add(self, outcome: Outcome) -> AreaCounts:
        return AreaCounts(
            passed=self.passed + (outcome is Outcome.PASSED),
            failed=self.failed + (outcome is Outcome.FAILED),
            skipped=self.skipped + (outcome is Outcome.SKIPPED),
        )


@dataclass(frozen=True, slots=True)
class ConvergenceSample:
    what: str
    seconds: float
    fault: str | None = None  # set on a recovery time (the disruption area)
    test: str | None = None  # the pytest node id that measured it


@dataclass(frozen=True, slots=True)
class TestbedInputs:
    """Everything found for one testbed; None where the file is missing."""

    __test__ = False  # not a pytest test class despite the name

    name: str
    areas: dict[str, AreaCounts] | None = None
    failed_tests: tuple[str, ...] = ()
    junit: Path | None = None
    conformance_html: Path | None = None
    load: LoadResults | None = None
    load_json: Path | None = None
    load_csv: Path | None = None
    convergence: tuple[ConvergenceSample, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportInputs:
    testbeds: tuple[TestbedInputs, ...]
    environment: Mapping[str, Any] = field(default_factory=dict)


def area_of(classname: str, file: str | None = None) -> str:
    """The conformance area of a test case (side-effect-free)."""
    parts = (classname or "").split(".")
    for part in parts:
        if part.startswith("test_"):
            return part[len("test_") :].replace("_", "-")
    if file:
        stem = Path(file).stem
        return stem.removeprefix("test_").replace("_", "-")
    return parts[0] or "other"


def _outcome(case: ET.Element) -> Outcome:
    if case.find("failure") is not None or case.find("error") is not None:
        return Outcome.FAILED
    if case.find("skipped") is not None:
        return Outcome.SKIPPED
    return Outcome.PASSED


def parse_junit(text: str, *, source: str = "junit") -> tuple[dict[str, AreaCounts], tuple[str, ...]]:
    """Area -> counts, and the ids of failed tests, from JUnit XML (side-effect-free)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ValueError(f"{source}: not JUnit XML: {err}") from err
    areas: dict[str, AreaCounts] = {}
    failed: list[str] = []
    for case in root.iter("testcase"):
        area = area_of(case.get("classname", ""), case.get("file"))
        if family := _FAMILY.search(case.get("name", "")):
            area = f"{area} ({family['family']})"  # results per family where a test runs on each
        outcome = _outcome(case)
        areas[area] = areas.get(area, AreaCounts()).add(outcome)
        if outcome is Outcome.FAILED:
            failed.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    return dict(sorted(areas.items())), tuple(failed)


def parse_convergence(text: str, *, source: str = "convergence") -> tuple[ConvergenceSample, ...]:
    """The samples of a ``convergence-<tb>.json`` document (side-effect-free)."""
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("want a JSON list of {what, seconds}")
        return tuple(
            ConvergenceSample(
                what=str(item["what"]),
                seconds=float(item["seconds"]),
                fault=str(item["fault"]) if item.get("fault") else None,
                test=str(item["test"]) if item.get("test") else None,
            )
            for item in data
        )
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{source}: {err}") from err


def _testbed_names(results_dir: Path) -> list[str]:
    names = {m.group("testbed") for p in results_dir.iterdir() if (m := _FILE.match(p.name))}
    return sorted(names)


def _read_testbed(results_dir: Path, name: str) -> TestbedInputs:
    junit = results_dir / f"junit-{name}.xml"
    html = results_dir / f"conformance-{name}.html"
    load_json = results_dir / f"load-{name}.json"
    load_csv = results_dir / f"load-{name}.csv"
    convergence = results_dir / f"convergence-{name}.json"
    areas, failed = parse_junit(junit.read_text(), source=str(junit)) if junit.exists() else (None, ())
    return TestbedInputs(
        name=name,
        areas=areas,
        failed_tests=failed,
        junit=junit if junit.exists() else None,
        conformance_html=html if html.exists() else None,
        load=read_results(load_json) if load_json.exists() else None,
        load_json=load_json if load_json.exists() else None,
        load_csv=load_csv if load_csv.exists() else None,
        convergence=(
            parse_convergence(convergence.read_text(), source=str(convergence)) if convergence.exists() else ()
        ),
    )


def load_inputs(results_dir: Path) -> ReportInputs:
    """Read every testbed's files and ``environment.json`` from a results directory.

    A testbed named in ``environment.json`` but without files (skipped, or its
    cluster never came up) is still a testbed of the run: it is reported too.
    """
    env_file = results_dir / "environment.json"
    environment = json.loads(env_file.read_text()) if env_file.exists() else {}
    names = sorted(set(_testbed_names(results_dir)) | set(environment.get("testbeds", {})))
    testbeds = tuple(_read_testbed(results_dir, name) for name in names)
    return ReportInputs(testbeds=testbeds, environment=environment)
