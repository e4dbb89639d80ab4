"""Testbeds in lanes (``svclab.run.lanes``): which lane each testbed takes, lanes
side by side, load phases never overlapping, a failing testbed not stopping its lane."""

from __future__ import annotations

import io
import time
from pathlib import Path

from svclab.run.lanes import LaneControls, plan_lanes, run_lanes
from svclab.run.progress import Progress, TestbedResult


def test_every_testbed_gets_a_lane_uml_first_unless_sequential() -> None:
    beds = [
        (Path(f"clusters/{n}.yaml"), r)
        for n, r in (
            ("iptables", "host"),
            ("ipvs", "uml"),
            ("kind-iptables", "host"),
            ("nftables", "host"),
            ("ipvs-big", "uml"),
        )
    ]
    lanes = plan_lanes(beds, sequential=False)
    assert [[p.stem for p in lane] for lane in lanes] == [
        ["ipvs"],
        ["ipvs-big"],
        ["iptables"],
        ["kind-iptables"],
        ["nftables"],
    ]
    assert [[p.stem for p in lane] for lane in plan_lanes(beds, sequential=True)] == [[p.stem for p, _ in beds]]
    assert plan_lanes([], sequential=False) == []


def test_load_phases_wait_until_every_conformance_phase_is_over() -> None:
    events: list[tuple[float, str, str]] = []

    def fake_testbed(path: Path, controls: LaneControls) -> TestbedResult:
        time.sleep(0.3 if path.stem == "slow" else 0.0)  # "slow" is still in its conformance phase
        events.append((time.monotonic(), "conformance-over", path.stem))
        controls.conformance_over(path.stem)
        controls.wait_for_quiet(path.stem, progress)
        with controls.holding_load_slot(path.stem, progress):
            events.append((time.monotonic(), "load", path.stem))
        return TestbedResult(path.stem, "iptables")

    out = io.StringIO()
    progress = Progress(out)
    run_lanes([[Path("fast.yaml")], [Path("slow.yaml")]], fake_testbed, progress)
    when = {(kind, name): t for t, kind, name in events}
    assert when["load", "fast"] >= when["conformance-over", "slow"]
    assert "fast: load: waiting for the other testbeds' conformance phases to end" in out.getvalue()


def test_lanes_run_side_by_side_but_load_phases_never_overlap() -> None:
    events: list[tuple[float, str, str]] = []

    def fake_testbed(path: Path, controls: LaneControls) -> TestbedResult:
        if path.stem == "broken":
            raise ValueError("bad spec")
        events.append((time.monotonic(), "up", path.stem))
        time.sleep(0.05)
        with controls.holding_load_slot(path.stem, progress):
            events.append((time.monotonic(), "load+", path.stem))
            time.sleep(0.05)
            events.append((time.monotonic(), "load-", path.stem))
        return TestbedResult(path.stem, "iptables")

    lanes = [[Path("a.yaml"), Path("broken.yaml"), Path("b.yaml")], [Path("u.yaml")]]
    out = io.StringIO()
    progress = Progress(out)
    results = run_lanes(lanes, fake_testbed, progress)
    assert sorted(p.stem for p in results) == ["a", "b", "broken", "u"]
    assert results[Path("broken.yaml")].failed
    assert "broken: FAILED: bad spec" in out.getvalue()
    inside = 0
    for _, kind, _ in sorted(events):
        inside += {"load+": 1, "load-": -1}.get(kind, 0)
        assert inside <= 1  # never two load phases at once
    ups = {name: t for t, kind, name in events if kind == "up"}
    first_load_end = min(t for t, kind, _ in events if kind == "load-")
    assert ups["u"] < first_load_end  # the second lane did not wait for the first


def test_a_stop_skips_the_testbeds_not_yet_started() -> None:
    started: list[str] = []

    def stopping_testbed(path: Path, controls: LaneControls) -> TestbedResult:
        started.append(path.stem)
        controls.stop.set()  # as Ctrl-C does
        return TestbedResult(path.stem, "iptables")

    results = run_lanes([[Path("a.yaml"), Path("b.yaml")]], stopping_testbed, Progress(io.StringIO()))
    assert started == ["a"] and list(results) == [Path("a.yaml")]
