"""The run's environment: when it ran, on what, with which tool versions.

``environment.json`` (written once per run by ``svclab run``)::

    {"started": RFC 3339, "finished": RFC 3339 | null, "profile": str,
     "lanes": [[testbed, ...], ...],  # testbeds run one after another; lanes side by side
     "host": {"kernel": str, "python": str, "svclab": str, "kubectl": str,
              "iptables": str, "nft": str, "locust": str, ...},
     "testbeds": {"<tb>": {"mode": str, "provider": str,
                           "runtime": "host" | "uml" | "", "kernel": str,
                           "skipped": str,  # why the run skipped it; "" when it ran
                           "phases": [{"name": str, "ok": bool, "seconds": float,
                                       "detail": str}]}}}

``collect_host_versions`` asks the tools for their versions (read-only
commands: ``--version`` and ``kubectl version --client``); a tool that is
missing or fails is reported as ``"missing"``, never an error.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["collect_host_versions", "first_version", "write_environment"]

_VERSION = re.compile(r"v?\d+(?:\.\d+)+(?:[-+][\w.]+)?")


def first_version(text: str) -> str | None:
    """The first version-looking token of a tool's output (side-effect-free)."""
    match = _VERSION.search(text)
    return match.group(0) if match else None


def _tool_version(argv: Sequence[str]) -> str:
    # the virtualenv's tools first: that kubectl is the one svclab runs
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    if exe is None:
        return "missing"
    try:
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (done.stdout or "") + (done.stderr or "")
    if argv[0] == "iptables":  # "iptables v1.8.9 (nf_tables)": keep the backend
        return text.strip().removeprefix("iptables ") or "missing"
    return first_version(text) or "missing"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def collect_host_versions() -> dict[str, str]:
    """Kernel, Python and tool versions of this host."""
    return {
        "kernel": platform.release(),
        "python": platform.python_version(),
        "svclab": _package_version("svclab"),
        "kubectl": _tool_version(["kubectl", "version", "--client"]),
        "iptables": _tool_version(["iptables", "--version"]),
        "nft": _tool_version(["nft", "--version"]),
        "locust": _package_version("locust"),
        "matplotlib": _package_version("matplotlib"),
    }


def write_environment(
    path: Path,
    *,
    started: str,
    finished: str | None,
    profile: str,
    testbeds: Mapping[str, Mapping[str, Any]],
    host: Mapping[str, str] | None = None,
    lanes: Sequence[Sequence[str]] = (),
) -> Path:
    """Write ``environment.json``; ``host`` defaults to ``collect_host_versions()``."""
    document = {
        "started": started,
        "finished": finished,
        "profile": profile,
        "lanes": [list(lane) for lane in lanes],
        "host": dict(host if host is not None else collect_host_versions()),
        "testbeds": {name: dict(info) for name, info in testbeds.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
