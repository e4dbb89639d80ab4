"""Per-round figures of a measurement, compared round by round with its direct baseline.

Each worker run is split into rounds (``Profile.rounds``); every target has
the same rounds, interleaved slice by slice with the direct baseline's.  For
one measurement this module derives the ``Figure`` fields that show the
noise (side-effect-free):

* throughput: per-round req/s (the figure's ``rps`` becomes their median)
  and ratio to the *same round's* direct req/s, as median with min-max; the
  noise floor is how far direct's req/s differed between rounds, relative to
  its median (``rps_noise_pct``);
* latency (the connection probe): per-round p50/p90/p99 of ``CONNECT`` and
  ``FIRST_RESPONSE``, and the difference of each round's p50 to the same
  round's direct p50 (ms, not %), with direct's round-to-round spread of its
  p50 as the noise floor;
* a verdict per comparison (``svclab.load.stats.compare_rounds``): a path is
  "slower" only when every round says so by more than the noise floor; a
  ratio above 100 % inside the noise is "no measurable difference".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .model import Measurement, RoundStats, Scenario, TargetKind
from .stats import compare_rounds, noise_floor, spread

__all__ = ["CONNECT", "FIRST_RESPONSE", "LATENCY_KINDS", "round_fields"]

CONNECT = "CONNECT"  # the probe's request types (as users.ConnectProbeUser fires them)
FIRST_RESPONSE = "FIRST_RESPONSE"
LATENCY_KINDS = {CONNECT: "connect", FIRST_RESPONSE: "first_response"}  # request type -> field prefix


def _paired(m: Measurement, direct: Measurement | None) -> list[tuple[RoundStats, RoundStats | None]]:
    """Round i of ``m`` with round i of direct (None when it has no such round)."""
    theirs = direct.stats.rounds if direct is not None else ()
    return [(r, theirs[i] if i < len(theirs) else None) for i, r in enumerate(m.stats.rounds) if r.seconds > 0]


def _throughput_fields(
    pairs: Sequence[tuple[RoundStats, RoundStats | None]], direct: Measurement | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    rates = spread([own.rps for own, _ in pairs])
    if rates is not None:
        fields.update(rps=round(rates.median, 1), rps_low=round(rates.low, 1), rps_high=round(rates.high, 1))
    ratios = [own.rps / base.rps for own, base in pairs if base is not None and base.rps > 0]
    ratio = spread(ratios)
    if ratio is not None:
        fields.update(
            ratio_to_direct=round(ratio.median, 4), ratio_low=round(ratio.low, 4), ratio_high=round(ratio.high, 4)
        )
    if direct is not None:
        direct_rates = [r.rps for r in direct.stats.rounds if r.seconds > 0]
        middle = spread(direct_rates)
        floor = noise_floor(direct_rates)
        if middle is not None and floor is not None and middle.median > 0:
            relative = floor / middle.median
            fields["rps_noise_pct"] = round(100 * relative, 1)
            verdict = compare_rounds([1 - r for r in ratios], relative)
            fields["verdict"] = None if verdict is None else verdict.value
    return fields


def _p(r: RoundStats, kind: str, name: str) -> float | None:
    summary = r.latency_ms.get(kind)
    return None if not summary or not summary.get("samples") else summary[name]


def _latency_fields(
    kind: str, pairs: Sequence[tuple[RoundStats, RoundStats | None]], direct: Measurement | None
) -> dict[str, Any]:
    prefix = LATENCY_KINDS[kind]
    fields: dict[str, Any] = {}
    for name in ("p50", "p90", "p99"):
        values = [v for own, _ in pairs if (v := _p(own, kind, name)) is not None]
        middle = spread(values)
        if middle is not None:
            fields[f"{prefix}_{name}_ms"] = round(middle.median, 4)
            if name == "p50":
                fields.update(
                    {f"{prefix}_p50_low_ms": round(middle.low, 4), f"{prefix}_p50_high_ms": round(middle.high, 4)}
                )
    differences = [
        a - b
        for own, base in pairs
        if base is not None and (a := _p(own, kind, "p50")) is not None and (b := _p(base, kind, "p50")) is not None
    ]
    difference = spread(differences)
    if difference is not None:
        fields.update(
            {
                f"{prefix}_diff_ms": round(difference.median, 4),
                f"{prefix}_diff_low_ms": round(difference.low, 4),
                f"{prefix}_diff_high_ms": round(difference.high, 4),
            }
        )
    if direct is not None:
        floor = noise_floor([v for r in direct.stats.rounds if (v := _p(r, kind, "p50")) is not None])
        if floor is not None:
            fields[f"{prefix}_noise_ms"] = round(floor, 4)
            verdict = compare_rounds(differences, floor)
            fields[f"{prefix}_verdict"] = None if verdict is None else verdict.value
    return fields


def round_fields(m: Measurement, direct: Measurement | None) -> dict[str, Any]:
    """The noise-aware ``Figure`` fields of ``m``; ``direct`` is its mode's direct run of the same worker run.

    Without rounds (an old worker) the result is empty and the Figure keeps
    its defaults.  For the probe, ``verdict`` is the connect verdict.
    """
    pairs = _paired(m, direct)
    if not pairs:
        return {}
    fields: dict[str, Any] = {"rounds": len(pairs)}
    if m.scenario is Scenario.CONNECT_PROBE:
        for kind in LATENCY_KINDS:
            fields.update(_latency_fields(kind, pairs, direct))
        fields["verdict"] = fields.pop("connect_verdict", None)
    else:
        fields.update(_throughput_fields(pairs, direct))
    if m.target is TargetKind.DIRECT:  # the baseline keeps its noise floor, a verdict against itself says nothing
        fields.pop("verdict", None)
        fields.pop("first_response_verdict", None)
    return fields
