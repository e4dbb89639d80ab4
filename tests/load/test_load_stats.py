"""Round statistics: percentiles of raw samples, spreads, noise floor and the verdict on a difference."""

from __future__ import annotations

import pytest

from svclab.load.stats import Spread, Verdict, compare_rounds, noise_floor, sample_percentile, spread


def test_sample_percentile_is_nearest_rank() -> None:
    samples = [0.4, 0.1, 0.3, 0.2]  # unsorted on purpose
    assert sample_percentile(samples, 0.5) == 0.2
    assert sample_percentile(samples, 0.51) == 0.3
    assert sample_percentile(samples, 1.0) == 0.4
    assert sample_percentile([], 0.5) == 0.0
    with pytest.raises(ValueError):
        sample_percentile(samples, 0)


def test_spread_is_median_with_min_and_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0, 3)
    assert spread([1.0, 4.0]) == Spread(2.5, 1.0, 4.0, 2)
    assert spread([]) is None


def test_noise_floor_needs_two_rounds() -> None:
    assert noise_floor([0.10, 0.13, 0.11]) == pytest.approx(0.03)
    assert noise_floor([0.1]) is None


@pytest.mark.parametrize(
    ("differences", "floor", "verdict"),
    [
        ([0.05, 0.06, 0.07], 0.02, Verdict.SLOWER),  # every round slower, well above the noise
        ([0.05, 0.06, 0.07], 0.08, Verdict.NO_DIFFERENCE),  # one-sided but within the floor
        ([-0.01, 0.06, 0.07], 0.02, Verdict.NO_DIFFERENCE),  # one round the other way
        ([-0.2, -0.3, -0.25], 0.05, Verdict.FASTER),  # "faster than direct" only outside the noise
        ([-0.02, -0.03, -0.01], 0.05, Verdict.NO_DIFFERENCE),  # a 'faster' path inside the noise
        ([0.0, 0.0, 0.0], 0.0, Verdict.NO_DIFFERENCE),
    ],
)
def test_a_difference_counts_only_one_sided_and_above_the_noise_floor(
    differences: list[float], floor: float, verdict: Verdict
) -> None:
    assert compare_rounds(differences, floor) is verdict


def test_nothing_to_judge_without_rounds_or_floor() -> None:
    assert compare_rounds([], 0.1) is None
    assert compare_rounds([0.5], None) is None
