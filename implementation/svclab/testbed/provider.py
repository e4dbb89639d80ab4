"""One protocol for every provider: how a cluster comes up, is reached and goes down.

A ``Provider`` (local, kind, kubeconfig; ``svclab.testbed.providers`` finds one
by kind) turns a testbed spec into a running cluster and back:

* ``preflight(spec)``: why this machine cannot run the spec at all (a missing
  tool, no root, no UML), or None; callers skip with that reason;
* ``up(spec, ...)``: bring the cluster up (or connect to it) and return its
  ``ClusterHandle``; raises ``ProviderError`` (one line, with an exit status);
* ``down(name)``: remove it; False when there was nothing of that name;
* ``attach(name)``: the handle of a cluster of that name that is up, or None.

A ``ClusterHandle`` is what ``svclab exec``/``node-exec``, ``svclab run`` and
the conformance harness use: ``exec_in_pod``, ``exec_on_node`` (raising
``NodeAccessUnavailable`` where nodes cannot be reached), ``fault`` (kill, freeze,
flush or cut off a part of the cluster, ``svclab.testbed.faults``), ``describe()``
(the neutral ``ClusterRecord``) and the kubeconfig. Every exec returns one
``ExecResult``; a command that outlives its timeout gives status 124, as
``timeout(1)`` does.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from svclab.testbed.cluster import ClusterRecord
from svclab.testbed.spec import Testbed

if TYPE_CHECKING:
    from svclab.testbed.faults import FaultRequest

__all__ = [
    "ClusterHandle",
    "ExecResult",
    "NodeAccessUnavailable",
    "Progress",
    "Provider",
    "ProviderError",
    "TIMEOUT_STATUS",
    "run_captured",
]

TIMEOUT_STATUS = 124  # what timeout(1) exits with
Progress = Callable[[str], None]


class ProviderError(Exception):
    """A provider cannot go on; ``str(error)`` is one line, ``status`` the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class NodeAccessUnavailable(RuntimeError):
    """A node-level hook was called on a cluster whose nodes cannot be reached."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str

    def check(self) -> ExecResult:
        """Raise AssertionError (with the output) unless the command succeeded."""
        if self.rc != 0:
            raise AssertionError(f"exit status {self.rc}\nstdout: {self.stdout}\nstderr: {self.stderr}")
        return self


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def run_captured(argv: Sequence[str], timeout: float | None, *, capture: bool = True, **popen: Any) -> ExecResult:
    """Run ``argv``: its exit status and output (none kept without ``capture``); a timeout gives 124.
    ``popen`` goes to ``subprocess.run`` (e.g. a ``preexec_fn``)."""
    try:
        done = subprocess.run(list(argv), capture_output=capture, text=True, timeout=timeout, check=False, **popen)
    except subprocess.TimeoutExpired as exc:
        return ExecResult(TIMEOUT_STATUS, _text(exc.stdout), _text(exc.stderr) + f"\ntimed out after {timeout:g}s")
    return ExecResult(done.returncode, done.stdout or "", done.stderr or "")


class ClusterHandle(Protocol):
    """A running cluster of any provider."""

    @property
    def name(self) -> str: ...

    @property
    def kubeconfig(self) -> Path: ...

    def describe(self) -> ClusterRecord:
        """The neutral record of the cluster (real clusters: read from the API now)."""
        ...

    def exec_in_pod(
        self,
        namespace: str,
        pod: str,
        argv: Sequence[str],
        *,
        timeout: float | None = 30.0,
        capture: bool = True,
    ) -> ExecResult:
        """Run ``argv`` in the pod; without ``capture`` stdio is the caller's (``svclab exec``)."""
        ...

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        """Run ``argv`` on the node; raises NodeAccessUnavailable where that is impossible."""
        ...

    def fault(self, request: FaultRequest) -> str:
        """Inject one fault (``svclab.testbed.faults``) now and return one line saying what
        was done; raises FaultUnavailable where the provider cannot, FaultError for a
        target the cluster does not have, ProviderError when the injection failed."""
        ...


class Provider(Protocol):
    """How clusters of one kind come up and go down (see the module docstring)."""

    @property
    def kind(self) -> str: ...

    @property
    def creates_clusters(self) -> bool:
        """False for a provider that only connects to a cluster that exists (kubeconfig)."""
        ...

    def preflight(self, spec: Testbed) -> str | None: ...

    def kernel(self, spec: Testbed) -> str:
        """Where the spec's rules would live: ``host <release>``, ``uml <release>``, or the provider's kind."""
        ...

    def up(
        self, spec: Testbed, *, progress: Progress, timeout: float | None = None, keep_on_failure: bool = False
    ) -> ClusterHandle: ...

    def down(self, name: str) -> bool: ...

    def attach(self, name: str) -> ClusterHandle | None: ...
