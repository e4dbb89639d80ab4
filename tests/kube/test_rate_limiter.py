"""Rate limiters: upstream DefaultControllerRateLimiter values (5 ms * 2^n, 10 qps burst 100)."""

from __future__ import annotations

import pytest

from svclab.kube import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from svclab.kube.testing import FakeClock


def test_exponential_doubles_from_5ms_per_key_and_caps() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [limiter.when("k") for _ in range(5)] == pytest.approx([0.005, 0.010, 0.020, 0.040, 0.080])
    assert limiter.num_requeues("k") == 5
    assert limiter.when("other") == pytest.approx(0.005)
    for _ in range(30):
        limiter.when("k")
    assert limiter.when("k") == 1000.0
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0
    assert limiter.when("k") == pytest.approx(0.005)


def test_exponential_huge_exponent_stays_capped() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    for _ in range(2000):
        delay = limiter.when("k")
    assert delay == 1000.0


def test_bucket_allows_burst_then_10_per_second() -> None:
    clock = FakeClock()
    limiter = BucketRateLimiter(10, 100, now=clock.now)
    assert [limiter.when(i) for i in range(100)] == [0.0] * 100
    assert limiter.when("101st") == pytest.approx(0.1)
    assert limiter.when("102nd") == pytest.approx(0.2)
    clock.advance(1.0)  # refills 10 tokens, 2 of which pay back the debt
    assert limiter.when("x") == 0.0
    assert limiter.num_requeues("x") == 0


def test_default_limiter_is_max_of_both() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock.now)
    assert isinstance(limiter, MaxOfRateLimiter)
    delays = [limiter.when("k") for _ in range(15)]
    assert delays[0] == pytest.approx(0.005)
    assert delays[14] == pytest.approx(0.005 * 2**14)
    assert limiter.num_requeues("k") == 15
    # 100 other keys spend the rest of the burst: the bucket now dominates.
    for i in range(85):
        limiter.when(i)
    assert limiter.when("fresh") == pytest.approx(0.1)
