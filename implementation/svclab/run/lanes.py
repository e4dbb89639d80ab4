"""Running a run's testbeds in lanes: side by side, one after another within a lane.

``plan_lanes`` gives every testbed a lane of its own; ``run_lanes`` runs each
lane on its own thread. The conformance suites mostly wait for clusters to
converge, so side by side they cost little more than the longest one. Load
phases are measured in quiet: each waits until every testbed's conformance
phase is over (``LaneControls.wait_for_quiet``; a testbed in a User-Mode Linux
guest, the slowest, says at once that it will not be waited for), and they never overlap (one
shared load slot, ``LaneControls.holding_load_slot``), so each mode's figures
are taken while nothing else runs. ``--sequential`` is one lane for
everything (nothing waits then).

Ctrl-C sets the shared stop flag: the testbeds in hand finish their current
phase and are brought down, the rest are skipped; a second Ctrl-C leaves at
once (the lane threads are daemons).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from svclab.run.progress import PhaseResult, Progress, TestbedResult

__all__ = ["LaneControls", "TestbedRunner", "plan_lanes", "run_lanes"]


@dataclass(frozen=True, slots=True)
class LaneControls:
    """What every lane of one run shares: the one load slot and the stop flag (Ctrl-C)."""

    load_slot: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    #: testbeds whose conformance phase may still run (empty: load phases need not wait)
    pending: set[str] = field(default_factory=set)
    quiet: threading.Condition = field(default_factory=threading.Condition)

    def conformance_over(self, testbed: str) -> None:
        """``testbed`` will run no more conformance (done, skipped or failed before it)."""
        with self.quiet:
            self.pending.discard(testbed)
            self.quiet.notify_all()

    def wait_for_quiet(self, testbed: str, progress: Progress) -> None:
        """Block until no testbed's conformance phase can still run (or the run stops)."""
        with self.quiet:
            if self.pending - {testbed}:
                progress(f"{testbed}: load: waiting for the other testbeds' conformance phases to end")
            while self.pending - {testbed} and not self.stop.is_set():
                self.quiet.wait(timeout=1.0)

    @contextlib.contextmanager
    def holding_load_slot(self, testbed: str, progress: Progress) -> Iterator[None]:
        """Hold the run's one load slot; say so when another testbed has it."""
        if not self.load_slot.acquire(blocking=False):
            progress(f"{testbed}: load: waiting for another testbed's load phase to end")
            self.load_slot.acquire()
        try:
            yield
        finally:
            self.load_slot.release()


# Runs one testbed (up, phases, down) and returns its result; it checks
# ``controls.stop`` between phases and holds the load slot for its load phase.
TestbedRunner = Callable[[Path, LaneControls], TestbedResult]


def plan_lanes(testbeds: Sequence[tuple[Path, str]], *, sequential: bool) -> list[list[Path]]:
    """(path, runtime) pairs -> lanes of paths run one after another, lanes side by side.

    One lane per testbed, UML guests first (they take longest to come up), else
    in the order given; one lane for everything with ``sequential``. Side-effect-free.
    """
    if sequential:
        return [[path for path, _ in testbeds]] if testbeds else []
    ordered = [p for p, runtime in testbeds if runtime == "uml"] + [p for p, runtime in testbeds if runtime != "uml"]
    return [[path] for path in ordered]


def run_lanes(lanes: list[list[Path]], run_testbed: TestbedRunner, progress: Progress) -> dict[Path, TestbedResult]:
    """Run each lane on its own thread, its testbeds in order; the result of every testbed run.

    A testbed whose runner raises fails (a ``setup`` phase with the error);
    the others still run. Ctrl-C: see the module docstring.
    """
    results: dict[Path, TestbedResult] = {}
    controls = LaneControls()
    if len(lanes) > 1 and all(len(lane) == 1 for lane in lanes):
        # side by side: load phases wait for every lane's conformance (a lane of several
        # testbeds would wait for its own later ones, so those are never made to wait)
        controls.pending.update(lane[0].stem for lane in lanes)

    def run_lane(lane: list[Path]) -> None:
        for path in lane:
            if controls.stop.is_set():
                return
            try:
                results[path] = run_testbed(path, controls)
            except Exception as exc:  # an unexpected error: this testbed fails, not the run
                progress(f"{path.stem}: FAILED: {exc}")
                results[path] = TestbedResult(
                    path.stem, "", phases=[PhaseResult("setup", False, 0.0, f"{type(exc).__name__}: {exc}")]
                )
                controls.conformance_over(path.stem)  # the runner may have failed before saying so

    # daemon threads: a second Ctrl-C ends the run even while a phase is stuck
    threads = [
        threading.Thread(target=run_lane, args=(lane,), daemon=True, name=f"lane-{lane[0].stem}") for lane in lanes
    ]
    for thread in threads:
        thread.start()
    try:
        _join(threads)
    except KeyboardInterrupt:
        controls.stop.set()
        progress(
            "interrupted: bringing the testbeds in hand down (Ctrl-C again to leave them up; "
            "`svclab down --all` removes them later)"
        )
        _join(threads)
    return results


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)  # short joins keep the main thread responsive to Ctrl-C
