"""The slice plan and ledger of interleaved measurement (pure; no locust)."""

from __future__ import annotations

import pytest

from svclab.load.slices import Slice, SliceLedger, plan_slices


def test_slices_go_round_robin_until_each_target_had_its_run_time() -> None:
    plan = plan_slices(["direct", "clusterip", "nodeport"], run_time_s=2.0, slice_s=1.0)
    assert plan == [Slice("direct", 1.0), Slice("clusterip", 1.0), Slice("nodeport", 1.0)] * 2


def test_a_run_time_off_the_slice_grid_ends_with_a_shorter_round() -> None:
    plan = plan_slices(["a", "b"], run_time_s=2.5, slice_s=1.0)
    assert [s.target for s in plan] == ["a", "b"] * 3
    assert [s.length_s for s in plan] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    # float remainders do not add a sliver of a round
    assert len(plan_slices(["a"], run_time_s=0.3, slice_s=0.1)) == 3


@pytest.mark.parametrize(
    "targets, run_time, slice_", [([], 1.0, 1.0), (["a", "a"], 1.0, 1.0), (["a"], 1.0, 0.0), (["a"], 0.0, 1.0)]
)
def test_bad_plans_are_refused(targets: list[str], run_time: float, slice_: float) -> None:
    with pytest.raises(ValueError):
        plan_slices(targets, run_time_s=run_time, slice_s=slice_)


def test_ledger_charges_time_and_cpu_to_each_slices_target() -> None:
    ledger = SliceLedger(["direct", "clusterip"])
    ledger.begin("direct", 0.0, 10.0)
    ledger.begin("clusterip", 1.0, 10.1)  # direct used 0.1 s of proxy CPU
    ledger.begin("direct", 2.0, 10.9)  # clusterip 0.8 s
    ledger.begin("clusterip", 3.1, 11.0)  # direct 0.1 s
    ledger.end(4.0, 11.5)  # clusterip 0.5 s
    direct, clusterip = ledger.tallies["direct"], ledger.tallies["clusterip"]
    assert (direct.slices, clusterip.slices) == (2, 2)
    assert direct.seconds == pytest.approx(2.1) and clusterip.seconds == pytest.approx(1.9)
    assert direct.proxy_cpu_s == pytest.approx(0.2) and clusterip.proxy_cpu_s == pytest.approx(1.3)


def test_a_missing_cpu_reading_makes_that_targets_cpu_unknown() -> None:
    ledger = SliceLedger(["a", "b"])
    ledger.begin("a", 0.0, 1.0)
    ledger.begin("b", 1.0, None)  # unreadable at this boundary: both neighbours unknown
    ledger.begin("a", 2.0, 3.0)
    ledger.begin("b", 3.0, 3.5)
    ledger.end(4.0, 4.0)
    assert ledger.tallies["a"].proxy_cpu_s is None and ledger.tallies["b"].proxy_cpu_s is None
    assert ledger.tallies["a"].seconds == pytest.approx(2.0)

    no_pid = SliceLedger(["a"])
    no_pid.begin("a", 0.0, None)
    no_pid.end(1.0, None)
    assert no_pid.tallies["a"].proxy_cpu_s is None and no_pid.tallies["a"].slices == 1


def test_rounds_group_consecutive_cycles_of_equal_time() -> None:
    plan = plan_slices(["direct", "clusterip"], run_time_s=6.0, slice_s=1.0, rounds=3)
    assert [(s.target, s.round) for s in plan[:4]] == [("direct", 0), ("clusterip", 0)] * 2
    assert [s.round for s in plan] == [0] * 4 + [1] * 4 + [2] * 4
    assert {s.round for s in plan_slices(["d"], run_time_s=2.0, slice_s=1.0, rounds=3)} == {0, 1}  # too few cycles
    with pytest.raises(ValueError):
        plan_slices(["d"], run_time_s=2.0, slice_s=1.0, rounds=0)


def test_ledger_adds_up_seconds_per_round() -> None:
    ledger = SliceLedger(["direct"])
    ledger.begin("direct", 0.0, None, 0)
    ledger.begin("direct", 1.0, None, 1)
    ledger.begin("direct", 2.5, None, 1)
    ledger.end(3.0, None)
    assert ledger.tallies["direct"].round_seconds == {0: 1.0, 1: 2.0}
