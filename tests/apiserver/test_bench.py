"""`svclab bench apiserver` runs end to end on a small count (figures are not asserted)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_bench_apiserver_prints_figures() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "svclab.cli", "bench", "apiserver", "--services", "200"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "creates/s" in out.stdout and "watch delivery p99" in out.stdout
