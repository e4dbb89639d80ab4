"""Statistics of repeated rounds: percentiles of raw samples, spreads, and whether a difference is real.

Every headline figure comes from several rounds of the same measurement.  A
figure is the *median* of its rounds with the rounds' minimum and maximum
(a ``Spread``).  A path is compared with the direct baseline round by round
(both were measured in the same seconds, interleaved), and a difference only
counts as measurable when

* every round's difference has the same sign, and
* the median difference is larger than the run's *noise floor*: how far the
  direct baseline differed from itself between rounds (max - min of its
  per-round values).

Anything else is "no measurable difference", so a ClusterIP that looks
faster than direct by less than the noise is never reported as faster.
Side-effect-free throughout.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spread", "Verdict", "compare_rounds", "noise_floor", "sample_percentile", "spread"]


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of per-round values and their range."""

    median: float
    low: float
    high: float
    rounds: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


class Verdict(str, enum.Enum):
    """How a path compares with direct, given the rounds' spread."""

    SLOWER = "slower"
    NO_DIFFERENCE = "no measurable difference"
    # a proxied path beating direct outside the noise means the baseline pays
    # too (iptables: a packet to a pod IP walks all of KUBE-SERVICES without a
    # match, a ClusterIP's stops at its rule) or the set-up bounds the figure
    FASTER = "faster than direct"


def sample_percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of raw samples (``fraction`` in (0, 1]); 0 when there are none."""
    if not 0 < fraction <= 1:
        raise ValueError(f"percentile fraction must be in (0, 1], got {fraction}")
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return float(ordered[math.ceil(fraction * len(ordered)) - 1])


def spread(values: Sequence[float]) -> Spread | None:
    """Median, min and max of per-round values; None without any."""
    if not values:
        return None
    return Spread(float(statistics.median(values)), float(min(values)), float(max(values)), len(values))


def noise_floor(baseline_rounds: Sequence[float]) -> float | None:
    """How far the baseline differed from itself between rounds (max - min); None below two rounds."""
    if len(baseline_rounds) < 2:
        return None
    return float(max(baseline_rounds) - min(baseline_rounds))


def compare_rounds(differences: Sequence[float], floor: float | None) -> Verdict | None:
    """Judge per-round differences to direct (positive = the path is slower).

    None when there is nothing to judge (no rounds, or no noise floor: one
    round cannot tell a difference from noise).
    """
    if not differences or floor is None:
        return None
    middle = statistics.median(differences)
    one_sided = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if not one_sided or abs(middle) <= floor:
        return Verdict.NO_DIFFERENCE
    return Verdict.SLOWER if middle > 0 else Verdict.FASTER
