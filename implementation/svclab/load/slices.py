"""Interleaved measurement: time cut into slices, dealt round robin to targets.

On a small, busy machine throughput drifts by a factor of two or three within
minutes, so a ClusterIP run compared with a direct run taken earlier measures
the drift, not the proxy.  The worker therefore measures all targets in one
run: after spawning, time is cut into slices (e.g. 1 s) handed out
``direct, clusterip, nodeport, direct, ...`` until each target has had its
run time, so any drift hits every target alike.

``plan_slices`` is the schedule and ``SliceLedger`` adds up what each slice
measured (seconds, and the proxy's CPU seconds read at each boundary).  Both
are side-effect-free: the worker feeds them clock and ``/proc`` readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Slice", "SliceLedger", "TargetTally", "plan_slices"]

# slices shorter than this are dropped (float remainders such as 6 - 6 * 1.0000001)
_MIN_SLICE_S = 1e-6


@dataclass(frozen=True, slots=True)
class Slice:
    """One stretch of time in which every user sends to ``target``."""

    target: str
    length_s: float
    round: int = 0  # which of the run's rounds the slice belongs to


def plan_slices(targets: Sequence[str], *, run_time_s: float, slice_s: float, rounds: int = 1) -> list[Slice]:
    """Round-robin slices until each target had ``run_time_s`` (side-effect-free).

    Every cycle gives each target ``slice_s`` or what is left of its run
    time, so a run time that is not a multiple of the slice ends with one
    shorter cycle.  The cycles are grouped into ``rounds`` consecutive
    rounds of (about) equal time, numbered from 0: the figures are taken
    per round so their spread shows the run's noise.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if not targets:
        raise ValueError("no targets to slice time between")
    if len(set(targets)) != len(targets):
        raise ValueError(f"target names must be unique, got {list(targets)}")
    if slice_s <= 0 or run_time_s <= 0:
        raise ValueError(f"run time and slice must be positive, got {run_time_s}, {slice_s}")
    plan: list[Slice] = []
    given = 0.0
    while run_time_s - given > _MIN_SLICE_S:
        length = min(slice_s, run_time_s - given)
        number = min(rounds - 1, int((given + _MIN_SLICE_S) * rounds / run_time_s))
        plan.extend(Slice(name, length, number) for name in targets)
        given += length
    return plan


@dataclass(slots=True)
class TargetTally:
    """What one target's slices added up to."""

    seconds: float = 0.0
    slices: int = 0
    proxy_cpu_s: float | None = 0.0  # None once a CPU reading was missing
    round_seconds: dict[int, float] = field(default_factory=dict)  # round -> seconds of its slices


class SliceLedger:
    """Charges each slice's wall time and proxy CPU to the slice's target.

    Call ``begin(target, now, cpu)`` at every slice boundary and ``end(now,
    cpu)`` once after the last slice; ``cpu`` is the proxy's cumulative CPU
    seconds at that instant, or None when unknown (no pid, or it could not be
    read), which makes the slice's target's CPU None.  Side-effect-free.
    """

    def __init__(self, targets: Sequence[str]) -> None:
        self.tallies = {name: TargetTally() for name in targets}
        self._open: tuple[str, float, float | None, int] | None = None

    def begin(self, target: str, now: float, cpu: float | None, round_number: int = 0) -> None:
        self.end(now, cpu)
        self._open = (target, now, cpu, round_number)

    def end(self, now: float, cpu: float | None) -> None:
        if self._open is None:
            return
        target, started, cpu_before, round_number = self._open
        tally = self.tallies[target]
        tally.seconds += now - started
        tally.round_seconds[round_number] = tally.round_seconds.get(round_number, 0.0) + now - started
        tally.slices += 1
        if tally.proxy_cpu_s is not None:
            tally.proxy_cpu_s = None if cpu is None or cpu_before is None else tally.proxy_cpu_s + cpu - cpu_before
        self._open = None
