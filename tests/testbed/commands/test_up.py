"""`svclab up` dispatches on the spec's provider: kind and kubeconfig testbeds fail
at once with one line naming what is missing, creating nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _up(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=path, SVCLAB_KIND_DIR=str(Path(path).parent / "kind-state"))
    return subprocess.run(
        [sys.executable, "-m", "svclab.cli", "up", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_kind_without_kind_binary_is_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _up("clusters/kind-iptables.yaml", path=str(empty))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "kind" in lines[0] and lines[0].startswith("svclab up: ")


def test_provider_override_and_missing_kubeconfig(tmp_path: Path) -> None:
    done = _up("clusters/iptables.yaml", "--kubeconfig", str(tmp_path / "nope"), path=os.environ["PATH"])
    assert done.returncode == 1
    assert done.stderr.strip() == f"svclab up: kubeconfig {tmp_path / 'nope'} does not exist"
