"""The conformance phase of one testbed: the pytest suite against a cluster that is up.

The suite finds the cluster by name (``--cluster NAME``): a local cluster, or
the kind testbed ``svclab up`` brought up under that name. (``svclab run``
skips kubeconfig testbeds: nothing is brought up for them to find.)

Writes `junit-<tb>.xml`, `conformance-<tb>.html` (pytest-html, self-contained),
`conformance-<tb>.log` (pytest's terminal output) and, through the suite,
`convergence-<tb>.json` into the results directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from svclab.run.selection import Selection

__all__ = ["ConformanceOutcome", "conformance_dir", "run_conformance"]


@dataclass(frozen=True, slots=True)
class ConformanceOutcome:
    exit_code: int
    passed: int
    failed: int
    skipped: int
    left_out: int = 0  # deselected by the run's selection (the quick profile's ``-m``)
    selection: str = ""  # that ``-m`` expression
    neutral_on: str = ""  # the testbed that judged the mode-neutral tests instead

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed == 0

    def describe(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        if self.left_out:
            text += f"; {self.left_out} tests left out by the quick profile ({self.selection or 'not breadth'}"
            if self.neutral_on.startswith("shared with "):
                text += f"; the mode-neutral ones are {self.neutral_on}"
            elif self.neutral_on:
                text += f"; the mode-neutral ones ran on {self.neutral_on}"
            text += "; --profile full runs them)"
        return text


def conformance_dir() -> Path:
    """The suite: beside the package in a checkout, else ./conformance."""
    import svclab

    beside = Path(svclab.__file__).resolve().parents[2] / "conformance"
    return beside if beside.is_dir() else Path.cwd() / "conformance"


def _counts(junit: Path) -> tuple[int, int, int]:
    if not junit.is_file():
        return 0, 0, 0
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - failed - skipped, failed, skipped


def run_conformance(
    cluster_name: str, testbed: str, results_dir: Path, selection: Selection | None = None, *, timeout: float = 1800
) -> ConformanceOutcome:
    selection = selection or Selection()
    suite = conformance_dir()
    junit = results_dir / f"junit-{testbed}.xml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(suite),
        "--cluster",
        cluster_name,
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfER",
        f"--junitxml={junit}",
        f"--html={results_dir / f'conformance-{testbed}.html'}",
        "--self-contained-html",
        *selection.args,
    ]
    env = dict(
        os.environ,
        SVCLAB_CONVERGENCE_JSON=str(results_dir / f"convergence-{testbed}.json"),
        SVCLAB_TESTBED=testbed,
        PYTHONUNBUFFERED="1",
    )  # the log can be followed (tail -f) while the suite runs
    with open(results_dir / f"conformance-{testbed}.log", "w") as log:
        done = subprocess.run(argv, cwd=suite.parent, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    left_out = _deselected((results_dir / f"conformance-{testbed}.log").read_text(errors="replace"))
    return ConformanceOutcome(
        done.returncode,
        *_counts(junit),
        left_out=left_out,
        selection=selection.marker_expression,
        neutral_on=selection.neutral_on,
    )


def _deselected(log: str) -> int:
    """The number pytest's summary line gives as deselected (0 if none)."""
    found = re.findall(r"(\d+) deselected", log)
    return int(found[-1]) if found else 0
