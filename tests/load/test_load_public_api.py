"""svclab.load's public API: complete, sorted, and free of locust and ssl imports."""

from __future__ import annotations

import subprocess
import sys

import svclab.load as load


def test_all_is_sorted_and_resolves() -> None:
    assert load.__all__ == sorted(load.__all__)
    for name in load.__all__:
        assert hasattr(load, name), name


def test_importing_the_package_leaves_gevent_patching_to_the_worker() -> None:
    # the worker imports this package before locust patches the process
    code = "import sys, svclab.load; print('locust' in sys.modules, 'ssl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
