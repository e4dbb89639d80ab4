"""The report's resilience section: per fault and testbed, the recovery time and outcome.

The conformance suite's disruption area (``conformance/test_disruption_*.py``)
records each recovery with the convergence times, marked with its ``fault``
and the ``test`` that measured it. ``resilience_rows`` (side-effect-free)
turns them into one row per fault with one cell per testbed: median and max
of the recovery seconds over the runs, how many runs, whether any run missed
the goal (``RECOVERY_GOAL``), and the outcome of the test(s) that measured it
in that testbed's JUnit results (``failed`` when any of them failed; a failed
test may have recorded its figure before failing).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from svclab.report.inputs import ConvergenceSample, TestbedInputs

__all__ = ["RECOVERY_GOAL", "recovery_samples", "resilience_rows"]

RECOVERY_GOAL = 5.0  # seconds after the fault ends (issue 15)


def recovery_samples(samples: Sequence[ConvergenceSample]) -> list[ConvergenceSample]:
    return [s for s in samples if s.fault]


def _test_key(test_id: str) -> tuple[str, str]:
    """(module stem, test name with parameters) of a node id or a JUnit ``classname::name``."""
    module, _, name = test_id.rpartition("::")
    stem = module.replace("/", ".").removesuffix(".py").rsplit(".", 1)[-1]
    return stem, name


def _cell(testbed: TestbedInputs, fault: str) -> dict[str, Any] | None:
    mine = [s for s in testbed.convergence if s.fault == fault]
    if not mine:
        return None
    values = [s.seconds for s in mine]
    failed = {_test_key(t) for t in testbed.failed_tests}
    tests = {_test_key(s.test) for s in mine if s.test}
    return {
        "median": statistics.median(values),
        "max": max(values),
        "n": len(values),
        "over_goal": max(values) >= RECOVERY_GOAL,
        "outcome": "failed" if tests & failed else "passed",
    }


def resilience_rows(testbeds: Sequence[TestbedInputs]) -> list[dict[str, Any]]:
    """One row per fault, cells in ``testbeds`` order (None: not measured there)."""
    faults = sorted({s.fault for t in testbeds for s in t.convergence if s.fault})
    return [{"fault": fault, "cells": [_cell(t, fault) for t in testbeds]} for fault in faults]
