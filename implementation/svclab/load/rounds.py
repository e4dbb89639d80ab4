"""Per-round tallies of a worker run: requests, failures and raw latency samples.

The worker listens to locust's request events; each request carries the
round it started in (``users.SwitchedUser.context``).  ``RoundRecorder``
keeps, per target and round, the counts and the exact response times (ms
floats as fired, not locust's rounded histogram: a connection set-up takes
tens of microseconds, below locust's 1 ms buckets), and summarises them as
the per-round part of the worker JSON.  Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .stats import sample_percentile

__all__ = ["PERCENTILES", "RoundRecorder", "RoundTally", "summarise_samples"]

# the percentiles kept per round and latency kind (name -> fraction)
PERCENTILES: dict[str, float] = {"p50": 0.50, "p90": 0.90, "p99": 0.99}


@dataclass(slots=True)
class RoundTally:
    requests: int = 0  # of the counted request type (the user class's)
    failures: int = 0
    samples_ms: dict[str, list[float]] = field(default_factory=dict)  # request type -> successful samples


def summarise_samples(samples_ms: Sequence[float]) -> dict[str, float]:
    """``{"samples": n, "p50": ms, "p90": ms, "p99": ms}`` of raw samples."""
    summary = {name: round(sample_percentile(samples_ms, fraction), 4) for name, fraction in PERCENTILES.items()}
    return {"samples": float(len(samples_ms)), **summary}


class RoundRecorder:
    """Collects request events per (target, round); ``counted_type`` is the one that counts requests."""

    def __init__(self, targets: Sequence[str], counted_type: str) -> None:
        self._counted = counted_type
        self.tallies: dict[str, dict[int, RoundTally]] = {name: {} for name in targets}

    def add(self, request_type: str, name: str, response_time_ms: float, failed: bool, round_number: int) -> None:
        per_round = self.tallies.get(name)
        if per_round is None:  # not one of ours (locust may report its own)
            return
        tally = per_round.setdefault(round_number, RoundTally())
        if request_type == self._counted:
            tally.requests += 1
            tally.failures += failed
        if not failed:
            tally.samples_ms.setdefault(request_type, []).append(response_time_ms)

    def document(self, name: str, round_seconds: Mapping[int, float]) -> list[dict[str, Any]]:
        """The target's rounds in order, as the worker JSON's ``rounds`` list."""
        per_round = self.tallies[name]
        return [
            {
                "round": number,
                "seconds": round(seconds, 4),
                "requests": per_round.get(number, RoundTally()).requests,
                "failures": per_round.get(number, RoundTally()).failures,
                "latency_ms": {
                    kind: summarise_samples(samples)
                    for kind, samples in sorted(per_round.get(number, RoundTally()).samples_ms.items())
                },
            }
            for number, seconds in sorted(round_seconds.items())
        ]
