"""Tests of the conformance harness (``conformance/harness``), imported as the suite
imports it: ``harness`` is a top-level package beside ``conformance/conftest.py``."""

from __future__ import annotations

import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[2] / "conformance"
if str(SUITE) not in sys.path:
    sys.path.insert(0, str(SUITE))
