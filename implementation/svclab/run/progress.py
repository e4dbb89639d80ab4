"""Progress on the terminal: which testbed, which phase, how long it has taken."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["PhaseResult", "Progress", "TestbedResult", "summary_lines"]


@dataclass
class PhaseResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    skipped: bool = False


@dataclass
class TestbedResult:
    __test__ = False  # not a pytest test class, despite the name
    testbed: str
    mode: str
    provider: str = "local"
    kernel: str = ""
    phases: list[PhaseResult] = field(default_factory=list)
    skipped_reason: str = ""

    @property
    def conformance_failed(self) -> bool:
        return any(p.name == "conformance" and not p.ok and not p.skipped for p in self.phases)

    @property
    def failed(self) -> bool:
        return any(not p.ok and not p.skipped for p in self.phases)


class Progress:
    """Prints `[+MM:SS] testbed: phase: message` lines, flushed at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.start = time.monotonic()
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()  # lanes print from their own threads

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.start)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def __call__(self, message: str) -> None:
        with self._lock:
            print(f"[+{self.elapsed()}] {message}", file=self.stream, flush=True)


def summary_lines(results: list[TestbedResult], report: str | None) -> list[str]:
    """The one-screen summary printed at the end (side-effect-free)."""
    lines = ["", "svclab run summary", "=================="]
    for result in results:
        if result.skipped_reason:
            lines.append(f"{result.testbed:<16} SKIPPED  {result.skipped_reason}")
            continue
        state = "FAILED" if result.failed else "ok"
        lines.append(
            f"{result.testbed:<16} {state:<8} mode {result.mode}"
            + (f", kernel {result.kernel}" if result.kernel else "")
        )
        for phase in result.phases:
            mark = "skip" if phase.skipped else ("ok" if phase.ok else "FAIL")
            lines.append(f"    {phase.name:<12} {mark:<5} {phase.seconds:7.1f} s  {phase.detail}")
    if report:
        lines.append(f"report: {report}")
    return lines
